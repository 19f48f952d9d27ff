"""gatun.spark's surface: partitions, streams larger than the arena, enable /
disable, objects between the two gateways, clear errors for bad input."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from conftest import wait_unparked

import gatun
import gatun.spark as gs
from gatun.spark import _collect


def _table(n: int) -> pa.Table:
    return pa.table({"i": pa.array(range(n), pa.int64()), "f": pa.array([0.5] * n)})


def test_partitions_follow_the_cores_or_the_caller(spark: Any) -> None:
    df = gs.create_dataframe(spark, _table(100_000))
    assert 1 <= df.rdd.getNumPartitions() <= 4  # not one per 10K rows
    df3 = gs.create_dataframe(spark, _table(100_000), num_partitions=3)
    assert df3.rdd.getNumPartitions() == 3
    assert df3.selectExpr("sum(i)").first()[0] == sum(range(100_000))


def _batches(count: int, rows: int) -> Iterator[pa.RecordBatch]:
    for b in range(count):
        start = b * rows
        yield pa.record_batch(
            {"i": pa.array(range(start, start + rows), pa.int64()), "s": ["x" * 24] * rows}
        )


def test_a_stream_larger_than_the_arena(spark: Any) -> None:
    """A 16 MiB arena; a stream of about 80 MB in, and read back batch by batch."""
    gs.attach(spark).close()  # the next attach makes a session with a small arena
    small = gs.attach(spark, memory="16MB")
    try:
        count, rows = 40, 65_536
        schema = next(_batches(1, 1)).schema
        reader = pa.RecordBatchReader.from_batches(schema, _batches(count, rows))
        df = gs.create_dataframe(spark, reader)
        total = count * rows
        assert df.selectExpr("count(*)", "sum(i)").first() == (total, total * (total - 1) // 2)
        seen = 0
        biggest = 0
        for batch in gs.to_arrow_reader(df):
            seen += batch.num_rows
            biggest = max(biggest, batch.nbytes)
        assert seen == total
        assert biggest < 16 << 20
        del df
        wait_unparked(spark)
    finally:
        small.close()


def test_enable_routes_and_falls_back(spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from gatun.spark import _create

    calls: list[str] = []
    for module, name in (
        (_collect, "to_arrow"),
        (_collect, "to_pandas"),
        (_create, "create_dataframe"),
    ):
        real = getattr(module, name)

        def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
            calls.append(_name)
            return _real(*args)

        monkeypatch.setattr(module, name, counted)
    table = pa.table({"a": [1, 2, 3], "t": pa.array([dt.date(2020, 1, 1)] * 3, pa.date32())})
    assert gs.enable(spark)
    try:
        assert gs.is_enabled(spark)
        df = spark.createDataFrame(table)
        assert df.toArrow().equals(df.toArrow.__wrapped__(df))
        assert df.toPandas().equals(df.toPandas.__wrapped__(df))
        assert calls == ["create_dataframe", "to_arrow", "to_pandas"]
        # PySpark's own path for what the fast one does not cover:
        assert spark.createDataFrame(table, schema="a long, t date").count() == 3
        assert spark.createDataFrame([(1, "x")], ["a", "b"]).count() == 1
        assert calls == ["create_dataframe", "to_arrow", "to_pandas"]
        unsupported = pa.table({"m": pa.array([(1, 2, 3)], pa.month_day_nano_interval())})
        with pytest.raises(Exception, match=r"(?i)interval|unsupported"):
            spark.createDataFrame(unsupported)  # ours declines; PySpark's own error
        assert calls == ["create_dataframe", "to_arrow", "to_pandas", "create_dataframe"]
        other = spark.newSession()
        other.createDataFrame(table).toArrow()  # not enabled: PySpark's own
        assert len(calls) == 4
    finally:
        gs.disable(spark)
    assert not gs.is_enabled(spark)
    del calls[:]
    spark.createDataFrame(table).toArrow()
    assert calls == []


def test_objects_move_between_the_gateways(spark_local: Any) -> None:
    spark = spark_local
    client = gs.attach(spark)
    df = spark.range(10).selectExpr("id * 2 as x")
    jdf = gs.to_gatun(client, df._jdf)
    assert isinstance(jdf, gatun.JavaObject)
    assert jdf.count() == 10
    assert gs.to_arrow(jdf).column("x").to_pylist() == list(range(0, 20, 2))
    filtered = jdf.where("x > 10")
    back = gs.to_py4j(spark, filtered)
    from pyspark.sql import DataFrame

    assert DataFrame(back, spark).count() == 4


def test_bad_input_gets_clear_errors(spark_local: Any) -> None:
    spark = spark_local
    client = gs.attach(spark)
    with pytest.raises(TypeError, match=r"pyspark\.sql\.DataFrame or a gatun JavaObject"):
        gs.to_arrow(42)
    with pytest.raises(TypeError, match=r"org\.apache\.spark\.sql\.Dataset"):
        gs.to_pandas(client.jvm.java.util.ArrayList())
    with pytest.raises(TypeError, match="SparkSession"):
        gs.attach("not a session")
    from pyspark.sql import SparkSession

    gatewayless = object.__new__(SparkSession)  # what a Spark Connect session lacks: _jvm
    with pytest.raises(TypeError, match="no py4j gateway"):
        gs.create_dataframe(gatewayless, _table(1))
    assert gs.enable(gatewayless) is False
    with pytest.raises(TypeError, match="pandas DataFrame"):
        gs.create_dataframe(spark, [1, 2, 3])
    with pytest.raises(ValueError, match="num_partitions"):
        gs.create_dataframe(spark, _table(3), num_partitions=0)
    with pytest.raises(gatun.UnsupportedArrowTypeError, match="column 'm'"):
        gs.create_dataframe(
            spark, pa.table({"m": pa.array([(1, 2, 3)], pa.month_day_nano_interval())})
        )
    with pytest.raises(TypeError, match="py4j JavaObject"):
        gs.to_gatun(client, "x")
    with pytest.raises(TypeError, match="gatun JavaObject"):
        gs.to_py4j(spark, spark.range(1)._jdf)
    jdf = gs.to_gatun(client, spark.range(3)._jdf)
    client.close()
    with pytest.raises(gatun.BridgeClosedError):
        gs.to_arrow(jdf)
    assert gs.to_arrow(spark.range(3)).num_rows == 3  # attaches anew


def test_review_findings_polars_categoricals_and_enable_fallbacks(spark_local: Any) -> None:
    """Found by the user-style review: polars Categorical/Enum columns (a
    dictionary of string views) could not be sent; enable() turned PySpark's
    fallback for mixed-object pandas columns into an ArrowInvalid; a dictionary
    of structs failed with pyarrow's error naming no column."""
    import pandas as pd
    import polars as pl

    spark = spark_local
    frame = pl.DataFrame(
        {
            "c": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
            "e": pl.Series(["x", "y", "x"], dtype=pl.Enum(["x", "y"])),
        }
    )
    df = gs.create_dataframe(spark, frame)
    assert [tuple(r) for r in df.orderBy("c", "e").collect()] == [
        ("a", "x"),
        ("a", "x"),
        ("b", "y"),
    ]
    assert gs.enable(spark)
    try:
        mixed = spark.createDataFrame(pd.DataFrame({"a": [1, "x"]}))
        assert [r.a for r in mixed.collect()] == ["1", "x"]
    finally:
        gs.disable(spark)
    structs = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 0], pa.int32()), pa.array([{"k": 1}, {"k": 2}])
    )
    with pytest.raises(gatun.UnsupportedArrowTypeError, match="column 'd'"):
        gs.create_dataframe(spark, pa.table({"d": structs}))


def test_a_gone_driver_is_a_bridge_closed_error() -> None:
    """Found by the user-style review: with the driver JVM gone, attach gave
    py4j's errors (``calling o40.socketPath``, a bare ConnectionRefusedError)."""
    from py4j.protocol import Py4JNetworkError

    from gatun.spark import _gateway

    def refused() -> None:
        raise Py4JNetworkError("An error occurred while trying to connect to the Java server")

    with pytest.raises(gatun.BridgeClosedError, match="Spark driver JVM does not answer"):
        _gateway._through_py4j(refused)

    def connection() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(gatun.BridgeClosedError, match="stopped or killed"):
        _gateway._through_py4j(connection)


def test_attach_says_when_it_ignores_new_settings(spark_local: Any) -> None:
    client = gs.attach(spark_local)
    with pytest.warns(UserWarning, match="already has an open client"):
        again = gs.attach(spark_local, memory="64MB")
    assert again is client


@pytest.mark.timeout(300)
def test_ctrl_c_stops_the_job_and_its_tasks(spark: Any) -> None:
    """Ctrl-C during ``to_arrow`` raises ``KeyboardInterrupt`` and cancels the
    Spark job it started, tasks included (this one would run for hours)."""
    import os
    import signal
    import threading
    import time

    sc = spark.sparkContext  # type: ignore[attr-defined]
    tracker = sc.statusTracker()
    endless = spark.range(0, 10**14, 1, 2).selectExpr("max(id) AS top")  # type: ignore[attr-defined]

    def interrupt_once_tasks_run() -> None:
        deadline = time.monotonic() + 120
        while not tracker.getActiveStageIds() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_once_tasks_run, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            gs.to_arrow(endless)
        deadline = time.monotonic() + 60
        while tracker.getActiveJobsIds():
            if time.monotonic() > deadline:
                sc.cancelAllJobs()
                pytest.fail(
                    f"jobs still running a minute after Ctrl-C: {tracker.getActiveJobsIds()}"
                )
            time.sleep(0.1)
    finally:
        signal.signal(signal.SIGINT, previous)


_THRESHOLD = "spark.sql.execution.arrow.localRelationThreshold"


def _plan(df: Any) -> str:
    return str(df._jdf.queryExecution().analyzed().toString())


def _threshold_set(spark: Any) -> bool:
    return bool(spark._jsparkSession.sessionState().conf().contains(_THRESHOLD))


def test_cluster_mode_distributes_all_but_small_tables(spark_cluster: Any) -> None:
    """Above 1 MiB a table travels to the executors as Arrow (one partition per
    core), not as a local relation of Java-serialised rows inside the tasks;
    the session's setting is left as it was, and a threshold the user set wins."""
    spark = spark_cluster
    big = _table(200_000)  # 3.2 MB
    df = gs.create_dataframe(spark, big)
    assert "LocalRelation" not in _plan(df)
    assert "LogicalRDD" in _plan(df)
    assert df.rdd.getNumPartitions() == spark.sparkContext.defaultParallelism
    assert df.selectExpr("sum(i)").first()[0] == sum(range(200_000))
    assert not _threshold_set(spark)

    small = gs.create_dataframe(spark, _table(1_000))
    assert "LocalRelation" in _plan(small)
    assert small.count() == 1_000

    spark.conf.set(_THRESHOLD, str(64 << 20))
    try:
        kept = gs.create_dataframe(spark, big)
        assert "LocalRelation" in _plan(kept)
        assert spark.conf.get(_THRESHOLD) == str(64 << 20)
    finally:
        spark.conf.unset(_THRESHOLD)


def test_num_partitions_keeps_row_order(spark: Any) -> None:
    """num_partitions= gives that many partitions with the rows in the table's
    order (no shuffle), for a small table, a large one and a stream of fewer
    batches than partitions; fewer rows than partitions leave some empty."""
    stream = pa.RecordBatchReader.from_batches(
        _table(1).schema, _table(300_000).to_batches(max_chunksize=100_000)
    )
    for n, source in [
        (1_000, _table(1_000)),
        (300_000, _table(300_000)),
        (300_000, stream),
        (3, _table(3)),
    ]:
        df = gs.create_dataframe(spark, source, num_partitions=8)
        assert df.rdd.getNumPartitions() == 8
        assert gs.to_arrow(df).column("i").to_pylist() == list(range(n))


def test_cluster_results_come_in_partition_order_and_failures_say_why(
    spark_cluster: Any,
) -> None:
    spark = spark_cluster
    df = spark.range(0, 300_000, 1, 5).selectExpr("id AS i", "cast(id AS string) AS s")
    for _ in range(2):  # read twice: nothing of the first read is left over
        table = gs.to_arrow(df)
        assert table.column("i").to_pylist() == list(range(300_000))
        assert table.equals(df.toArrow())
    failing = spark.range(0, 1_000, 1, 4).selectExpr(
        "if(id = 700, raise_error('row 700 refused'), id) AS i"
    )
    with pytest.raises(Exception, match="row 700 refused"):
        gs.to_arrow(failing)
    wait_unparked(spark)


def test_a_failed_job_raises_what_pyspark_raises(spark: Any) -> None:
    """A job that fails raises PySpark's own exception class for it (here
    SparkRuntimeException, with its error condition), from to_arrow, to_pandas,
    a reader and enable()'s toPandas, as df.toArrow() does; the session works
    after."""
    failing = spark.range(0, 1_000, 1, 4).selectExpr(
        "if(id = 700, raise_error('row 700 refused'), id) AS i"
    )
    with pytest.raises(Exception, match="row 700 refused") as theirs:
        failing.toArrow()
    assert type(theirs.value).__module__.startswith("pyspark.errors")
    for call in (gs.to_arrow, gs.to_pandas, lambda df: gs.to_arrow_reader(df).read_all()):
        with pytest.raises(type(theirs.value), match="row 700 refused") as ours:
            call(failing)
        assert ours.value.getCondition() == theirs.value.getCondition()
    gs.enable(spark)
    try:  # code that catches PySpark's exceptions catches them with enable() too
        with pytest.raises(type(theirs.value), match="row 700 refused"):
            failing.toPandas()
    finally:
        gs.disable(spark)
    assert gs.to_arrow(spark.range(3)).num_rows == 3
    wait_unparked(spark)


def test_a_failed_python_udf_raises_pythonexception(spark_local: Any) -> None:
    from pyspark.errors import PythonException
    from pyspark.sql.functions import udf

    @udf("long")
    def refuse(x):  # type: ignore[no-untyped-def]  (hints would make PySpark guess a pandas UDF)
        if x == 5:
            raise ValueError("five is refused")
        return x

    df = spark_local.range(10).select(refuse("id").alias("x"))
    with pytest.raises(PythonException, match="five is refused"):
        gs.to_arrow(df)


def _last_job_result_bytes(spark: Any) -> int:
    """Bytes the tasks of the last job returned to the driver as their results
    (Spark's resultSize task metric), once Spark's listener has recorded them."""
    tracker = spark.sparkContext.statusTracker()
    store = spark.sparkContext._jsc.sc().statusStore()
    job = max(tracker.getJobIdsForGroup())
    deadline = time.monotonic() + 30
    while True:
        info = tracker.getJobInfo(job)
        tasks = [store.taskList(stage, 0, 10_000) for stage in info.stageIds]
        metrics = [t.apply(i).taskMetrics() for t in tasks for i in range(t.size())]
        if info.status == "SUCCEEDED" and metrics and all(m.isDefined() for m in metrics):
            return sum(int(m.get().resultSize()) for m in metrics)
        assert time.monotonic() < deadline, f"job {job}'s task metrics never arrived"
        time.sleep(0.05)


def test_cluster_results_are_pushed_to_the_driver(spark_cluster: Any) -> None:
    """Executors send a result's partitions straight to the driver's port, on
    the columnar path (a cache) and the row path, and for the reader's
    one-partition jobs: their task results are a few KB, not the data. With
    spark.gatun.pushResults=false Spark carries the data as task results. Both
    equal PySpark's."""
    spark = spark_cluster
    rows = spark.range(0, 200_000, 1, 2).selectExpr("id AS i", "cast(id AS string) AS s")
    cached = rows.cache()
    cached.count()
    expected = rows.toArrow()
    try:
        for df in (cached, rows.filter("i >= 0")):  # a filter over the cache is the row path
            assert gs.to_arrow(df).equals(expected)
            assert _last_job_result_bytes(spark) < 100_000
            assert gs.to_arrow_reader(df).read_all().equals(expected)
            assert _last_job_result_bytes(spark) < 100_000  # the reader's last job
            spark.conf.set("spark.gatun.pushResults", "false")
            try:
                assert gs.to_arrow(df).equals(expected)
                assert _last_job_result_bytes(spark) > 1_000_000
            finally:
                spark.conf.unset("spark.gatun.pushResults")
    finally:
        cached.unpersist()


def test_local_frames_scan_the_table_by_column(spark_local: Any) -> None:
    """In local mode the DataFrame is a columnar scan of the table Python sent:
    only the columns a query reads, with the table's real size, so a small one
    is broadcast in a join (an RDD of rows has no size and never is)."""
    spark = spark_local
    n = 50_000
    table = pa.table(
        {
            "i": pa.array(range(n), pa.int64()),
            "f": pa.array([0.5 * x for x in range(n)]),
            "s": pa.array([None if x % 7 == 0 else f"s{x}" for x in range(n)]),
        }
    )
    df = gs.create_dataframe(spark, table, num_partitions=3)
    one = df.select("i")
    optimized = str(one._jdf.queryExecution().optimizedPlan().toString())
    assert "RelationV2" in optimized
    assert "f#" not in optimized
    assert "s#" not in optimized
    executed = str(one._jdf.queryExecution().executedPlan().toString())
    assert "ColumnarToRow" in executed
    assert "BatchScan" in executed
    size = int(str(df._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))
    assert 0 < size <= 2 * table.nbytes

    small = gs.create_dataframe(spark, table.slice(0, 100))
    joined = spark.range(0, 1_000).withColumnRenamed("id", "i").join(small, "i")
    assert "BroadcastHashJoin" in str(joined._jdf.queryExecution().executedPlan().toString())
    assert joined.count() == 100

    for _ in range(2):  # every range of rows, read twice: no batch closes the table
        assert df.toArrow().equals(table)
        counted = df.selectExpr("count(s)", "sum(i)").first()
        assert counted == (n - len(range(0, n, 7)), sum(range(n)))


def test_review_findings_duplicate_names_unsigned_pandas_and_enable_fallbacks(
    spark_local: Any,
) -> None:
    import numpy as np
    import pandas as pd

    spark = spark_local
    twice = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"])
    df = gs.create_dataframe(spark, twice)
    assert [tuple(r) for r in df.collect()] == [(1, 3), (2, 4)]
    assert df.columns == ["a", "a"]
    assert [tuple(r) for r in df.toDF("x", "y").select("y").collect()] == [(3,), (4,)]

    unsigned = pd.DataFrame({"u": np.array([1, 2**63 + 5], dtype="uint64")})
    assert [r.u for r in gs.create_dataframe(spark, unsigned).collect()] == [1, 2**63 + 5]

    old = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    gs.enable(spark)
    try:
        # PySpark's Arrow path refuses both, then converts without Arrow: so does enable.
        dup = spark.createDataFrame(pd.DataFrame([[1, 2, 3]], columns=["a", "b", "a"]))
        assert [tuple(r) for r in dup.collect()] == [(1, 2, 3)]
        gap = pd.DataFrame({"ts": pd.date_range("2024-03-10 01:00", periods=3, freq="30min")})
        assert spark.createDataFrame(gap).count() == 3
        agg = spark.range(10).selectExpr("id % 2 AS k").groupBy("k").agg({"k": "sum"})
        assert gs.to_arrow(agg).schema.equals(agg.toArrow().schema, check_metadata=True)
    finally:
        gs.disable(spark)
        spark.conf.set("spark.sql.session.timeZone", old)
