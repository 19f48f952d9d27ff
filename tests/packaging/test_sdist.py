"""The sdist (built here with ``maturin sdist``, as scripts/wheels does) carries
what it takes to build gatun from source: the Rust workspace, the Java sources
and a prebuilt jar, the build backend that runs Maven, the LICENSE, and the
project's metadata. The jar's META-INF/LICENSE is ours, not a dependency's.

With GATUN_SDIST_INSTALL=1, also installs the sdist into a fresh virtualenv
(a full Rust build: minutes) and launches a JVM from it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from _dist import REPO, run_smoke

_JAR = "python/gatun/jars/gatun-server.jar"


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (REPO / "pybindings" / _JAR).is_file():
        pytest.fail(f"pybindings/{_JAR} is missing: run scripts/build first")
    out = tmp_path_factory.mktemp("sdist")
    maturin = Path(sys.executable).with_name("maturin")
    subprocess.run(
        [str(maturin), "sdist", "--out", str(out)],
        cwd=REPO / "pybindings",
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("gatun_rs-*.tar.gz")
    return built


def _members(sdist: Path) -> dict[str, bytes]:
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        return {
            m.name.removeprefix(f"{top}/"): tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


@pytest.mark.timeout(300)
def test_sdist_carries_sources_jar_and_license(sdist: Path) -> None:
    files = _members(sdist)
    license_text = (REPO / "LICENSE").read_bytes()
    assert b"Apache License" in license_text
    assert b"Version 2.0, January 2004" in license_text
    assert files.get("LICENSE") == license_text, "the sdist's LICENSE is not the repository's"
    for needed in (
        "pyproject.toml",
        "Cargo.toml",
        "Cargo.lock",
        "build_backend/gatun_build_backend.py",
        "java/pom.xml",
        "java/src/main/java/gatun/server/GatunServer.java",
        "pybindings/Cargo.toml",
        "arena/Cargo.toml",
        "bridge/Cargo.toml",
        _JAR,
    ):
        assert needed in files, f"the sdist lacks {needed}"
    java_sources = [n for n in files if n.startswith("java/src/main/") and n.endswith(".java")]
    repo_sources = list((REPO / "java" / "src" / "main").rglob("*.java"))
    assert len(java_sources) == len(repo_sources)
    stray = [n for n in files if "/target/" in f"/{n}" or n.startswith("pybindings/java/")]
    assert not stray, f"build output or a second copy of java/ in the sdist: {stray[:5]}"
    pyproject = files["pyproject.toml"].decode()
    assert 'build-backend = "gatun_build_backend"' in pyproject


@pytest.mark.timeout(300)
def test_sdist_metadata(sdist: Path) -> None:
    meta = Parser().parsestr(_members(sdist)["PKG-INFO"].decode())
    assert meta["Name"] == "gatun-rs"
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Repository", "Issues"} <= urls.keys(), urls
    assert meta["Requires-Python"] == ">=3.10"
    assert "pyarrow>=14" in (meta.get_all("Requires-Dist") or [])


@pytest.mark.timeout(300)
def test_jar_license_is_ours(sdist: Path) -> None:
    """The shaded jar holds one META-INF/LICENSE, and it is gatun-rs's."""
    jar_bytes = _members(sdist)[_JAR]
    with zipfile.ZipFile(io.BytesIO(jar_bytes)) as jar:
        names = jar.namelist()
        assert names.count("META-INF/LICENSE") == 1, "no (or several) META-INF/LICENSE"
        assert jar.read("META-INF/LICENSE") == (REPO / "LICENSE").read_bytes()


@pytest.mark.timeout(1800)
@pytest.mark.skipif(
    os.environ.get("GATUN_SDIST_INSTALL") != "1",
    reason="installing the sdist builds the Rust core (minutes): set GATUN_SDIST_INSTALL=1",
)
def test_sdist_installs_and_runs(sdist: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GATUN_JAR")}
    # Cargo reuses scripts/wheels's build directory, so a second run is quick.
    env["CARGO_TARGET_DIR"] = str(REPO / "target" / "wheels")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    vpython = venv / "bin" / "python"
    install = subprocess.run(
        [str(vpython), "-m", "pip", "install", "-q", str(sdist)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert install.returncode == 0, f"{install.stdout}\n{install.stderr[-5000:]}"
    run_smoke(vpython, tmp_path, env)
