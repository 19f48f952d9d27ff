"""The calls suite's orchestrator: starts one worker per peer, runs the
interleaved rounds and the fresh-process connects, and builds the report dict."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib.machine import (
    cpu_ticks,
    find_java,
    machine_info,
    machine_title,
    steal_share,
)
from benchlib.pipe import Worker
from benchlib.quiet import wait_until_quiet
from benchlib.stats import percentiles

from callbench.config import (
    FULL,
    LOOP_CALLS,
    NOT_AVAILABLE,
    OPS,
    PEERS,
    QUICK,
    STRING,
    SUBSTITUTES,
    WARMUP_S,
)
from callbench.report import check_targets


def connect_once(script: str, peer: str, java: str, libjvm: str, logdir: str) -> dict:
    log = open(os.path.join(logdir, f"connect-{peer}.log"), "a")  # noqa: SIM115
    try:
        p = subprocess.run(
            [
                sys.executable,
                script,
                "--connect-once",
                peer,
                "--java",
                java,
                "--libjvm",
                libjvm,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            timeout=180,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": "timed out after 180 s"}
    finally:
        log.close()
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    if not lines:
        return {"ok": False, "error": f"exit {p.returncode}, no result"}
    return json.loads(lines[-1])


def run(args, script: str) -> dict:
    cfg = QUICK if args.quick else FULL
    if args.rounds:
        cfg = {**cfg, "rounds": args.rounds}
    java, libjvm = find_java()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logdir = tempfile.mkdtemp(prefix="gatun-bench-")
    started = time.monotonic()
    machine = machine_info(java)
    machine["loadavg_start"] = os.getloadavg()
    ticks_start = cpu_ticks()
    print(f"machine: {machine_title(machine)}", flush=True)
    print(f"java: {java}; logs: {logdir}", flush=True)

    results: dict = {
        key: {p: {"samples": [], "round_p50": [], "error": None} for p in PEERS}
        for key, _, _ in OPS
    }
    peer_facts: dict = {}
    peer_failed: dict = {}

    me = [sys.executable, script]
    workers = {
        p: Worker(p, [*me, "--worker", p, "--java", java, "--libjvm", libjvm], logdir)
        for p in PEERS
    }
    for p, w in workers.items():
        t0 = time.monotonic()
        r = w.ask({"cmd": "setup"}, timeout=180)
        if r.get("ok"):
            peer_facts[p] = r["facts"]
            print(
                f"  {p}: ready in {time.monotonic() - t0:.1f} s ({r['facts']['java.home']})",
                flush=True,
            )
        else:
            peer_failed[p] = r.get("error", "?")
            print(f"  {p}: FAILED: {peer_failed[p]}", flush=True)
            w.kill()

    not_quiet = 0  # timed blocks that started while another peer was still busy
    for rnd in range(cfg["rounds"]):
        order = PEERS[rnd % len(PEERS) :] + PEERS[: rnd % len(PEERS)]
        print(f"round {rnd + 1}/{cfg['rounds']} (order {', '.join(order)}) ...", flush=True)
        for key, _, kind in OPS:
            for p in order:
                res = results[key][p]
                if (key, p) in NOT_AVAILABLE:
                    res["error"] = NOT_AVAILABLE[(key, p)]
                    continue
                if p in peer_failed:
                    res["error"] = f"failed: {peer_failed[p]}"
                    continue
                if res["error"]:
                    continue
                if kind == "each":
                    msg = {
                        "cmd": "op",
                        "op": key,
                        "n": cfg["n"],
                        "warmup": cfg["warmup"] if rnd == 0 else cfg["warmup"] // 4,
                        # The JIT compiles the JVM side of each path for a second or
                        # two on 2 cores; the same floor for every peer.
                        "warmup_s": WARMUP_S if rnd == 0 else 0.0,
                    }
                else:
                    msg = {"cmd": "op", "op": key, "reps": cfg["loop_reps"]}
                others = [w.proc.pid for q, w in workers.items() if q != p and not w.dead]
                if not wait_until_quiet(others):
                    not_quiet += 1
                r = workers[p].ask(msg)
                if r.get("ok"):
                    res["samples"].extend(r["samples"])
                    s = sorted(r["samples"])
                    res["round_p50"].append(s[len(s) // 2])
                else:
                    res["error"] = f"failed: {r.get('error')}"
                    print(f"  {p} {key}: {res['error']}", flush=True)
                    if workers[p].dead:
                        peer_failed[p] = workers[p].dead
    for w in workers.values():
        w.quit()
    calls_done = time.monotonic()

    # connect(): a fresh process per repetition, peers interleaved.
    connect_res = {p: {"samples": [], "error": None} for p in PEERS}
    print(f"connect() x {cfg['connect_reps']} per peer ...", flush=True)
    for rep in range(cfg["connect_reps"]):
        order = PEERS[rep % len(PEERS) :] + PEERS[: rep % len(PEERS)]
        for p in order:
            if connect_res[p]["error"]:
                continue
            r = connect_once(script, p, java, libjvm, logdir)
            if r.get("ok"):
                connect_res[p]["samples"].append(r["seconds"])
            else:
                connect_res[p]["error"] = f"failed: {r.get('error')}"
                print(f"  {p} connect: {connect_res[p]['error']}", flush=True)

    machine["loadavg_end"] = os.getloadavg()
    machine["steal_share"] = steal_share(ticks_start, cpu_ticks())
    report: dict = {
        "config": {
            **cfg,
            "mode": "quick" if args.quick else "full",
            "loop_calls": LOOP_CALLS,
            "string_length": len(STRING),
            "blocks_started_busy": not_quiet,
        },
        "machine": machine,
        "peers": {p: {"facts": peer_facts.get(p), "failed": peer_failed.get(p)} for p in PEERS},
        "units": {"calls": "microseconds per call", "connect": "seconds"},
        "operations": {},
        "wall_seconds": {"calls": round(calls_done - started, 1), "total": None},
    }
    for key, label, kind in OPS:
        entry = {"label": label, "kind": kind, "peers": {}}
        for p in PEERS:
            res = results[key][p]
            pe: dict = {}
            if res["samples"] and not res["error"]:
                st = percentiles(res["samples"])
                pe = {k: (v / 1000 if k != "n" else v) for k, v in st.items()}  # ns -> us
                # share of calls slower than 20 us: shows a bimodal (spin vs wake-up) distribution
                pe["share_over_20us"] = round(
                    sum(1 for x in res["samples"] if x > 20_000) / len(res["samples"]), 4
                )
                pe["round_p50"] = [x / 1000 for x in res["round_p50"]]
            else:
                pe = {"error": res["error"] or "no samples"}
            if (key, p) in SUBSTITUTES:
                pe["measured_as"] = SUBSTITUTES[(key, p)]
            entry["peers"][p] = pe
        report["operations"][key] = entry
    centry = {"label": "`connect()` to first call", "kind": "connect", "peers": {}}
    for p in PEERS:
        res = connect_res[p]
        if res["samples"] and not res["error"]:
            centry["peers"][p] = {**percentiles(res["samples"]), "samples": res["samples"]}
        else:
            centry["peers"][p] = {"error": res["error"] or "no samples"}
    report["operations"]["connect"] = centry
    report["wall_seconds"]["total"] = round(time.monotonic() - started, 1)
    report["targets"] = check_targets(report)
    shutil.rmtree(logdir, ignore_errors=True) if not (peer_failed or args.keep_logs) else None
    return report
