"""One bridge's call latency, measured in a process of its own (JPype embeds
its JVM in the process, so no two peers can share one): run as
``python -m gatun._cli.peer NAME CALLS``; prints the per-call times in
seconds as JSON on the last line of stdout."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

__all__ = ["measure"]

#: Calls made before timing starts (class loading, JIT).
WARMUP = 200


def _gatun() -> tuple[Callable[[int], object], Callable[[], None]]:
    import gatun

    client = gatun.connect(output=None)
    return (lambda i: client.jvm.java.lang.Math.max(i, 5)), client.close


def _py4j() -> tuple[Callable[[int], object], Callable[[], None]]:
    from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway

    port = launch_gateway(die_on_exit=True)
    gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_convert=True))
    return (lambda i: gateway.jvm.java.lang.Math.max(i, 5)), gateway.shutdown


def _jpype() -> tuple[Callable[[int], object], Callable[[], None]]:
    import jpype

    jpype.startJVM(convertStrings=True)
    java = jpype.JPackage("java")
    return (lambda i: java.lang.Math.max(i, 5)), (lambda: None)


_PEERS = {"gatun": _gatun, "py4j": _py4j, "jpype": _jpype}


def measure(name: str, calls: int) -> list[float]:
    """Seconds per call of ``java.lang.Math.max(i, 5)`` through bridge ``name``."""
    call, close = _PEERS[name]()
    try:
        for i in range(WARMUP):
            call(i)
        timings = []
        for i in range(calls):
            t0 = time.perf_counter()
            call(i)
            timings.append(time.perf_counter() - t0)
        return timings
    finally:
        close()


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
