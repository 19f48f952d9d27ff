"""``python -m gatun version|doctor|bench`` (issue 17, item 4), each run as a
user runs it: a fresh interpreter, a real JVM."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

import gatun

_SOURCE = str(Path(gatun.__file__).resolve().parents[1])


def _gatun(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {**os.environ, "PYTHONPATH": _SOURCE}
    return subprocess.run(
        [sys.executable, "-m", "gatun", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.parametrize("command", [[], ["version"], ["doctor"], ["bench"]])
def test_help(command: list[str]) -> None:
    result = _gatun(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m gatun {' '.join(command)}".rstrip())


def test_no_command_is_a_usage_error() -> None:
    result = _gatun()
    assert result.returncode == 2
    assert "the following arguments are required: COMMAND" in result.stderr


def test_version_names_every_component() -> None:
    result = _gatun("version")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert lines["gatun-rs"] == gatun.__version__
    assert f"(protocol {gatun.PROTOCOL_VERSION})" in lines["native module"]
    assert f"gatun-server.jar (version {gatun.__version__})" in lines["server jar"]
    assert lines["pyarrow"] == pa.__version__
    assert lines["Python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}.")


@pytest.mark.jvm
def test_doctor_passes_on_this_machine() -> None:
    result = _gatun("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("java", "server jar", "shared memory", "cache directory", "test call"):
        assert f"OK   {check}: " in result.stdout
    assert "Math.max(3, 7) = 7" in result.stdout
    assert "OK   Arrow round trip: 100,000 rows" in result.stdout
    assert "all checks OK" in result.stdout


def test_doctor_fails_clearly_when_java_home_points_at_nothing(tmp_path: Path) -> None:
    result = _gatun("doctor", env={"JAVA_HOME": str(tmp_path / "no-such-java")})
    assert result.returncode == 1
    assert (
        f"FAIL java: {tmp_path / 'no-such-java'}/bin/java (from JAVA_HOME) does not exist"
        in result.stdout
    )
    # The JVM checks need Java: skipped, not failed, so one missing Java is one failure.
    assert "SKIP test call: the java check failed" in result.stdout
    assert "SKIP Arrow round trip: the test call was skipped" in result.stdout
    assert _markers(result.stdout) == {"OK  ": 3, "FAIL": 1, "SKIP": 2}
    assert "\n1 check(s) failed: java; 2 skipped: test call, Arrow round trip\n" in result.stdout


def test_doctor_skips_the_jvm_checks_when_java_and_the_jar_both_fail(tmp_path: Path) -> None:
    result = _gatun(
        "doctor",
        "--java",
        str(tmp_path / "no-java"),
        env={"GATUN_JAR": str(tmp_path / "no.jar")},
    )
    assert result.returncode == 1
    assert f"FAIL server jar: GATUN_JAR points to '{tmp_path / 'no.jar'}'" in result.stdout
    assert "SKIP test call: the java and server jar checks failed" in result.stdout
    assert _markers(result.stdout) == {"OK  ": 2, "FAIL": 2, "SKIP": 2}
    assert "\n2 check(s) failed: java, server jar; 2 skipped: " in result.stdout


def _markers(stdout: str) -> dict[str, int]:
    """How many check lines start with each of OK, FAIL and SKIP."""
    counts = {"OK  ": 0, "FAIL": 0, "SKIP": 0}
    for line in stdout.splitlines():
        if line[:4] in counts:
            counts[line[:4]] += 1
    return counts


def test_doctor_fails_clearly_without_java_on_the_path(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env.update(PYTHONPATH=_SOURCE, PATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "gatun", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 1
    assert "FAIL java: no Java found: JAVA_HOME is unset and no `java` is on PATH" in result.stdout


@pytest.mark.jvm
def test_bench_quick_measures_gatun_and_compares_installed_peers() -> None:
    result = _gatun("bench", "--quick")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gatun  p50" in result.stdout
    assert "Arrow round trip: 200,000 rows" in result.stdout
    for peer in ("py4j", "jpype"):
        if importlib.util.find_spec(peer) is not None:
            assert f"than {peer} (p50)" in result.stdout, result.stdout
        else:
            assert f"{peer:6} not installed: skipped" in result.stdout


def test_doctor_fails_a_jar_that_is_not_a_gatun_rs_server_jar(tmp_path: Path) -> None:
    import zipfile

    text = tmp_path / "notes.jar"
    text.write_text("not a zip")
    foreign = tmp_path / "gatun-server-all.jar"  # upstream's name, other classes
    with zipfile.ZipFile(foreign, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        jar.writestr("org/gatun/GatunServer.class", b"")
    for jar, why in ((text, "is not a jar (File is not a zip file)"), (foreign, "has no gatun/")):
        result = _gatun("doctor", env={"GATUN_JAR": str(jar)})
        assert result.returncode == 1
        assert f"FAIL server jar: {jar} " in result.stdout, result.stdout
        assert why in result.stdout
        assert "SKIP test call: the server jar check failed" in result.stdout


def test_version_exits_nonzero_without_a_server_jar(tmp_path: Path) -> None:
    result = _gatun("version", env={"GATUN_JAR": str(tmp_path / "absent.jar")})
    assert result.returncode == 1
    assert "server jar: not found: GATUN_JAR points to" in result.stdout


def test_doctor_notes_an_unusable_cache_directory_and_its_fallback(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "cache-file"
    not_a_dir.write_text("a file")
    result = _gatun(
        "doctor",
        "--java",
        str(tmp_path / "no-java"),  # skips the JVM checks: this one is about the cache
        env={"XDG_CACHE_HOME": str(not_a_dir), "TMPDIR": str(tmp_path), "GATUN_CDS_DIR": ""},
    )
    line = next(x for x in result.stdout.splitlines() if "cache directory" in x)
    assert line.startswith("OK   cache directory: note: "), result.stdout
    assert f"crash reports go to {tmp_path}/gatun-rs-{os.getuid()}" in line
    assert "no class archive" in line


def test_bench_refuses_an_unknown_peer_naming_the_known_ones() -> None:
    result = _gatun("bench", "--quick", "--peers", "foo,py4j")
    assert result.returncode == 2
    assert "usage: python -m gatun bench" in result.stderr
    assert "unknown peer(s) for --peers: foo (known: py4j, jpype)" in result.stderr
    assert "not installed" not in result.stdout
