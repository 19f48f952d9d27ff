"""``create_dataframe``: Python Arrow data as a Spark DataFrame, through
shared memory. The data is prepared exactly as PySpark's ``createDataFrame``
prepares it (see :mod:`gatun.spark._types`), crosses once into the arena,
and ``gatun.spark.SparkBridge`` builds the Dataset in the driver JVM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gatun.spark import _gateway
from gatun.spark._types import SessionConf, SparkArrowSchema, plan_schema

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["create_dataframe", "prepare"]

_BRIDGE = "gatun.spark.SparkBridge"


def create_dataframe(
    spark: SparkSession, data: Any, *, num_partitions: int | None = None
) -> DataFrame:
    """A Spark DataFrame of ``data``: in local mode tasks read the table in
    place in shared memory; in cluster mode it travels to the executors as
    Arrow IPC messages (as PySpark's own Arrow path sends it).

    ``data``: a pyarrow ``Table``, ``RecordBatch`` or ``RecordBatchReader``
    (a stream is pulled batch by batch, so it may be larger than the arena),
    a pandas or polars ``DataFrame``, a DuckDB result, or any Arrow PyCapsule
    producer. Column types become Spark's as in ``spark.createDataFrame``
    (unsigned integers widened as Spark's Parquet reader does, views, dictionaries
    and ``date64`` decoded, timestamps to microseconds in the session's zone
    rules); a column Spark cannot hold raises
    :class:`~gatun.UnsupportedArrowTypeError` naming it.
    ``num_partitions``: ``None`` (about one per core) or a count; the rows
    keep their order across the partitions either way.
    """
    from pyspark.sql import DataFrame

    _gateway.check_classic(spark)
    if num_partitions is not None and (
        isinstance(num_partitions, bool)
        or not isinstance(num_partitions, int)
        or num_partitions < 1
    ):
        raise ValueError(
            f"num_partitions must be a positive integer or None, not {num_partitions!r}"
        )
    conf = SessionConf.of_pyspark(spark)
    prepared = prepare(data, conf)
    client = _gateway.attach(spark)
    jsession = _gateway.gatun_session(spark)
    sent = client.send_arrow(_as_sendable(prepared, client.memory))
    bridge = client.jvm.gatun.spark.SparkBridge
    jdf = bridge.createDataFrame(jsession, sent, num_partitions or 0)
    return DataFrame(_gateway.to_py4j(spark, jdf), spark)


#: Above this share of the arena a table is sent as a pulled stream (which
#: Spark reads as Arrow IPC messages) instead of one batch read in place.
_IN_PLACE_SHARE = 0.5
#: Rows per batch of a table sent as a stream.
_STREAM_BATCH_ROWS = 1 << 20


def _as_sendable(data: pa.Table | pa.RecordBatchReader, arena: int | None) -> Any:
    """What to send: a table that fits the arena as one batch (one Java root,
    which local-mode tasks read in place); a larger one as a stream."""
    import pyarrow as pa

    if isinstance(data, pa.RecordBatchReader):
        return data
    if arena is not None and data.nbytes > arena * _IN_PLACE_SHARE:
        batches = data.to_batches(max_chunksize=_STREAM_BATCH_ROWS)
        return pa.RecordBatchReader.from_batches(data.schema, batches)
    if data.num_columns and data.column(0).num_chunks > 1:
        data = data.combine_chunks()  # one batch: one root
    return data


def prepare(data: Any, conf: SessionConf) -> pa.Table | pa.RecordBatchReader:
    """``data`` converted to what Spark's Arrow path reads: a table, or a
    stream converted batch by batch as it is pulled."""
    import pyarrow as pa

    if _is_pandas(data):
        return _from_pandas(data, conf)
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    elif isinstance(data, pa.Table):
        pass
    elif isinstance(data, pa.RecordBatchReader):
        return _converted_stream(data, conf)
    elif hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        from gatun.arrow import as_batches, is_stream

        if is_stream(data):
            return _converted_stream(pa.RecordBatchReader.from_stream(data), conf)
        has_stream = hasattr(data, "__arrow_c_stream__")
        data = pa.table(data) if has_stream else pa.table(as_batches(data))
    elif hasattr(data, "arrow") and callable(data.arrow):  # an older DuckDB relation
        data = data.arrow()
        if isinstance(data, pa.RecordBatchReader):
            return _converted_stream(data, conf)
    else:
        raise TypeError(
            f"cannot make a Spark DataFrame of a {type(data).__name__}: expected Arrow data "
            "(pyarrow, polars, DuckDB, an Arrow PyCapsule producer) or a pandas DataFrame"
        )
    plan = plan_schema(data.schema, conf)
    table = plan.convert_table(data)
    return table if table.num_rows else pa.Table.from_batches([plan.empty()])


def _converted_stream(reader: pa.RecordBatchReader, conf: SessionConf) -> pa.RecordBatchReader:
    import pyarrow as pa

    plan: SparkArrowSchema = plan_schema(reader.schema, conf)

    def batches() -> Any:
        with reader:
            for batch in reader:
                if batch.num_rows:
                    yield plan.convert_batch(batch)

    return pa.RecordBatchReader.from_batches(plan.arrow, batches())


def _is_pandas(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and type(data).__module__.startswith("pandas")


def _from_pandas(pdf: Any, conf: SessionConf) -> pa.Table:
    """A pandas DataFrame as PySpark's Arrow path converts it (its helpers:
    types inferred by Arrow, timestamps in the session zone, the index dropped)."""
    import pyarrow as pa
    from pyspark.sql.pandas.conversion import create_arrow_table_from_pandas
    from pyspark.sql.pandas.types import _deduplicate_field_names

    names = [str(c) for c in pdf.columns]
    inferred = pa.Schema.from_pandas(pdf, preserve_index=False)
    named = pa.schema([f.with_name(n) for f, n in zip(inferred, names, strict=True)])
    plan = plan_schema(named, conf)
    spark_types = [_deduplicate_field_names(f.dataType) for f in plan.spark.fields]
    if not names:
        return pa.Table.from_pandas(pdf, preserve_index=False)
    table = create_arrow_table_from_pandas(
        [(_widened(series), t) for (_, series), t in zip(pdf.items(), spark_types, strict=True)],
        timezone=conf.time_zone,
        safecheck=False,  # spark.sql.execution.pandas.convertToArrowArraySafely default
        prefers_large_types=conf.prefers_large_types,
    )
    table = table.rename_columns(names).cast(plan.arrow)
    return table if table.num_rows else pa.Table.from_batches([plan.empty()])


def _widened(series: Any) -> Any:
    """A ``uint64`` series as the ``decimal(20,0)`` values Spark gets for it
    (PySpark's pandas converter cannot make those of unsigned integers)."""
    if str(series.dtype) not in ("uint64", "UInt64"):
        return series
    import pandas as pd
    import pyarrow as pa

    decimals = pa.array(series, pa.uint64()).cast(pa.decimal128(20, 0)).to_pandas()
    return pd.Series(decimals, index=series.index, name=series.name, dtype=object)
