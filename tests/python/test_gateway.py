"""Upstream's launch_gateway and GatunClient(socket_path).connect(): one JVM,
several clients, in this process and in another (issue 16, item 1)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import gatun
from gatun import GatunClient


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[gatun.GatunSession]:
    session = gatun.launch_gateway(socket_path=tmp_path / "gatun.sock")
    yield session
    session.stop()


def test_several_clients_share_one_gateway(gateway: gatun.GatunSession) -> None:
    first = GatunClient(gateway.socket_path)
    assert first.closed
    with pytest.raises(gatun.BridgeClosedError, match="call connect"):
        first.jvm.java.lang.Math.max(1, 2)
    assert first.connect() is True
    assert first.connect() is True  # already connected
    second = gateway.connect()
    try:
        assert first.jvm_pid == second.jvm_pid == gateway.pid
        items = first.jvm.java.util.ArrayList()
        items.add("first")
        assert second.jvm.java.util.ArrayList().size() == 0  # sessions are isolated
        table = pa.table({"x": list(range(1000))})
        assert first.send_arrow(table).getRowCount() == 1000
        script = (
            "from gatun import GatunClient\n"
            f"c = GatunClient({gateway.socket_path!r})\n"
            "assert c.connect()\n"
            "print(c.jvm.java.lang.Math.abs(-7))\n"
            "c.close()\n"
        )
        other = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
        )
        assert other.stdout.strip() == "7"
        first.close()
        assert gateway.running, "a client closing never stops the gateway"
        assert second.jvm.java.lang.Math.max(2, 3) == 3
    finally:
        first.close()
        second.close()


def test_stop_ends_every_session_and_removes_the_files(gateway: gatun.GatunSession) -> None:
    client = gateway.connect()
    gateway.stop()
    gateway.stop()  # idempotent
    assert not gateway.running
    assert not os.path.exists(gateway.socket_path)
    assert not os.path.exists(gateway.connection_file)
    # The server closed the session on purpose: the error says so, every time.
    for _ in range(2):
        with pytest.raises(gatun.BridgeClosedError, match="the server stopped") as e:
            client.jvm.java.lang.Math.max(1, 2)
        assert "exited or was killed" not in str(e.value)
    assert client.closed
    client.close()
    assert GatunClient(gateway.socket_path).connect() is False


def _wait_until_running(calls, method: str) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + 30
    while not any(c.target.endswith("." + method) for c in calls()):
        if time.monotonic() > end:
            pytest.fail(f"{method}() never started")
        time.sleep(0.02)


def test_stop_fails_waiting_calls_with_bridge_closed_sync_and_async(
    gateway: gatun.GatunSession,
) -> None:
    """A call blocked in Java when the gateway stops ends with BridgeClosedError
    in both clients, not the InterruptedException the stop gave the Java thread."""
    sync = gateway.connect()
    errors: list[BaseException] = []

    def wait_sync() -> None:
        try:
            sync.jvm.java.util.concurrent.Semaphore(0).acquire()
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    async def main() -> BaseException:
        aclient = gatun.AsyncGatunClient(gateway.socket_path)
        await aclient.connect()
        try:
            sem = await aclient.jvm.java.util.concurrent.Semaphore(0)
            task = asyncio.ensure_future(sem.acquire())
            target = "acquire"
            await asyncio.to_thread(_wait_until_running, aclient.running_calls, target)
            thread = threading.Thread(target=wait_sync)
            thread.start()
            await asyncio.to_thread(_wait_until_running, sync.running_calls, target)
            # Stopped from the event loop's thread, as a user would: the loop
            # only looks at the lane again once the stop has finished.
            gateway.stop()
            await asyncio.to_thread(thread.join, 30)
            try:
                await asyncio.wait_for(task, 30)
            except BaseException as e:  # noqa: BLE001 - the test inspects it
                return e
            pytest.fail("the async call returned after the gateway stopped")
        finally:
            await aclient.close()

    async_error = asyncio.run(main())
    sync.close()
    for error in (async_error, *errors):
        assert isinstance(error, gatun.BridgeClosedError), repr(error)
        assert "the server stopped" in str(error)
    assert len(errors) == 1
    assert "InterruptedException" not in str(async_error)


def test_a_stale_socket_is_replaced_and_a_live_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "gatun.sock"
    first = gatun.launch_gateway(socket_path=path)
    try:
        with pytest.raises(gatun.BridgeStartupError, match="already listens"):
            gatun.launch_gateway(socket_path=path)
    finally:
        first.stop()
    import socket

    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # a socket file nobody listens on
    stale.close()
    again = gatun.launch_gateway(socket_path=path)
    try:
        with GatunClient(path) as client:
            assert client.jvm.java.lang.Math.max(4, 5) == 5
    finally:
        again.stop()
    (tmp_path / "plain").write_text("x")
    with pytest.raises(gatun.BridgeStartupError, match="not a socket"):
        gatun.launch_gateway(socket_path=tmp_path / "plain")


def test_upstream_names_are_where_upstream_has_them() -> None:
    from gatun.launcher import GatunSession, launch_gateway

    assert launch_gateway is gatun.launch_gateway
    assert GatunSession is gatun.GatunSession
