"""spark.md: per master, a table of medians (and spread) of PySpark's path and
gatun.spark's, with the speed-up, and the issue's targets checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchlib.machine import machine_title, steal_line

from sparkbench.config import CASES, CLUSTER, LOCAL


def find(results: list[dict], master: str, case: str, rows: int, path: str) -> dict | None:
    for r in results:
        if (r["master"], r["case"], r["rows"], r["path"]) == (master, case, rows, path):
            return r
    return None


def _ms(s: float) -> str:
    return f"{s * 1e3:,.0f}" if s >= 0.1 else f"{s * 1e3:.1f}"


def _cell(r: dict) -> str:
    return f"{_ms(r['median_s'])} ({_ms(r['min_s'])}–{_ms(r['max_s'])})"


def speedup(results: list[dict], master: str, case: str, rows: int) -> float | None:
    ours, theirs = (find(results, master, case, rows, p) for p in ("gatun", "pyspark"))
    if ours is None or theirs is None:
        return None
    return theirs["median_s"] / ours["median_s"]


# (master, case, rows, least speed-up) from the issue; 1.0 = never slower.
TARGETS = [
    (LOCAL, "create", 1_000_000, 5.0),
    (LOCAL, "create", 10_000_000, 5.0),
    (LOCAL, "to_arrow", 1_000_000, 2.0),
    (LOCAL, "to_arrow", 10_000_000, 3.0),
    (LOCAL, "to_pandas", 1_000_000, 2.0),
    (LOCAL, "to_pandas", 10_000_000, 2.0),
    (LOCAL, "create", 100_000, 1.0),
    (LOCAL, "to_arrow", 100_000, 1.0),
    (LOCAL, "to_pandas", 100_000, 1.0),
    (CLUSTER, "create", 10_000_000, 1.5),
]


def targets(results: list[dict]) -> list[tuple[str, str, bool | None]]:
    out = []
    for master, case, rows, least in TARGETS:
        s = speedup(results, master, case, rows)
        label = f"{master}: {CASES[case]} at {rows:,} rows ≥ {least:g}×"
        out.append(
            (label, "not measured" if s is None else f"{s:.2f}×", None if s is None else s >= least)
        )
    for r in results:
        if r["master"] == CLUSTER and r["path"] == "gatun":
            s = speedup(results, CLUSTER, r["case"], r["rows"])
            if s is not None:
                label = f"{CLUSTER}: {CASES[r['case']]} at {r['rows']:,} rows never slower"
                out.append((label, f"{s:.2f}×", s >= 1.0))
    return out


def write_md(data: dict[str, Any], path: Path) -> None:
    res = data["results"]
    lines = [
        "# PySpark's Arrow paths vs gatun.spark",
        "",
        f"Machine: {machine_title(data['machine'])}.",
        f"Date: {data['machine']['date_utc']}; gatun-rs commit {data['machine']['git_commit']}"
        f"{' (uncommitted changes)' if data['machine']['git_dirty'] else ''}; "
        f"Spark {data['versions'].get('spark')} (PyPI pyspark), "
        f"Arrow Java {data['versions'].get('arrow_java')}.",
        f"Mode: {data['mode']}; {data['reps']} timed repetitions per cell after one warm-up, "
        "paths interleaved with the order rotated; wall time "
        f"{data['wall_s']:.0f} s. {steal_line(data.get('steal'))}",
        "",
        "Same session for both paths: Arrow enabled, 4 GB driver, 1 GB executors. Data: "
        "int64 `i`, float64 `f`, 10-character string `s` (pyarrow, in pyarrow's memory: "
        "gatun copies it once into shared memory); nested case: int64 `i` and "
        "`a` array<int> of 4. Action after createDataFrame: "
        '`selectExpr("sum(i)", "sum(f)", "max(length(s))").collect()`. toArrow / toPandas '
        "read a cached 2-partition DataFrame.",
        "",
        "Cells: median ms (min–max). Speed-up = PySpark's median ÷ gatun's.",
        "",
    ]
    for master in data["masters"]:
        lines += [
            f"## {master}",
            "",
            "| case | rows | PySpark | gatun.spark | speed-up |",
            "|---|---:|---:|---:|---:|",
        ]
        for case in CASES:
            for rows in sorted(
                {r["rows"] for r in res if r["master"] == master and r["case"] == case}
            ):
                ours, theirs = (
                    find(res, master, case, rows, "gatun"),
                    find(res, master, case, rows, "pyspark"),
                )
                s = speedup(res, master, case, rows)
                lines.append(
                    f"| {CASES[case]} | {rows:,} | {_cell(theirs)} | {_cell(ours)} | {s:.2f}× |"
                )
        lines.append("")
    lines += ["## Targets (issue 14)", "", "| target | measured | met |", "|---|---:|:-:|"]
    for label, value, ok in targets(res):
        lines.append(
            f"| {label} | {value} | {'—' if ok is None else ('yes' if ok else '**no**')} |"
        )
    path.write_text("\n".join(lines) + "\n")
