"""Every type of PySpark's Arrow path, with nulls, through gatun.spark and
through PySpark's own code, under both useLargeVarTypes settings and both
masters: the results must be equal."""

from __future__ import annotations

import datetime as dt
import decimal
import struct
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from conftest import restore_conf, set_conf

import gatun.spark as gs

N = 50  # rows; every column has nulls


def _column(values: list[Any], t: pa.DataType) -> pa.Array:
    """``values`` with every third entry null."""
    return pa.array([None if i % 3 == 1 else v for i, v in enumerate(values)], t)


def _typed_table() -> pa.Table:
    n = range(N)
    ts = [dt.datetime(2024, 3, 10, 1, 30) + dt.timedelta(hours=i, microseconds=i) for i in n]
    tz = [t.replace(tzinfo=dt.timezone.utc) for t in ts]
    return pa.table(
        {
            "bool": _column([i % 2 == 0 for i in n], pa.bool_()),
            "i8": _column([i - 20 for i in n], pa.int8()),
            "i16": _column([i * 300 for i in n], pa.int16()),
            "i32": _column([i * 70_000 for i in n], pa.int32()),
            "i64": _column([i * 2**40 for i in n], pa.int64()),
            "f32": _column([i / 4 for i in n], pa.float32()),
            "f64": _column([i / 3 for i in n], pa.float64()),
            "dec": _column(
                [(decimal.Decimal(i) / 7).quantize(decimal.Decimal("0.0001")) for i in n],
                pa.decimal128(10, 4),
            ),
            "dec38": _column([decimal.Decimal(10**37 + i) for i in n], pa.decimal128(38, 0)),
            "str": _column([f"s{i}é" for i in n], pa.string()),
            "bin": _column([bytes([i, 0, 255]) for i in n], pa.binary()),
            "date": _column(
                [dt.date(2000, 1, 1) + dt.timedelta(days=i * 40) for i in n], pa.date32()
            ),
            "ts_utc": _column(tz, pa.timestamp("us", tz="UTC")),
            "ts_zone": _column(tz, pa.timestamp("us", tz="Asia/Tokyo")),
            "ts_naive": _column(ts, pa.timestamp("us")),
            "interval": _column(
                [dt.timedelta(days=i, microseconds=i) for i in n], pa.duration("us")
            ),
            "arr": _column([list(range(i % 4)) for i in n], pa.list_(pa.int32())),
            "arr_nulls": _column([[None, i] for i in n], pa.list_(pa.int64())),
            "map": _column([[("k", i), ("l", None)] for i in n], pa.map_(pa.string(), pa.int64())),
            "struct": _column(
                [{"a": i, "b": f"b{i}"} for i in n],
                pa.struct([("a", pa.int32()), ("b", pa.string())]),
            ),
            "nested": _column(
                [[{"x": [i, None], "y": {"z": dt.date(2020, 1, 1)}}] for i in n],
                pa.list_(
                    pa.struct([("x", pa.list_(pa.int16())), ("y", pa.struct([("z", pa.date32())]))])
                ),
            ),
        }
    )


@pytest.fixture
def large(spark: Any, large_var_types: bool) -> Any:
    key = "spark.sql.execution.arrow.useLargeVarTypes"
    old = set_conf(spark, key, str(large_var_types).lower())
    yield large_var_types
    restore_conf(spark, key, old)


def _assert_same_frame(ours: Any, theirs: Any) -> None:
    assert ours.schema == theirs.schema
    assert ours.collect() == theirs.collect()


def test_create_dataframe_equals_pyspark(spark: Any, large: bool) -> None:
    table = _typed_table()
    ours = gs.create_dataframe(spark, table)
    theirs = spark.createDataFrame(table)
    _assert_same_frame(ours, theirs)
    # What Spark holds, read back by PySpark's own code, is the same too.
    assert ours.toArrow().equals(theirs.toArrow())


#: Decimal columns whose results come from executors in other JVMs.
_DECIMALS = ("dec", "dec38")


def test_to_arrow_and_to_pandas_equal_pyspark(spark: Any, large: bool) -> None:
    table = _typed_table()
    df = spark.createDataFrame(table)
    theirs = df.toArrow()
    ours = gs.to_arrow(df)
    assert ours.schema == theirs.schema
    assert ours.equals(theirs)
    if large:
        assert ours.schema.field("str").type == pa.large_string()
    pd.testing.assert_frame_equal(gs.to_pandas(df), df.toPandas())
    assert gs.to_arrow_reader(df).read_all().equals(theirs)
    assert gs.to_polars(df).to_arrow().num_rows == N


def test_cluster_decimals_to_arrow(spark_cluster: Any) -> None:
    """Results loaded from executors' IPC messages keep Decimal128 on 16-byte
    boundaries (gatun.spark.WideValues), which the importer requires."""
    df = spark_cluster.createDataFrame(_typed_table().select(list(_DECIMALS)))
    assert gs.to_arrow(df).equals(df.toArrow())


def test_empty_frames_keep_their_schema(spark: Any, large: bool) -> None:
    table = _typed_table().slice(0, 0)
    ours = gs.create_dataframe(spark, table)
    theirs = spark.createDataFrame(table)
    assert ours.schema == theirs.schema
    assert ours.count() == 0
    assert gs.to_arrow(theirs).equals(theirs.toArrow())
    pd.testing.assert_frame_equal(gs.to_pandas(theirs), theirs.toPandas())
    assert gs.to_arrow_reader(theirs).read_all().equals(theirs.toArrow())
    filtered = spark.createDataFrame(_typed_table()).where("i64 < 0")
    assert gs.to_arrow(filtered).equals(filtered.toArrow())
    widened = pa.table(  # types converted on the way in, with no rows (no chunks) to convert
        {
            "ll": pa.array([], pa.large_list(pa.int64())),
            "fl": pa.array([], pa.list_(pa.int32(), 2)),
            "m": pa.array([], pa.map_(pa.string(), pa.large_list(pa.int8()))),
            "ts": pa.array([], pa.timestamp("ns")),
        }
    ).slice(0, 0)
    ours = gs.create_dataframe(spark, widened)
    assert ours.schema == spark.createDataFrame(widened).schema
    assert ours.count() == 0


def test_timestamp_ntz_session(spark_local: Any) -> None:
    spark = spark_local
    old = set_conf(spark, "spark.sql.timestampType", "TIMESTAMP_NTZ")
    try:
        table = pa.table(
            {"t": pa.array([dt.datetime(2024, 3, 10, 2, 30), None], pa.timestamp("ns"))}
        )
        ours = gs.create_dataframe(spark, table)
        theirs = spark.createDataFrame(table)
        assert str(ours.schema["t"].dataType) == "TimestampNTZType()"
        _assert_same_frame(ours, theirs)
        assert gs.to_arrow(ours).equals(theirs.toArrow())
        pd.testing.assert_frame_equal(gs.to_pandas(ours), theirs.toPandas())
    finally:
        restore_conf(spark, "spark.sql.timestampType", old)


def test_types_pyspark_refuses_are_widened(spark_local: Any) -> None:
    """Unsigned, views, large, dictionaries, date64, float16, fixed-size:
    each arrives as the Spark type of its lossless widening."""
    spark = spark_local
    table = pa.table(
        {
            "u8": pa.array([255, None], pa.uint8()),
            "u16": pa.array([65535, 1], pa.uint16()),
            "u32": pa.array([2**32 - 1, 2], pa.uint32()),
            "u64": pa.array([2**64 - 1, None], pa.uint64()),
            "view": pa.array(["a", None], pa.string_view()),
            "large": pa.array(["b", "c"], pa.large_string()),
            "dict": pa.array(["x", "y"]).dictionary_encode(),
            "d64": pa.array([dt.date(2024, 1, 2), None], pa.date64()),
            "half": pa.array([1.5, None], pa.float16()) if hasattr(pa, "float16") else pa.nulls(2),
            "fixed": pa.array([b"ab", b"cd"], pa.binary(2)),
            "large_list": pa.array([[1], None], pa.large_list(pa.int8())),
        }
    )
    df = gs.create_dataframe(spark, table)
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert types == {
        "u8": "smallint",
        "u16": "int",
        "u32": "bigint",
        "u64": "decimal(20,0)",
        "view": "string",
        "large": "string",
        "dict": "string",
        "d64": "date",
        "half": "float",
        "fixed": "binary",
        "large_list": "array<tinyint>",
    }
    row = df.collect()[0]
    assert row.u64 == decimal.Decimal(2**64 - 1)
    assert row.u8 == 255
    assert row.dict == "x"
    assert row.d64 == dt.date(2024, 1, 2)
    assert row.fixed == b"ab"


def test_time_of_day(spark_local: Any) -> None:
    """Spark 4's TIME (only partly supported by Spark 4.3: filters refuse it)."""
    spark = spark_local
    table = pa.table(
        {
            "t": pa.array([dt.time(1, 2, 3, 4), None], pa.time64("us")),
            "t32": pa.array([dt.time(23, 59, 59), None], pa.time32("s")),
        }
    )
    ours = gs.create_dataframe(spark, table)
    # PySpark refuses time32; its own path gets the column as time64.
    plain = pa.schema([("t", pa.time64("us")), ("t32", pa.time64("us"))])
    theirs = spark.createDataFrame(table.cast(plain))
    _assert_same_frame(ours, theirs)
    assert gs.to_arrow(ours).equals(theirs.toArrow())


def test_pandas_as_pyspark_converts_it(spark: Any, large: bool) -> None:
    pdf = pd.DataFrame(
        {
            "i": [1, 2, None],
            "s": ["a", None, "c"],
            "t": pd.to_datetime(["2024-03-10 01:00", None, "2024-11-03 01:30"]),
            "tz": pd.to_datetime(["2024-03-10 01:00", None, "2024-01-01 00:00"]).tz_localize(
                "Europe/Paris"
            ),
            "d": [dt.date(2020, 1, 1), None, dt.date(2021, 1, 1)],
            "b": [True, False, None],
        },
        index=[10, 20, 30],  # dropped, as PySpark drops it
    )
    ours = gs.create_dataframe(spark, pdf)
    theirs = spark.createDataFrame(pdf)
    _assert_same_frame(ours, theirs)
    pd.testing.assert_frame_equal(gs.to_pandas(ours), theirs.toPandas())


def test_polars_and_duckdb(spark_local: Any) -> None:
    import duckdb
    import polars as pl

    spark = spark_local
    pldf = pl.DataFrame({"a": [1, 2, None], "s": ["x", None, "z"]})
    df = gs.create_dataframe(spark, pldf)
    assert df.collect() == spark.createDataFrame(pldf.to_arrow()).collect()
    back = gs.to_polars(df)
    assert back.equals(pldf)
    rel = duckdb.sql("select range::BIGINT as r, 'v' || range as v from range(5)")
    ddf = gs.create_dataframe(spark, rel)
    assert sorted(r.r for r in ddf.collect()) == [0, 1, 2, 3, 4]


#: The columns local mode copies from Spark's columnar batches (gatun.spark.ColumnCopier).
_COLUMNAR = (
    *("bool", "i8", "i16", "i32", "i64", "f32", "f64", "str", "bin", "date"),
    *("ts_utc", "ts_zone", "ts_naive"),
)


@pytest.fixture
def large_conf(spark: Any, large_var_types: bool) -> Any:
    key = "spark.sql.execution.arrow.useLargeVarTypes"
    old = set_conf(spark, key, str(large_var_types).lower())
    yield large_var_types
    restore_conf(spark, key, old)


def _columnar_to_row_rows(df: Any) -> int:
    """Rows Spark's ColumnarToRow produced for ``df``'s plan so far."""
    node = df._jdf.queryExecution().executedPlan()
    while node.getClass().getSimpleName() != "ColumnarToRowExec":
        node = node.child()
    return int(node.longMetric("numOutputRows").value())


@pytest.mark.parametrize("fmt", ["parquet", "orc"])
def test_columnar_scans_equal_pyspark(
    spark: Any, large_conf: bool, tmp_path: Any, fmt: str
) -> None:
    """A Parquet or ORC file read back (a partition column among them) is copied
    from Spark's columnar batches, not converted to rows (in tasks of the driver,
    or on executors): Spark's ColumnarToRow produces no row, and the result is
    PySpark's."""
    table = (
        _typed_table()
        .select(list(_COLUMNAR))
        .append_column("part", pa.array(["a" if i % 2 else "b" for i in range(N)]))
    )
    path = str(tmp_path / f"data.{fmt}")
    spark.createDataFrame(table).write.partitionBy("part").format(fmt).save(path)
    df = spark.read.format(fmt).load(path)
    ours = gs.to_arrow(df)
    assert _columnar_to_row_rows(df) == 0
    theirs = df.toArrow()
    assert _columnar_to_row_rows(df) == N  # PySpark's path took rows: the probe sees them
    assert ours.schema == theirs.schema
    assert ours.equals(theirs)
    pd.testing.assert_frame_equal(gs.to_pandas(df), df.toPandas())


def test_columnar_batches_fill_and_split_arrow_batches(spark_local: Any, tmp_path: Any) -> None:
    """Many Spark batches (4,096 rows) fill one Arrow batch of at most 2^18 rows,
    and one that straddles that limit is split: every row arrives once, in order,
    its nulls kept."""
    spark = spark_local
    n = 2**18 + 5_000
    path = str(tmp_path / "big.parquet")
    spark.range(0, n, 1, 1).selectExpr(
        "id",
        "if(id % 7 = 0, null, cast(id as string)) as s",
        "if(id % 5 = 0, null, cast(id as double) / 2) as f",
    ).write.parquet(path)
    df = spark.read.parquet(path)
    ours = gs.to_arrow(df)
    assert _columnar_to_row_rows(df) == 0
    assert [b.num_rows for b in ours.to_batches()] == [2**18, 5_000]
    assert ours.equals(df.toArrow())


def _cache_scan_rows(df: Any) -> int:
    """Rows Spark's in-memory scan produced for ``df``'s plan so far."""
    scan = df._jdf.queryExecution().executedPlan()
    assert scan.getClass().getSimpleName() == "InMemoryTableScanExec"
    return int(scan.longMetric("numOutputRows").value())


def _cache_schemes(df: Any) -> set[int]:
    """The compression schemes of the cached columns' batches (Spark's ids: 0
    pass-through, 1 run-length, 2 dictionary, ...), read from the cache."""
    relation = df._jdf.queryExecution().executedPlan().relation()
    schemes = set()
    for batch in relation.cacheBuilder().cachedColumnBuffers().collect():
        for column in batch.buffers():
            b = bytes(column)
            nulls = struct.unpack_from("<i", b, 0)[0]
            schemes.add(struct.unpack_from("<i", b, 4 + 4 * nulls)[0])
    return schemes


def test_cache_with_strings_is_decoded_as_columns(spark: Any, large_conf: bool) -> None:
    """A cached DataFrame with strings, which Spark's cache scan turns into rows,
    is decoded from the cache column by column (the scan produces no row) and
    equals PySpark's: strings and binaries stored as they are, in runs and in a
    dictionary, with nulls, over many cached batches."""
    n = 2 * N
    table = pa.concat_tables([_typed_table().select(list(_COLUMNAR))] * 2).append_column(
        "runs", _column(["long-run" if i < 60 else "é" for i in range(n)], pa.string())
    )
    table = table.append_column("few", _column([f"v{i % 3}" for i in range(n)], pa.string()))
    old = set_conf(spark, "spark.sql.inMemoryColumnarStorage.batchSize", "40")
    try:
        df = spark.createDataFrame(table).cache()
        df.count()
    finally:
        restore_conf(spark, "spark.sql.inMemoryColumnarStorage.batchSize", old)
    try:
        assert {0, 1, 2} <= _cache_schemes(df)
        assert not df._jdf.queryExecution().executedPlan().supportsColumnar()
        ours = gs.to_arrow(df)
        assert _cache_scan_rows(df) == 0
        theirs = df.toArrow()
        assert _cache_scan_rows(df) == n  # PySpark's path scanned rows: the probe sees them
        assert ours.schema == theirs.schema
        assert ours.equals(theirs)
        pd.testing.assert_frame_equal(gs.to_pandas(df), df.toPandas())
        selected = df.select("few", "i64", "str")  # a projection of the cache is decoded too
        assert gs.to_arrow(selected).equals(selected.toArrow())
    finally:
        df.unpersist()


def test_columnar_cache_equals_pyspark(spark: Any, large_conf: bool) -> None:
    """A cached DataFrame whose in-memory scan is columnar (Spark's cache
    serializer makes columns of booleans and numbers only) equals PySpark's; one
    with a type the copy leaves to rows (a decimal) takes rows, and equals
    PySpark's too."""
    numbers = ["bool", "i8", "i16", "i32", "i64", "f32", "f64"]
    whole = spark.createDataFrame(_typed_table().select([*_COLUMNAR, "dec"])).cache()
    df = whole.select(numbers).cache()
    try:
        assert df._jdf.queryExecution().executedPlan().supportsColumnar()
        assert gs.to_arrow(df).equals(df.toArrow())
        pd.testing.assert_frame_equal(gs.to_pandas(df), df.toPandas())
        assert not whole._jdf.queryExecution().executedPlan().supportsColumnar()
        assert gs.to_arrow(whole).equals(whole.toArrow())
    finally:
        df.unpersist()
        whole.unpersist()
