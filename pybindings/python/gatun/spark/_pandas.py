"""Arrow results to pandas, equal to PySpark's ``toPandas()`` and faster.

PySpark converts each column with ``Array.to_pandas()`` and then applies its
own per-type converters. For string and binary columns ``to_pandas``
deduplicates the Python objects it creates (one ``str`` per distinct value),
hashing every value: with mostly distinct values that hashing is most of the
conversion (1M ten-character strings: ~400 ms with, ~80 ms without). Here a
sample of each such column decides: mostly distinct values are converted
without deduplication (equal frames; only the sharing of identical ``str``
objects differs), repeated values keep it (it saves their memory). Everything
else is PySpark's own code: the same options, converters and column order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql.types import StructType

__all__ = ["arrow_to_pandas"]

# Rows sampled per string column, and the share of distinct values above
# which deduplication is not worth its hashing.
_SAMPLE_ROWS = 2048
_DISTINCT_SHARE = 0.5


def arrow_to_pandas(
    table: pa.Table, schema: StructType, *, timezone: str | None, struct_handling_mode: str | None
) -> pd.DataFrame:
    """``table`` (shaped as PySpark's ``toArrow()`` for ``schema``) as the
    pandas DataFrame PySpark's ``toPandas()`` builds from it."""
    import pandas as pd
    from pyspark.sql.pandas.types import _create_converter_to_pandas
    from pyspark.sql.types import StructType, _has_type

    options: dict[str, Any] = {"coerce_temporal_nanoseconds": True, "date_as_object": True}
    if not schema.fields:
        return table.to_pandas(**options)
    # PySpark's "legacy" struct mode is "dict" that refuses duplicate fields.
    strict_fields = False
    if struct_handling_mode == "legacy" and any(
        _has_type(f.dataType, StructType) for f in schema.fields
    ):
        strict_fields = True
        struct_handling_mode = "dict"
    series = []
    for column, field in zip(table.columns, schema.fields, strict=True):
        converted = column.to_pandas(**options, deduplicate_objects=_worth_deduplicating(column))
        convert = _create_converter_to_pandas(
            field.dataType,
            field.nullable,
            timezone=timezone,
            struct_in_pandas=struct_handling_mode,
            error_on_duplicated_field_names=strict_fields,
        )
        series.append(convert(converted))
    frame = pd.concat(series, axis="columns")
    frame.columns = pd.Index(schema.names)
    return frame


def _worth_deduplicating(column: pa.ChunkedArray) -> bool:
    """Whether ``column``'s values repeat enough for pyarrow's object
    deduplication to pay for its hashing (always, for non-string types:
    there it is cheap or does nothing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if not (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        return True
    rows = len(column)
    if rows <= _SAMPLE_ROWS:
        return True
    step = rows // _SAMPLE_ROWS
    sample = column.take(pa.array(range(0, rows, step)[:_SAMPLE_ROWS], pa.int64()))
    distinct = pc.count_distinct(sample, mode="only_valid").as_py()
    valid = len(sample) - sample.null_count
    return valid == 0 or distinct <= _DISTINCT_SHARE * valid
