"""The call path allocates nothing per call on the Rust side.

Issue 4 asks for no allocation per call in Rust encode and decode. The
extension module counts the Rust heap allocations of each thread
(``_native.rust_allocations``); Python's own objects (the results, the
argument tuples) come from Python's allocator and are not counted. This is a
count, not a timing: it is the same on any machine.
"""

from __future__ import annotations

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
    pa = pytest.importorskip("pyarrow")
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
