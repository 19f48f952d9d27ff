"""Finding ``java`` for ``connect()`` and ``python -m gatun doctor``: a java
that hangs, is not executable, prints nothing, is a bare command name or a
JDK home, and messages that name where it was set. Fake ``java`` scripts in
temporary directories stand in for broken installations; each run is a
subprocess with a time limit, so a hang fails the test instead of hanging it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gatun

_SOURCE = str(Path(gatun.__file__).resolve().parents[1])

#: Answers ``-version`` as Java 17 does, then (as the server) never listens.
_ANSWERS_THEN_HANGS = """#!/bin/sh
if [ "$1" = -version ]; then echo 'openjdk version "17.0.1" 2021-10-19' >&2; exit 0; fi
exec sleep 1000
"""


def _fake_java(tmp_path: Path, body: str, mode: int = 0o755) -> Path:
    """A JDK home in ``tmp_path`` whose ``bin/java`` is ``body``."""
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(body)
    java.chmod(mode)
    return java


def _python(code: str, limit: float, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Runs ``code`` in a fresh interpreter; a run past ``limit`` seconds is a hang."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": _SOURCE, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=limit,
    )


_CONNECT = """
import gatun, sys
try:
    gatun.connect({args})
except Exception as e:
    print(type(e).__name__ + ": " + str(e))
"""


def test_a_java_that_never_answers_fails_connect_within_the_start_up_timeout(
    tmp_path: Path,
) -> None:
    java = _fake_java(tmp_path, "#!/bin/sh\nexec sleep 1000\n")
    # 2 s timeout: anything well past 3x + 5 s is the old hang.
    result = _python(
        _CONNECT.format(args="startup_timeout=2"), 11, env={"JAVA_HOME": str(java.parents[1])}
    )
    assert result.stdout.startswith("JavaNotFoundError: "), result.stdout + result.stderr
    assert f"{java} (from JAVA_HOME) did not answer `-version` within 2 s" in result.stdout


def test_a_java_that_hangs_after_answering_its_version_respects_the_start_up_timeout(
    tmp_path: Path,
) -> None:
    java = _fake_java(tmp_path, _ANSWERS_THEN_HANGS)
    # A Java 17 records a class archive: its 10 s grace made this take 13 s.
    env = {
        "JAVA_HOME": str(java.parents[1]),
        "GATUN_CDS": "1",
        "GATUN_CDS_DIR": str(tmp_path / "cds"),
    }
    result = _python(_CONNECT.format(args="startup_timeout=1"), 8, env=env)
    assert result.stdout.startswith("BridgeStartupError: "), result.stdout + result.stderr
    assert "within the start-up timeout" in result.stdout


def test_doctor_fails_a_java_that_never_answers(tmp_path: Path) -> None:
    java = _fake_java(tmp_path, "#!/bin/sh\nexec sleep 1000\n")
    result = subprocess.run(
        [sys.executable, "-m", "gatun", "doctor", "--java", str(java)],
        env={**os.environ, "PYTHONPATH": _SOURCE},
        capture_output=True,
        text=True,
        timeout=40,
    )
    assert result.returncode == 1
    assert (
        f"FAIL java: {java} (from the --java option) did not answer `-version` within 10 s"
        in result.stdout
    )


def test_a_bare_command_name_is_looked_up_on_the_path() -> None:
    from gatun import _native

    if shutil.which("java") is None:
        pytest.skip("no java on PATH")
    path, major = _native.find_java("java")
    assert Path(path) == Path(shutil.which("java"))  # type: ignore[arg-type]
    assert major >= 17


def test_a_jdk_home_is_accepted_as_java(tmp_path: Path) -> None:
    from gatun import _native

    java = _fake_java(tmp_path, _ANSWERS_THEN_HANGS)
    assert _native.find_java(str(java.parents[1])) == (str(java), 17)
    with pytest.raises(gatun.JavaNotFoundError, match="is a directory without bin/java"):
        _native.find_java(str(tmp_path))


def test_a_java_that_cannot_run_or_prints_nothing_is_a_java_error(tmp_path: Path) -> None:
    from gatun import _native

    unrunnable = _fake_java(tmp_path, _ANSWERS_THEN_HANGS, mode=0o644)
    with pytest.raises(gatun.JavaNotFoundError, match="Permission denied"):
        _native.find_java(str(unrunnable))
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexit 3\n")
    silent.chmod(0o755)
    with pytest.raises(
        gatun.JavaNotFoundError, match="printed nothing and exited with exit status: 3"
    ):
        _native.find_java(str(silent))


@pytest.mark.parametrize("start", ["gatun.connect", "gatun.launch_gateway"])
def test_a_java_from_pyproject_is_named_as_such(tmp_path: Path, start: str) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.gatun]\njava = "/nope/java"\n')
    result = _python(_CONNECT.format(args="").replace("gatun.connect", start), 60, cwd=tmp_path)
    assert (
        f"JavaNotFoundError: /nope/java (from [tool.gatun] java in {tmp_path / 'pyproject.toml'})"
        " does not exist" in result.stdout
    ), result.stdout + result.stderr
