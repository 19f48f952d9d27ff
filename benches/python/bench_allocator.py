#!/usr/bin/env python3
"""Java -> Python return time: a root built on the bridge's arena allocator
(``ArrowBridge.allocator()``, referenced in place) against one built on a plain
``RootAllocator`` (copied once on export).

    .venv/bin/python benches/python/bench_allocator.py [--rows N] [--rounds R] [--out FILE.json]

Each round Java builds a root of ``--rows`` int64 values beforehand
(``gatuntest.AllocatorOps.prepare``); the timed part is from the call until
Python holds the ``pyarrow.Table``. Prints the median of each path and their
ratio; with ``--out``, writes them as JSON. This was a test once
(tests/python/test_arrow_allocator.py asserted arena < plain); a comparison of
times is a measurement, so it lives here. Needs javac (the helper class is
compiled from tests/python/java against the server jar).
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gatun

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "tests" / "python" / "java" / "gatuntest" / "AllocatorOps.java"


def server_jar() -> Path:
    """The jar bundled in the package, else the Maven build's."""
    bundled = Path(gatun.__file__).resolve().parent / "jars" / "gatun-server.jar"
    return bundled if bundled.exists() else ROOT / "java" / "target" / "gatun-server.jar"


def compile_helper(out: Path) -> None:
    javac = shutil.which("javac")
    if javac is None:
        sys.exit("javac is needed to compile gatuntest.AllocatorOps (install a JDK 17+)")
    cmd = [javac, "-d", str(out), "-cp", str(server_jar()), str(HELPER)]
    subprocess.run(cmd, check=True)


def settle(client: gatun.GatunClient) -> None:
    """Give back what the last round held, so rounds do not pile up."""
    gc.collect()
    client.ping()  # carries Python's releases to Java
    client.gc()  # roots Java no longer references give their memory back


def time_return(client: gatun.GatunClient, arena: bool, rows: int, rounds: int) -> list[float]:
    """Seconds from the call until Python holds the table, one per round."""
    ops = client.jvm.gatuntest.AllocatorOps
    times = []
    for _ in range(rounds):
        ops.prepare(rows, arena)
        t0 = time.perf_counter()
        out = ops.take()
        times.append(time.perf_counter() - t0)
        if out.num_rows != rows:
            raise RuntimeError(f"expected {rows} rows, got {out.num_rows}")
        del out
        settle(client)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--out", type=Path, help="write the medians to this JSON file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gatun-bench-allocator-") as classes:
        compile_helper(Path(classes))
        with gatun.connect(classpath=[classes]) as client:
            for arena in (True, False):  # warm up both paths
                time_return(client, arena, args.rows, 3)
            arena_times = time_return(client, True, args.rows, args.rounds)
            plain_times = time_return(client, False, args.rows, args.rounds)

    result: dict[str, Any] = {
        "rows": args.rows,
        "rounds": args.rounds,
        "arena_ms": statistics.median(arena_times) * 1e3,
        "plain_ms": statistics.median(plain_times) * 1e3,
    }
    result["plain_over_arena"] = result["plain_ms"] / result["arena_ms"]
    print(
        f"{args.rows} int64 Java -> Python (median of {args.rounds}): "
        f"arena allocator {result['arena_ms']:.3f} ms, "
        f"plain RootAllocator {result['plain_ms']:.3f} ms "
        f"({result['plain_over_arena']:.2f}x)"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
