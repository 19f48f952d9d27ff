"""``await client.ping()`` on the asyncio client: the event-loop lane path
against the thread-pool path it replaced, interleaved in blocks so both see
the same machine.

    .venv/bin/python benches/python/bench_async_ping.py [--n 3000] [--blocks 3]

Prints p50 / p99 / max in µs per path, the load average before and after (the
machine may be shared), and how many calls took each path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable

import gatun
from gatun.async_client import AsyncGatunClient


async def sample(call: Callable[[], Awaitable[object]], n: int) -> list[float]:
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        start = clock()
        await call()
        out.append((clock() - start) / 1000)
    return out


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):7.1f}  p99 {p99:7.1f}  max {ordered[-1]:8.1f}"


async def main(n: int, blocks: int, lanes: int) -> None:
    client: AsyncGatunClient = await gatun.aconnect(lanes=lanes)
    paths: dict[str, Callable[[], Awaitable[object]]] = {
        "event loop (add_reader)": client.ping,
        "thread pool (before)": lambda: client._run(client.sync.ping),
    }
    try:
        for call in paths.values():  # warm-up: JIT, pools, caches
            await sample(call, 2000)
        load_before = os.getloadavg()
        results: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(blocks):
            for name, call in paths.items():
                results[name] += await sample(call, n)
        load_after = os.getloadavg()
    finally:
        await client.close()
    print(f"await client.ping(), {blocks} x {n} per path, lanes={lanes}, µs:")
    for name, samples in results.items():
        print(f"  {name:<26} {summary(samples)}")
    print(
        f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
        f"{os.cpu_count()} CPUs"
    )
    print(f"  calls on the loop: {client.calls_on_loop}, on threads: {client.calls_on_threads}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="pings per block and path")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--lanes", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.blocks, args.lanes))
