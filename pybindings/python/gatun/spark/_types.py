"""Arrow data as Spark's Arrow path accepts it, the way PySpark's own
``createDataFrame`` prepares it, and Spark's results as PySpark's ``toArrow``
returns them.

PySpark's helpers (``from_arrow_type``, ``to_arrow_schema``, the timestamp
localisation) are reused, so types, zones and large-type choices are the
ones PySpark produces; what PySpark refuses but has one obvious lossless
Spark type (unsigned integers, views, ``date64``, ``float16``) is widened first,
as Spark's own Parquet reader does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gatun.exceptions import UnsupportedArrowTypeError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql.types import StructType

__all__ = ["SessionConf", "SparkArrowSchema", "plan_schema", "result_schema"]


@dataclass(frozen=True)
class SessionConf:
    """The session settings that decide how Arrow data converts."""

    time_zone: str
    prefers_large_types: bool
    prefer_timestamp_ntz: bool = False
    struct_handling_mode: str | None = None
    arrow_enabled: bool = True

    @classmethod
    def of_pyspark(cls, spark: Any) -> SessionConf:
        """The settings of a PySpark session (one py4j call)."""
        tz, large, ts_type, struct_mode, enabled = spark._jconf.getConfs(
            [
                "spark.sql.session.timeZone",
                "spark.sql.execution.arrow.useLargeVarTypes",
                "spark.sql.timestampType",
                "spark.sql.execution.pandas.structHandlingMode",
                "spark.sql.execution.arrow.pyspark.enabled",
            ]
        )
        return cls(tz, large == "true", ts_type == "TIMESTAMP_NTZ", struct_mode, enabled == "true")

    @classmethod
    def of_java(cls, jsession: Any) -> SessionConf:
        """The settings of a Java ``SparkSession`` reached through gatun."""
        conf = jsession.conf()

        def get(key: str, default: str) -> str:
            return str(conf.get(key, default))

        return cls(
            get("spark.sql.session.timeZone", "UTC"),
            get("spark.sql.execution.arrow.useLargeVarTypes", "false") == "true",
            get("spark.sql.timestampType", "TIMESTAMP_LTZ") == "TIMESTAMP_NTZ",
            get("spark.sql.execution.pandas.structHandlingMode", "legacy"),
            get("spark.sql.execution.arrow.pyspark.enabled", "false") == "true",
        )


@dataclass(frozen=True)
class SparkArrowSchema:
    """How one input schema becomes Spark's: ``widened`` is the input with
    the lossless widenings applied, ``spark`` the Spark schema PySpark infers
    from it, ``arrow`` the Arrow schema Spark's Arrow path reads."""

    widened: pa.Schema
    spark: StructType
    arrow: pa.Schema
    conf: SessionConf

    def convert_table(self, table: pa.Table) -> pa.Table:
        """``table`` (of the input schema) in the schema Spark reads."""
        from pyspark.sql.pandas.types import _check_arrow_table_timestamps_localize

        if table.num_columns == 0:
            return table
        if table.num_rows == 0:
            # Nothing to convert (pyarrow's casts of a column without chunks fail on some types).
            return self.arrow.empty_table()
        if table.schema != self.widened:
            table = _cast_naming_the_column(_plain_dictionaries(table), self.widened)
        # Naive timestamps of a TimestampType column are local wall-clock
        # times in the session zone; nanoseconds are truncated (PySpark's rule).
        table = _check_arrow_table_timestamps_localize(table, self.spark, True, self.conf.time_zone)
        return table.cast(self.arrow)

    def convert_batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """One batch of a stream, converted like :meth:`convert_table`."""
        import pyarrow as pa

        table = self.convert_table(pa.Table.from_batches([batch]))
        return table.combine_chunks().to_batches()[0] if table.num_rows else self.empty()

    def empty(self) -> pa.RecordBatch:
        """A batch of no rows in the schema Spark reads."""
        import pyarrow as pa

        return pa.RecordBatch.from_pylist([], schema=self.arrow)


def _plain_dictionaries(table: pa.Table) -> pa.Table:
    """``table`` with each dictionary column of view values (a polars
    ``Categorical`` or ``Enum``) given plain values: pyarrow cannot decode a
    dictionary of views (no ``take`` kernel for them)."""
    import pyarrow as pa
    import pyarrow.types as pt

    for i, f in enumerate(table.schema):
        t = f.type
        if not pt.is_dictionary(t):
            continue
        if not (pt.is_string_view(t.value_type) or pt.is_binary_view(t.value_type)):
            continue
        plain = pa.string() if pt.is_string_view(t.value_type) else pa.binary()
        kind = pa.dictionary(t.index_type, plain, t.ordered)
        chunks = [
            pa.DictionaryArray.from_arrays(c.indices, c.dictionary.cast(plain), ordered=t.ordered)
            for c in table.column(i).chunks
        ]
        column = pa.chunked_array(chunks, type=kind)
        table = table.set_column(i, f.with_type(kind), column)
    return table


def _cast_naming_the_column(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table.cast(schema)``, or an :class:`~gatun.UnsupportedArrowTypeError`
    naming the first column pyarrow cannot convert (its own error names none)."""
    import pyarrow as pa

    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
        for name, column, target in zip(table.column_names, table.columns, schema, strict=True):
            try:
                column.cast(target.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as bad:
                raise UnsupportedArrowTypeError(
                    f"column {name!r}: cannot convert {column.type} to {target.type}, "
                    f"which Spark reads ({bad})"
                ) from None
        raise UnsupportedArrowTypeError(str(e)) from None


def plan_schema(schema: pa.Schema, conf: SessionConf) -> SparkArrowSchema:
    """The conversion of data of ``schema`` for a session of ``conf``, or an
    :class:`~gatun.UnsupportedArrowTypeError` naming the first column Spark
    cannot take."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_type, to_arrow_schema
    from pyspark.sql.types import StructField, StructType

    widened = pa.schema(
        [f.with_type(_widen(f.type, f.name)) for f in schema], metadata=schema.metadata
    )
    fields = []
    for field in widened:
        try:
            spark_type = from_arrow_type(field.type, conf.prefer_timestamp_ntz)
        except Exception as e:  # noqa: BLE001 - PySparkTypeError: no Spark equivalent
            raise UnsupportedArrowTypeError(
                f"column {field.name!r}: Arrow type {field.type} has no Spark SQL type "
                f"({e}); cast the column to a supported type first"
            ) from None
        fields.append(StructField(field.name, spark_type, nullable=field.nullable))
    spark = StructType(fields)
    try:
        arrow = to_arrow_schema(
            spark,
            error_on_duplicated_field_names_in_struct=True,
            timezone="UTC",
            prefers_large_types=conf.prefers_large_types,
        )
    except Exception as e:  # noqa: BLE001 - PySpark's errors, re-raised with the schema
        raise UnsupportedArrowTypeError(f"schema {schema}: Spark cannot take it: {e}") from None
    return SparkArrowSchema(widened, spark, arrow, conf)


def result_schema(spark: StructType, conf: SessionConf, time_zone: str = "UTC") -> pa.Schema:
    """The Arrow schema PySpark gives a DataFrame of ``spark``'s schema:
    ``toArrow()`` uses UTC for ``TimestampType`` columns, the batches
    ``toPandas()`` converts use the session zone."""
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        return to_arrow_schema(
            spark,
            error_on_duplicated_field_names_in_struct=True,
            timezone=time_zone,
            prefers_large_types=conf.prefers_large_types,
        )
    except Exception as e:  # noqa: BLE001 - PySpark's errors, re-raised naming the column
        for field in spark.fields:
            try:
                to_arrow_schema(
                    type(spark)([field]),
                    error_on_duplicated_field_names_in_struct=True,
                    timezone=time_zone,
                )
            except Exception:  # noqa: BLE001 - this is the column
                raise UnsupportedArrowTypeError(
                    f"column {field.name!r}: Spark type {field.dataType.simpleString()} has "
                    f"no Arrow form in PySpark's Arrow path ({e})"
                ) from None
        raise UnsupportedArrowTypeError(f"Spark schema {spark.simpleString()}: {e}") from None


def _widen(t: pa.DataType, column: str) -> pa.DataType:
    """``t`` with the types PySpark's inference refuses replaced by the
    lossless Spark-readable type (unsigned as Spark's Parquet reader reads
    them; views and ``date64`` as their plain forms; dictionaries decoded)."""
    import pyarrow as pa
    import pyarrow.types as pt

    widened = {
        pa.uint8(): pa.int16(),
        pa.uint16(): pa.int32(),
        pa.uint32(): pa.int64(),
        pa.uint64(): pa.decimal128(20, 0),
        pa.float16(): pa.float32(),
        pa.date64(): pa.date32(),
        pa.string_view(): pa.string(),
        pa.binary_view(): pa.binary(),
    }.get(t)
    if widened is not None:
        return widened

    def field(f: pa.Field) -> pa.Field:
        return f.with_type(_widen(f.type, column))

    if pt.is_dictionary(t):
        return _widen(t.value_type, column)
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_list_view(t) or pt.is_large_list_view(t):
        return pa.list_(field(t.value_field))
    if pt.is_fixed_size_list(t):
        return pa.list_(field(t.value_field))
    if pt.is_map(t):
        return pa.map_(field(t.key_field), field(t.item_field), t.keys_sorted)
    if pt.is_struct(t):
        return pa.struct([field(t.field(i)) for i in range(t.num_fields)])
    if pt.is_time32(t):
        return pa.time64("ns")
    if pt.is_time64(t) and t.unit != "ns":
        return pa.time64("ns")
    if pt.is_run_end_encoded(t):
        raise UnsupportedArrowTypeError(
            f"column {column!r}: run-end encoded data ({t}) is not supported by Spark; "
            "decode it first (pyarrow.compute.run_end_decode)"
        )
    return t
