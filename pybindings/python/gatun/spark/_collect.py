"""Spark DataFrames to Arrow, pandas and polars through shared memory.

``gatun.spark.SparkBridge`` runs the DataFrame's job; in local mode tasks
write their rows into vectors on the bridge allocator, which cross without a
copy. Results are shaped as PySpark's ``toArrow()`` / ``toPandas()`` shape
them (the same schema helpers and the same pandas converters).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gatun.spark import _gateway
from gatun.spark._types import SessionConf, result_schema

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    from pyspark.sql.types import StructType

    from gatun.client import GatunClient
    from gatun.objects import JavaObject

__all__ = ["to_arrow", "to_arrow_reader", "to_pandas", "to_polars"]

_BRIDGE = "gatun.spark.SparkBridge"


@dataclass
class _Source:
    """A Dataset as gatun reaches it, with its schema and session settings."""

    client: GatunClient
    jdf: JavaObject
    schema: StructType
    conf: SessionConf
    #: the PySpark session, when the Dataset came as a PySpark DataFrame
    spark: Any = None


def _source(df: Any) -> _Source:
    """``df`` (a PySpark DataFrame, or a gatun proxy of a Java ``Dataset``)
    resolved for reading, or a ``TypeError`` saying what it is not."""
    from gatun.objects import JavaObject

    if isinstance(df, JavaObject):
        client = df._client
        if client.closed:
            from gatun.exceptions import BridgeClosedError

            raise BridgeClosedError("the gatun client of this Dataset proxy is closed")
        if not client.is_instance_of(df, "org.apache.spark.sql.Dataset"):
            raise TypeError(f"expected a Java org.apache.spark.sql.Dataset, not a {df.class_name}")
        from pyspark.sql.types import StructType

        schema = StructType.fromJson(json.loads(str(df.schema().json())))
        return _Source(client, df, schema, SessionConf.of_java(df.sparkSession()))
    from pyspark.sql import DataFrame

    if not isinstance(df, DataFrame):
        raise TypeError(
            f"expected a pyspark.sql.DataFrame or a gatun JavaObject of a Dataset, "
            f"not {type(df).__name__}"
        )
    spark = df.sparkSession
    _gateway.check_classic(spark)
    client = _gateway.attach(spark)
    jdf = _gateway.to_gatun(client, df._jdf)
    return _Source(client, jdf, df.schema, SessionConf.of_pyspark(spark), spark)


def _read(source: _Source, method: str) -> tuple[pa.RecordBatchReader, JavaObject]:
    """The batches ``SparkBridge.<method>`` serves, as a pyarrow reader, and
    the Java reader behind it (asked for by reference, to ask it for its
    job's failure)."""
    from gatun.arrow import java_stream

    reader = source.client.invoke_static_method(_BRIDGE, method, source.jdf, return_object_ref=True)
    return java_stream(source.client, reader), reader


def _job_error(source: _Source, java_reader: JavaObject, error: BaseException) -> BaseException:
    """For a DataFrame of a PySpark session, the exception PySpark's own
    ``toArrow()`` raises when its job fails as this result's did
    (``pyspark.errors`` classes for Spark's known failures, else py4j's
    ``Py4JJavaError``), so that code catching PySpark's exceptions catches
    them here too; else ``error`` itself."""
    from gatun.exceptions import JavaException

    if source.spark is None or not isinstance(error, JavaException):
        return error
    try:
        failure = source.client.invoke_static_method(_BRIDGE, "failureOf", java_reader)
        if failure is None:
            return error
        from py4j.java_gateway import is_instance_of
        from py4j.protocol import Py4JJavaError
        from pyspark.errors.exceptions.captured import UnknownException, convert_exception

        java = _gateway.to_py4j(source.spark, failure)
        gateway = source.spark.sparkContext._gateway
        # What PySpark does with its job's failure (unwrap_spark_exception): a
        # SparkException is known by its cause. (A job submitted on its own
        # fails with the task's exception itself.)
        cause = java
        if is_instance_of(gateway, java, "org.apache.spark.SparkException"):
            cause = java.getCause() or java
        converted = convert_exception(cause)
        if not isinstance(converted, UnknownException):
            return converted
        return Py4JJavaError("An error occurred while reading the result of a Spark job", java)
    except Exception:  # noqa: BLE001 - the original error says more than a failed conversion
        return error


def to_arrow(df: Any) -> pa.Table:
    """The whole DataFrame as a ``pyarrow.Table`` equal to PySpark's
    ``df.toArrow()`` (one job; in local mode the columns are shared, not copied;
    in cluster mode executors push each partition's Arrow batches over a socket
    into the driver's shared memory, unless Spark encrypts its traffic or the
    session sets ``spark.gatun.pushResults=false``).

    ``df``: a PySpark ``DataFrame`` or a gatun ``JavaObject`` of a Java
    ``Dataset`` (no PySpark session needed: its own client is used).
    """
    source = _source(df)
    target = result_schema(source.schema, source.conf, "UTC")
    return _table(source, target)


def _table(source: _Source, target: pa.Schema) -> pa.Table:
    import pyarrow as pa

    reader, java_reader = _read(source, "toArrow")
    error: BaseException | None = None
    try:
        batches = [b for b in reader if b.num_rows]
    except BaseException as e:  # noqa: BLE001 - re-raised below
        error = _job_error(source, java_reader, e)
    reader.close()
    if error is not None:
        # Results not read yet stay parked in the JVM while anything reaches
        # the Java reader, and a traceback through the reading frames would:
        # the error goes on without them.
        del reader, java_reader
        raise error.with_traceback(None)
    if not batches:
        return target.empty_table()
    table = pa.Table.from_batches(batches)
    # Field metadata too (Spark's JSON of an alias, say, is spaced as PySpark's).
    return table if table.schema.equals(target, check_metadata=True) else table.cast(target)


def to_arrow_reader(df: Any) -> pa.RecordBatchReader:
    """The DataFrame as a ``pyarrow.RecordBatchReader``: partitions are
    computed one at a time as the reader is read, so memory stays bounded
    (results larger than the arena flow through). Batches are in partition
    order and in the schema of :func:`to_arrow`."""
    import pyarrow as pa

    source = _source(df)
    target = result_schema(source.schema, source.conf, "UTC")
    reader, java_reader = _read(source, "toArrowReader")

    def batches() -> Iterator[pa.RecordBatch]:
        from gatun.exceptions import JavaException

        with reader:
            try:
                for batch in reader:
                    yield batch if batch.schema == target else batch.cast(target)
            except JavaException as e:
                raise _job_error(source, java_reader, e).with_traceback(None) from None

    return pa.RecordBatchReader.from_batches(target, batches())


def to_pandas(df: Any) -> pd.DataFrame:
    """The DataFrame as a ``pandas.DataFrame`` equal to PySpark's
    ``df.toPandas()`` with Arrow enabled (dtypes, time zones, nulls, dates as
    ``datetime.date``, structs per ``spark.sql.execution.pandas.structHandlingMode``)."""
    from gatun.spark._pandas import arrow_to_pandas

    source = _source(df)
    # PySpark converts the batches as the JVM sends them (timestamps in the
    # session zone); an empty result is its UTC schema's empty table.
    target = result_schema(source.schema, source.conf, source.conf.time_zone)
    table = _table(source, target)
    if table.num_rows == 0:
        table = result_schema(source.schema, source.conf, "UTC").empty_table()
    return arrow_to_pandas(
        table,
        source.schema,
        timezone=source.conf.time_zone,
        struct_handling_mode=source.conf.struct_handling_mode,
    )


def to_polars(df: Any) -> pl.DataFrame:
    """The DataFrame as a ``polars.DataFrame`` (of :func:`to_arrow`'s table)."""
    import polars as pl

    return pl.from_arrow(to_arrow(df))  # type: ignore[return-value]
