"""One class per Arrow transfer peer (gatun, JPype, Py4J, memcpy): set up the
data on both sides, make one timed transfer each way, tear down; runs inside
a worker subprocess."""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
from importlib import metadata

from arrowbench.config import JAR
from arrowbench.data import fill, heap_buffer, heap_numpy, table_bytes


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
