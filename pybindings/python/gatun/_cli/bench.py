"""``python -m gatun bench``: a quick look at call latency and an Arrow
round trip with gatun, and call latency with Py4J and JPype where they are
installed, as ratios. The full suites are ``benches/`` in the repository."""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

__all__ = ["PEERS", "run_bench"]

#: The bridges ``--peers`` may name (gatun itself always runs).
PEERS = ("py4j", "jpype")


def _peer(name: str, calls: int) -> list[float]:
    """Per-call times of peer ``name``, measured in a subprocess."""
    import gatun

    # Run from gatun's own parent directory: ``-m`` puts the working
    # directory first on sys.path, where a user's ``py4j.py`` would shadow Py4J.
    done = subprocess.run(
        [sys.executable, "-m", "gatun._cli.peer", name, str(calls)],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(gatun.__file__))),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"exit code {done.returncode}: {tail}")
    return [float(t) for t in json.loads(lines[-1])]


def _arrow_round_trip(rows: int, repeats: int) -> list[float]:
    """Seconds to send an int64 + string table of ``rows`` rows to Java and
    get it back as a pyarrow table."""
    import pyarrow as pa

    import gatun

    table = pa.table({"x": pa.array(range(rows)), "s": [str(i % 1000) for i in range(rows)]})
    timings = []
    with gatun.connect(output=None) as client:
        for _ in range(repeats + 1):  # the first warms up
            t0 = time.perf_counter()
            root = client.send_arrow(table)
            back = client.invoke_method(root, "slice", 0, rows)
            timings.append(time.perf_counter() - t0)
            root.close()
            if back.num_rows != rows:
                raise RuntimeError(f"{back.num_rows} rows came back, not {rows}")
            del back
    return timings[1:]


def _p(timings: list[float], q: float) -> float:
    ordered = sorted(timings)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_bench(quick: bool = False, peers: list[str] | None = None) -> int:
    """Run the benchmarks and print a table; 0 if gatun's ran, else 1."""
    calls, rows, repeats = (2_000, 200_000, 3) if quick else (20_000, 1_000_000, 10)
    cpus = os.cpu_count() or 1
    load = os.getloadavg()[0]
    print(
        f"python -m gatun bench{' --quick' if quick else ''}: {cpus} CPUs, "
        f"load average {load:.1f}, Python {sys.version.split()[0]}"
    )
    if load > cpus / 2:
        print(
            "  note: other work is using this machine; latencies (p99 above all) will be high. "
            "Compare ratios, or rerun when it is quiet."
        )
    print(f"call latency: java.lang.Math.max(i, 5), {calls:,} calls after a warm-up")
    latencies: dict[str, float] = {}
    for name in ["gatun", *(peers or [])]:
        if name != "gatun" and importlib.util.find_spec(name) is None:
            print(f"  {name:6} not installed: skipped")
            continue
        try:
            timings = _peer(name, calls)
        except Exception as e:  # noqa: BLE001 - a failing peer is reported, the rest go on
            print(f"  {name:6} FAILED: {e}")
            if name == "gatun":
                return 1
            continue
        latencies[name] = p50 = statistics.median(timings)
        p99 = _p(timings, 0.99)
        print(f"  {name:6} p50 {p50 * 1e6:8.1f} us   p99 {p99 * 1e6:8.1f} us")
    for name, p50 in latencies.items():
        if name != "gatun":
            ratio = p50 / latencies["gatun"]
            if ratio >= 1:
                print(f"  gatun is {ratio:.1f}x faster than {name} (p50)")
            else:
                print(f"  gatun is {1 / ratio:.1f}x slower than {name} (p50)")
    trip = _arrow_round_trip(rows, repeats)
    print(
        f"Arrow round trip: {rows:,} rows (int64 + string) to Java and back: "
        f"p50 {statistics.median(trip) * 1e3:.1f} ms over {repeats} runs"
    )
    return 0
