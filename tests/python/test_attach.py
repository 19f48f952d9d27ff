"""Attaching to a server another JVM hosts (issue 14, server mode): the JVM is
not this process's child, every segment crosses as a file in a private
directory, sessions are isolated, and closing or killing a client never stops
the host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import gatun
from gatun.launcher import find_server_jar

HOST_APP = Path(__file__).parent / "java" / "host" / "HostApp.java"
# What Arrow Java needs in any JVM (Spark's driver passes it too).
ADD_OPENS = "--add-opens=java.base/java.nio=ALL-UNNAMED"


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_host(conn: Path, *jvm_options: str) -> int:
    """Starts a JVM that is NOT our child (sh starts it in the background and
    exits, so it is reparented) hosting a server; returns its pid once it
    has written the connection file ``conn``."""
    options = " ".join([ADD_OPENS, *jvm_options])
    java = f"java {options} -cp {find_server_jar()} {HOST_APP} {conn}"
    cmd = f"{java} </dev/null >{conn}.log 2>&1 & echo $!"
    out = subprocess.run(["setsid", "sh", "-c", cmd], capture_output=True, text=True, check=True)
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 60
    while not conn.exists():
        assert _alive(pid), f"the host JVM exited: {Path(f'{conn}.log').read_text()}"
        if time.monotonic() > deadline:  # a guard against a hang, not a timing
            pytest.fail("the host JVM wrote no connection file in 60 s")
        time.sleep(0.05)
    return pid


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """One hosting JVM for the module."""
    conn = tmp_path_factory.mktemp("host") / "gatun.conn"
    pid = start_host(conn)
    yield pid, conn
    os.kill(pid, signal.SIGKILL)


def _py_dirs() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob(f"gatun-py-{os.getpid()}-*")}


def test_the_host_is_not_our_child_and_data_crosses_both_ways(host: tuple[int, Path]) -> None:
    pid, conn = host
    assert _parent_of(pid) != os.getpid()
    before = _py_dirs()
    with gatun.attach(connection_file=conn) as client:
        assert client.attached
        assert client.jvm_pid == pid
        dirs = _py_dirs() - before
        assert len(dirs) == 1, "our segments live in one private directory"
        assert (Path("/dev/shm") / dirs.pop()).stat().st_mode & 0o777 == 0o700
        table = pa.table({"x": pa.array(range(100_000), pa.int64()), "s": ["ab", "c"] * 50_000})
        root = client.send_arrow(table)
        assert root.getRowCount() == 100_000
        back = client.invoke_method(root, "slice", 10, 5)
        assert back.column("x").to_pylist() == [10, 11, 12, 13, 14]
        assert back.column("s").to_pylist() == ["ab", "c", "ab", "c", "ab"]
        root.close()
    assert _py_dirs() == before, "closing removes the segment directory"
    assert _alive(pid), "closing an attached client never stops the host JVM"


def test_sessions_on_one_server_are_isolated(host: tuple[int, Path]) -> None:
    _, conn = host
    with gatun.attach(connection_file=conn) as a, gatun.attach(connection_file=conn) as b:
        items = a.jvm.java.util.ArrayList()
        items.add("only in a")
        with pytest.raises(gatun.JavaException, match=r"(?i)object|session"):
            b.invoke_method(gatun.JavaObject(b, items.object_id, "java.util.ArrayList"), "size")
        assert b.jvm.java.util.ArrayList().size() == 0
        assert items.size() == 1


def test_a_killed_client_leaves_the_host_serving(host: tuple[int, Path], tmp_path: Path) -> None:
    pid, conn = host
    script = textwrap.dedent(
        f"""
        import gatun, pyarrow as pa, sys
        c = gatun.attach(connection_file={str(conn)!r})
        c.send_arrow(pa.table({{"x": list(range(1000))}}))
        print("ready", flush=True)
        sys.stdin.read()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    child_dirs = list(Path("/dev/shm").glob(f"gatun-py-{child.pid}-*"))
    assert child_dirs, "the child's segment directory exists while it runs"
    child.kill()
    child.wait()
    assert _alive(pid)
    with gatun.attach(connection_file=conn) as client:
        assert client.jvm.java.lang.Math.max(2, 3) == 3
    deadline = time.monotonic() + 10
    while any(d.exists() for d in child_dirs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(d.exists() for d in child_dirs), "a killed client's files are swept"


def test_bad_attach_arguments_say_what_is_wrong(host: tuple[int, Path], tmp_path: Path) -> None:
    _, conn = host
    socket_path, _token = gatun.launcher.read_connection_file(conn)
    with pytest.raises(gatun.BridgeStartupError, match="bad token"):
        gatun.attach(socket_path, "0" * 32)
    with pytest.raises(ValueError, match="32 hexadecimal"):
        gatun.attach(socket_path, "abc")
    with pytest.raises(gatun.BridgeStartupError, match="no gatun server"):
        gatun.attach(str(tmp_path / "nothing.sock"), "0" * 32)
    (tmp_path / "empty.conn").write_text("socket=/x\n")
    with pytest.raises(gatun.BridgeStartupError, match="no token= line"):
        gatun.attach(connection_file=tmp_path / "empty.conn")
    with pytest.raises(ValueError, match="either connection_file"):
        gatun.attach(socket_path, "0" * 32, connection_file=conn)


def test_the_host_dying_fails_calls_promptly(tmp_path: Path) -> None:
    pid = start_host(tmp_path / "gatun.conn")
    client = gatun.attach(connection_file=tmp_path / "gatun.conn")
    try:
        assert client.jvm.java.lang.Math.abs(-4) == 4
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.01)
        with pytest.raises(gatun.BridgeClosedError):
            client.jvm.java.lang.Math.abs(-4)
    finally:
        client.close()


def test_a_killed_hosts_directory_is_swept_by_the_next_host(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()

    def host_dirs() -> list[Path]:
        return [p for p in tmp.iterdir() if p.name.startswith("gatun-host-")]

    first = start_host(tmp_path / "first.conn", f"-Djava.io.tmpdir={tmp}")
    (left,) = host_dirs()
    os.kill(first, signal.SIGKILL)
    while _alive(first):
        time.sleep(0.01)
    assert left.exists()  # nothing ran to remove it
    second = start_host(tmp_path / "second.conn", f"-Djava.io.tmpdir={tmp}")
    try:
        assert not left.exists()
        assert len(host_dirs()) == 1  # the live host's own
    finally:
        os.kill(second, signal.SIGKILL)


def test_a_host_without_arrows_add_opens_is_told_the_flag(tmp_path: Path) -> None:
    conn = tmp_path / "gatun.conn"
    run = subprocess.run(
        ["java", "-cp", find_server_jar(), str(HOST_APP), str(conn)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert "--add-opens=java.base/java.nio=ALL-UNNAMED" in run.stderr
    assert not conn.exists()


def _vector_of(client: gatun.GatunClient, value: int, n: int) -> pa.Array:
    """An IntVector built by Java on the bridge allocator (shared memory),
    received by Python, with the Java vector then closed."""
    allocator = client.jvm.gatun.server.arrow.ArrowBridge.allocator()
    vector = client.jvm.org.apache.arrow.vector.IntVector("v", allocator)
    vector.allocateNew(n)
    for i in range(n):
        vector.set(i, value)
    vector.setValueCount(n)
    received = pa.array(vector)
    vector.close()
    return received


def test_data_received_stays_intact_after_the_client_closes(host: tuple[int, Path]) -> None:
    """A hosting JVM lives on after a session: the blocks Python received must
    not be handed to the next allocation while that Python still holds them
    (the README's contract: received data stays valid after close())."""
    _, conn = host
    first = gatun.attach(connection_file=conn)
    kept = _vector_of(first, 7, 10_000)
    first.close()
    second = gatun.attach(connection_file=conn)
    try:
        for _ in range(5):
            _vector_of(second, 99, 10_000)
    finally:
        second.close()
    assert kept.to_pylist() == [7] * 10_000
