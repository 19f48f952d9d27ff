"""Every Arrow producer crosses: one-column producers (pyarrow ``Array`` and
``ChunkedArray``, polars ``Series``, nanoarrow arrays and streams) reach Java
as a one-column root or reader, and a proxy of a Java root, vector or reader
is itself an Arrow producer that pyarrow, polars and DuckDB read.

Each Java root is read back once: a second read of a root Python sent depends
on the JVM no longer moving a returned root's buffers out.

Helper: ``gatuntest.StreamOps`` (tests/python/java).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import nanoarrow as na
import polars as pl
import pyarrow as pa
import pytest

import gatun

pytestmark = [pytest.mark.jvm, pytest.mark.timeout(120)]

ROOT = "org.apache.arrow.vector.VectorSchemaRoot"
READER = "gatun.server.arrow.BridgeArrowReader"


@pytest.fixture(scope="module")
def client(java_helpers: Path) -> Iterator[gatun.GatunClient]:
    own = gatun.connect(classpath=[str(java_helpers)])
    yield own
    own.close()


def _back(client: gatun.GatunClient, sent: Any) -> Any:
    """What Java holds, read back once (a pyarrow Table, or a reader's table)."""
    try:
        back = client.jvm.java.util.Objects.requireNonNull(sent)
        return back.read_all() if isinstance(back, pa.RecordBatchReader) else back
    finally:
        sent.close()


# -- one-column producers into send_arrow -------------------------------------


def test_a_pyarrow_array_is_a_one_column_root_named_values(client: gatun.GatunClient) -> None:
    sent = client.send_arrow(pa.array([1, None, 3]))
    assert sent.class_name == ROOT
    assert _back(client, sent) == pa.table({"values": pa.array([1, None, 3])})
    assert gatun._native.DEFAULT_COLUMN == "values"


def test_a_chunked_array_is_one_root_per_chunk_in_a_reader(client: gatun.GatunClient) -> None:
    one = client.send_arrow(pa.chunked_array([["a", None]]))
    assert one.class_name == ROOT
    assert _back(client, one).column("values").to_pylist() == ["a", None]
    several = client.send_arrow(pa.chunked_array([[1, 2], [3]], pa.int32()))
    assert several.class_name == READER
    back = _back(client, several)
    assert back.schema == pa.schema([("values", pa.int32())])
    assert back.column(0).to_pylist() == [1, 2, 3]


def test_a_polars_series_keeps_its_name(client: gatun.GatunClient) -> None:
    sent = client.send_arrow(pl.Series("price", [1.5, None, 2.5]))
    assert str(sent.getSchema().getFields().get(0).getName()) == "price"
    back = _back(client, sent)
    assert back.column_names == ["price"]
    assert back.column(0).to_pylist() == [1.5, None, 2.5]


def test_cast_views_applies_to_one_column_producers(client: gatun.GatunClient) -> None:
    series = pl.Series("s", ["a", None])  # polars strings are Utf8View
    plain = client.send_arrow(series, cast_views=True)
    try:
        assert str(plain.getSchema().toString()) == "Schema<s: Utf8>"
    finally:
        plain.close()


def test_nanoarrow_arrays_and_streams(client: gatun.GatunClient) -> None:
    sent = client.send_arrow(na.c_array([1, 2, 3], na.int32()))
    assert _back(client, sent) == pa.table({"values": pa.array([1, 2, 3], pa.int32())})
    # A stream with no length is pulled batch by batch like a RecordBatchReader.
    stream = na.ArrayStream([4, 5], na.int64())
    assert _back(client, client.send_arrow(stream)).column(0).to_pylist() == [4, 5]


def test_a_struct_array_is_split_into_columns(client: gatun.GatunClient) -> None:
    rows = pa.array([{"a": 1, "b": "x"}, {"a": 2, "b": None}])
    back = _back(client, client.send_arrow(rows))
    assert back == pa.table({"a": [1, 2], "b": ["x", None]})


def test_a_struct_array_with_null_rows_is_refused_with_the_way_out(
    client: gatun.GatunClient,
) -> None:
    with pytest.raises(TypeError, match=r"null rows.*one column"):
        client.send_arrow(pa.array([{"a": 1}, None]))
    assert client.ping()


def test_one_column_producers_fit_field_vector_and_root_parameters(
    client: gatun.GatunClient,
) -> None:
    ops = client.jvm.gatuntest.StreamOps
    assert ops.nonNull(pl.Series("s", [1, None, 3])) == 2
    assert ops.nonNull(na.c_array([1, 2], na.int64())) == 2
    # A pyarrow array stays a typed Java array; sent, it is a root (its vector).
    assert client.jvm.java.util.Arrays.toString(pa.array([1, 2], pa.int32())) == "[1, 2]"
    sent = client.send_arrow(pa.array([None, 2]))
    try:
        assert ops.nonNull(sent) == 1
    finally:
        sent.close()


# -- Java proxies as producers -----------------------------------------------


def _java_root(client: gatun.GatunClient) -> tuple[Any, Any]:
    """A root JVM code built on its own allocator (copied when it crosses, so
    it can be read more than once) and its vector ``x`` = [0, 10, 20]."""
    jvm = client.jvm
    allocator = jvm.org.apache.arrow.memory.RootAllocator()
    x = jvm.org.apache.arrow.vector.BigIntVector("x", allocator)
    x.allocateNew(3)
    for i in range(3):
        x.set(i, i * 10)
    x.setValueCount(3)
    root = client.invoke_static_method(ROOT, "of", [x], return_object_ref=True)
    return root, x


def test_a_root_proxy_is_read_by_pyarrow_polars_and_duckdb(client: gatun.GatunClient) -> None:
    root, x = _java_root(client)
    expected = pa.table({"x": pa.array([0, 10, 20], pa.int64())})
    assert pa.table(root) == expected
    assert pa.record_batch(root) == expected.to_batches()[0]
    assert pa.RecordBatchReader.from_stream(root).read_all() == expected
    assert pl.DataFrame(root).to_dict(as_series=False) == {"x": [0, 10, 20]}
    # polars.from_arrow makes any PyCapsule producer a Series (here a struct one).
    assert pl.from_arrow(root).struct.unnest().to_dict(as_series=False) == {"x": [0, 10, 20]}
    assert duckdb.sql("select sum(x) from root").fetchall() == [(30,)]
    assert pa.array(x) == pa.array([0, 10, 20], pa.int64())
    assert pa.chunked_array(x).to_pylist() == [0, 10, 20]
    root.close()
    x.close()


def test_a_root_python_sent_is_read_back_through_its_proxy(client: gatun.GatunClient) -> None:
    table = pa.table({"s": ["a", None, "c"], "n": [1, 2, 3]})
    root = client.send_arrow(table)
    try:
        assert pa.table(root) == table  # read once (see the module docstring)
    finally:
        root.close()
    vector_root = client.send_arrow(table)
    try:
        vector = vector_root.getVector("s")
        assert pa.array(vector).to_pylist() == ["a", None, "c"]
    finally:
        vector_root.close()


def test_a_reader_proxy_is_a_stream(client: gatun.GatunClient) -> None:
    batches = [pa.record_batch({"x": [1, 2]}), pa.record_batch({"x": [3]})]
    reader = client.send_arrow(pa.RecordBatchReader.from_batches(batches[0].schema, batches))
    assert reader.class_name == READER
    with pytest.raises(gatun.JavaIllegalArgumentException, match="stream of batches"):
        pa.array(reader)  # refused in Java: the reader is left unread
    assert pa.table(reader).column("x").to_pylist() == [1, 2, 3]


def test_a_proxy_of_anything_else_is_not_arrow_data(client: gatun.GatunClient) -> None:
    with pytest.raises(gatun.JavaException, match="ArrayList is not Arrow data"):
        pa.table(client.jvm.java.util.ArrayList())
