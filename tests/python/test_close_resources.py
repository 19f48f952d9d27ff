"""close() gives the session's resources back at once, while the client objects
are still referenced: descriptors (memfds, sockets, pipes), shared-memory
mappings and threads. Arrow data still referenced here stays valid, and its
mapping goes when the data does."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import gatun
from gatun import BridgeClosedError

pytestmark = pytest.mark.timeout(120)


def _is_shared_memory(path: str) -> bool:
    # The bridge's memfds (Python's segments) and Java's segment files.
    return path.startswith("/memfd:gatun-") or (path.startswith("/dev/shm/") and "gatun" in path)


def resources() -> dict[str, int]:
    """This process's descriptors by kind, bytes mapped from the bridge's
    shared memory, and the bridge's threads (the launcher thread lives as
    long as the process and is left out)."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
    mapped = 0
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and _is_shared_memory(fields[5].strip()):
                lo, hi = fields[0].split("-")
                mapped += int(hi, 16) - int(lo, 16)
    native_threads = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as comm:
                name = comm.read().strip()
        except OSError:  # the thread ended meanwhile
            continue
        native_threads += name.startswith("gatun") and name != "gatun-launcher"
    python_threads = sum(t.name.startswith("gatun") for t in threading.enumerate())
    return {
        "fds": len(targets),
        "memfds": sum(t.startswith("/memfd:gatun-") for t in targets),
        "sockets": sum(t.startswith("socket:") for t in targets),
        "shared_memory_mapped": mapped,
        "bridge_threads": native_threads + python_threads,
    }


def exercise(client: gatun.GatunClient) -> None:
    """Arrow both ways, an arena buffer, a callback and ordinary calls."""
    table = pa.table({"n": pa.array(range(200_000)), "s": pa.array(["x"] * 200_000)})
    root = client.send_arrow(table)
    back = client.invoke_method(root, "slice", 0, 100_000)
    assert back.num_rows == 100_000
    root.close()
    del back
    arena = client.arena.numpy(1000, "int64")
    arena[:] = 7
    assert client.send_arrow(pa.table({"a": arena})).getRowCount() == 1000
    del arena
    cmp = client.register_callback(lambda a, b: (a > b) - (a < b), "java.util.Comparator")
    items = client.jvm.java.util.ArrayList(client.jvm.java.util.Arrays.asList(3, 1, 2))
    client.jvm.java.util.Collections.sort(items, cmp)
    assert list(items) == [1, 2, 3]
    # A callback from another Java thread comes on a callback lane, served
    # by a Python thread of its own.
    served_by: list[str] = []
    runnable = client.register_callback(
        lambda: served_by.append(threading.current_thread().name), "java.lang.Runnable"
    )
    thread = client.jvm.java.lang.Thread(runnable)
    thread.start()
    thread.join()
    assert served_by[0].startswith("gatun-callbacks")
    assert client.invoke_static_method("java.lang.Math", "abs", -5) == 5


def test_three_closed_clients_still_referenced_hold_nothing() -> None:
    gc.collect()
    baseline = resources()
    clients = [gatun.connect(callback_lanes=1) for _ in range(3)]
    for client in clients:
        exercise(client)
    busy = resources()
    # The test sees what it should: 2 memfds and 4 sockets (3 lanes) a client.
    assert busy["memfds"] >= baseline["memfds"] + 6
    assert busy["sockets"] >= baseline["sockets"] + 12
    for client in clients:
        client.close()
    assert all(client.closed for client in clients)
    assert resources() == baseline


def test_a_held_table_from_the_jvm_stays_readable_after_close_and_its_mapping_goes_with_it() -> (
    None
):
    gc.collect()
    baseline = resources()
    client = gatun.connect()
    bridge = client.jvm.gatun.server.arrow.ArrowBridge.allocator()
    vector = client.jvm.org.apache.arrow.vector.BigIntVector("n", bridge)
    vector.allocateNew(300_000)
    vector.setValueCount(300_000)
    held = client.jvm.java.util.Objects.requireNonNull(vector)  # by value, in a JVM segment
    client.close()

    after_close = resources()
    assert after_close["memfds"] == baseline["memfds"]
    assert after_close["sockets"] == baseline["sockets"]
    assert after_close["bridge_threads"] == baseline["bridge_threads"]
    assert after_close["shared_memory_mapped"] > baseline["shared_memory_mapped"], (
        "the JVM segment under the held array stays mapped"
    )
    assert len(held) == 300_000
    assert held.null_count == 300_000  # allocated, never set
    del held, vector, bridge
    gc.collect()
    assert resources() == baseline


def test_data_python_sent_and_got_back_keeps_its_own_segment_until_dropped() -> None:
    gc.collect()
    baseline = resources()
    client = gatun.connect()
    sent = pa.table({"n": pa.array(range(300_000), pa.int64())})
    root = client.send_arrow(sent)
    held = client.invoke_method(root, "slice", 0, 300_000)  # Python's own memory, handed back
    client.close()
    assert resources()["memfds"] == baseline["memfds"] + 1, "only the held data's segment"
    assert held.equals(sent)
    del held, root
    gc.collect()
    assert resources() == baseline


def test_an_arena_buffer_held_over_close_stays_writable_until_dropped() -> None:
    gc.collect()
    baseline = resources()
    client = gatun.connect()
    kept = client.arena.numpy(4096, "int64")
    client.close()
    kept[:] = 3
    assert int(kept.sum()) == 3 * 4096
    assert resources()["memfds"] == baseline["memfds"] + 1, "only the buffer's segment"
    del kept
    gc.collect()
    assert resources() == baseline


def test_an_asyncio_client_gives_everything_back() -> None:
    gc.collect()
    baseline = resources()
    kept: list[Any] = []

    async def main() -> None:
        client = await gatun.aconnect(lanes=3)
        kept.append(client)
        assert await client.ping()
        answers = await asyncio.gather(
            *(client.invoke_static_method("java.lang.Math", "abs", -i) for i in range(50))
        )
        assert answers == list(range(50))
        items = await client.create_object("java.util.ArrayList")
        for value in (3, 1, 2):
            await items.add(value)

        async def compare(a: int, b: int) -> int:
            await asyncio.sleep(0)
            return (a > b) - (a < b)

        cmp = await client.register_callback(compare, "java.util.Comparator")
        await client.invoke_static_method("java.util.Collections", "sort", items, cmp)
        assert await items.toString() == "[1, 2, 3]"
        root = await client.send_arrow(pa.table({"n": pa.array(range(100_000))}))
        assert await root.getRowCount() == 100_000
        await root.close()
        await client.close()

    asyncio.run(main())
    assert kept[0].sync.closed
    assert resources() == baseline


def test_closing_while_an_asyncio_call_waits_fails_it_and_gives_everything_back(
    java_helpers: Path,
) -> None:
    gc.collect()
    baseline = resources()

    async def main() -> None:
        client = await gatun.aconnect(classpath=[str(java_helpers)], lanes=2)
        waiting = asyncio.ensure_future(client.jvm.gatuntest.Slow.echoAfter("late", 60_000))
        while client.calls_on_loop < 1:  # until the call waits on its borrowed lane
            await asyncio.sleep(0.01)
        await client.close()
        # The lane the call borrowed stays open (and watched by the loop)
        # until the call has heard of the end: it fails, it does not hang.
        with pytest.raises(BridgeClosedError):
            await asyncio.wait_for(waiting, 20)

    asyncio.run(main())
    gc.collect()
    assert resources() == baseline


def test_close_from_inside_a_callback_closes_its_lane_when_the_call_ends() -> None:
    gc.collect()
    baseline = resources()
    client = gatun.connect()

    def closing(a: int, b: int) -> int:
        client.close()  # this thread still holds the lane the call came on
        return 0

    cmp = client.register_callback(closing, "java.util.Comparator")
    items = client.jvm.java.util.ArrayList(client.jvm.java.util.Arrays.asList(2, 1))
    with pytest.raises(BridgeClosedError):
        client.jvm.java.util.Collections.sort(items, cmp)
    del cmp, items
    gc.collect()
    assert resources() == baseline


def test_every_kind_of_call_on_a_closed_client_raises_bridge_closed_error() -> None:
    client = gatun.connect()
    items = client.jvm.java.util.ArrayList()
    client.close()
    attempts = {
        "ping": client.ping,
        "static call": lambda: client.invoke_static_method("java.lang.Math", "abs", -1),
        "object call": lambda: items.size(),
        "name lookup": lambda: client.jvm.java.util.ArrayList(),
        "send_arrow": lambda: client.send_arrow(pa.table({"a": [1]})),
        "arena buffer": lambda: client.arena.buffer(64),
        "batch": lambda: _batch_on(client),
    }
    did_not_raise = []
    for what, attempt in attempts.items():
        try:
            attempt()
        except BridgeClosedError:
            continue
        did_not_raise.append(what)
    assert not did_not_raise


def _batch_on(client: gatun.GatunClient) -> None:
    with client.batch() as batch:
        batch.call_static("java.lang.Math", "abs", -1)
