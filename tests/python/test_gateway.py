"""Upstream's launch_gateway and GatunClient(socket_path).connect(): one JVM,
several clients, in this process and in another (issue 16, item 1)."""

from __future__ import annotations

import os
import subprocess
import sys
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
    with pytest.raises(gatun.BridgeClosedError):
        client.jvm.java.lang.Math.max(1, 2)
    client.close()
    assert GatunClient(gateway.socket_path).connect() is False


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
