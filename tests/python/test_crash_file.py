"""A crashing JVM writes its report to gatun's cache directory, never the
working directory, and the error Python raises names the file (issue 17,
item 5). The crash is real: ``-XX:+CrashOnOutOfMemoryError`` with a small
heap, and an allocation larger than the heap made through the bridge."""

from __future__ import annotations

from pathlib import Path

import pytest

import gatun


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(cache directory, working directory), both empty."""
    cache, work = tmp_path / "cache", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("GATUN_CDS", "0")  # no class archive recorded by a dying JVM
    monkeypatch.chdir(work)
    return cache / "gatun-rs", work


def _crash_by_out_of_memory() -> tuple[int, pytest.ExceptionInfo[gatun.BridgeClosedError]]:
    """Launches a JVM that crashes on its first OutOfMemoryError, makes it run
    out, and returns its pid and what the call raised."""
    client = gatun.connect(
        jvm_options=["-Xmx64m", "-XX:+CrashOnOutOfMemoryError", "-XX:-CreateCoredumpOnCrash"],
        output=None,
    )
    pid = client._session.native.jvm_pid
    try:
        with pytest.raises(gatun.BridgeClosedError) as raised:
            client.jvm.java.lang.StringBuilder(1 << 30)  # a 1 GiB array, heap of 64 MiB
    finally:
        client.close()
    return pid, raised


@pytest.mark.timeout(120)
def test_a_crashed_jvm_names_its_report_in_the_cache_directory(
    isolated: tuple[Path, Path],
) -> None:
    cache, work = isolated
    pid, raised = _crash_by_out_of_memory()
    report = cache / f"hs_err_pid{pid}.log"
    assert report.is_file()
    assert f"wrote its error report to {report}" in str(raised.value)
    assert "OutOfMemoryError" in report.read_text(errors="replace")
    assert list(work.iterdir()) == []


@pytest.mark.timeout(120)
def test_an_unusable_cache_directory_sends_the_report_to_a_private_temp_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    not_a_dir, work, temp = tmp_path / "cache-file", tmp_path / "work", tmp_path / "tmp"
    not_a_dir.write_text("a file, not a directory")
    work.mkdir()
    temp.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_dir))
    monkeypatch.setenv("GATUN_CDS", "0")
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(work)
    pid, raised = _crash_by_out_of_memory()
    import os

    report = temp / f"gatun-rs-{os.getuid()}" / f"hs_err_pid{pid}.log"
    assert report.is_file()
    assert f"wrote its error report to {report}" in str(raised.value)
    assert list(work.iterdir()) == []


@pytest.mark.timeout(120)
def test_a_gateway_jvm_sends_its_report_to_the_cache_directory(
    isolated: tuple[Path, Path], tmp_path: Path
) -> None:
    cache, _ = isolated
    session = gatun.launch_gateway(socket_path=tmp_path / "g.sock", output=None)
    try:
        argv = Path(f"/proc/{session.pid}/cmdline").read_bytes().split(b"\0")
    finally:
        session.stop()
    assert f"-XX:ErrorFile={cache}/hs_err_pid%p.log".encode() in argv
