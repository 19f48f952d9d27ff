#!/usr/bin/env python3
"""PySpark's own Arrow paths against gatun.spark's, in one run.

    .venv/bin/python benches/python/bench_spark.py [--quick] [--out benches/results]

For each master (local[2] and local-cluster[2,1,1024]; ``--quick``: local[2])
and 100K, 1M and 10M rows (``--quick``: 100K and 1M) of (int64, float64,
10-character string), plus one nested case (array<int>, 1M rows):

* create:    ``spark.createDataFrame(table)`` vs ``gatun.spark.create_dataframe(spark,
             table)``, each followed by ``selectExpr("sum(i)", "sum(f)",
             "max(length(s))").collect()``; timed together.
* to_arrow:  ``df.toArrow()`` vs ``gatun.spark.to_arrow(df)`` of a cached
             2-partition DataFrame.
* to_pandas: ``df.toPandas()`` vs ``gatun.spark.to_pandas(df)`` of the same.

Both paths share one session per master (Arrow enabled, 4 GB driver); each
master runs in its own worker process (one SparkContext per process). One
warm-up, then 3 timed repetitions per cell, the paths' order rotated. Writes
spark.json, spark.md and spark.png into --out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchlib.machine import cpu_ticks, find_java, machine_info, steal_share
from sparkbench.config import FULL, QUICK, ROOT
from sparkbench.plot import plot
from sparkbench.report import write_md
from sparkbench.worker import worker_main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100K and 1M rows, local[2] only")
    ap.add_argument("--out", default=str(ROOT / "benches" / "results"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", help=argparse.SUPPRESS)
    ap.add_argument("--reps", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker, args.sizes, args.reps)
        return
    mode = QUICK if args.quick else FULL
    java, _ = find_java()
    start, ticks = time.monotonic(), cpu_ticks()
    results: list[dict] = []
    versions: dict = {}
    for master in mode["masters"]:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            master,
            "--sizes",
            ",".join(str(n) for n in mode["sizes"]),
            "--reps",
            str(mode["reps"]),
        ]
        out = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
        doc = json.loads(out.stdout.strip().splitlines()[-1])
        results += doc["results"]
        versions = doc["versions"]
    data = {
        "mode": "quick" if args.quick else "full",
        "masters": list(mode["masters"]),
        "sizes": list(mode["sizes"]),
        "reps": mode["reps"],
        "machine": machine_info(java),
        "versions": versions,
        "wall_s": time.monotonic() - start,
        "steal": steal_share(ticks, cpu_ticks()),
        "results": results,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "spark.json").write_text(json.dumps(data, indent=1))
    write_md(data, out_dir / "spark.md")
    plot(data, out_dir / "spark.png")
    print((out_dir / "spark.md").read_text())


if __name__ == "__main__":
    main()
