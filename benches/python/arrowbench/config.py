"""What the Arrow suite measures and where it finds things: sizes, rounds,
repetitions and warm-up, the transfer paths and their labels."""

from __future__ import annotations

from pathlib import Path

# benches/python/arrowbench/config.py -> benches/python.
HERE = Path(__file__).resolve().parents[1]
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
