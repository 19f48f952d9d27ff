"""The Linux x86_64 wheels that scripts/wheels built, installed into fresh
virtualenvs of CPython 3.10 to 3.13 (pyenv's) in a temporary directory: each
imports the installed package, launches a JVM, makes a call and sends an Arrow
table across and back (smoke_installed.py).

Skipped unless dist/ holds wheels built from the tree as it is now (run
``scripts/wheels --smoke``, which runs this file after building them). pyarrow
comes from PyPI, through pip's shared cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _dist import DIST, built_state, run_smoke, tree_state

_VERSIONS = [(3, 10), (3, 11), (3, 12), (3, 13)]


def _require_current_wheels() -> None:
    """Skips (fails, under scripts/wheels --smoke) unless dist/ was built from this tree."""
    if built_state() == tree_state():
        return
    message = "dist/ holds no wheels built from this tree (run scripts/wheels --smoke)"
    if os.environ.get("GATUN_WHEELS_SMOKE") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _pyenv_python(version: tuple[int, int]) -> Path | None:
    """The newest pyenv CPython of this minor version."""
    pyenv = shutil.which("pyenv")
    root = (
        subprocess.run([pyenv, "root"], capture_output=True, text=True, check=True).stdout.strip()
        if pyenv
        else os.path.expanduser("~/.pyenv")
    )
    major, minor = version
    found = sorted(
        Path(root, "versions").glob(f"{major}.{minor}.*"),
        key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()],
    )
    for home in reversed(found):
        exe = home / "bin" / f"python{major}.{minor}"
        if exe.is_file():
            return exe
    return None


def _wheel_for(version: tuple[int, int]) -> Path:
    """cp310's own wheel for 3.10; the abi3 wheel (built for 3.11) for later ones."""
    pattern = "*-cp310-cp310-*x86_64.whl" if version == (3, 10) else "*-cp311-abi3-*x86_64.whl"
    wheels = sorted(DIST.glob(pattern))
    assert len(wheels) == 1, f"expected one wheel matching {pattern} in dist/, found {wheels}"
    assert "manylinux_2_17_x86_64" in wheels[0].name, f"{wheels[0].name} is not manylinux2014"
    return wheels[0]


def _clean_env() -> dict[str, str]:
    """The environment without anything pointing at the repository's build."""
    drop = {"PYTHONPATH", "GATUN_JAR", "VIRTUAL_ENV", "PYTHONHOME"}
    return {k: v for k, v in os.environ.items() if k not in drop}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("version", _VERSIONS, ids=[f"py{a}.{b}" for a, b in _VERSIONS])
def test_wheel_installs_and_runs(version: tuple[int, int], tmp_path: Path) -> None:
    _require_current_wheels()
    python = _pyenv_python(version)
    if python is None:
        message = f"no CPython {version[0]}.{version[1]} under pyenv"
        if os.environ.get("GATUN_WHEELS_SMOKE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    wheel = _wheel_for(version)
    env = _clean_env()
    venv = tmp_path / "venv"
    started = time.monotonic()
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    vpython = venv / "bin" / "python"
    pip = [str(vpython), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # pyarrow from PyPI; pip's cache (shared by every run) keeps this quick.
    install = subprocess.run(
        [*pip, str(wheel)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, f"pip install {wheel.name}:\n{install.stdout}\n{install.stderr}"
    installed = time.monotonic()
    run_smoke(vpython, tmp_path, env)
    done = time.monotonic()
    # Reported, never asserted on (timing belongs in benches/).
    print(
        f"\n{python.name}: {wheel.name}: venv + install {installed - started:.1f} s, "
        f"smoke {done - installed:.1f} s",
        file=sys.stderr,
    )


@pytest.mark.timeout(600)
def test_upstream_installed_over_the_wheel_is_refused(tmp_path: Path) -> None:
    """Upstream Gatun installed after gatun-rs replaces our ``gatun/__init__.py``
    (so our own check never runs); uninstalling it removes the file. Either way
    ``import gatun`` says so (gatun_rs_guard.pth), and works again once ours is back."""
    _require_current_wheels()
    python = _pyenv_python((sys.version_info.major, sys.version_info.minor))
    if python is None:
        pytest.skip("no pyenv CPython of this version")
    env = _clean_env()
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True, env=env, timeout=300)
    vpython = venv / "bin" / "python"
    wheel = _wheel_for((sys.version_info.major, sys.version_info.minor))
    subprocess.run(
        [str(vpython), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        env=env,
        timeout=600,
    )
    purelib = subprocess.run(
        [str(vpython), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    init = Path(purelib, "gatun", "__init__.py")
    ours = init.read_bytes()

    def import_gatun() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(vpython), "-c", "import gatun; print('imported', gatun.PROTOCOL_VERSION)"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )

    assert import_gatun().returncode == 0
    init.write_text('"""upstream Gatun\'s package."""\n')  # as upstream's wheel installs it
    replaced = import_gatun()
    assert replaced.returncode != 0
    assert "was installed over it" in replaced.stderr
    assert "pip uninstall -y gatun gatun-rs" in replaced.stderr
    init.unlink()  # as `pip uninstall gatun` leaves it
    removed = import_gatun()
    assert removed.returncode != 0
    assert "--force-reinstall gatun-rs" in removed.stderr
    init.write_bytes(ours)
    restored = import_gatun()
    assert restored.returncode == 0, restored.stderr
    assert "imported" in restored.stdout
