#!/usr/bin/env python3
"""Arrow transfer benchmark: gatun-rs against JPype and Py4J, and numpy's memcpy.

    .venv/bin/python benches/python/bench_arrow.py [--quick] [--out benches/results]

Python -> Java and Java -> Python for 10K, 100K, 1M and 10M rows (``--quick``:
up to 1M) of one int64, float64 or utf8 (8-character strings) column:

* gatun copy:      ``client.send_arrow(table)`` of a table pyarrow built in its
                   own memory (one copy into the shared-memory arena; Java wraps
                   it in place); timed until the call returns the Java root.
* gatun in-arena:  the same table built in arena memory (``client.arena``), so
                   ``send_arrow`` copies nothing (``arrow_stats`` is printed).
* JPype:           IPC stream written by pyarrow straight into a Java direct
                   ``ByteBuffer`` (through its memoryview), read by Java's
                   ``ArrowStreamReader``; back: Java writes the stream into a
                   direct ``ByteBuffer``, pyarrow reads it (zero copy) from the
                   memoryview.
* Py4J:            the PySpark way: IPC stream in a temp file, read by
                   ``ArrowStreamReader`` (``FileInputStream``); back: Java writes
                   the file, pyarrow reads it.
* memcpy:          ``np.copyto(dst, src)`` of the same byte count into a
                   pre-allocated, warm ``dst``: the ceiling.

Java -> Python starts for every peer from one root Java built beforehand and
keeps (``gatunbench.Make.prepare``); the timed part is from the call until
Python holds a ``pyarrow.Table``. Java's build time is measured on its own.
Python -> Java is timed until Java holds the data (gatun: a ``VectorSchemaRoot``;
the peers: a loaded ``ArrowStreamReader``); releasing it is not timed.

Each peer runs in its own worker subprocess (JPype embeds a JVM); rounds are
interleaved with the peer order rotated. Writes arrow.json, arrow.md and
arrow.png into --out.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from arrowbench.config import ROOT
from arrowbench.driver import run
from arrowbench.plot import plot
from arrowbench.report import write_md
from arrowbench.worker import worker_main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10K/100K/1M rows, 3 rounds (about 2 min)")
    ap.add_argument("--out", default=str(ROOT / "benches" / "results"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--java", help=argparse.SUPPRESS)
    ap.add_argument("--libjvm", help=argparse.SUPPRESS)
    ap.add_argument("--classes", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker, args.java, args.libjvm, args.classes)
        return
    data = run(args, os.path.abspath(__file__))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "arrow.json").write_text(json.dumps(data, indent=1))
    text = write_md(data, out / "arrow.md")
    plot(data, out / "arrow.png")
    print(text)


if __name__ == "__main__":
    main()
