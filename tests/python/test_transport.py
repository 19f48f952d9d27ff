"""The doorbell across the two processes: many threads, hot and cold paths.

Calls alternate between back-to-back bursts (both sides spinning) and pauses
long enough for the JVM worker and the Python waiter to fall asleep, so every
branch of the wake-up protocol runs thousands of times. A lost wake-up would
hang a call; pytest-timeout turns that into a failure.
"""

from __future__ import annotations

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
