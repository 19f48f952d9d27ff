"""Inside a worker subprocess of bench_calls.py: time one peer's operations on
command (--worker), or time one fresh connect() (--connect-once)."""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback

from callbench.config import OP_KIND
from callbench.peers import PEER_CLASSES


def time_each(f, n: int, warmup: int, warmup_s: float = 0.0) -> list[int]:
    """Warm up (``warmup`` calls, and more until ``warmup_s`` seconds have
    passed), then time n calls one by one (ns). The result of each call is
    dropped after the clock stops, so releasing a remote object is not timed."""
    deadline = time.perf_counter() + warmup_s
    i = 0
    while i < warmup or time.perf_counter() < deadline:
        f(i)
        i += 1
    gc.collect()
    pc = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        t0 = pc()
        r = f(i)
        t1 = pc()
        del r
        out[i] = t1 - t0
    return out


def timer_overhead(n: int = 20000) -> float:
    """Median ns of timing an empty f(i) through the same harness."""
    s = sorted(time_each(lambda i: None, n, 1000))
    return s[len(s) // 2]


def worker_main(peer_name: str, java: str, libjvm: str) -> None:
    # Keep the protocol channel private: the JVM (JPype's runs in this
    # process) and the libraries may print to fd 1.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(obj):
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    peer = PEER_CLASSES[peer_name]()
    ops: dict = {}
    prepared: dict = {}
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        try:
            if cmd == "setup":
                peer.connect(java, libjvm)
                if peer.first_call() != 2:
                    raise RuntimeError("Math.max(1, 2) != 2")
                ops = peer.ops()
                facts = peer.jvm_facts()
                facts["timer_overhead_ns"] = timer_overhead()
                send({"ok": True, "facts": facts})
            elif cmd == "op":
                key = msg["op"]
                if key not in ops:
                    send({"ok": False, "error": "n/a"})
                    continue
                if OP_KIND[key] == "each":
                    if key not in prepared:
                        prepared[key] = ops[key]()
                    samples = time_each(
                        prepared[key], msg["n"], msg["warmup"], msg.get("warmup_s", 0.0)
                    )
                else:
                    if key not in prepared:
                        prepared[key] = ops[key]()
                        prepared[key]()  # warm-up loop
                    gc.collect()
                    samples = [prepared[key]() for _ in range(msg["reps"])]
                send({"ok": True, "samples": samples})
            elif cmd == "quit":
                try:
                    peer.close()
                finally:
                    send({"ok": True})
                break
        except Exception as e:  # report and keep serving
            traceback.print_exc()
            send({"ok": False, "error": f"{type(e).__name__}: {e}"[:300]})
    proto.close()
    os._exit(0)  # do not wait for non-daemon threads of the libraries


def connect_once_main(peer_name: str, java: str, libjvm: str) -> None:
    """Fresh process: import first (not timed), then time connect + first call."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    peer = PEER_CLASSES[peer_name]()
    if peer_name == "gatun":
        import gatun  # noqa: F401
    elif peer_name == "py4j":
        import py4j.java_gateway  # noqa: F401
    else:
        import jpype  # noqa: F401
    try:
        t0 = time.perf_counter_ns()
        peer.connect(java, libjvm)
        result = peer.first_call()
        t1 = time.perf_counter_ns()
        if result != 2:
            raise RuntimeError("Math.max(1, 2) != 2")
        proto.write(json.dumps({"ok": True, "seconds": (t1 - t0) / 1e9}) + "\n")
        proto.flush()
        peer.close()
    except Exception as e:
        traceback.print_exc()
        proto.write(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"[:300]}) + "\n")
    proto.flush()
    os._exit(0)
