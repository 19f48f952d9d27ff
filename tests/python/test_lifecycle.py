"""Process lifecycle: close, crashes on either side, Ctrl-C and fork."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

import gatun
from gatun import BridgeClosedError

PACKAGE_ROOT = str(Path(gatun.__file__).resolve().parent.parent)


def process_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(predicate())  # type: ignore[operator]


def socket_entries() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("gatun-")}


def run_python(code: str, **kwargs: object) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def call_in_thread(fn: object, timeout: float) -> tuple[bool, BaseException | None, float]:
    """Run ``fn`` in a thread; (finished, exception raised, seconds taken)."""
    outcome: list[BaseException | None] = []
    start = time.monotonic()

    def target() -> None:
        try:
            fn()  # type: ignore[operator]
            outcome.append(None)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    elapsed = time.monotonic() - start
    return (not worker.is_alive(), outcome[0] if outcome else None, elapsed)


# -- close ---------------------------------------------------------------------


def test_close_stops_the_jvm() -> None:
    client = gatun.connect()
    pid = client.jvm_pid
    assert not process_gone(pid)
    client.close()
    assert client.closed
    assert wait_until(lambda: process_gone(pid), 10)
    client.close()  # idempotent


def test_context_manager_closes() -> None:
    with gatun.connect() as client:
        pid = client.jvm_pid
        assert client.ping()
    assert client.closed
    assert wait_until(lambda: process_gone(pid), 10)


def test_calls_after_close_raise(fresh_client: gatun.GatunClient) -> None:
    lst = fresh_client.jvm.java.util.ArrayList()
    math = fresh_client.jvm.java.lang.Math
    fresh_client.close()
    with pytest.raises(BridgeClosedError):
        fresh_client.ping()
    with pytest.raises(BridgeClosedError):
        lst.size()
    with pytest.raises(BridgeClosedError):
        math.max(1, 2)
    with pytest.raises(BridgeClosedError), fresh_client.batch() as b:
        b.call_static("java.lang.Math", "max", 1, 2)
    assert gatun.DeadConnectionError is BridgeClosedError


# -- crashes -------------------------------------------------------------------------


def test_jvm_killed_raises_bridge_closed(fresh_client: gatun.GatunClient) -> None:
    lst = fresh_client.jvm.java.util.ArrayList()
    pid = fresh_client.jvm_pid
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: process_gone(pid), 10)

    finished, error, elapsed = call_in_thread(fresh_client.ping, timeout=30)
    assert finished, "a call on a dead JVM hung"
    assert isinstance(error, BridgeClosedError), error
    print(f"dead JVM detected after {elapsed:.3f} s")  # expected well under 1 s

    with pytest.raises(BridgeClosedError):
        lst.size()
    with pytest.raises(BridgeClosedError):
        fresh_client.jvm.java.lang.Math.max(1, 2)
    assert fresh_client.closed


def test_python_killed_stops_jvm_and_cleans_up() -> None:
    before = socket_entries()
    child = run_python(
        """
        import time
        import gatun
        client = gatun.connect()
        client.jvm.java.util.ArrayList().add("x")
        print(client.jvm_pid, flush=True)
        time.sleep(600)
        """
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), child.stderr.read() if child.stderr else line
        jvm_pid = int(line)
        created = socket_entries() - before
        assert not process_gone(jvm_pid)
    finally:
        child.kill()
        child.wait(timeout=30)

    assert wait_until(lambda: process_gone(jvm_pid), 5), "the JVM outlived its Python parent"
    assert wait_until(lambda: not (created & socket_entries()), 5), (
        f"left behind in {tempfile.gettempdir()}: {sorted(created & socket_entries())}"
    )


def test_ctrl_c_interrupts_a_long_call() -> None:
    child = run_python(
        """
        import signal
        import threading
        import time
        import gatun
        # A shell without job control starts background jobs with SIGINT
        # ignored, and Python then installs no Ctrl-C handler: restore it.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        client = gatun.connect()
        gate = client.jvm.java.util.concurrent.Semaphore(0)
        unit = client.jvm.java.util.concurrent.TimeUnit.MILLISECONDS

        def announce():
            # "ready" once the long call waits in the JVM (on another lane).
            while not gate.hasQueuedThreads():
                time.sleep(0.01)
            print("ready", flush=True)

        threading.Thread(target=announce, daemon=True).start()
        try:
            gate.tryAcquire(60000, unit)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        client.close()
        """
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        child.send_signal(signal.SIGINT)
        # The bound: far below the 60 s call.
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "interrupted" in out, err
    assert "finished" not in out


# -- fork ------------------------------------------------------------------------------


def test_fork_child_cannot_use_parent_client(fresh_client: gatun.GatunClient) -> None:
    lst = fresh_client.jvm.java.util.ArrayList()
    lst.add("parent")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report through the pipe, never return into pytest
        code = 1
        try:
            try:
                fresh_client.ping()
            except BridgeClosedError as error:
                code = 0 if "fork" in str(error) else 2
            try:
                lst.size()
                code = 3
            except BridgeClosedError:
                pass
            os.write(write_end, bytes([code]))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reported = pipe.read()
    os.waitpid(pid, 0)
    assert reported == b"\x00"
    assert fresh_client.ping()
    assert lst.size() == 1
    assert not process_gone(fresh_client.jvm_pid)


def test_fork_child_exiting_normally_leaves_parent_working() -> None:
    child = run_python(
        """
        import os
        import sys
        import gatun
        client = gatun.connect()
        lst = client.jvm.java.util.ArrayList()
        pid = os.fork()
        if pid == 0:
            try:
                client.ping()
                print("child: call succeeded", flush=True)
            except gatun.BridgeClosedError:
                print("child: closed", flush=True)
            del lst
            sys.exit(0)  # runs atexit and finalisers in the child
        os.waitpid(pid, 0)
        lst.add(1)
        print("parent:", client.ping(), lst.size(), flush=True)
        client.close()
        """
    )
    out, err = child.communicate(timeout=60)
    assert "child: closed" in out, err
    assert "parent: True 1" in out, err
