"""The JVM's voice (issue 16, item 3): its stdout and stderr reach Python's
streams by default, or a logger, a file, or nowhere; the ``gatun`` logger
reports launch, connect and close."""

from __future__ import annotations

import io
import logging
import sys
import time
from pathlib import Path

import pytest

import gatun


def _print(client: gatun.GatunClient, out: str, err: str) -> None:
    system = client.jvm.java.lang.System
    system.out.println(out)
    system.err.println(err)
    system.out.flush()


def _wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + 20
    while not predicate():
        if time.monotonic() > deadline:  # a guard against a hang, not a timing
            pytest.fail(f"no {what} within 20 s")
        time.sleep(0.02)


def test_output_reaches_python_streams_by_default(capfd: pytest.CaptureFixture[str]) -> None:
    captured_out = io.StringIO()
    captured_err = io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = captured_out, captured_err
    try:
        with gatun.connect() as client:
            _print(client, "hello from System.out ✓", "hello from System.err")
            _wait_for(lambda: "System.err" in captured_err.getvalue(), "stderr line")
            _wait_for(lambda: "System.out" in captured_out.getvalue(), "stdout line")
    finally:
        sys.stdout, sys.stderr = old
    assert "hello from System.out ✓\n" in captured_out.getvalue()
    assert "hello from System.err\n" in captured_err.getvalue()
    assert "System.err" not in captured_out.getvalue()


def test_output_to_a_logger_a_file_or_nowhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with gatun.connect(output="logging") as client:
        _print(client, "to the log", "warned")
        _wait_for(lambda: any(r.getMessage() == "warned" for r in caplog.records), "log record")
        _wait_for(lambda: any(r.getMessage() == "to the log" for r in caplog.records), "log record")
    records = {r.getMessage(): r for r in caplog.records if r.name == "gatun.jvm"}
    assert records["to the log"].levelno == logging.INFO
    assert records["warned"].levelno == logging.WARNING
    launched = [
        r for r in caplog.records if r.name == "gatun" and "launched the JVM" in r.getMessage()
    ]
    closed = [
        r for r in caplog.records if r.name == "gatun" and "closing the session" in r.getMessage()
    ]
    assert launched
    assert closed

    log_file = tmp_path / "jvm.log"
    with gatun.connect(output=log_file) as client:
        _print(client, "into the file", "also into the file")
    _wait_for(lambda: "also into the file" in log_file.read_text(), "file contents")
    assert "into the file\n" in log_file.read_text()

    with gatun.connect(output=None) as client:
        _print(client, "nowhere", "nowhere either")
        assert client.jvm.java.lang.Math.max(1, 2) == 2


def test_debug_sends_both_streams_to_stderr() -> None:
    captured = io.StringIO()
    old = sys.stderr
    sys.stderr = captured
    try:
        with gatun.connect(debug=True) as client:
            _print(client, "out in debug", "err in debug")
            _wait_for(lambda: "out in debug" in captured.getvalue(), "stdout line on stderr")
    finally:
        sys.stderr = old


def test_a_bad_output_is_refused_before_a_jvm_starts() -> None:
    with pytest.raises(TypeError, match="output must be"):
        gatun.connect(output=42)


def test_log_level_and_trace_reach_python(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with gatun.connect(log_level="FINE", trace=True, output="logging") as client:
        assert client.jvm.java.lang.Math.max(3, 4) == 4
        _wait_for(
            lambda: any("resolved java.lang.Math.max" in r.getMessage() for r in caplog.records),
            "trace line",
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "gatun.jvm"]
    assert any("[gatun.session] session" in line and "started" in line for line in lines)
    with gatun.connect(output="logging") as client:  # neither: the server stays quiet
        caplog.clear()
        assert client.jvm.java.lang.Math.max(3, 4) == 4
    assert not any("resolved" in r.getMessage() for r in caplog.records)
