"""gatun.spark's pandas conversion against PySpark's own, on the same Arrow
tables: equal frames whether or not it deduplicates a string column."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql.pandas.conversion import _convert_arrow_table_to_pandas
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from gatun.spark._pandas import _worth_deduplicating, arrow_to_pandas

ROWS = 10_000

SCHEMA = StructType(
    [
        StructField("unique", StringType()),
        StructField("repeated", StringType()),
        StructField("bytes", BinaryType()),
        StructField("n", LongType()),
        StructField("words", ArrayType(StringType())),
        StructField(
            "point", StructType([StructField("x", LongType()), StructField("s", StringType())])
        ),
    ]
)


def _table(large: bool) -> pa.Table:
    text = pa.large_string() if large else pa.string()
    unique = [None if i % 7 == 0 else f"u{i:09d}" for i in range(ROWS)]
    repeated = [None if i % 5 == 0 else f"r{i % 3}" for i in range(ROWS)]
    return pa.table(
        {
            "unique": pa.array(unique, text),
            "repeated": pa.array(repeated, text),
            "bytes": pa.array([f"b{i}".encode() for i in range(ROWS)], pa.binary()),
            "n": pa.array([None if i % 11 == 0 else i for i in range(ROWS)], pa.int64()),
            "words": pa.array([[f"w{i}", None] for i in range(ROWS)], pa.list_(text)),
            "point": pa.array(
                [{"x": i, "s": f"p{i}"} for i in range(ROWS)],
                pa.struct([("x", pa.int64()), ("s", text)]),
            ),
        }
    )


@pytest.mark.parametrize("large", [False, True], ids=["string", "large_string"])
@pytest.mark.parametrize("mode", ["legacy", "row", "dict"])
def test_the_frame_equals_pysparks_own_conversion(large: bool, mode: str) -> None:
    table = _table(large)
    ours = arrow_to_pandas(table, SCHEMA, timezone="UTC", struct_handling_mode=mode)
    theirs = _convert_arrow_table_to_pandas(
        table, SCHEMA, timezone="UTC", struct_handling_mode=mode, date_as_object=True
    )
    assert list(ours.dtypes) == list(theirs.dtypes)
    assert ours.equals(theirs)


def test_repeated_strings_stay_shared_and_distinct_ones_are_not_hashed() -> None:
    ours = arrow_to_pandas(_table(False), SCHEMA, timezone="UTC", struct_handling_mode="dict")
    repeated = ours["repeated"]
    # Rows 1 and 4 both hold "r1": one str object when deduplicated.
    assert repeated[1] == repeated[4]
    assert repeated[1] is repeated[4]
    assert _worth_deduplicating(_table(False)["repeated"])
    assert not _worth_deduplicating(_table(False)["unique"])
    unique = ours["unique"]
    assert unique[1] == "u000000001"
    assert unique.isna().sum() == len(range(0, ROWS, 7))


def test_an_empty_schema_converts_as_pyspark_does() -> None:
    empty = pa.table({})
    ours = arrow_to_pandas(empty, StructType([]), timezone="UTC", struct_handling_mode="dict")
    assert ours.shape == (0, 0)
