"""calls.png: per-operation p50/p99 bars of every peer on a log scale, and
connect() to first call beside them."""

from __future__ import annotations

from pathlib import Path

from benchlib.machine import machine_title
from benchlib.stats import fmt_us

from callbench.config import OPS, PEER_LABEL, PEERS


def render_png(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    colors = {"gatun": "#1f77b4", "py4j": "#ff7f0e", "jpype": "#2ca02c"}
    call_keys = [k for k, _, _ in OPS]
    short = {
        "ping": "ping¹",
        "static_prebound": "pre-bound\nMath.abs(i)",
        "full_path": "full path\nMath.max(i, 5)",
        "create": "new\nArrayList()",
        "instance_call": "arr.add(i)",
        "string_roundtrip": "100-char\nstring",
        "add_loop_10k": "10k add\nlooped",
        "add_batch_10k": "10k add\nbatched",
    }
    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(15, 6.5), gridspec_kw={"width_ratios": [len(call_keys), 1.6]}
    )
    width = 0.26
    x = np.arange(len(call_keys))
    for j, p in enumerate(PEERS):
        xs, p50, err = [], [], []
        for i, k in enumerate(call_keys):
            pe = report["operations"][k]["peers"][p]
            if "p50" in pe:
                xs.append(x[i] + (j - 1) * width)
                p50.append(pe["p50"])
                err.append(pe["p99"] - pe["p50"])
            else:
                ax.text(
                    x[i] + (j - 1) * width,
                    0.12,
                    "n/a" if "n/a" in pe.get("error", "") else "failed",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    color=colors[p],
                )
        ax.bar(xs, p50, width, label=PEER_LABEL[p], color=colors[p])
        ax.errorbar(
            xs,
            p50,
            yerr=[np.zeros(len(err)), err],
            fmt="none",
            ecolor="black",
            elinewidth=1,
            capsize=3,
        )
        for xx, v, e in zip(xs, p50, err, strict=True):
            # the p50 value, written just above the p99 whisker
            ax.text(
                xx, (v + e) * 1.12, fmt_us(v), ha="center", va="bottom", fontsize=7, rotation=90
            )
    ax.set_yscale("log")
    tops = [
        pe["p99"]
        for k in call_keys
        for pe in report["operations"][k]["peers"].values()
        if "p99" in pe
    ]
    ax.set_ylim(0.1, max([*tops, 10]) * 12)
    ax.set_xlim(-0.6, len(call_keys) - 0.4)
    ax.set_xticks(x)
    ax.set_xticklabels([short[k] for k in call_keys], fontsize=9)
    ax.set_ylabel("µs per call (log scale): bar = p50, whisker top = p99")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(loc="upper left")
    ax.set_title("Call latency")
    # connect
    for j, p in enumerate(PEERS):
        pe = report["operations"]["connect"]["peers"][p]
        if "p50" in pe:
            ax2.bar([(j - 1) * width], [pe["p50"]], width, color=colors[p])
            ax2.errorbar(
                [(j - 1) * width],
                [pe["p50"]],
                yerr=[[0], [pe["p99"] - pe["p50"]]],
                fmt="none",
                ecolor="black",
                capsize=3,
            )
            ax2.text(
                (j - 1) * width,
                pe["p99"] + 0.01,
                f"{pe['p50']:.2f}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
        else:
            ax2.text(
                (j - 1) * width, 0.01, "failed", rotation=90, ha="center", va="bottom", fontsize=8
            )
    tops = [pe["p99"] for pe in report["operations"]["connect"]["peers"].values() if "p99" in pe]
    ax2.set_ylim(0, max([*tops, 0.5]) * 1.2)
    ax2.axhline(0.5, color="red", linestyle="--", linewidth=1, label="target 0.5 s")
    ax2.set_xticks([(j - 1) * width for j in range(len(PEERS))])
    ax2.set_xticklabels([PEER_LABEL[p] for p in PEERS], fontsize=9)
    ax2.set_ylabel("seconds (linear)")
    ax2.set_title("connect() to first call")
    ax2.legend(loc="upper right", fontsize=8)
    ax2.grid(axis="y", alpha=0.3)
    m = report["machine"]
    fig.suptitle(
        f"gatun-rs vs Py4J vs JPype — {machine_title(m)}\n"
        f"{m['date_utc']}, {report['config']['mode']} run; "
        "¹ Py4J/JPype ping = pre-bound System.nanoTime()",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
