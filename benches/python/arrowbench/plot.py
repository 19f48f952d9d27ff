"""arrow.png: median time against rows, log-log, one row of panels per
direction and one panel per column type."""

from __future__ import annotations

from pathlib import Path

from arrowbench.config import J2P_PATHS, KINDS, LABEL, P2J_PATHS
from arrowbench.report import find


def plot(data, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = data["results"]
    sizes = data["config"]["sizes"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 9), sharex=True)
    style = {
        "gatun_copy": "o-",
        "gatun_arena": "s-",
        "gatun": "o-",
        "jpype": "^--",
        "py4j": "v--",
        "memcpy": "k:",
    }
    for row, (d, paths, title) in enumerate(
        (("p2j", P2J_PATHS, "Python → Java"), ("j2p", J2P_PATHS, "Java → Python"))
    ):
        for col, kind in enumerate(KINDS):
            ax = axes[row][col]
            for p in paths:
                ys = [find(res, d, kind, n, p)["median_s"] * 1e3 for n in sizes]
                ax.plot(sizes, ys, style[p], label=LABEL[p])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{title}, {kind}")
            ax.grid(True, which="both", alpha=0.3)
            if col == 0:
                ax.set_ylabel("median time (ms)")
            if row == 1:
                ax.set_xlabel("rows")
            ax.legend(fontsize=8)
    m = data["machine"]
    fig.suptitle(
        f"Arrow transfer, {data['mode']} run, {m.get('Model name', '?')}, {m.get('cores')} cores — {data['date']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
