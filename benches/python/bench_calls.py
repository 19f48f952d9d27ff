#!/usr/bin/env python3
# ruff: noqa: RUF003
# (× and µ are meant; a harness must survive any failure of a peer and report it.)
"""Call-latency benchmark: gatun-rs against Py4J and JPype, one invocation.

    .venv/bin/python benches/python/bench_calls.py [--quick] [--out benches/results]

Each peer runs in its own worker subprocess (JPype embeds a JVM into the
process, so it cannot share one with the others); the workers stay alive and
take commands over a pipe.  Repetitions are interleaved: round 1 runs every
operation on gatun, Py4J, JPype; round 2 the same with the peer order rotated;
and so on, so machine noise lands on every peer alike.  connect() is measured
in a fresh process per repetition, also interleaved.

Writes calls.json (raw percentiles and machine facts), calls.md (the table)
and calls.png (the chart) into --out.  See benches/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import glob
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from importlib import metadata
from pathlib import Path

PEERS = ("gatun", "py4j", "jpype")
PEER_LABEL = {"gatun": "gatun", "py4j": "Py4J", "jpype": "JPype"}

# (key, label, kind). kind: "each" = every call timed on its own;
# "loop" = a whole 10,000-call loop timed and divided by 10,000.
OPS = (
    ("ping", "ping (round trip)", "each"),
    ("static_prebound", "pre-bound static `f = Math.abs; f(i)`", "each"),
    ("full_path", "full path `jvm.java.lang.Math.max(i, 5)`", "each"),
    ("create", "object creation `ArrayList()`", "each"),
    ("instance_call", "instance call `arr.add(i)`", "each"),
    ("string_roundtrip", "100-char string in and out", "each"),
    ("add_loop_10k", "10,000 `add` looped (per call)", "loop"),
    ("add_batch_10k", "10,000 `add` batched (per call)", "loop"),
)
OP_KIND = {key: kind for key, _, kind in OPS}
LOOP_CALLS = 10_000
STRING = "gatun-rs benchmark string: " + "0123456789" * 7 + "abc"  # 100 characters
assert len(STRING) == 100

# What stands in for an operation a peer does not have.
SUBSTITUTES = {
    ("ping", "py4j"): "pre-bound `System.nanoTime()` (Py4J has no public ping)",
    ("ping", "jpype"): "pre-bound `System.nanoTime()` (JPype is in-process: no round trip)",
}
NOT_AVAILABLE = {
    ("add_batch_10k", "py4j"): "n/a (no batch API)",
    ("add_batch_10k", "jpype"): "n/a (no batch API)",
}

# Targets from the issue; checked against gatun's numbers.
TARGETS = {
    "ping": {"p50_us": 3.0},
    "static_prebound": {"p50_us": 5.0, "py4j_ratio": 10.0},
    "full_path": {"p50_us": 8.0},
    "add_batch_10k": {"p50_us": 1.0},
    "connect": {"p50_s": 0.5},
}
P99_FACTOR = 5.0  # p99 of every individually timed call <= 5 x its p50

QUICK = {"rounds": 2, "n": 400, "warmup": 300, "loop_reps": 1, "connect_reps": 1}
FULL = {"rounds": 5, "n": 4000, "warmup": 2000, "loop_reps": 2, "connect_reps": 4}
# Warm-up time floor per operation and peer, first round only (see time_each).
WARMUP_S = 2.0

WORKER_TIMEOUT = 300.0  # seconds a single worker command may take


# ---------------------------------------------------------------------------
# JVM discovery: every peer runs the same java binary.
# ---------------------------------------------------------------------------


def find_java() -> tuple[str, str]:
    """The java executable (resolved) and the libjvm.so next to it."""
    java = None
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        java = str(Path(home, "bin", "java"))
    java = java or shutil.which("java")
    if not java:
        raise SystemExit("no java on PATH and no JAVA_HOME")
    java = os.path.realpath(java)
    jhome = Path(java).parent.parent
    for cand in (
        jhome / "lib" / "server" / "libjvm.so",
        jhome / "jre" / "lib" / "amd64" / "server" / "libjvm.so",
    ):
        if cand.is_file():
            return java, str(cand)
    raise SystemExit(f"no libjvm.so under {jhome}")


# ---------------------------------------------------------------------------
# Peers (run inside the worker subprocess).
# ---------------------------------------------------------------------------


class Peer:
    """One bridge: connect, then the operations as callables f(i)."""

    name = ""

    def connect(self, java: str, libjvm: str) -> None:
        raise NotImplementedError

    def first_call(self) -> object:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def jvm_facts(self) -> dict:
        S = self.cls("java.lang.System")  # noqa: N806
        rt = self.cls("java.lang.management.ManagementFactory").getRuntimeMXBean()
        return {
            "java.version": str(S.getProperty("java.version")),
            "java.vm.name": str(S.getProperty("java.vm.name")),
            "java.home": str(S.getProperty("java.home")),
            "jvm_args": [str(a) for a in rt.getInputArguments()],
        }

    def cls(self, name: str):
        raise NotImplementedError

    def ops(self) -> dict:
        """key -> (setup() -> f) for 'each' ops, key -> run(reps) for loops."""
        raise NotImplementedError


class GatunPeer(Peer):
    name = "gatun"

    def connect(self, java, libjvm):
        import gatun

        self.client = gatun.connect(java=java)

    def first_call(self):
        return self.client.jvm.java.lang.Math.max(1, 2)

    def close(self):
        self.client.close()

    def cls(self, name):
        node = self.client.jvm
        for part in name.split("."):
            node = getattr(node, part)
        return node

    def ops(self):
        c = self.client
        return {
            "ping": lambda: (lambda i: c.ping()),
            "static_prebound": lambda: _bind(c.jvm.java.lang.Math.abs),
            "full_path": lambda: (lambda i: c.jvm.java.lang.Math.max(i, 5)),
            "create": lambda: _bind(c.jvm.java.util.ArrayList, noarg=True),
            "instance_call": lambda: _bind(c.jvm.java.util.ArrayList().add),
            "string_roundtrip": lambda: _bind_str(c.jvm.java.util.Objects.toString),
            "add_loop_10k": lambda: _add_loop(c.jvm.java.util.ArrayList),
            "add_batch_10k": lambda: self._add_batch(),
        }

    def _add_batch(self):
        c = self.client
        ArrayList = c.jvm.java.util.ArrayList  # noqa: N806
        pc = time.perf_counter_ns

        def run():
            arr = ArrayList()
            t0 = pc()
            with c.batch() as b:
                for i in range(LOOP_CALLS):
                    b.call(arr, "add", i)
            t1 = pc()
            n = arr.size()
            if n != LOOP_CALLS:
                raise RuntimeError(f"batched add left size {n}")
            return (t1 - t0) / LOOP_CALLS

        return run


class Py4JPeer(Peer):
    name = "py4j"

    def connect(self, java, libjvm):
        from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway

        port = launch_gateway(die_on_exit=True, java_path=java)
        self.gateway = JavaGateway(
            gateway_parameters=GatewayParameters(port=port, auto_convert=True)
        )

    def first_call(self):
        return self.gateway.jvm.java.lang.Math.max(1, 2)

    def close(self):
        self.gateway.shutdown()

    def cls(self, name):
        node = self.gateway.jvm
        for part in name.split("."):
            node = getattr(node, part)
        return node

    def ops(self):
        g = self.gateway
        return {
            "ping": lambda: _bind(g.jvm.java.lang.System.nanoTime, noarg=True),
            "static_prebound": lambda: _bind(g.jvm.java.lang.Math.abs),
            "full_path": lambda: (lambda i: g.jvm.java.lang.Math.max(i, 5)),
            "create": lambda: _bind(g.jvm.java.util.ArrayList, noarg=True),
            "instance_call": lambda: _instance_add(g.jvm.java.util.ArrayList()),
            "string_roundtrip": lambda: _bind_str(g.jvm.java.util.Objects.toString),
            "add_loop_10k": lambda: _add_loop(g.jvm.java.util.ArrayList),
        }


class JPypePeer(Peer):
    name = "jpype"

    def connect(self, java, libjvm):
        import jpype

        jpype.startJVM(jvmpath=libjvm, convertStrings=True)
        self.java = jpype.JPackage("java")

    def first_call(self):
        return self.java.lang.Math.max(1, 2)

    def close(self):
        pass  # the JVM cannot be restarted in-process; it ends with the worker

    def cls(self, name):
        import jpype

        return jpype.JClass(name)

    def ops(self):
        java = self.java
        return {
            "ping": lambda: _bind(java.lang.System.nanoTime, noarg=True),
            "static_prebound": lambda: _bind(java.lang.Math.abs),
            "full_path": lambda: (lambda i: java.lang.Math.max(i, 5)),
            "create": lambda: _bind(java.util.ArrayList, noarg=True),
            "instance_call": lambda: _instance_add(java.util.ArrayList()),
            "string_roundtrip": lambda: _bind_str(java.util.Objects.toString),
            "add_loop_10k": lambda: _add_loop(java.util.ArrayList),
        }


PEER_CLASSES = {"gatun": GatunPeer, "py4j": Py4JPeer, "jpype": JPypePeer}


def _bind(f, noarg=False):
    if noarg:
        return lambda i: f()
    return lambda i: f(i)


def _bind_str(f):
    s = STRING
    if f(s) != s:
        raise RuntimeError(f"string round trip changed the string: {f(s)!r}")
    return lambda i: f(s)


def _instance_add(arr):
    # `arr.add(i)` exactly as a user writes it (attribute lookup included).
    return lambda i: arr.add(i)


def _add_loop(ArrayList):  # noqa: N803
    pc = time.perf_counter_ns

    def run():
        arr = ArrayList()
        t0 = pc()
        for i in range(LOOP_CALLS):
            arr.add(i)
        t1 = pc()
        n = arr.size()
        if n != LOOP_CALLS:
            raise RuntimeError(f"looped add left size {n}")
        return (t1 - t0) / LOOP_CALLS

    return run


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


# ---------------------------------------------------------------------------
# Orchestrator.
# ---------------------------------------------------------------------------


class Worker:
    """A worker subprocess driven over a pipe (JSON lines); its stderr goes to
    ``worker-<name>.log`` in ``logdir``. Also used by bench_doorbell.py."""

    def __init__(self, name: str, argv: list[str], logdir: str):
        self.dead: str | None = None
        self.log_path = os.path.join(logdir, f"worker-{name}.log")
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in quit())
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def ask(self, msg: dict, timeout: float = WORKER_TIMEOUT) -> dict:
        if self.dead:
            return {"ok": False, "error": self.dead}
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
            line = self.lines.get(timeout=timeout)
        except (BrokenPipeError, OSError) as e:
            line = None
            self.dead = f"worker pipe: {e}"
        except queue.Empty:
            self.kill()
            self.dead = f"timed out after {timeout:.0f} s"
            return {"ok": False, "error": self.dead}
        if line is None:
            self.dead = self.dead or f"worker exited ({self.proc.poll()}): {self.tail()}"
            return {"ok": False, "error": self.dead}
        return json.loads(line)

    def tail(self) -> str:
        self.log.flush()
        try:
            lines = [
                ln.strip() for ln in Path(self.log_path).read_text().splitlines() if ln.strip()
            ]
        except OSError:
            return ""
        return lines[-1][:200] if lines else ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def quit(self):
        if not self.dead:
            self.ask({"cmd": "quit"}, timeout=30)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.log.close()


def connect_once(peer: str, java: str, libjvm: str, logdir: str) -> dict:
    log = open(os.path.join(logdir, f"connect-{peer}.log"), "a")  # noqa: SIM115
    try:
        p = subprocess.run(
            [
                sys.executable,
                os.path.abspath(__file__),
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


def percentiles(samples: list[float]) -> dict:
    import numpy as np

    a = np.asarray(samples, dtype=float)
    return {
        "n": int(a.size),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "p10": float(np.percentile(a, 10)),
        "p90": float(np.percentile(a, 90)),
        "min": float(a.min()),
        "mean": float(a.mean()),
        "max": float(a.max()),
    }


def sh(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout + p.stderr).strip()
    except Exception as e:
        return f"unavailable: {e}"


def tree_is_dirty(repo: Path) -> bool:
    """Uncommitted changes to tracked files, apart from the results an earlier
    suite of the same session wrote (they are not code)."""
    git = ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"]
    return bool(sh([*git, "--", ".", ":!benches/results"]))


def lscpu_fields(keys: tuple[str, ...]) -> dict:
    """The named ``lscpu`` fields (empty if lscpu is unavailable); also used by
    bench_arrow.py."""
    info: dict = {}
    for line in sh(["lscpu"]).splitlines():
        k, _, v = line.partition(":")
        if k.strip() in keys:
            info[k.strip()] = v.strip()
    return info


def machine_info(java: str) -> dict:
    info = lscpu_fields(
        ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Hypervisor vendor")
    )
    info["nproc"] = os.cpu_count()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    info["os"] = os_name
    info["kernel"] = platform.release()
    info["python"] = sys.version.split()[0]
    info["java_binary"] = java
    info["java_version"] = sh([java, "-version"]).splitlines()
    pkgs = {}
    for dist in ("gatun-rs", "py4j", "JPype1", "numpy", "matplotlib"):
        try:
            pkgs[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pkgs[dist] = None
    info["packages"] = pkgs
    repo = Path(__file__).resolve().parents[2]
    info["git_commit"] = sh(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    info["git_dirty"] = tree_is_dirty(repo)
    info["date_utc"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return info


def cpu_ticks() -> dict | None:
    """The machine's CPU time so far, in clock ticks (``/proc/stat``), or None."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal
    return {"total": sum(fields), "steal": fields[7] if len(fields) > 7 else 0}


def steal_share(start: dict | None, end: dict | None) -> float | None:
    """Share of the CPU time between two ``cpu_ticks()`` that the hypervisor
    gave to other guests: this VM's cores were not running at all."""
    if not start or not end or end["total"] <= start["total"]:
        return None
    return (end["steal"] - start["steal"]) / (end["total"] - start["total"])


def steal_line(share: float | None) -> str:
    if share is None:
        return ""
    return (
        f"CPU time stolen by the hypervisor during the run: {share:.1%} "
        "(other guests on the host; the tails of every peer grow with it)."
    )


def _tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (the Py4J worker's JVM, gatun's server)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in glob.glob(f"/proc/{p}/task/*/children"):
            try:
                with open(task) as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return pids


def process_cpu_reader(pid: int):
    """(read() -> CPU ns of every thread of process ``pid``, source). Also
    used by bench_doorbell.py."""
    # Linux's process CPU clock of another pid, MAKE_PROCESS_CPUCLOCK(pid,
    # CPUCLOCK_SCHED): nanoseconds, where /proc/<pid>/stat has 10 ms ticks,
    # too coarse for a 25 ms hot loop.
    clock = ((~pid) << 3) | 2
    try:
        time.clock_gettime_ns(clock)
        return (lambda: time.clock_gettime_ns(clock)), "process CPU clock (ns)"
    except (OSError, OverflowError):
        pass
    tick = os.sysconf("SC_CLK_TCK")
    stat = f"/proc/{pid}/stat"

    def read() -> int:
        # Fields after the command name: state is field 3, utime 14, stime 15.
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // tick

    return read, f"/proc/<pid>/stat utime+stime (1/{tick} s ticks)"


def _cpu_ns(pids: list[int]) -> int:
    """Nanoseconds on a CPU of every thread of ``pids`` (0 for a process gone)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += process_cpu_reader(pid)[0]()
    return total


#: Quiet means the other peers' processes used under this share of one core
#: over a window of QUIET_WINDOW_S (their JIT and GC finish work after a round).
QUIET_SHARE = 0.02
QUIET_WINDOW_S = 0.05
QUIET_TIMEOUT_S = 3.0


def wait_until_quiet(others: list[int]) -> bool:
    """Waits until the processes of ``others`` (worker pids) and their
    children are idle, so that one peer's leftover JIT compilation or GC does
    not run on the cores another peer is being timed on; ``False`` if they
    were still busy after QUIET_TIMEOUT_S (the round runs anyway)."""
    if not os.path.isdir("/proc/self/task"):
        return True
    deadline = time.monotonic() + QUIET_TIMEOUT_S
    while True:
        pids = [p for pid in others for p in _tree_pids(pid)]
        before = _cpu_ns(pids)
        time.sleep(QUIET_WINDOW_S)
        if _cpu_ns(pids) - before < QUIET_SHARE * QUIET_WINDOW_S * 1e9:
            return True
        if time.monotonic() > deadline:
            return False


def machine_title(m: dict) -> str:
    first = (m.get("java_version") or ["?"])[0]
    parts = first.split('"')
    jv = parts[1] if len(parts) > 2 else first
    return (
        f"{m.get('Model name', '?')}, {m.get('nproc', '?')} cores, {m.get('memory_gib', '?')} GiB, "
        f"{m.get('os', '?')}, Python {m.get('python')}, Java {jv}"
    )


def run(args) -> dict:
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

    me = [sys.executable, os.path.abspath(__file__)]
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
            r = connect_once(p, java, libjvm, logdir)
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


# ---------------------------------------------------------------------------
# Targets, table, chart.
# ---------------------------------------------------------------------------


def _p(report, key, peer):
    return report["operations"][key]["peers"].get(peer, {})


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


def fmt_us(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


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


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "results"))
    ap.add_argument("--rounds", type=int, default=0, help="override the number of rounds")
    ap.add_argument("--keep-logs", action="store_true", help="keep the worker logs (printed path)")
    ap.add_argument(
        "--render-only", action="store_true", help="re-render md/png from OUT/calls.json"
    )
    ap.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    ap.add_argument("--connect-once", choices=PEERS, help=argparse.SUPPRESS)
    ap.add_argument("--java", help=argparse.SUPPRESS)
    ap.add_argument("--libjvm", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker, args.java, args.libjvm)
        return
    if args.connect_once:
        connect_once_main(args.connect_once, args.java, args.libjvm)
        return
    out = Path(args.out)
    if args.render_only:
        report = json.loads((out / "calls.json").read_text())
    else:
        report = run(args)
        (out / "calls.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    md = render_md(report)
    (out / "calls.md").write_text(md)
    try:
        render_png(report, out / "calls.png")
    except Exception as e:
        print(f"plot failed: {e}", file=sys.stderr)
    print()
    print(md)
    print(f"wrote {out / 'calls.json'}, {out / 'calls.md'}, {out / 'calls.png'}")


if __name__ == "__main__":
    main()
