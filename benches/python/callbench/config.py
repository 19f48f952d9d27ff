"""What the call-latency suite measures: peers, operations, what stands in for
an operation a peer lacks, the targets, and the quick/full run sizes."""

from __future__ import annotations

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
