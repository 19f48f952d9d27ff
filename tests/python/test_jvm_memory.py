"""Small calls leave nothing behind in the JVM: its live heap (after a full
GC) and the session's object registry and resolution cache stay flat while
calls go on. No RSS threshold: RSS follows how large G1 lets its heap grow,
not what the calls retain."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

import gatun

pytestmark = pytest.mark.timeout(180)

#: Live heap growth allowed over a phase of calls: a leak of one small object
#: per call (16 bytes) over PHASE_CALLS would be 3 MiB.
HEAP_SLACK = 512 << 10
PHASE_CALLS = 200_000


def snapshot(client: gatun.GatunClient, memory: Any) -> tuple[int, int, int]:
    """(live heap bytes after a full GC, live objects, cached resolutions)."""
    memory.gc()
    memory.gc()
    used = int(memory.getHeapMemoryUsage().getUsed())
    metrics = client.get_metrics()
    objects = int(re.search(r"current_objects: (\d+)", metrics).group(1))  # type: ignore[union-attr]
    resolutions = int(re.search(r"resolutions_cached: (\d+)", metrics).group(1))  # type: ignore[union-attr]
    return used, objects, resolutions


def small_calls(client: gatun.GatunClient) -> Callable[[int], None]:
    """Calls that retain nothing: a ping, a pre-bound static call, an object
    created and dropped, a string made, and a call that throws."""
    absolute = client.jvm.java.lang.Math.abs
    array_list = client.jvm.java.util.ArrayList
    string = client.jvm.java.lang.String

    def run(calls: int) -> None:
        for i in range(calls // 5):
            client.ping()
            absolute(-i)
            array_list()
            string.valueOf(i)
            with pytest.raises(gatun.JavaException):
                client.invoke_static_method("java.lang.Integer", "parseInt", "x")

    return run


def test_the_live_heap_and_the_registries_stay_flat_over_small_calls() -> None:
    with gatun.connect() as client:
        memory = client.jvm.java.lang.management.ManagementFactory.getMemoryMXBean()
        run = small_calls(client)
        run(PHASE_CALLS // 2)  # warm-up: classes, JIT, caches of the call sites
        snapshot(client, memory)  # the measurement's own call sites
        heap_before, objects_before, resolutions_before = snapshot(client, memory)
        run(PHASE_CALLS)
        heap_after, objects_after, resolutions_after = snapshot(client, memory)
        assert heap_after - heap_before < HEAP_SLACK, (heap_before, heap_after)
        assert objects_after == objects_before
        assert resolutions_after == resolutions_before

        # The measure sees a leak of that size: keep 20,000 strings in Java.
        kept = client.jvm.java.util.ArrayList()
        for i in range(20_000):
            kept.add(f"{i:0100d}")
        heap_kept, objects_kept, _ = snapshot(client, memory)
        assert heap_kept - heap_after > 2 * HEAP_SLACK
        assert objects_kept == objects_after + 1
