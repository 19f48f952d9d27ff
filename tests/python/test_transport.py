"""The doorbell across the two processes: many threads, hot and cold paths.

Calls alternate between back-to-back bursts (both sides spinning) and pauses
long enough for the JVM worker and the Python waiter to fall asleep, so every
branch of the wake-up protocol runs thousands of times. A lost wake-up would
hang a call; pytest-timeout turns that into a failure.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time

import pytest

pytestmark = pytest.mark.timeout(120)


def test_threads_hot_and_cold_calls_all_answer_correctly(client):
    math = client.jvm.java.lang.Math
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(1500):
                x = rng.randrange(-(10**9), 10**9)
                assert math.abs(x) == abs(x)
                if rng.random() < 0.02:
                    # Long enough for both sides to stop spinning and block.
                    time.sleep(rng.choice([0.0002, 0.002, 0.02]))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def test_more_threads_than_lanes_share_them(client):
    lanes = client._native.lanes
    results: dict[int, int] = {}

    def call(i: int) -> None:
        results[i] = client.jvm.java.lang.Math.max(i, 3)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(lanes * 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: max(i, 3) for i in range(lanes * 4)}


def _pin_process(pid: int, cpus: set[int]) -> dict[int, set[int]]:
    """Pins every thread of ``pid`` to ``cpus``; returns what each had."""
    before = {}
    for tid in (int(t) for t in os.listdir(f"/proc/{pid}/task")):
        try:
            before[tid] = os.sched_getaffinity(tid)
            os.sched_setaffinity(tid, cpus)
        except OSError:  # the thread ended meanwhile
            pass
    return before


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity (Linux)")
def test_each_lane_worker_publishes_its_thread_of_the_jvm(fresh_client):
    """The waiter moves the JVM worker off a core the two share (SHM_LAYOUT.md,
    "Spinning"); it finds the worker by the thread id the worker writes in its
    lane header, and uses it only if the JVM has such a thread."""
    client = fresh_client
    assert client.ping()
    deadline = time.monotonic() + 5  # each worker writes it when its thread starts
    while None in (tids := client._native._lane_worker_tids()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(tids) >= 1
    assert all(isinstance(t, int) for t in tids), tids
    assert len(set(tids)) == len(tids)
    for tid in tids:
        assert tid != client.jvm_pid  # a thread of its own, not the JVM's main thread
        assert os.path.exists(f"/proc/{client.jvm_pid}/task/{tid}")


def test_calls_answer_while_python_and_the_jvm_share_one_core(fresh_client):
    """Both spinners on one core: each must give the core to the other (the
    yield, and the immediate yield once a yield has given the core away), or
    a call waits out whole spin budgets. Here it is checked that every call
    still answers correctly, hot and after pauses; how fast is the benchmark's
    business."""
    client = fresh_client
    cpu = {min(os.sched_getaffinity(0))}
    ours = os.sched_getaffinity(0)
    jvm_before = _pin_process(client.jvm_pid, cpu)
    os.sched_setaffinity(0, cpu)
    try:
        f = client.jvm.java.lang.Math.abs
        for i in range(20_000):
            assert f(-i) == i
            if i % 5000 == 4999:
                time.sleep(0.01)  # both sides stop spinning; the next call wakes them
        assert client.jvm.java.lang.Math.max(3, 9) == 9
    finally:
        os.sched_setaffinity(0, ours)
        for tid, cpus in jvm_before.items():
            with contextlib.suppress(OSError):  # the thread ended meanwhile
                os.sched_setaffinity(tid, cpus)
