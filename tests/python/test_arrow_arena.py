"""The payload arena under use: upstream-compatible calls, the zero-copy path,
many threads at once, a peer killed mid-transfer, and a long soak through a
small arena."""

from __future__ import annotations

import gc
import os
import signal
import threading

import numpy as np
import pyarrow as pa
import pytest

import gatun


def test_seed_readme_arrow_example() -> None:
    """The seed README's "Arrow Data Transfer" example, verbatim (plus asserts)."""
    from gatun import connect

    client = connect()

    # Send a PyArrow table to Java
    table = pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    result = client.send_arrow_table(table)  # "Received 3 rows"
    assert result == "Received 3 rows"

    # For large data, use zero-copy buffer transfer
    table = pa.table({"name": ["Alice", "Bob"], "age": [25, 30]})
    arena = client.get_payload_arena()
    schema_cache = {}
    client.send_arrow_buffers(table, arena, schema_cache)
    arena.close()
    client.close()


def test_upstream_arrow_calls(client: gatun.GatunClient) -> None:
    table = pa.table({"x": list(range(10)), "y": [str(i) for i in range(10)]})
    assert client.send_arrow_table(table) == "Received 10 rows"
    assert client.get_arrow_data().equals(table)
    assert client.send_arrow_table_batched(table, batch_size=4) == [
        "Received 4 rows",
        "Received 4 rows",
        "Received 2 rows",
    ]
    assert client.get_arrow_data().equals(table.slice(8, 2))
    assert gatun.estimate_arrow_size(table) >= table.nbytes
    arena = client.get_payload_arena()
    assert arena.bytes_used() > 0
    client.reset_payload_arena()
    assert arena.bytes_used() == 0
    with client.arrow_context() as ctx:
        assert ctx.send(table) == "Received 10 rows via zero-copy buffers"
        assert ctx.receive().equals(table)
        assert client.get_payload_arena().bytes_used() > 0
    client.ping()
    assert client.get_payload_arena().bytes_used() == 0


def test_data_built_in_the_arena_crosses_without_a_copy(client: gatun.GatunClient) -> None:
    n = 100_000
    x = client.arena.numpy(n, "int64")
    x[:] = np.arange(n)
    y = client.arena.array(np.linspace(0, 1, n))
    before = client._native.arrow_stats()
    root = client.send_arrow(pa.table({"x": x, "y": y}))
    after = client._native.arrow_stats()
    try:
        assert after["bytes_copied"] == before["bytes_copied"], "nothing was copied"
        assert after["bytes_in_place"] - before["bytes_in_place"] == n * 16
        assert client.invoke_method(root, "slice", 0, 3).column("x").to_pylist() == [0, 1, 2]
    finally:
        root.close()
    del x, y, root
    gc.collect()


def test_large_columns_without_nulls_share_one_validity_bitmap(
    client: gatun.GatunClient,
) -> None:
    """Java is given a bitmap of set bits for large arrays that have none (so
    it allocates and fills nothing); the arrays read as all valid, arrays with
    nulls keep their own, and data handed back to Python is equal."""
    n = 200_000
    x = client.arena.numpy(n, "int64")
    x[:] = np.arange(n)
    with_nulls = pa.array([None if i % 7 == 0 else i for i in range(n)], pa.int64())
    table = pa.table({"x": x, "s": pa.array([str(i % 100) for i in range(n)]), "m": with_nulls})
    root = client.send_arrow(table)
    try:
        vx, vs, vm = (
            client.invoke_method(root, "getVector", i, return_object_ref=True) for i in range(3)
        )
        assert vx.getNullCount() == 0
        assert vs.getNullCount() == 0
        assert not vx.isNull(n - 1)
        assert not vs.isNull(12_345)
        shared = vx.getValidityBuffer().memoryAddress()
        assert vs.getValidityBuffer().memoryAddress() == shared
        assert vm.getValidityBuffer().memoryAddress() != shared
        assert vm.getNullCount() == with_nulls.null_count
        back = client.invoke_method(root, "slice", 0, n)
        assert back.equals(table)
        # Small arrays keep Java's own bitmap (cheaper than a shared region).
        small = client.send_arrow(pa.table({"x": pa.array(range(10), pa.int64())}))
        try:
            v = client.invoke_method(small, "getVector", 0, return_object_ref=True)
            assert v.getValidityBuffer().memoryAddress() != shared
        finally:
            small.close()
    finally:
        root.close()
    del x, table, back, root
    gc.collect()


def test_many_threads_send_and_release_at_once(client: gatun.GatunClient) -> None:
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            rng = np.random.default_rng(seed)
            for _ in range(40):
                n = int(rng.integers(1, 20_000))
                t = pa.table({"v": rng.integers(0, 1000, n), "s": [str(seed)] * n})
                root = client.send_arrow(t)
                assert root.getRowCount() == n
                root.close()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def test_a_jvm_killed_mid_transfer_frees_the_arena(fresh_client: gatun.GatunClient) -> None:
    client = fresh_client
    roots = [client.send_arrow(pa.table({"v": np.arange(200_000)})) for _ in range(5)]
    assert client._native.arena_regions_in_use >= 5
    os.kill(client._native.jvm_pid, signal.SIGKILL)
    big = pa.table({"v": np.arange(5_000_000)})

    def send_until_it_fails() -> None:
        for _ in range(100):
            client.send_arrow(big)

    with pytest.raises(gatun.BridgeClosedError):
        send_until_it_fails()
    assert client._native.arena_regions_in_use == 0, "the dead JVM's holds are void"
    del roots


@pytest.mark.timeout(600)
def test_soak_50_gb_through_a_256_mb_arena() -> None:
    """50 GB in 64 MB batches through a 256 MB arena: every batch is released
    by Java (its proxy is dropped), so the arena never fills."""
    with gatun.connect(memory="256MB") as client:
        batch = pa.table({"v": np.arange(8 << 20, dtype=np.int64)})  # 64 MiB
        total = 0
        while total < 50 * 10**9:
            root = client.send_arrow(batch)
            del root
            total += batch.nbytes
        client.ping()
        assert client._native.arena_bytes_in_use <= 256 << 20
        assert client._native.arrow_stats()["bytes_copied"] >= 50 * 10**9


def test_arrow_returned_from_java_is_released_back(client: gatun.GatunClient) -> None:
    """40 returns of 80 MB each: slices of data Python sent come back in place
    (in Python's own arena, no copy, no JVM memory), and every one Python drops
    gives its reference back: the arena does not grow."""
    root = client.send_arrow(pa.table({"v": np.arange(10_000_000)}))
    try:
        client.ping()
        regions = client._native.arena_regions_in_use
        stats = client._native.arrow_stats()
        for _ in range(40):
            table = client.invoke_method(root, "slice", 0, 10_000_000)
            assert table.num_rows == 10_000_000
            del table
        after = client._native.arrow_stats()
        assert after["bytes_handed_back"] - stats["bytes_handed_back"] >= 40 * 80_000_000
        assert after["bytes_copied"] == stats["bytes_copied"]
        assert after["jvm_regions_held"] == 0
        client.gc()  # the 40 Java slices are unreachable
        assert client._native.arena_regions_in_use == regions
    finally:
        root.close()


def _rows_in_java_reader(client: gatun.GatunClient, reader: gatun.JavaObject) -> list[int]:
    """Rows of each batch a Java ``ArrowReader`` loads (consuming it)."""
    rows = []
    while reader.loadNextBatch():
        root = _root_of(client, reader)
        rows.append(int(root.getRowCount()))
    return rows


def _root_of(client: gatun.GatunClient, reader: gatun.JavaObject) -> gatun.JavaObject:
    # A reference: returned by value, the root would cross to Python as a table.
    return client.invoke_method(reader, "getVectorSchemaRoot", return_object_ref=True)


def test_a_batch_larger_than_a_segment_is_split_by_rows(client: gatun.GatunClient) -> None:
    """640 MB in one batch crosses as several batches of one reader (a region
    lives in one segment of at most 1 GiB; pieces are kept to 512 MiB)."""
    table = pa.table({"v": np.zeros(80_000_000)})
    reader = client.send_arrow(table)
    try:
        assert reader.class_name == "gatun.server.arrow.BridgeArrowReader"
        rows = _rows_in_java_reader(client, reader)
        assert len(rows) >= 2
        assert sum(rows) == 80_000_000
    finally:
        reader.close()
    del table, reader


def test_a_table_of_several_chunks_crosses_as_one_reader(client: gatun.GatunClient) -> None:
    """Each chunk crosses like a batch (no concatenation): chunks built in the
    arena are not copied; Java reads them in order from one reader."""
    chunks = []
    for start in (0, 100_000, 200_000):
        x = client.arena.numpy(100_000, "int64")
        x[:] = np.arange(start, start + 100_000)
        chunks.append(pa.record_batch({"x": x}))
    table = pa.Table.from_batches(chunks)
    before = client._native.arrow_stats()
    reader = client.send_arrow(table)
    after = client._native.arrow_stats()
    try:
        assert reader.class_name == "gatun.server.arrow.BridgeArrowReader"
        assert after["bytes_copied"] == before["bytes_copied"], "nothing was copied"
        assert after["batches"] - before["batches"] == 3
        firsts = []
        while reader.loadNextBatch():
            root = _root_of(client, reader)
            firsts.append(int(client.invoke_method(root, "slice", 0, 1).column("x")[0].as_py()))
        assert firsts == [0, 100_000, 200_000]
    finally:
        reader.close()
    # Upstream's calls combine the chunks into one root, as upstream does.
    assert client.send_arrow_table(table) == "Received 300000 rows"
    assert client.get_arrow_data().equals(table.combine_chunks())
    client.reset_payload_arena()
    del chunks, table, reader, x
    gc.collect()


def test_a_negative_count_is_named_as_such(client: gatun.GatunClient) -> None:
    with pytest.raises(ValueError, match="counts must be non-negative"):
        client.arena.numpy(-1, "int64")
    with pytest.raises(ValueError, match=r"\(2, -3\) has a negative dimension"):
        client.arena.numpy((2, -3), "int64")
    assert client.arena.numpy(0, "int64").shape == (0,)
