"""One master's measurements, in a process of its own (one SparkContext per
process): both paths, every case, repetitions interleaved with the order
rotated. Prints one JSON document."""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sparkbench.config import ACTION, NESTED_ACTION, NESTED_ROWS, SESSION_CONF


def _session(master: str) -> Any:
    import pyspark
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_HOME", str(Path(pyspark.__file__).parent))
    builder = SparkSession.builder.master(master).appName("bench_spark")
    for k, v in SESSION_CONF.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _table(n: int) -> Any:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    i = pa.array(np.arange(n, dtype=np.int64))
    f = pa.array(np.arange(n, dtype=np.float64) * 0.5)
    s = pc.utf8_lpad(pc.cast(pa.array(np.arange(n) % 1_000_000_000), pa.string()), 10, "x")
    return pa.table({"i": i, "f": f, "s": s})


def _nested(n: int) -> Any:
    import numpy as np
    import pyarrow as pa

    values = pa.array(np.arange(4 * n, dtype=np.int32) % 1000)
    offsets = pa.array(np.arange(0, 4 * n + 1, 4, dtype=np.int32))
    return pa.table(
        {
            "i": pa.array(np.arange(n, dtype=np.int64)),
            "a": pa.ListArray.from_arrays(offsets, values),
        }
    )


def _settle(spark: Any) -> None:
    """Untimed: what the last repetition left goes (both sides' collectors),
    and gatun's last table with it, so that each repetition starts from the
    same memory: a table still held makes the next one grow the arena by a
    fresh segment (its pages faulted in during the timed call), where a
    running program reuses its arena. At most 5 s."""
    import gatun.spark as gs

    bridge = spark._jvm.gatun.spark.SparkBridge
    client = gs.attach(spark)
    deadline = time.monotonic() + 5
    while True:
        gc.collect()
        client.gc(timeout=1.0)  # sends the released proxies, collects, applies the releases
        if bridge.parkedTables() == 0 or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _measure(spark: Any, reps: int, runs: dict[str, Callable[[], Any]]) -> dict[str, list[float]]:
    """Each path once as warm-up, then ``reps`` timed rounds, rotating the order."""
    times: dict[str, list[float]] = {p: [] for p in runs}
    order = list(runs)
    for rep in range(reps + 1):
        for path in order[rep % len(order) :] + order[: rep % len(order)]:
            _settle(spark)
            t0 = time.perf_counter()
            result = runs[path]()
            elapsed = time.perf_counter() - t0
            del result
            if rep:
                times[path].append(elapsed)
    return times


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "n": len(samples),
    }


def run(master: str, sizes: list[int], reps: int) -> dict[str, Any]:
    import gatun.spark as gs

    spark = _session(master)
    gs.attach(spark)
    results = []

    def record(case: str, rows: int, times: dict[str, list[float]]) -> None:
        for path, samples in times.items():
            results.append(
                {"master": master, "case": case, "rows": rows, "path": path, **_summary(samples)}
            )
            print(
                f"{master} {case} {rows:,} {path}: {statistics.median(samples) * 1e3:,.0f} ms",
                file=sys.stderr,
            )

    cases = [(n, "create", _table, ACTION) for n in sizes]
    cases.append((NESTED_ROWS, "create_nested", _nested, NESTED_ACTION))
    for n, case, make, action in cases:
        table = make(n)
        record(
            case,
            n,
            _measure(
                spark,
                reps,
                {
                    "pyspark": lambda t=table, a=action: spark.createDataFrame(t)
                    .selectExpr(*a)
                    .collect(),
                    "gatun": lambda t=table, a=action: gs.create_dataframe(spark, t)
                    .selectExpr(*a)
                    .collect(),
                },
            ),
        )
        del table

    for n in sizes:
        df = spark.range(0, n, 1, 2).selectExpr(
            "id as i",
            "cast(id as double) * 0.5 as f",
            "lpad(cast(id % 1000000000 as string), 10, 'x') as s",
        )
        df.cache().count()
        record(
            "to_arrow",
            n,
            _measure(spark, reps, {"pyspark": df.toArrow, "gatun": lambda d=df: gs.to_arrow(d)}),
        )
        record(
            "to_pandas",
            n,
            _measure(spark, reps, {"pyspark": df.toPandas, "gatun": lambda d=df: gs.to_pandas(d)}),
        )
        df.unpersist(blocking=True)
    df = spark.range(0, NESTED_ROWS, 1, 2).selectExpr(
        "id as i", "array(cast(id % 1000 as int), 1, 2, 3) as a"
    )
    df.cache().count()
    record(
        "to_arrow_nested",
        NESTED_ROWS,
        _measure(spark, reps, {"pyspark": df.toArrow, "gatun": lambda d=df: gs.to_arrow(d)}),
    )
    df.unpersist(blocking=True)

    versions = {"spark": spark.version, "arrow_java": "19.0.0"}
    spark.stop()
    return {"results": results, "versions": versions}


def worker_main(master: str, sizes: str, reps: int) -> None:
    out = run(master, [int(s) for s in sizes.split(",")], reps)
    sys.stdout.write(json.dumps(out) + "\n")
