"""An idle session costs no CPU: nobody spins once the calls stop.

Measured from the processes' own CPU-time counters (utime + stime), not from
wall-clock time, so a loaded machine cannot make the test flaky.
"""

from __future__ import annotations

import os
import time

import pytest

IDLE_SECONDS = 10.0
MAX_SHARE = 0.01  # 1% of one core


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


@pytest.mark.timeout(60)
@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")
def test_idle_client_and_server_use_no_cpu(fresh_client):
    math = fresh_client.jvm.java.lang.Math
    for i in range(2000):  # make both sides hot, then stop
        math.abs(-i)
    # The Arrow warm-up after connect is start-up work, not idling.
    assert fresh_client.jvm.gatun.server.arrow.ArrowWarmup.awaitFinished(30_000)
    time.sleep(0.5)  # let the JIT and the spin windows settle
    jvm_pid = fresh_client._native.jvm_pid
    jvm_before = cpu_seconds(jvm_pid)
    py_before = cpu_seconds(os.getpid())
    time.sleep(IDLE_SECONDS)
    jvm_used = cpu_seconds(jvm_pid) - jvm_before
    py_used = cpu_seconds(os.getpid()) - py_before
    assert jvm_used / IDLE_SECONDS < MAX_SHARE, (
        f"JVM used {jvm_used:.3f} s of CPU in {IDLE_SECONDS} s idle"
    )
    assert py_used / IDLE_SECONDS < MAX_SHARE, (
        f"Python used {py_used:.3f} s of CPU in {IDLE_SECONDS} s idle"
    )
    assert math.abs(-7) == 7  # and it still answers
