"""Lifetime (issue 14 item 6): a DataFrame made from Python data stays valid
while referenced — re-executed, cached, used after its Python source is gone —
and its memory comes back once it is unreachable and at spark.stop()."""

from __future__ import annotations

import gc
import time
from typing import Any

import pyarrow as pa
import pytest
from conftest import LOCAL, session_for, wait_unparked

import gatun
import gatun.spark as gs
from gatun import _session


def _table(n: int) -> pa.Table:
    return pa.table({"i": pa.array(range(n), pa.int64()), "s": [f"v{i % 10}" for i in range(n)]})


def _arena_regions(client: Any) -> int:
    client.ping()
    return client._session.native.arena_regions_in_use


def test_dataframe_outlives_its_python_source(spark: Any) -> None:
    table = _table(10_000)
    df = gs.create_dataframe(spark, table)
    del table
    gc.collect()
    expected = [(sum(range(10_000)), 10_000)]
    for _ in range(3):  # re-executed: each action reads the same parked data
        assert [tuple(r) for r in df.selectExpr("sum(i)", "count(*)").collect()] == expected
    cached = df.where("i % 2 = 0").cache()
    assert cached.count() == 5_000
    assert cached.count() == 5_000  # from the cache
    assert df.groupBy("s").count().count() == 10
    cached.unpersist(blocking=True)


def test_memory_comes_back_once_unreachable(spark_local: Any) -> None:
    spark = spark_local
    client = gs.attach(spark)
    wait_unparked(spark)
    before = _arena_regions(client)
    bridge = spark._jvm.gatun.spark.SparkBridge
    df = gs.create_dataframe(spark, _table(100_000))
    assert df.count() == 100_000
    assert bridge.parkedTables() == 1
    assert bridge.parkedBytes() > 100_000 * 8
    assert _arena_regions(client) > before  # the columns live in Python's arena
    del df
    wait_unparked(spark)
    assert bridge.parkedBytes() == 0
    client.gc()  # the JVM's releases reach Python
    assert _arena_regions(client) == before


def test_spark_stop_ends_the_server_and_releases_everything(spark_local: Any) -> None:
    spark = spark_local
    client = gs.attach(spark)
    assert gs.attach(spark) is client  # cached per session
    df = gs.create_dataframe(spark, _table(1_000))
    assert df.count() == 1_000
    jvm = spark._jvm
    assert jvm.gatun.spark.SparkBridge.parkedTables() == 1
    spark.stop()
    assert client.closed
    with pytest.raises(gatun.BridgeClosedError, match=r"SparkSession was stopped"):
        client.jvm.java.lang.System.currentTimeMillis()
    assert jvm.gatun.spark.SparkBridge.parkedTables() == 0
    assert not [s for s in _session.live_sessions() if s is client._session and not s.closed]
    # A new session of the same process attaches afresh.
    spark = session_for(LOCAL)
    again = gs.attach(spark)
    assert again is not client
    assert not again.closed
    assert gs.create_dataframe(spark, _table(10)).count() == 10


def test_results_python_dropped_go_back_to_the_arena_at_spark_stop(spark_local: Any) -> None:
    """Blocks of the driver's arena that Python received and then dropped are
    free again once spark.stop() ends the session (they were kept until this
    process exited, and every new session in a notebook grew /dev/shm)."""
    spark = spark_local
    bridge = spark._jvm.gatun.server.arrow.ArrowBridge
    gs.attach(spark)
    before = bridge.arenaBlocksInUse()
    table = gs.to_arrow(spark.range(0, 1_000_000, 1, 4).selectExpr("id", "concat('x', id) AS s"))
    assert bridge.arenaBlocksInUse() > before  # Python holds the result in place
    del table
    gc.collect()
    jvm = spark._jvm
    spark.stop()
    deadline = time.monotonic() + 30
    while bridge.arenaBlocksInUse() > before and time.monotonic() < deadline:
        jvm.java.lang.System.gc()  # the reader's last batch goes with the reader
        time.sleep(0.1)
    assert bridge.arenaBlocksInUse() <= before


def test_closing_the_client_never_stops_spark(spark_local: Any) -> None:
    spark = spark_local
    client = gs.attach(spark)
    client.close()
    assert spark.range(3).count() == 3  # Spark goes on
    again = gs.attach(spark)  # a new session on the same server
    assert again is not client
    assert gs.to_arrow(spark.range(3)).num_rows == 3


def test_creating_and_dropping_more_than_the_arena_holds(spark_local: Any) -> None:
    """Found by the user-style review: with a 256 MB arena, the fifth 40 MB
    DataFrame failed with "arena full" although every earlier one was dropped;
    a full arena now collects in Python (the dropped DataFrame's py4j proxy)
    and in the JVM before it gives up."""
    spark = spark_local
    gs.attach(spark).close()
    client = gs.attach(spark, memory="256MB")
    try:
        rows = 5_000_000  # 40 MB of int64
        for round_ in range(8):
            df = gs.create_dataframe(spark, pa.table({"i": pa.array(range(rows), pa.int64())}))
            assert df.count() == rows, round_
            del df
    finally:
        client.close()
        gs.attach(spark)  # the other tests' default client
