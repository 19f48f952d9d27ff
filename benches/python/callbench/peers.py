"""The three bridges of the calls suite (gatun, Py4J, JPype) behind one
interface: connect, then each operation as a callable; runs inside a worker."""

from __future__ import annotations

import time

from callbench.config import LOOP_CALLS, STRING


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
