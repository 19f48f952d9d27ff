"""The call path allocates nothing per call, in Rust or in the JVM.

Issue 4 asks for no allocation per call in Rust encode and decode and in the
Java dispatcher. The extension module counts the Rust heap allocations of
each thread (``_native.rust_allocations``); Python's own objects (the
results, the argument tuples) come from Python's allocator and are not
counted. On the JVM side the worker thread that serves the calls reports its
own allocated bytes (``ThreadMXBean.getCurrentThreadAllocatedBytes``, itself
called through the bridge, so on that thread). These are counts, not
timings: they are the same on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from gatun import _native

CALLS = 2000


def _allocations_per_call(call: Callable[[int], Any]) -> float:
    for i in range(200):  # pools, caches and lazily built state fill up here
        call(i)
    before = _native.rust_allocations()
    for i in range(CALLS):
        call(i)
    return (_native.rust_allocations() - before) / CALLS


def test_the_counter_sees_rust_allocations(client) -> None:
    """The counter works: sending a table builds Rust arrays and descriptors."""
    import pyarrow as pa

    before = _native.rust_allocations()
    client.send_arrow(pa.table({"x": list(range(100))})).close()
    assert _native.rust_allocations() > before


@pytest.mark.parametrize(
    "shape", ["ping", "pre-bound", "full path", "create", "add", "string in and out"]
)
def test_a_call_makes_no_rust_allocation(client, shape: str) -> None:
    math = client.jvm.java.lang.Math
    abs_ = math.abs
    items = client.jvm.java.util.ArrayList()
    text = "x" * 100
    calls: dict[str, Callable[[int], Any]] = {
        "ping": lambda i: client.ping(),
        "pre-bound": lambda i: abs_(i),
        "full path": lambda i: client.jvm.java.lang.Math.max(i, 5),
        # Each new proxy releases the previous one: the release rides a request.
        "create": lambda i: client.jvm.java.util.ArrayList(),
        "add": lambda i: items.add(i),
        "string in and out": lambda i: client.jvm.java.lang.String.valueOf(text),
    }
    per_call = _allocations_per_call(calls[shape])
    assert per_call < 0.01, f"{shape}: {per_call:.3f} Rust allocations per call"


def _jvm_bytes_per_call(client, call: Callable[[int], Any]) -> float:
    """Bytes the serving JVM thread allocates per call, once the JIT has
    compiled the path: the best of several rounds, since the interpreter
    allocates what compiled code does not (escape analysis)."""
    bean = client.jvm.java.lang.management.ManagementFactory.getThreadMXBean()
    allocated = bean.getCurrentThreadAllocatedBytes
    best = math.inf
    for _ in range(25):
        for i in range(2000):
            call(i)
        probe_cost = -(allocated() - allocated())  # what asking costs by itself
        before = allocated()
        for i in range(CALLS):
            call(i)
        best = min(best, (allocated() - before - probe_cost) / CALLS)
        if best < 1:
            break
    return best


_TEXT = "gatun " * 20  # 120 ASCII characters


def _jvm_calls(client) -> dict[str, Callable[[int], Any]]:
    abs_ = client.jvm.java.lang.Math.abs
    # Arguments stay within the JDK's Integer cache: a box is the call's own.
    return {
        "ping": lambda i: client.ping(),
        "pre-bound": lambda i: abs_(i % 100),
        "full path": lambda i: client.jvm.java.lang.Math.max(i % 100, 5),
        "string in and out": lambda i: client.jvm.java.util.Objects.toString(_TEXT),
        "create": lambda i: client.jvm.java.util.ArrayList(),
    }


@pytest.mark.parametrize("shape", ["ping", "pre-bound", "full path"])
def test_the_jvm_allocates_nothing_per_call(client, shape: str) -> None:
    per_call = _jvm_bytes_per_call(client, _jvm_calls(client)[shape])
    assert per_call < 1, f"{shape}: the JVM allocated {per_call:.1f} bytes per call"


def test_a_string_argument_costs_the_jvm_only_the_string(client) -> None:
    """The String the method receives is the call's own; decoding it makes no
    wider copy (FlatBuffers' decoder builds a char[] of twice its size)."""
    per_call = _jvm_bytes_per_call(client, _jvm_calls(client)["string in and out"])
    # A compact String: a 24-byte object and a byte[] of the text plus its 16-byte header.
    assert per_call <= 24 + 16 + len(_TEXT) + 8, f"{per_call:.1f} bytes per call"


def test_the_jvm_measure_sees_the_serving_thread(client) -> None:
    """The probe is answered by the thread that serves the calls: creating an
    object registers it, which allocates, and the measure shows that."""
    per_call = _jvm_bytes_per_call(client, _jvm_calls(client)["create"])
    assert per_call >= 24, f"creating an ArrayList measured {per_call:.1f} bytes"
