"""spark.png: median time against rows, PySpark's path and gatun's, one panel
per case and master."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sparkbench.config import CASES
from sparkbench.report import find


def plot(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = data["results"]
    cases = [c for c in ("create", "to_arrow", "to_pandas") if any(r["case"] == c for r in res)]
    masters = data["masters"]
    fig, axes = plt.subplots(
        len(masters), len(cases), figsize=(5 * len(cases), 4 * len(masters)), squeeze=False
    )
    for row, master in enumerate(masters):
        for col, case in enumerate(cases):
            ax = axes[row][col]
            sizes = sorted({r["rows"] for r in res if r["master"] == master and r["case"] == case})
            for p, style, label in (("pyspark", "v--", "PySpark"), ("gatun", "o-", "gatun.spark")):
                ys = [find(res, master, case, n, p)["median_s"] * 1e3 for n in sizes]
                ax.plot(sizes, ys, style, label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{master}: {CASES[case]}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
            ax.set_xlabel("rows")
            if col == 0:
                ax.set_ylabel("median time (ms)")
            ax.legend(fontsize=8)
    fig.suptitle(f"PySpark vs gatun.spark, {data['mode']} run — {data['machine']['date_utc']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
