"""The gatun-rs demo: launch a JVM, make calls across shared memory, print figures.

Run through ``scripts/demo`` (which builds everything first).
"""

from __future__ import annotations

import platform
import statistics
import time

import numpy as np
import pyarrow as pa

import gatun


def timed(fn, repeat: int) -> list[float]:
    """Per-call latencies in microseconds, after a warm-up."""
    for _ in range(min(repeat, 2000)):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def row(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(f"  {name:<44} p50 {p50:8.2f} µs   p99 {p99:8.2f} µs")


def arrow_demo(client: gatun.GatunClient) -> None:
    """Tables across the shared-memory arena and back."""
    rows = 10_000_000
    table = pa.table({"id": np.arange(rows), "value": np.random.default_rng(0).random(rows)})
    mb = table.nbytes / 1e6
    print(f"\nArrow: a table of {rows:,} rows ({mb:.0f} MB)")
    for attempt in ("first (creates the shared memory)", "second (warm)"):
        t0 = time.perf_counter()
        root = client.send_arrow(table)  # one copy into the arena; Java wraps it in place
        sent = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = client.invoke_method(root, "slice", 0, rows)  # a VectorSchemaRoot comes back
        got = time.perf_counter() - t0
        print(f"  {attempt}:")
        rate = mb / 1e3 / sent
        print(f"    Python -> Java, copied once: {sent * 1e3:7.1f} ms ({rate:4.1f} GB/s)")
        print(f"    Java -> Python as pyarrow:   {got * 1e3:7.1f} ms ({mb / 1e3 / got:4.1f} GB/s)")
        same = back.equals(table)
        print(f"    Java saw {root.getRowCount():,} rows; equal after the round trip: {same}")
        root.close()
        del back

    ids = client.arena.numpy(rows, "int64")  # built in shared memory: no copy at all
    ids[:] = np.arange(rows)
    in_arena = pa.table({"id": ids})
    t0 = time.perf_counter()
    root = client.send_arrow(in_arena)
    zero = time.perf_counter() - t0
    print(f"  Python -> Java, built in the arena (80 MB, zero copy): {zero * 1e3:.2f} ms")
    print(f"  arrow_stats: {client._native.arrow_stats()}")
    root.close()


def main() -> None:
    print(
        f"gatun-rs {gatun.__version__} on {platform.machine()}, Python {platform.python_version()}"
    )
    t0 = time.perf_counter()
    client = gatun.connect()
    connect_ms = (time.perf_counter() - t0) * 1000
    print(
        f"connect(): JVM launched and {client._native.lanes} lanes connected in {connect_ms:.0f} ms"
    )

    jvm = client.jvm
    lst = jvm.java.util.ArrayList()
    lst.add("hello")
    lst.add("world")
    print(f"ArrayList: {lst}  size={lst.size()}")
    print(f"Math.max(10, 20) = {jvm.java.lang.Math.max(10, 20)}")
    print(f"Integer.MAX_VALUE = {jvm.java.lang.Integer.MAX_VALUE}")
    formatted = jvm.java.lang.String.format("%s has %d items", "list", lst.size())
    print(f"String.format(...) = {formatted!r}")
    try:
        jvm.java.lang.Integer.parseInt("not a number")
    except gatun.JavaNumberFormatException as e:
        print(f"Java exception arrives typed: {type(e).__name__}: {e.message}")

    print("\nLatency (this machine, one run):")
    row("ping", timed(client.ping, 20000))
    abs_ = jvm.java.lang.Math.abs
    row("pre-bound static call  f = Math.abs; f(-5)", timed(lambda: abs_(-5), 20000))
    row(
        "full path  jvm.java.lang.Math.max(7, 5)",
        timed(lambda: jvm.java.lang.Math.max(7, 5), 20000),
    )
    arr = jvm.java.util.ArrayList()
    add = arr.add
    row("instance call  arr.add(1)", timed(lambda: add(1), 20000))

    n = 10_000
    t0 = time.perf_counter()
    with client.batch() as b:
        for i in range(n):
            b.call(arr, "add", i)
    batched = (time.perf_counter() - t0) / n * 1e6
    print(f"  {'10,000 add() calls in one batch':<44} {batched:8.2f} µs per call")
    print(f"\nArrayList now holds {arr.size()} elements.")
    arrow_demo(client)
    client.close()
    print("closed: JVM stopped.")


if __name__ == "__main__":
    main()
