"""arrow.md: the Arrow suite's tables (medians, GB/s, ratio to memcpy), the first
transfer of a fresh JVM, and the targets checked against gatun's numbers."""

from __future__ import annotations

from pathlib import Path

from benchlib.machine import steal_line

from arrowbench.config import J2P_PATHS, KINDS, LABEL, P2J_PATHS


def find(results, d, kind, n, path):
    for r in results:
        if (r["dir"], r["kind"], r["rows"], r["path"]) == (d, kind, n, path):
            return r
    return None


def fmt_ms(s: float) -> str:
    ms = s * 1e3
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def targets(data) -> list[dict]:
    res = data["results"]
    out = []
    sizes = data["config"]["sizes"]
    for kind in KINDS:
        if 10_000_000 in sizes:
            g, m = (
                find(res, "p2j", kind, 10_000_000, "gatun_copy"),
                find(res, "p2j", kind, 10_000_000, "memcpy"),
            )
            ratio = g["gbps"] / m["gbps"]
            out.append(
                {
                    "target": f"P→J 10M rows copy path ≥ 0.9× memcpy bandwidth ({kind})",
                    "value": f"{ratio:.2f}× ({g['gbps']:.2f} vs {m['gbps']:.2f} GB/s)",
                    "ok": ratio >= 0.9,
                }
            )
            a10m, a10k = (
                find(res, "p2j", kind, 10_000_000, "gatun_arena"),
                find(res, "p2j", kind, 10_000, "gatun_arena"),
            )
            ratio = a10m["median_s"] / a10k["median_s"]
            out.append(
                {
                    "target": f"P→J in-arena 10M rows ≤ 2× the time of 10K rows ({kind})",
                    "value": f"{ratio:.1f}× ({fmt_ms(a10m['median_s'])} vs {fmt_ms(a10k['median_s'])} ms)",
                    "ok": ratio <= 2.0,
                }
            )
        else:
            out.append(
                {
                    "target": f"P→J 10M rows targets ({kind})",
                    "value": "not measured in --quick",
                    "ok": None,
                }
            )
        for path in ("gatun_copy", "gatun_arena"):
            r = find(res, "p2j", kind, 10_000, path)
            out.append(
                {
                    "target": f"P→J 10K rows ≤ 100 µs ({LABEL[path]}, {kind})",
                    "value": f"{r['median_s'] * 1e6:.0f} µs",
                    "ok": r["median_s"] <= 100e-6,
                }
            )
        r = find(res, "j2p", kind, 1_000_000, "gatun")
        out.append(
            {
                "target": f"J→P 1M rows ≤ 0.5 ms until Python holds the table ({kind})",
                "value": f"{fmt_ms(r['median_s'])} ms",
                "ok": r["median_s"] <= 0.5e-3,
            }
        )
    return out


def write_md(data, path: Path) -> str:
    m = data["machine"]
    v = m.get("versions", {})
    res = data["results"]
    lines = ["# Arrow transfer: gatun-rs vs JPype vs Py4J vs memcpy", ""]
    lines.append(
        f"Machine: {m.get('Model name', '?')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, {m.get('os', '')}"
        + (f" ({m['Hypervisor vendor']} hypervisor)" if m.get("Hypervisor vendor") else "")
        + f"; Python {m['python']}, {m['java']}."
    )
    lines.append(
        f"Date: {data['date']}; gatun-rs commit {m.get('commit', '?')}{' (+ uncommitted changes)' if m.get('dirty') else ''}; "
        f"pyarrow {m['pyarrow']}, numpy {m['numpy']}, JPype1 {v.get('jpype', '?')}, py4j {v.get('py4j', '?')}; "
        f"all JVMs `{m['java_path']}`."
    )
    la0, la1 = m["loadavg_start"], m["loadavg_end"]
    lines.append(
        f"Mode: {data['mode']} ({data['config']['rounds']} interleaved rounds; repetitions per round "
        + ", ".join(
            f"{n:,}: {r}"
            for n, r in data["config"]["reps_per_round"].items()
            if n in data["config"]["sizes"]
        )
        + f", and more until {data['config'].get('run_s', 0) * 1e3:g} ms have passed"
        + f"; warm-up in the first round: the counts {', '.join(f'{n:,}: {w}' for n, w in data['config']['warmup'].items() if n in data['config']['sizes'])} "
        f"and at least {data['config'].get('warmup_s', 0)} s per path"
        f" ({data['config'].get('first_warmup_s', data['config'].get('warmup_s', 0))} s"
        " for the first configuration measured)"
        + f"). Wall time {data['wall_s']} s. Load average start / end: "
        f"{', '.join(f'{x:.2f}' for x in la0)} / {', '.join(f'{x:.2f}' for x in la1)}. "
        + steal_line(m.get("steal_share"))
    )
    lines.append("")
    lines.append(
        "Cells: **median ms / GB/s** (bytes = all Arrow buffers of the column: Python's for P→J, "
        "Java's, with its validity bitmap, for J→P). × memcpy = path time ÷ memcpy time of the same bytes "
        "(1 = as fast as a memcpy; lower is better)."
    )
    for d, paths, title in (
        ("p2j", P2J_PATHS, "Python → Java (until Java holds the data)"),
        (
            "j2p",
            J2P_PATHS,
            "Java → Python (until Python holds a pyarrow Table; Java built the root beforehand)",
        ),
    ):
        lines += ["", f"## {title}", ""]
        head = (
            "| type | rows | MB | "
            + " | ".join(LABEL[p] for p in paths)
            + " | "
            + " | ".join(f"{LABEL[p]} × memcpy" for p in paths if p != "memcpy")
            + (" | Java build (ms, untimed) |" if d == "j2p" else " |")
        )
        lines.append(head)
        ncols = 3 + len(paths) + len(paths) - 1 + (1 if d == "j2p" else 0)
        lines.append("|---|---:|" + "---:|" * (ncols - 2))
        for kind in KINDS:
            for n in data["config"]["sizes"]:
                mc = find(res, d, kind, n, "memcpy")
                cells = [kind, f"{n:,}", f"{mc['bytes'] / 1e6:.1f}"]
                for p in paths:
                    r = find(res, d, kind, n, p)
                    cells.append(f"{fmt_ms(r['median_s'])} / {r['gbps']:.2f}")
                for p in paths:
                    if p == "memcpy":
                        continue
                    r = find(res, d, kind, n, p)
                    cells.append(f"{r['median_s'] / mc['median_s']:.1f}×")
                if d == "j2p":
                    cells.append(f"{data['extras'][f'{kind}/{n}']['java_build_ms']:.1f}")
                lines.append("| " + " | ".join(cells) + " |")
    first = data.get("first_send") or {}
    if first:
        n0, k0 = data["config"]["sizes"][0], KINDS[0]
        lines += [
            "",
            f"## First transfer of a fresh JVM ({k0}, {n0:,} rows)",
            "",
            "Not in the medians above: each worker's very first transfer on each path, after "
            "`connect`/JVM start and the first setup. The JVM loads the Arrow classes and runs "
            f"them interpreted; the medians are taken after at least {data['config'].get('warmup_s', 0)} s "
            "of warm-up per path (first round), the same for every peer.",
            "",
            "| direction | "
            + " | ".join(LABEL[p] for p in P2J_PATHS if f"p2j/{p}" in first)
            + " |",
            "|---|" + "---:|" * sum(1 for p in P2J_PATHS if f"p2j/{p}" in first),
            "| Python → Java | "
            + " | ".join(
                f"{fmt_ms(first[f'p2j/{p}'])} ms" for p in P2J_PATHS if f"p2j/{p}" in first
            )
            + " |",
            "",
            "| direction | "
            + " | ".join(LABEL[p] for p in J2P_PATHS if f"j2p/{p}" in first)
            + " |",
            "|---|" + "---:|" * sum(1 for p in J2P_PATHS if f"j2p/{p}" in first),
            "| Java → Python | "
            + " | ".join(
                f"{fmt_ms(first[f'j2p/{p}'])} ms" for p in J2P_PATHS if f"j2p/{p}" in first
            )
            + " |",
        ]
    lines += ["", "## Targets (gatun)", "", "| target | measured | |", "|---|---:|---|"]
    for t in targets(data):
        mark = "—" if t["ok"] is None else ("✓" if t["ok"] else "✗")
        lines.append(f"| {t['target']} | {t['value']} | {mark} |")
    ex = data["extras"]
    k = f"int64/{data['config']['sizes'][-1]}"
    lines += [
        "",
        "Paths: *gatun copy* = `client.send_arrow(table)` of a table in pyarrow/numpy memory (one copy into "
        "the arena); *gatun in-arena* = the same table built in `client.arena` memory "
        f"(`arrow_stats` of one send, {k}: copy {ex[k]['arrow_stats'].get('gatun_copy')}, "
        f"in-arena {ex[k]['arrow_stats'].get('gatun_arena')}); *JPype* = IPC stream written by pyarrow into a "
        "Java direct `ByteBuffer` (sized by a `MockOutputStream` pass), read by `ArrowStreamReader`; back: "
        "Java writes the stream into a direct `ByteBuffer`, pyarrow reads it zero-copy through the memoryview; "
        "*Py4J* = IPC stream in a temp file (`/tmp`, on disk, page cache) read by `ArrowStreamReader`; back: "
        "Java writes the file, pyarrow reads it; *memcpy* = `np.copyto` of the same byte count into a warm "
        "destination. gatun J→P returns a view (`VectorUnloader`/`VectorLoader`) of a root Java built "
        "beforehand on `ArrowBridge.allocator()`: its buffers already lie in shared memory, so the bridge "
        "shares them (by reference count) and Python references them in place (no copy on either side). "
        "Every table is one batch, on every path.",
    ]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text
