#!/usr/bin/env python3
# ruff: noqa: RUF003
# (µ and × are meant in comments too.)
"""Doorbell benchmark: how each wait strategy of gatun.connect(doorbell=...) pays off.

    .venv/bin/python benches/python/bench_doorbell.py [--quick] [--out benches/results]

The issue asks to spin only while the peer is hot, because a waiter that spins
its whole budget against a sleeping peer makes every hop slower than plain
blocking. This measures the four strategies (adaptive, spin, backoff, block)
in three scenarios:

* hot:      a pre-bound ``f = jvm.java.lang.Math.abs; f(i)``, back to back;
* sleeping: the same call after a 2 ms idle gap, long enough for the JVM worker
            to stop spinning and park, so every call has to wake it;
* slow:     ``LockSupport.parkNanos(200_000)``, a callee busy for ~200 us
            while the Python waiter spins or blocks.

Per call: latency (perf_counter_ns around the call) and the CPU time of both
processes over the timed block: Python from process_time_ns, the JVM from its
process CPU clock (ns; /proc/<pid>/stat ticks if that clock is unavailable).

Each strategy has its own worker subprocess with its own client and JVM, kept
for the whole run; rounds interleave the strategies with the order rotated.
Writes doorbell.json and doorbell.md into --out. See benches/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Machine facts, percentiles and formatting come from benchlib, shared with the
# calls suite, so that every table names the machine the same way.
from benchlib.machine import (
    cpu_ticks,
    find_java,
    machine_info,
    machine_title,
    steal_line,
    steal_share,
)
from benchlib.pipe import Worker
from benchlib.quiet import process_cpu_reader
from benchlib.stats import fmt_us, percentiles

STRATEGIES = ("adaptive", "spin", "backoff", "block")
STRATEGY_LABEL = {"adaptive": "`adaptive` (default)"}

GAP_S = 0.002  # idle gap before each call of the sleeping scenario
SLOW_NANOS = 200_000  # what the slow callee parks for

# (key, label, whether cores busy means anything: not when the loop mostly sleeps)
SCENARIOS = (
    ("hot", "Hot: pre-bound `Math.abs(i)`, back to back", True),
    (
        "sleeping",
        f"Sleeping peer: pre-bound `Math.abs(i)` after a {GAP_S * 1e3:g} ms idle gap",
        False,
    ),
    ("slow", f"Slow callee: `LockSupport.parkNanos({SLOW_NANOS:_})`", True),
)
SCENARIO_CORES = {key: cores for key, _, cores in SCENARIOS}

# Timed calls per round and scenario. Before round 1 every worker makes
# `settle` untimed hot calls (so the JIT has compiled the server's call path)
# and the machine rests SETTLE_S; each timed block starts with `warmup` calls.
QUICK = {
    "rounds": 2,
    "n": {"hot": 1000, "sleeping": 100, "slow": 200},
    "settle": 5000,
    "warmup": {"hot": 500, "sleeping": 20, "slow": 20},
}
FULL = {
    "rounds": 5,
    "n": {"hot": 5000, "sleeping": 400, "slow": 1000},
    "settle": 20000,
    "warmup": {"hot": 500, "sleeping": 20, "slow": 20},
}
SETTLE_S = 1.0
# ... and the settle calls last at least this long: on 2 cores the JIT
# compiles the call path for a second or two, and a compiler thread competing
# with the two spinners is not the steady state being measured.
SETTLE_WARM_S = 2.0


# ---------------------------------------------------------------------------
# Worker (one per strategy, in its own process).
# ---------------------------------------------------------------------------


def run_scenario(
    calls: dict, jvm_cpu, scenario: str, n: int, warmup: int, warmup_s: float = 0.0
) -> dict:
    """Times n calls one by one and the CPU both processes spent on the block,
    after ``warmup`` untimed calls (and more until ``warmup_s`` seconds passed)."""
    f, arg = calls[scenario]
    gap = GAP_S if scenario == "sleeping" else 0.0
    deadline = time.perf_counter() + warmup_s
    i = 0
    while i < warmup or time.perf_counter() < deadline:
        f(arg(i))
        i += 1
    gc.collect()
    pc = time.perf_counter_ns
    sleep = time.sleep
    out = [0] * n
    py0, jvm0, w0 = time.process_time_ns(), jvm_cpu(), pc()
    for i in range(n):
        if gap:
            sleep(gap)
        a = arg(i)
        t0 = pc()
        f(a)
        t1 = pc()
        out[i] = t1 - t0
    w1, jvm1, py1 = pc(), jvm_cpu(), time.process_time_ns()
    return {
        "samples": out,
        "wall_ns": w1 - w0,
        "py_cpu_ns": py1 - py0,
        "jvm_cpu_ns": jvm1 - jvm0,
    }


def worker_main(strategy: str, java: str) -> None:
    # Keep the protocol channel private: the JVM and libraries may print to fd 1.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(obj):
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    client = None
    calls: dict = {}
    jvm_cpu = None
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["cmd"] == "setup":
                import gatun

                client = gatun.connect(java=java, doorbell=strategy)
                jvm = client.jvm
                abs_ = jvm.java.lang.Math.abs
                if abs_(-7) != 7:
                    raise RuntimeError("Math.abs(-7) != 7")
                park = jvm.java.util.concurrent.locks.LockSupport.parkNanos
                calls = {
                    "hot": (abs_, lambda i: i),
                    "sleeping": (abs_, lambda i: i),
                    "slow": (park, lambda i: SLOW_NANOS),
                }
                jvm_cpu, source = process_cpu_reader(client.jvm_pid)
                System = jvm.java.lang.System  # noqa: N806
                send(
                    {
                        "ok": True,
                        "facts": {
                            "jvm_pid": client.jvm_pid,
                            "java.version": str(System.getProperty("java.version")),
                            "java.home": str(System.getProperty("java.home")),
                            "jvm_cpu_source": source,
                        },
                    }
                )
            elif msg["cmd"] == "run":
                r = run_scenario(
                    calls,
                    jvm_cpu,
                    msg["scenario"],
                    msg["n"],
                    msg["warmup"],
                    msg.get("warmup_s", 0.0),
                )
                send({"ok": True, **r})
            elif msg["cmd"] == "quit":
                try:
                    if client is not None:
                        client.close()
                finally:
                    send({"ok": True})
                break
        except Exception as e:  # report and keep serving
            traceback.print_exc()
            send({"ok": False, "error": f"{type(e).__name__}: {e}"[:300]})
    proto.close()
    os._exit(0)


# ---------------------------------------------------------------------------
# Orchestrator.
# ---------------------------------------------------------------------------


def summarize(blocks: list[dict]) -> dict:
    """Pooled latency percentiles (µs) and CPU over all rounds' blocks."""
    samples = [x for b in blocks for x in b["samples"]]
    st = {k: (v / 1000 if k != "n" else v) for k, v in percentiles(samples).items()}
    n = len(samples)
    wall = sum(b["wall_ns"] for b in blocks)
    py = sum(b["py_cpu_ns"] for b in blocks)
    jvm = sum(b["jvm_cpu_ns"] for b in blocks)
    st["share_over_20us"] = round(sum(1 for x in samples if x > 20_000) / n, 4)
    st["round_p50"] = [sorted(b["samples"])[len(b["samples"]) // 2] / 1000 for b in blocks]
    st["cpu"] = {
        "python_us_per_call": py / n / 1000,
        "jvm_us_per_call": jvm / n / 1000,
        "python_cores": py / wall,
        "jvm_cores": jvm / wall,
        "cores": (py + jvm) / wall,
        "wall_seconds": wall / 1e9,
    }
    return st


def run(args) -> dict:
    cfg = QUICK if args.quick else FULL
    if args.rounds:
        cfg = {**cfg, "rounds": args.rounds}
    java, _ = find_java()
    logdir = tempfile.mkdtemp(prefix="gatun-doorbell-")
    started = time.monotonic()
    machine = machine_info(java)
    machine["loadavg_start"] = os.getloadavg()
    ticks_start = cpu_ticks()
    print(f"machine: {machine_title(machine)}", flush=True)
    print(f"java: {java}; logs: {logdir}", flush=True)

    facts: dict = {}
    failed: dict = {}
    me = [sys.executable, os.path.abspath(__file__)]
    workers = {s: Worker(s, [*me, "--worker", s, "--java", java], logdir) for s in STRATEGIES}
    for s, w in workers.items():
        r = w.ask({"cmd": "setup"}, timeout=180)
        if r.get("ok"):
            facts[s] = r["facts"]
            print(f"  {s}: ready (JVM pid {r['facts']['jvm_pid']})", flush=True)
        else:
            failed[s] = r.get("error", "?")
            print(f"  {s}: FAILED: {failed[s]}", flush=True)
            w.kill()

    # Warm every JVM before any timing, so no JVM compiles in the background
    # while another strategy is measured.
    for s, w in workers.items():
        for key, calls, secs in (("hot", cfg["settle"], SETTLE_WARM_S), ("slow", 50, 0.0)):
            if s not in failed:
                msg = {"cmd": "run", "scenario": key, "n": 0, "warmup": calls, "warmup_s": secs}
                r = w.ask(msg)
                if not r.get("ok"):
                    failed[s] = r.get("error", "?")
                    print(f"  {s} warm-up: FAILED: {failed[s]}", flush=True)
    time.sleep(SETTLE_S)

    blocks: dict = {key: {s: [] for s in STRATEGIES} for key, _, _ in SCENARIOS}
    for rnd in range(cfg["rounds"]):
        k = rnd % len(STRATEGIES)
        order = STRATEGIES[k:] + STRATEGIES[:k]
        print(f"round {rnd + 1}/{cfg['rounds']} (order {', '.join(order)}) ...", flush=True)
        for key, _, _ in SCENARIOS:
            for s in order:
                if s in failed:
                    continue
                r = workers[s].ask(
                    {
                        "cmd": "run",
                        "scenario": key,
                        "n": cfg["n"][key],
                        "warmup": cfg["warmup"][key],
                    }
                )
                if r.get("ok"):
                    blocks[key][s].append(r)
                else:
                    failed[s] = r.get("error", "?")
                    print(f"  {s} {key}: FAILED: {failed[s]}", flush=True)
    for w in workers.values():
        w.quit()
    machine["loadavg_end"] = os.getloadavg()
    machine["steal_share"] = steal_share(ticks_start, cpu_ticks())

    report: dict = {
        "config": {
            **cfg,
            "mode": "quick" if args.quick else "full",
            "gap_seconds": GAP_S,
            "slow_callee_nanos": SLOW_NANOS,
            "strategies": list(STRATEGIES),
        },
        "machine": machine,
        "workers": {s: {"facts": facts.get(s), "failed": failed.get(s)} for s in STRATEGIES},
        "units": {
            "latency": "microseconds per call",
            "cpu": "CPU microseconds per call; cores = CPU seconds / wall seconds of the block",
        },
        "scenarios": {},
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    for key, label, _ in SCENARIOS:
        entry: dict = {"label": label, "strategies": {}}
        for s in STRATEGIES:
            if s in failed:
                entry["strategies"][s] = {"error": f"failed: {failed[s]}"}
            else:
                entry["strategies"][s] = summarize(blocks[key][s])
        report["scenarios"][key] = entry
    if failed or args.keep_logs:
        print(f"worker logs kept in {logdir}", flush=True)
    else:
        shutil.rmtree(logdir, ignore_errors=True)
    return report


# ---------------------------------------------------------------------------
# Table.
# ---------------------------------------------------------------------------


def versus(entry: dict, a: str, b: str) -> str | None:
    """One sentence comparing strategy a with b in a scenario, from the numbers."""
    pa, pb = entry["strategies"].get(a, {}), entry["strategies"].get(b, {})
    if "p50" not in pa or "p50" not in pb:
        return None
    ca, cb = pa["cpu"], pb["cpu"]
    return (
        f"`{a}` against `{b}`: p50 {fmt_us(pa['p50'])} vs {fmt_us(pb['p50'])} µs "
        f"({pa['p50'] / pb['p50']:.2f}×), p99 {fmt_us(pa['p99'])} vs {fmt_us(pb['p99'])} µs, "
        f"Python CPU {fmt_us(ca['python_us_per_call'])} vs {fmt_us(cb['python_us_per_call'])} "
        f"µs per call, JVM CPU {fmt_us(ca['jvm_us_per_call'])} vs "
        f"{fmt_us(cb['jvm_us_per_call'])} µs per call."
    )


def render_md(report: dict) -> str:
    m = report["machine"]
    cfg = report["config"]
    hyp = f" ({m['Hypervisor vendor']} hypervisor)" if m.get("Hypervisor vendor") else ""
    dirty = " (+ uncommitted changes)" if m["git_dirty"] else ""
    load0 = ", ".join(f"{x:.2f}" for x in m["loadavg_start"])
    load1 = ", ".join(f"{x:.2f}" for x in m["loadavg_end"])
    n = cfg["n"]
    lines = [
        "# Doorbell strategies: `gatun.connect(doorbell=...)`",
        "",
        f"Machine: {machine_title(m)}{hyp}.",
        f"Date: {m['date_utc']}; gatun-rs commit {m['git_commit']}{dirty}; `{m['java_binary']}`.",
        f"Load average (1/5/15 min) at start / end: {load0} / {load1}. "
        + steal_line(m.get("steal_share")),
        f"Mode: {cfg['mode']}: {cfg['rounds']} interleaved rounds (strategy order rotated), "
        f"each strategy in its own process and JVM; per round {n['hot']:,} hot, "
        f"{n['sleeping']:,} sleeping-peer and {n['slow']:,} slow-callee calls, each timed "
        f"on its own, after {cfg['settle']:,} untimed calls (at least {SETTLE_WARM_S:g} s) per "
        "JVM before round 1 and "
        f"{cfg['warmup']['hot']} before each hot block. Wall time {report['wall_seconds']} s.",
        "",
        "Latency in µs per call, pooled over all rounds. CPU is measured over each timed "
        "block for both processes and divided by the calls (µs per call), or by the block's "
        "wall time (cores busy, Python + JVM).",
    ]
    for key, _, with_cores in SCENARIOS:
        entry = report["scenarios"][key]
        lines += [
            "",
            f"## {entry['label']}",
            "",
            "| `doorbell=` | p50 | p90 | p99 | CPU µs/call Python | CPU µs/call JVM | cores busy |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for s in STRATEGIES:
            pe = entry["strategies"][s]
            label = STRATEGY_LABEL.get(s, f"`{s}`")
            if "error" in pe:
                lines.append(f"| {label} | {pe['error']} | | | | | |")
                continue
            c = pe["cpu"]
            cores = f"{c['cores']:.2f}" if with_cores else "—¹"
            lines.append(
                f"| {label} | {fmt_us(pe['p50'])} | {fmt_us(pe['p90'])} | {fmt_us(pe['p99'])} "
                f"| {fmt_us(c['python_us_per_call'])} | {fmt_us(c['jvm_us_per_call'])} "
                f"| {cores} |"
            )
        lines.append("")
        if key == "sleeping":
            lines.append(
                f"¹ The loop sleeps {GAP_S * 1e3:g} ms before each call, so cores busy mostly "
                "measures the sleep; CPU per call is the figure to compare. It includes the "
                "JVM worker's spin after each reply and Python's `time.sleep` itself "
                "(the same for every strategy)."
            )
        for a in ("spin", "adaptive"):
            sentence = versus(entry, a, "block")
            if sentence:
                lines.append(f"- {sentence}")
    facts = [f for f in report["workers"].values() if f["facts"]]
    if facts:
        lines += ["", f"JVM CPU read from the {facts[0]['facts']['jvm_cpu_source']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    ap.add_argument("--rounds", type=int, default=0, help="override the number of rounds")
    ap.add_argument("--keep-logs", action="store_true", help="keep the worker logs (printed path)")
    ap.add_argument(
        "--render-only", action="store_true", help="re-render doorbell.md from OUT/doorbell.json"
    )
    ap.add_argument("--worker", choices=STRATEGIES, help=argparse.SUPPRESS)
    ap.add_argument("--java", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker, args.java)
        return
    out = Path(args.out)
    if args.render_only:
        report = json.loads((out / "doorbell.json").read_text())
    else:
        report = run(args)
        out.mkdir(parents=True, exist_ok=True)
        (out / "doorbell.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    md = render_md(report)
    (out / "doorbell.md").write_text(md)
    print()
    print(md)
    print(f"wrote {out / 'doorbell.json'}, {out / 'doorbell.md'}")


if __name__ == "__main__":
    main()
