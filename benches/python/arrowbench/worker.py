"""The Arrow suite's worker protocol, both ends: the loop inside a worker
subprocess (--worker) and Proc, the driver's handle on one such process."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import traceback

from arrowbench.peers import WORKERS


def worker_main(peer: str, java: str, libjvm: str, classes: str) -> None:
    """Loop: one JSON command per stdin line, one JSON answer per stdout line."""
    out = sys.stdout
    sys.stdout = sys.stderr  # keep the protocol channel clean
    w = WORKERS[peer](java, libjvm, classes)
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            op = cmd["op"]
            if op == "start":
                w.start()
                res = w.info()
            elif op == "setup":
                res = w.setup(cmd["kind"], cmd["n"])
            elif op == "run":
                fn = w.p2j if cmd["dir"] == "p2j" else w.j2p
                until = time.perf_counter() + cmd.get("warmup_s", 0)
                for _ in range(cmd.get("warmup", 0)):
                    fn(cmd["path"])
                while time.perf_counter() < until:
                    fn(cmd["path"])
                # At least `reps` transfers, and more until `min_s` has passed,
                # so fast paths are not timed only right after a slow peer ran.
                res = []
                until = time.perf_counter() + cmd.get("min_s", 0)
                while len(res) < cmd["reps"] or time.perf_counter() < until:
                    res.append(fn(cmd["path"]))
            elif op == "extra":
                res = w.extra(cmd["kind"], cmd["n"], cmd["reps"])
            elif op == "stats":
                res = getattr(w, "last_stats", None)
            elif op == "teardown":
                res = w.teardown()
            elif op == "quit":
                out.write(json.dumps({"ok": True, "res": None}) + "\n")
                out.flush()
                return
            else:
                raise ValueError(op)
            out.write(json.dumps({"ok": True, "res": res}) + "\n")
        except Exception:
            out.write(json.dumps({"ok": False, "err": traceback.format_exc()}) + "\n")
        out.flush()


class Proc:
    def __init__(self, script, peer, java, libjvm, classes):
        self.peer = peer
        self.p = subprocess.Popen(
            [
                sys.executable,
                script,
                "--worker",
                peer,
                "--java",
                java,
                "--libjvm",
                libjvm,
                "--classes",
                classes,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, **cmd):
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.peer} worker died")
        ans = json.loads(line)
        if not ans["ok"]:
            raise RuntimeError(f"{self.peer}: {ans['err']}")
        return ans["res"]

    def close(self):
        with contextlib.suppress(Exception):
            self(op="quit")
        try:
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
