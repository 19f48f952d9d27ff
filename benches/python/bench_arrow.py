#!/usr/bin/env python3
"""Arrow transfer benchmark: gatun-rs against JPype and Py4J, and numpy's memcpy.

    .venv/bin/python benches/python/bench_arrow.py [--quick] [--out benches/results]

Python -> Java and Java -> Python for 10K, 100K, 1M and 10M rows (``--quick``:
up to 1M) of one int64, float64 or utf8 (8-character strings) column:

* gatun copy:      ``client.send_arrow(table)`` of a table pyarrow built in its
                   own memory (one copy into the shared-memory arena; Java wraps
                   it in place); timed until the call returns the Java root.
* gatun in-arena:  the same table built in arena memory (``client.arena``), so
                   ``send_arrow`` copies nothing (``arrow_stats`` is printed).
* JPype:           IPC stream written by pyarrow straight into a Java direct
                   ``ByteBuffer`` (through its memoryview), read by Java's
                   ``ArrowStreamReader``; back: Java writes the stream into a
                   direct ``ByteBuffer``, pyarrow reads it (zero copy) from the
                   memoryview.
* Py4J:            the PySpark way: IPC stream in a temp file, read by
                   ``ArrowStreamReader`` (``FileInputStream``); back: Java writes
                   the file, pyarrow reads it.
* memcpy:          ``np.copyto(dst, src)`` of the same byte count into a
                   pre-allocated, warm ``dst``: the ceiling.

Java -> Python starts for every peer from one root Java built beforehand and
keeps (``gatunbench.Make.prepare``); the timed part is from the call until
Python holds a ``pyarrow.Table``. Java's build time is measured on its own.
Python -> Java is timed until Java holds the data (gatun: a ``VectorSchemaRoot``;
the peers: a loaded ``ArrowStreamReader``); releasing it is not timed.

Each peer runs in its own worker subprocess (JPype embeds a JVM); rounds are
interleaved with the peer order rotated. Writes arrow.json, arrow.md and
arrow.png into --out.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path

from bench_calls import cpu_ticks, lscpu_fields, steal_line, steal_share, tree_is_dirty

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
JAR = ROOT / "java" / "target" / "gatun-server.jar"
JAVA_SRC = HERE / "java"

KINDS = ("int64", "float64", "utf8")
QUICK = {"sizes": (10_000, 100_000, 1_000_000), "rounds": 3}
FULL = {"sizes": (10_000, 100_000, 1_000_000, 10_000_000), "rounds": 5}
# timed repetitions per round and peer, by rows
REPS = {10_000: 20, 100_000: 10, 1_000_000: 4, 10_000_000: 2}
WARMUP = {10_000: 30, 100_000: 10, 1_000_000: 3, 10_000_000: 1}
# ... and at least this long (first round only), for every peer alike: the JVM
# code on each path (gatun's loader, the peers' ArrowStreamReader) is
# interpreted until the JIT compiles it, which on 2 cores takes thousands of
# small sends (seconds). The first send of a fresh JVM is reported on its own.
WARMUP_S = 1.5
# The first configuration measured warms longer: before it nothing on any path
# is compiled, and a 10K-row send on the copy path was still settling after
# 3-6 s (~150 µs at 1.5 s, ~33 µs after 6 s on the 2-core VM).
FIRST_WARMUP_S = 6.0
# Every timed run (a path, a round) lasts at least this long: a transfer of
# tens of microseconds timed only twice per round would measure the wake-up
# of a JVM left idle while the other peers ran, not the transfer.
RUN_S = 0.02

P2J_PATHS = ("gatun_copy", "gatun_arena", "jpype", "py4j", "memcpy")
J2P_PATHS = ("gatun", "jpype", "py4j", "memcpy")
LABEL = {
    "gatun_copy": "gatun copy",
    "gatun_arena": "gatun in-arena",
    "gatun": "gatun",
    "jpype": "JPype",
    "py4j": "Py4J",
    "memcpy": "memcpy",
}
WORKER_PEERS = ("gatun", "jpype", "py4j", "memcpy")


def find_java() -> tuple[str, str]:
    java = None
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        java = str(Path(home, "bin", "java"))
    java = os.path.realpath(java or shutil.which("java") or "")
    if not java:
        raise SystemExit("no java")
    libjvm = Path(java).parent.parent / "lib" / "server" / "libjvm.so"
    if not libjvm.is_file():
        raise SystemExit(f"no {libjvm}")
    return java, str(libjvm)


def compile_helper(java: str) -> str:
    """javac gatunbench/Make.java against gatun-server.jar into a temp dir."""
    javac = str(Path(java).parent / "javac")
    out = tempfile.mkdtemp(prefix="gatun-bench-arrow-")
    src = [str(p) for p in JAVA_SRC.rglob("*.java")]
    subprocess.run([javac, "-nowarn", "-cp", str(JAR), "-d", out, *src], check=True)
    return out


# ---------------------------------------------------------------------------
# Data (identical on every side): i, i * 0.5, or i as 8 decimal digits.
# ---------------------------------------------------------------------------


def fill(kind: str, n: int, alloc_numpy, alloc_buffer, start: int = 0):
    """A one-column, one-batch pyarrow Table whose buffers come from the given
    allocators."""
    import numpy as np
    import pyarrow as pa

    if kind == "int64":
        x = alloc_numpy(n, "int64")
        x[:] = np.arange(start, start + n, dtype=np.int64)
        return pa.table({"x": x})
    if kind == "float64":
        x = alloc_numpy(n, "float64")
        np.multiply(np.arange(start, start + n, dtype=np.float64), 0.5, out=x)
        return pa.table({"x": x})
    offsets = alloc_buffer(4 * (n + 1))
    data = alloc_buffer(8 * n)
    o = np.frombuffer(offsets, dtype=np.int32)
    o[:] = np.arange(0, 8 * n + 1, 8, dtype=np.int32)
    d = np.frombuffer(data, dtype=np.uint8).reshape(n, 8)
    i = np.arange(start, start + n, dtype=np.int64)
    for k in range(8):
        d[:, 7 - k] = (i // 10**k) % 10 + 48
    arr = pa.Array.from_buffers(pa.utf8(), n, [None, offsets, data])
    return pa.table({"x": arr})


def heap_numpy(n, dtype):
    import numpy as np

    return np.empty(n, dtype=dtype)


def heap_buffer(nbytes):
    import pyarrow as pa

    return pa.allocate_buffer(nbytes)


def table_bytes(t) -> int:
    return sum(
        b.size for col in t.columns for ch in col.chunks for b in ch.buffers() if b is not None
    )


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------


class Worker:
    """One peer. setup(kind, n) prepares data on both sides; p2j()/j2p() do one
    timed transfer and return seconds; release() undoes it (untimed)."""

    def __init__(self, java: str, libjvm: str, classes: str) -> None:
        self.java, self.libjvm, self.classes = java, libjvm, classes


class GatunWorker(Worker):
    def start(self):
        import gatun

        self.client = gatun.connect(classpath=[self.classes], memory="4GB", java=self.java)
        self.M = self.client.jvm.gatunbench.Make
        self.view = self.M.view
        self.tables = {}

    def setup(self, kind, n):
        c = self.client
        self.tables = {
            "gatun_copy": fill(kind, n, heap_numpy, heap_buffer),
            "gatun_arena": fill(kind, n, c.arena.numpy, c.arena.buffer),
        }
        self.kind = kind
        build_ns = int(self.M.prepare(kind, n))
        return {"java_bytes": int(self.M.bytes(kind)), "java_prepare_ns": build_ns}

    def p2j(self, path):
        import time

        t = self.tables[path]
        before = self.client._native.arrow_stats()
        t0 = time.perf_counter_ns()
        root = self.client.send_arrow(t)
        t1 = time.perf_counter_ns()
        root.close()
        after = self.client._native.arrow_stats()
        self.last_stats = {k: after[k] - before.get(k, 0) for k in after}
        return (t1 - t0) / 1e9

    def j2p(self, path):
        import time

        t0 = time.perf_counter_ns()
        tbl = self.view(self.kind)
        t1 = time.perf_counter_ns()
        assert tbl.num_rows > 0
        del tbl
        self.client._native.flush_releases()
        return (t1 - t0) / 1e9

    def extra(self, kind, n, reps):
        ns = sorted(int(self.M.buildNanos(kind, n)) for _ in range(reps))
        return {"java_build_ms": ns[len(ns) // 2] / 1e6}

    def teardown(self):
        self.M.drop()
        self.tables = {}
        gc.collect()
        self.client._native.flush_releases()
        return {
            "java_allocated": int(self.M.allocated()),
            "arena_bytes_in_use": int(self.client._native.arena_bytes_in_use),
        }

    def info(self):
        import gatun

        try:
            v = metadata.version("gatun")
        except Exception:
            v = getattr(gatun, "__version__", "?")
        return {"gatun": v}


class IpcWorker(Worker):
    """A peer that moves IPC streams: the table lives in pyarrow's memory."""

    def setup(self, kind, n):
        self.table = fill(kind, n, heap_numpy, heap_buffer)
        self.kind = kind
        self.M.prepare(kind, n)
        return {}


class JPypeWorker(IpcWorker):
    def start(self):
        import jpype

        jpype.startJVM(
            self.libjvm,
            "--add-opens=java.base/java.nio=ALL-UNNAMED",
            classpath=[self.classes, str(JAR)],
            convertStrings=False,
        )
        self.M = jpype.JClass("gatunbench.Make")
        self.ByteBuffer = jpype.JClass("java.nio.ByteBuffer")
        self.readDirect = self.M.readDirect
        self.ipcDirect = self.M.ipcDirect

    def p2j(self, path):
        import time

        import pyarrow as pa

        t = self.table
        t0 = time.perf_counter_ns()
        mock = pa.MockOutputStream()
        with pa.ipc.new_stream(mock, t.schema) as w:
            w.write_table(t)
        bb = self.ByteBuffer.allocateDirect(mock.size())
        sink = pa.FixedSizeBufferWriter(pa.py_buffer(memoryview(bb)))
        with pa.ipc.new_stream(sink, t.schema) as w:
            w.write_table(t)
        rows = self.readDirect(bb)
        t1 = time.perf_counter_ns()
        assert rows == t.num_rows
        self.M.release()
        return (t1 - t0) / 1e9

    def j2p(self, path):
        import time

        import pyarrow as pa

        t0 = time.perf_counter_ns()
        bb = self.ipcDirect(self.kind)
        tbl = pa.ipc.open_stream(pa.py_buffer(memoryview(bb))).read_all()
        t1 = time.perf_counter_ns()
        assert tbl.num_rows > 0
        del tbl, bb
        return (t1 - t0) / 1e9

    def teardown(self):
        import jpype

        self.M.drop()
        self.table = None
        gc.collect()
        jpype.JClass("java.lang.System").gc()
        return {"java_allocated": int(self.M.allocated())}

    def info(self):
        return {"jpype": metadata.version("JPype1")}


class Py4JWorker(IpcWorker):
    def start(self):
        from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway

        port = launch_gateway(
            classpath=os.pathsep.join([self.classes, str(JAR)]),
            javaopts=["--add-opens=java.base/java.nio=ALL-UNNAMED"],
            java_path=self.java,
            die_on_exit=True,
        )
        self.gw = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_convert=True))
        self.M = self.gw.jvm.gatunbench.Make
        self.dir = tempfile.mkdtemp(prefix="gatun-bench-py4j-")
        self.path = os.path.join(self.dir, "data.arrow")

    def p2j(self, path):
        import time

        import pyarrow as pa

        t = self.table
        t0 = time.perf_counter_ns()
        with pa.OSFile(self.path, "wb") as f, pa.ipc.new_stream(f, t.schema) as w:
            w.write_table(t)
        rows = self.M.readFile(self.path)
        t1 = time.perf_counter_ns()
        assert rows == t.num_rows
        self.M.release()
        return (t1 - t0) / 1e9

    def j2p(self, path):
        import time

        import pyarrow as pa

        t0 = time.perf_counter_ns()
        self.M.ipcFile(self.kind, self.path)
        with pa.OSFile(self.path, "rb") as f:
            tbl = pa.ipc.open_stream(f).read_all()
        t1 = time.perf_counter_ns()
        assert tbl.num_rows > 0
        del tbl
        return (t1 - t0) / 1e9

    def teardown(self):
        self.M.drop()
        self.table = None
        gc.collect()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        return {"java_allocated": int(self.M.allocated())}

    def info(self):
        return {"py4j": metadata.version("py4j"), "tmpdir": self.dir}


class MemcpyWorker(Worker):
    """np.copyto of the byte count each direction moves, into a warm dst."""

    def start(self):
        pass

    def setup(self, kind, n):
        import numpy as np

        t = fill(kind, n, heap_numpy, heap_buffer)
        self.nbytes = {"p2j": table_bytes(t), "j2p": self.java_bytes(kind, n)}
        self.bufs = {}
        for d, nb in self.nbytes.items():
            src = np.ones(nb, dtype=np.uint8)
            dst = np.empty(nb, dtype=np.uint8)
            np.copyto(dst, src)
            self.bufs[d] = (dst, src)
        return {}

    @staticmethod
    def java_bytes(kind, n):
        # Arrow Java buffers: validity bitmap (64-byte rounded) + values / offsets + data.
        validity = (n + 7) // 8
        validity = (validity + 63) // 64 * 64
        if kind == "utf8":
            return validity + 4 * (n + 1) + 8 * n
        return validity + 8 * n

    def _copy(self, d):
        import time

        import numpy as np

        dst, src = self.bufs[d]
        t0 = time.perf_counter_ns()
        np.copyto(dst, src)
        t1 = time.perf_counter_ns()
        return (t1 - t0) / 1e9

    def p2j(self, path):
        return self._copy("p2j")

    def j2p(self, path):
        return self._copy("j2p")

    def teardown(self):
        self.bufs = {}
        return {}

    def info(self):
        import numpy

        return {"numpy": numpy.__version__}


WORKERS = {"gatun": GatunWorker, "jpype": JPypeWorker, "py4j": Py4JWorker, "memcpy": MemcpyWorker}


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
    def __init__(self, peer, java, libjvm, classes):
        self.peer = peer
        self.p = subprocess.Popen(
            [
                sys.executable,
                __file__,
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


# ---------------------------------------------------------------------------
# Machine facts
# ---------------------------------------------------------------------------


def machine(java: str) -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version()}
    info.update(
        lscpu_fields(
            ("Model name", "CPU(s)", "Hypervisor vendor", "Thread(s) per core", "L3 cache")
        )
    )
    info["cores"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        info["memory_gib"] = round(kb / 2**20, 1)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        info["os"] = platform.freedesktop_os_release().get("PRETTY_NAME")
    v = subprocess.run([java, "-version"], capture_output=True, text=True).stderr.splitlines()
    info["java"] = v[0] if v else "?"
    info["java_path"] = java
    for pkg in ("pyarrow", "numpy"):
        info[pkg] = metadata.version(pkg)
    try:
        info["commit"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        info["dirty"] = tree_is_dirty(ROOT)
    except OSError:
        pass
    info["loadavg_start"] = os.getloadavg()
    info["cpu_ticks_start"] = cpu_ticks()
    return info


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def run(args) -> dict:
    cfg = QUICK if args.quick else FULL
    java, libjvm = find_java()
    classes = compile_helper(java)
    facts = machine(java)
    started = time.time()
    procs = {p: Proc(p, java, libjvm, classes) for p in WORKER_PEERS}
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


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


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
        "transfers them and Python references them in place (no copy on either side). "
        "Every table is one batch, on every path.",
    ]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def plot(data, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = data["results"]
    sizes = data["config"]["sizes"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 9), sharex=True)
    style = {
        "gatun_copy": "o-",
        "gatun_arena": "s-",
        "gatun": "o-",
        "jpype": "^--",
        "py4j": "v--",
        "memcpy": "k:",
    }
    for row, (d, paths, title) in enumerate(
        (("p2j", P2J_PATHS, "Python → Java"), ("j2p", J2P_PATHS, "Java → Python"))
    ):
        for col, kind in enumerate(KINDS):
            ax = axes[row][col]
            for p in paths:
                ys = [find(res, d, kind, n, p)["median_s"] * 1e3 for n in sizes]
                ax.plot(sizes, ys, style[p], label=LABEL[p])
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{title}, {kind}")
            ax.grid(True, which="both", alpha=0.3)
            if col == 0:
                ax.set_ylabel("median time (ms)")
            if row == 1:
                ax.set_xlabel("rows")
            ax.legend(fontsize=8)
    m = data["machine"]
    fig.suptitle(
        f"Arrow transfer, {data['mode']} run, {m.get('Model name', '?')}, {m.get('cores')} cores — {data['date']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="10K/100K/1M rows, 3 rounds (about 2 min)")
    ap.add_argument("--out", default=str(ROOT / "benches" / "results"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--java", help=argparse.SUPPRESS)
    ap.add_argument("--libjvm", help=argparse.SUPPRESS)
    ap.add_argument("--classes", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(args.worker, args.java, args.libjvm, args.classes)
        return
    data = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "arrow.json").write_text(json.dumps(data, indent=1))
    text = write_md(data, out / "arrow.md")
    plot(data, out / "arrow.png")
    print(text)


if __name__ == "__main__":
    main()
