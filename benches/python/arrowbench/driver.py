"""The Arrow suite's orchestrator: one worker per peer, every size and type,
interleaved rounds with the peer order rotated; returns the arrow.json dict."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import statistics
import time

from benchlib.machine import cpu_ticks, steal_share

from arrowbench.config import (
    FIRST_WARMUP_S,
    FULL,
    J2P_PATHS,
    KINDS,
    P2J_PATHS,
    QUICK,
    REPS,
    RUN_S,
    WARMUP,
    WARMUP_S,
    WORKER_PEERS,
)
from arrowbench.environment import compile_helper, find_java, machine
from arrowbench.worker import Proc


def run(args, script: str) -> dict:
    cfg = QUICK if args.quick else FULL
    java, libjvm = find_java()
    classes = compile_helper(java)
    facts = machine(java)
    started = time.time()
    procs = {p: Proc(script, p, java, libjvm, classes) for p in WORKER_PEERS}
    versions = {}
    try:
        for _p, pr in procs.items():
            versions.update(pr(op="start"))
        facts["versions"] = versions
        results = []  # one row per (dir, kind, n, path)
        first_send = {}
        extras = {}
        order = list(WORKER_PEERS)
        for n in cfg["sizes"]:
            for kind in KINDS:
                setup = {p: pr(op="setup", kind=kind, n=n) for p, pr in procs.items()}
                reps, warm = REPS[n], WARMUP[n]
                if not first_send:
                    first_send = first_sends(procs)
                times = {("p2j", path): [] for path in P2J_PATHS}
                times.update({("j2p", path): [] for path in J2P_PATHS})
                stats = {}
                for rnd in range(cfg["rounds"]):
                    rot = order[rnd % len(order) :] + order[: rnd % len(order)]
                    # Warm-up in the first round only; longer for the first configuration.
                    first_round = rnd == 0
                    warmup_s = (WARMUP_S if results else FIRST_WARMUP_S) if first_round else 0
                    timing = {
                        "reps": reps,
                        "warmup": warm if first_round else 0,
                        "warmup_s": warmup_s,
                        "min_s": RUN_S,
                    }
                    for peer in rot:
                        pr = procs[peer]
                        p2j_paths = ("gatun_copy", "gatun_arena") if peer == "gatun" else (peer,)
                        for path in p2j_paths:
                            times[("p2j", path)] += pr(op="run", dir="p2j", path=path, **timing)
                            if peer == "gatun":
                                stats[path] = pr(op="stats")
                        times[("j2p", peer)] += pr(op="run", dir="j2p", path=peer, **timing)
                build = procs["gatun"](op="extra", kind=kind, n=n, reps=3)["java_build_ms"]
                down = {p: pr(op="teardown") for p, pr in procs.items()}
                p2j_bytes = (
                    8 * n if kind != "utf8" else 4 * (n + 1) + 8 * n
                )  # = table_bytes() of the table
                j2p_bytes = setup["gatun"]["java_bytes"]
                for (d, path), ts in times.items():
                    nb = p2j_bytes if d == "p2j" else j2p_bytes
                    med = statistics.median(ts)
                    results.append(
                        {
                            "dir": d,
                            "kind": kind,
                            "rows": n,
                            "path": path,
                            "bytes": nb,
                            "median_s": med,
                            "min_s": min(ts),
                            "max_s": max(ts),
                            "reps": len(ts),
                            "gbps": nb / med / 1e9,
                            "times_s": ts,
                        }
                    )
                extras[f"{kind}/{n}"] = {
                    "java_build_ms": build,
                    "arrow_stats": stats,
                    "teardown": down,
                }
                line = " ".join(
                    f"{d}:{path}={statistics.median(ts) * 1e3:.3f}ms"
                    for (d, path), ts in times.items()
                )
                print(
                    f"{kind:8s} {n:>10,}  {line}  java build {build:.1f} ms  stats {stats}",
                    flush=True,
                )
    finally:
        for pr in procs.values():
            pr.close()
        shutil.rmtree(classes, ignore_errors=True)
    facts["loadavg_end"] = os.getloadavg()
    facts["steal_share"] = steal_share(facts.pop("cpu_ticks_start", None), cpu_ticks())
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if args.quick else "full",
        "config": {
            "sizes": cfg["sizes"],
            "rounds": cfg["rounds"],
            "reps_per_round": REPS,
            "warmup": WARMUP,
            "warmup_s": WARMUP_S,
            "first_warmup_s": FIRST_WARMUP_S,
            "run_s": RUN_S,
        },
        "wall_s": round(time.time() - started, 1),
        "machine": facts,
        "results": results,
        "extras": extras,
        "first_send": first_send,
    }


def first_sends(procs) -> dict:
    """The first transfer of each path in each (fresh) worker, after its first
    setup: what a user's first send costs. JVM classes load and run interpreted."""
    first = {}
    for peer, pr in procs.items():
        paths = ("gatun_copy", "gatun_arena") if peer == "gatun" else (peer,)
        for path in paths:
            first[f"p2j/{path}"] = pr(op="run", dir="p2j", path=path, reps=1)[0]
        first[f"j2p/{peer}"] = pr(op="run", dir="j2p", path=peer, reps=1)[0]
    return first
