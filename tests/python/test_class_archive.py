"""The server JVM's class-data-sharing archive (``bridge/src/class_archive.rs``).

The first session for a Java, classpath and set of JVM options records the
classes its JVM loaded as it exits; later sessions map them instead of
loading and verifying them again. These tests use a cache directory of their
own (``GATUN_CDS_DIR``) and check what the JVM was started with, not timings.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import gatun


def _jvm_arguments(client: gatun.GatunClient) -> list[str]:
    runtime = client.jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
    return [str(a) for a in runtime.getInputArguments()]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GATUN_CDS_DIR", str(tmp_path))
    monkeypatch.delenv("GATUN_CDS", raising=False)
    return tmp_path


def test_the_first_session_records_and_the_next_maps_the_archive(cache: Path) -> None:
    with gatun.connect() as first:
        assert any(a.startswith("-XX:ArchiveClassesAtExit=") for a in _jvm_arguments(first))
    archives = list(cache.glob("*.jsa"))
    assert len(archives) == 1, sorted(p.name for p in cache.iterdir())
    # The server's own classes and Arrow's (its warm-up ran before the exit).
    assert archives[0].stat().st_size > 4 << 20
    assert not list(cache.glob("*.partial")), "the recording was renamed into place"
    assert not list(cache.glob("*.lock")), "the lock was released"

    with gatun.connect() as second:
        assert f"-XX:SharedArchiveFile={archives[0]}" in _jvm_arguments(second)
        assert second.jvm.java.lang.Math.max(3, 4) == 4


def test_other_jvm_options_get_their_own_archive(cache: Path) -> None:
    with gatun.connect():
        pass
    with gatun.connect(jvm_options=["-Xss2m"]) as other:
        assert any(a.startswith("-XX:ArchiveClassesAtExit=") for a in _jvm_arguments(other))
    assert len(list(cache.glob("*.jsa"))) == 2


@pytest.mark.parametrize("how", ["GATUN_CDS=0", "-Xshare:off"])
def test_no_archive_when_switched_off(
    cache: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    options: list[str] = []
    if how == "GATUN_CDS=0":
        monkeypatch.setenv("GATUN_CDS", "0")
    else:
        options.append(how)
    with gatun.connect(jvm_options=options) as client:
        arguments = _jvm_arguments(client)
        assert not [a for a in arguments if "Archive" in a], arguments
    assert not list(cache.iterdir())


def _java_25() -> Path | None:
    for home in sorted(Path("/usr/lib/jvm").glob("*25*")):
        java = home / "bin" / "java"
        if java.is_file():
            return java
    return None


@pytest.mark.skipif(_java_25() is None, reason="no Java 25 under /usr/lib/jvm")
def test_java_25_launches_quietly_without_an_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Java 25's dynamic-archive recording crashed the JVM, and a mapped
    archive or Arrow's Unsafe use printed errors and warnings into Python."""
    monkeypatch.setenv("GATUN_CDS_DIR", str(tmp_path))
    for _ in range(2):
        with gatun.connect(java=str(_java_25())) as client:
            assert client.jvm.java.lang.Math.max(1, 2) == 2
            root = client.send_arrow(pa.table({"x": [1, 2, 3]}))
            assert root.getRowCount() == 3
            root.close()
    err = capfd.readouterr().err
    assert "[error][cds]" not in err
    assert "sun.misc.Unsafe" not in err
    assert not list(tmp_path.glob("*.jsa"))
