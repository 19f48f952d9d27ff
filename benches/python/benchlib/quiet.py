"""CPU time of other processes: a per-process CPU clock reader, and waiting
until the other peers' processes (and their JVMs) are idle before a timed
block, so one peer's leftover JIT or GC does not land on another's numbers."""

from __future__ import annotations

import contextlib
import glob
import os
import time
from pathlib import Path


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
