"""The calls suite's verdicts and table: targets checked against gatun's
numbers, and calls.md rendered from the report dict."""

from __future__ import annotations

from benchlib.machine import machine_title, steal_line
from benchlib.quiet import QUIET_SHARE, QUIET_TIMEOUT_S, QUIET_WINDOW_S
from benchlib.stats import fmt_us

from callbench.config import P99_FACTOR, PEER_LABEL, PEERS, TARGETS, WARMUP_S


def check_targets(report: dict) -> dict:
    out = {}
    for key, entry in report["operations"].items():
        g = entry["peers"]["gatun"]
        checks = []
        if "error" in g:
            out[key] = [{"what": "gatun measured", "ok": False}]
            continue
        t = TARGETS.get(key, {})
        if "p50_us" in t:
            checks.append({"what": f"p50 ≤ {t['p50_us']:g} µs", "ok": g["p50"] <= t["p50_us"]})
        if "p50_s" in t:
            checks.append({"what": f"p50 ≤ {t['p50_s']:g} s", "ok": g["p50"] <= t["p50_s"]})
        if "py4j_ratio" in t:
            q = entry["peers"]["py4j"]
            ok = "p50" in q and q["p50"] / g["p50"] >= t["py4j_ratio"]
            checks.append({"what": f"≥ {t['py4j_ratio']:g}× faster than Py4J", "ok": bool(ok)})
        if entry["kind"] == "each":
            checks.append(
                {"what": f"p99 ≤ {P99_FACTOR:g}× p50", "ok": g["p99"] <= P99_FACTOR * g["p50"]}
            )
        out[key] = checks
    return out


def cell(pe: dict, unit: str) -> str:
    if "error" in pe:
        return pe["error"]
    if unit == "s":
        return f"{pe['p50']:.3f} / {pe['p99']:.3f}"
    return f"{fmt_us(pe['p50'])} / {fmt_us(pe['p99'])}"


def ratio(pe: dict, g: dict) -> str:
    if "p50" not in pe or "p50" not in g or g["p50"] <= 0:
        return "n/a"
    return f"{pe['p50'] / g['p50']:.2f}×"


def render_md(report: dict) -> str:
    m = report["machine"]
    cfg = report["config"]
    lines = [
        "# Call latency: gatun-rs vs Py4J vs JPype",
        "",
        f"Machine: {machine_title(m)} ({m.get('Hypervisor vendor', 'bare metal?')} hypervisor"
        if m.get("Hypervisor vendor")
        else f"Machine: {machine_title(m)}",
    ]
    if m.get("Hypervisor vendor"):
        lines[-1] += ")."
    dirty = " (+ uncommitted changes)" if m["git_dirty"] else ""
    load0 = ", ".join(f"{x:.2f}" for x in m["loadavg_start"])
    load1 = ", ".join(f"{x:.2f}" for x in m["loadavg_end"])
    loops = cfg["rounds"] * cfg["loop_reps"]
    lines += [
        f"Date: {m['date_utc']}; gatun-rs commit {m['git_commit']}{dirty}; "
        f"py4j {m['packages'].get('py4j')}, JPype1 {m['packages'].get('JPype1')}; "
        f"all three on `{m['java_binary']}`.",
        f"Load average (1/5/15 min) at start / end: {load0} / {load1} (2 cores). "
        + steal_line(m.get("steal_share")),
        f"Mode: {cfg['mode']}: {cfg['rounds']} interleaved rounds × {cfg['n']} individually "
        f"timed calls per operation and peer (after {cfg['warmup']} warm-up calls and, in "
        f"the first round, at least {WARMUP_S:g} s of them), "
        f"{loops} timed 10,000-call loops, {cfg['connect_reps']} fresh-process connects. "
        f"Each timed block starts once the other peers' processes are idle "
        f"(under {QUIET_SHARE:.0%} of a core for {QUIET_WINDOW_S * 1000:.0f} ms; "
        f"{cfg.get('blocks_started_busy', 0)} started busy after {QUIET_TIMEOUT_S:g} s). "
        f"Wall time {report['wall_seconds']['total']} s.",
        "",
        "Cells are **p50 / p99** in µs per call (connect: seconds). Ratio = peer p50 ÷ gatun p50 "
        "(above 1: gatun is faster). Targets are checked against gatun's numbers.",
        "",
        "| operation | gatun p50 / p99 | Py4J p50 / p99 | JPype p50 / p99 "
        "| Py4J ÷ gatun | JPype ÷ gatun | target (gatun) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    notes = []
    for key, entry in report["operations"].items():
        unit = "s" if key == "connect" else "us"
        g = entry["peers"]["gatun"]
        row = [entry["label"] + (" (s)" if unit == "s" else "")]
        for p in PEERS:
            pe = entry["peers"][p]
            c = cell(pe, unit)
            if "measured_as" in pe:
                c += "¹" if key == "ping" else ""
            row.append(c)
        row.append(ratio(entry["peers"]["py4j"], g))
        row.append(ratio(entry["peers"]["jpype"], g))
        checks = report["targets"].get(key, [])
        row.append("; ".join(f"{c['what']} {'✓' if c['ok'] else '✗'}" for c in checks) or "—")
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "¹ Py4J has no public ping and JPype has no round trip at all (it calls into a JVM inside "
        "the Python process), so their ping is a pre-bound `java.lang.System.nanoTime()` call.",
        "",
        "JPype runs the JVM inside the Python process (JNI, no inter-process round trip); "
        "gatun and Py4J talk to a separate JVM process. Timer overhead (an empty call through "
        "the same harness), subtracted nowhere: "
        + ", ".join(
            f"{PEER_LABEL[p]} {report['peers'][p]['facts']['timer_overhead_ns'] / 1000:.2f} µs"
            for p in PEERS
            if report["peers"][p]["facts"]
        )
        + ".",
    ]
    lines += notes
    return "\n".join(lines) + "\n"
