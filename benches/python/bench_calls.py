#!/usr/bin/env python3
# ruff: noqa: RUF003
# (× and µ are meant; a harness must survive any failure of a peer and report it.)
"""Call-latency benchmark: gatun-rs against Py4J and JPype, one invocation.

    .venv/bin/python benches/python/bench_calls.py [--quick] [--out benches/results]

Each peer runs in its own worker subprocess (JPype embeds a JVM into the
process, so it cannot share one with the others); the workers stay alive and
take commands over a pipe.  Repetitions are interleaved: round 1 runs every
operation on gatun, Py4J, JPype; round 2 the same with the peer order rotated;
and so on, so machine noise lands on every peer alike.  connect() is measured
in a fresh process per repetition, also interleaved.

Writes calls.json (raw percentiles and machine facts), calls.md (the table)
and calls.png (the chart) into --out.  See benches/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from callbench.config import PEERS
from callbench.driver import run
from callbench.plot import render_png
from callbench.report import render_md
from callbench.worker import connect_once_main, worker_main


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    ap.add_argument("--rounds", type=int, default=0, help="override the number of rounds")
    ap.add_argument("--keep-logs", action="store_true", help="keep the worker logs (printed path)")
    ap.add_argument(
        "--render-only", action="store_true", help="re-render md/png from OUT/calls.json"
    )
    ap.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    ap.add_argument("--connect-once", choices=PEERS, help=argparse.SUPPRESS)
    ap.add_argument("--java", help=argparse.SUPPRESS)
    ap.add_argument("--libjvm", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker, args.java, args.libjvm)
        return
    if args.connect_once:
        connect_once_main(args.connect_once, args.java, args.libjvm)
        return
    out = Path(args.out)
    if args.render_only:
        report = json.loads((out / "calls.json").read_text())
    else:
        report = run(args, os.path.abspath(__file__))
        (out / "calls.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    md = render_md(report)
    (out / "calls.md").write_text(md)
    try:
        render_png(report, out / "calls.png")
    except Exception as e:
        print(f"plot failed: {e}", file=sys.stderr)
    print()
    print(md)
    print(f"wrote {out / 'calls.json'}, {out / 'calls.md'}, {out / 'calls.png'}")


if __name__ == "__main__":
    main()
