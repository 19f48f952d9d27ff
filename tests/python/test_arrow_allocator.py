"""Java -> Python without a copy: results built on ``ArrowBridge.allocator()``.

The bridge's allocator carves its buffers from Java-owned shared memory, so a
returned root is shared with Python by reference count and referenced in
place, the user's vectors left as they were; a root built on another
allocator is copied once. The helper class
``gatuntest.AllocatorOps`` (tests/python/java) is compiled with javac against
the server jar.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import gatun

pytestmark = pytest.mark.jvm

N = 1_000_000


@pytest.fixture(scope="module")
def client(java_helpers: Path) -> Iterator[gatun.GatunClient]:
    own = gatun.connect(classpath=[str(java_helpers)])
    yield own
    own.close()


def _ops(client: gatun.GatunClient) -> Any:
    return client.jvm.gatuntest.AllocatorOps


def _stats(client: gatun.GatunClient) -> dict[str, int]:
    copied, in_place, regions, blocks, fallbacks = map(int, _ops(client).stats().split(","))
    return {
        "copied": copied,
        "in_place": in_place,
        "regions": regions,
        "blocks": blocks,
        "fallbacks": fallbacks,
    }


def _table(out: Any) -> Any:
    return pa.table(out) if isinstance(out, pa.RecordBatch) else out


def _expected_ok(column: Any) -> None:
    values = column.to_numpy(zero_copy_only=False)
    assert column.null_count == N // 1000
    assert column[7].as_py() is None
    assert column[8].as_py() == 24
    assert column[N - 1].as_py() == (N - 1) * 3
    assert pc.sum(column).as_py() == sum(i * 3 for i in range(N) if i % 1000 != 7)
    del values


def _settle(client: gatun.GatunClient) -> None:
    gc.collect()
    client.ping()  # carries Python's releases to Java
    client.gc()  # roots Java no longer references give their memory back


def test_arena_root_arrives_without_a_copy_and_is_freed(client: gatun.GatunClient) -> None:
    _settle(client)
    before = _stats(client)
    out = _table(_ops(client).arenaRoot(N))
    assert isinstance(out, pa.Table)
    during = _stats(client)
    assert out.num_rows == N
    assert out.schema.field("x").type == pa.int64()
    _expected_ok(out.column("x"))
    # Nothing copied; the data and validity buffers were handed over in place.
    assert during["copied"] == before["copied"]
    assert during["in_place"] - before["in_place"] >= N * 8 + N // 8
    assert during["regions"] == before["regions"] + 1
    assert during["fallbacks"] == before["fallbacks"]
    # The returned root is still Java's: neither emptied nor closed.
    assert _ops(client).bridgeAllocated() > 0
    del out
    _settle(client)
    after = _stats(client)
    assert after["regions"] == before["regions"]
    assert after["blocks"] == before["blocks"]


def test_plain_root_is_copied_once(client: gatun.GatunClient) -> None:
    _settle(client)
    before = _stats(client)
    out = _table(_ops(client).plainRoot(N))
    during = _stats(client)
    _expected_ok(out.column("x"))
    assert during["in_place"] == before["in_place"]
    assert during["copied"] - before["copied"] >= N * 8
    del out
    # Handed off, the bridge closes the producer's data once it is copied.
    allocated = _ops(client).plainAllocated()
    handed = _ops(client).plainHandedOff(1000)
    assert handed.column("x")[8].as_py() == 24
    assert _ops(client).plainAllocated() == allocated
    del handed
    _settle(client)
    assert _stats(client)["regions"] == before["regions"]


def test_reusing_a_returned_vector_cannot_change_pythons_data(client: gatun.GatunClient) -> None:
    _settle(client)
    before = _stats(client)
    out = _ops(client).keptVector(1000)
    arr = out.column(0) if hasattr(out, "column") else out
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    assert arr[8].as_py() == 24
    # Java refills its vector (new buffers); Python's shared copy is unchanged.
    assert _ops(client).reuseKept(1000) == 1000
    assert arr[8].as_py() == 24
    assert arr[999].as_py() == 999 * 3
    _ops(client).closeKept()
    del out, arr
    _settle(client)
    after = _stats(client)
    assert after["regions"] == before["regions"]
    assert after["blocks"] == before["blocks"]


def test_above_the_jvm_high_water_mark_python_copies_and_releases(java_helpers: Path) -> None:
    """When the JVM's arena is more than three-quarters full, what Python
    receives is copied on arrival and its JVM regions are released at once, so
    data Python keeps cannot fill the JVM's arena; below the mark it is
    referenced in place again."""
    options = [
        "-Dgatun.arrow.allocator.segmentBytes=16777216",
        "-Dgatun.arrow.allocator.maxBytes=67108864",
    ]
    with gatun.connect(classpath=[str(java_helpers)], jvm_options=options) as own:
        ops = own.jvm.gatuntest.AllocatorOps
        ops.ballast(52 << 20)  # 52 of 64 MiB: above the mark
        before = own._native.arrow_stats()
        full = _table(ops.arenaRoot(10_000))
        own.ping()  # carries the releases
        after = own._native.arrow_stats()
        assert after["bytes_copied_out"] - before["bytes_copied_out"] >= 80_000
        assert after["jvm_regions_held"] == 0, "nothing of the JVM's is held"
        assert full.column(0)[8].as_py() == 24
        assert full.column(0).null_count == 10

        ops.ballast(0)
        roomy = _table(ops.arenaRoot(10_000))
        again = own._native.arrow_stats()
        assert again["bytes_copied_out"] == after["bytes_copied_out"]
        assert again["jvm_regions_held"] == 1, "referenced in place"
        assert roomy.equals(full)
        del full, roomy
