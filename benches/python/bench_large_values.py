#!/usr/bin/env python3
"""Values larger than a lane slot (they spill into the payload arena):
send a 100 MB ``bytes``, a 100 MB ``str`` and a 10M-element int64 numpy array,
and receive a 100 MB ``String``, ``byte[]`` and a 10M-element ``long[]``,
against a plain memcpy of the same size (numpy), and Py4J for the string and
bytes when it is installed.

    .venv/bin/python benches/python/bench_large_values.py [--reps 5] [--no-py4j]

Each figure is the median of ``--reps`` runs after one warm-up. The Java side
does O(1) work: ``Objects.isNull(x)`` takes the argument, and
``AtomicReference.get()`` returns a value held in Java. "memcpy (fresh)" copies
into a newly allocated array, as receiving into a new Python object must
(glibc may hand back memory a previous copy freed); "memcpy (warm)" into an
array already touched.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections.abc import Callable

import numpy as np

import gatun

MB = 1 << 20
SIZE = 100 * MB
LONGS = 10_000_000


def median_seconds(fn: Callable[[], object], reps: int) -> float:
    fn()  # warm-up: first-touch of arena segments, JIT
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def row(name: str, nbytes: int, seconds: float, base: float) -> str:
    rate = nbytes / MB / seconds
    return (
        f"| {name} | {nbytes / MB:.0f} | {seconds * 1e3:.1f} | {rate:,.0f} | {seconds / base:.2f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--no-py4j", action="store_true")
    args = ap.parse_args()

    data = bytes(range(256)) * (SIZE // 256)
    text = "a" * SIZE
    longs = np.arange(LONGS, dtype=np.int64)
    src = np.frombuffer(data, dtype=np.uint8)
    warm = np.empty_like(src)
    fresh = median_seconds(lambda: src.copy(), args.reps)
    copyto = median_seconds(lambda: np.copyto(warm, src), args.reps)

    c = gatun.connect()
    jvm = c.jvm
    is_null = jvm.java.util.Objects.isNull
    held_text = jvm.java.util.concurrent.atomic.AtomicReference(jvm.java.lang.String(text))
    held_bytes = jvm.java.util.concurrent.atomic.AtomicReference(data)
    held_longs = jvm.java.util.concurrent.atomic.AtomicReference(longs)
    results = [
        ("send `bytes`", SIZE, median_seconds(lambda: is_null(data), args.reps)),
        ("send `str` (ASCII)", SIZE, median_seconds(lambda: is_null(text), args.reps)),
        ("send numpy int64[10M]", LONGS * 8, median_seconds(lambda: is_null(longs), args.reps)),
        ("receive `String`", SIZE, median_seconds(held_text.get, args.reps)),
        ("receive `byte[]`", SIZE, median_seconds(held_bytes.get, args.reps)),
        ("receive `long[10M]`", LONGS * 8, median_seconds(held_longs.get, args.reps)),
    ]
    del held_text, held_bytes, held_longs
    c.close()

    py4j = []
    if not args.no_py4j:
        try:
            from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
        except ImportError:
            pass
        else:
            port = launch_gateway(die_on_exit=True, java_path=shutil.which("java"))
            g = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_convert=True))
            try:
                p_is_null = g.jvm.java.util.Objects.isNull
                p_text = g.jvm.java.util.concurrent.atomic.AtomicReference(text)
                p_bytes = g.jvm.java.util.concurrent.atomic.AtomicReference(data)
                reps = max(1, args.reps // 2)
                py4j = [
                    ("Py4J send `bytes`", SIZE, median_seconds(lambda: p_is_null(data), reps)),
                    ("Py4J send `str`", SIZE, median_seconds(lambda: p_is_null(text), reps)),
                    ("Py4J receive `String`", SIZE, median_seconds(p_text.get, reps)),
                    ("Py4J receive `byte[]`", SIZE, median_seconds(p_bytes.get, reps)),
                ]
            finally:
                g.shutdown()

    print(
        f"memcpy of {SIZE // MB} MB (numpy): fresh {fresh * 1e3:.1f} ms, warm {copyto * 1e3:.1f} ms"
    )
    print()
    print("| what | MB | ms (median) | MB/s | × memcpy (fresh) |")
    print("|---|---|---|---|---|")
    print(row("memcpy, fresh memory", SIZE, fresh, fresh))
    print(row("memcpy, warm memory", SIZE, copyto, fresh))
    for name, nbytes, seconds in results + py4j:
        print(row(name, nbytes, seconds, fresh * nbytes / SIZE))


if __name__ == "__main__":
    main()
