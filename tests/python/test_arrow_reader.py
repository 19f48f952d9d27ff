"""Streams and dictionaries: Python's ``RecordBatchReader`` <-> Java's ``ArrowReader``.

A stream, or data with dictionary-encoded columns, reaches Java as a
``gatun.server.arrow.BridgeArrowReader`` (an ``ArrowReader`` that is also the
``DictionaryProvider``); a Java method returning an ``ArrowReader`` gives
Python a ``pyarrow.RecordBatchReader`` whose batches are loaded on demand.
Helper: ``gatuntest.StreamOps`` (tests/python/java).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import gatun

pytestmark = pytest.mark.jvm

READER = "gatun.server.arrow.BridgeArrowReader"


@pytest.fixture(scope="module")
def client(java_helpers: Path) -> Iterator[gatun.GatunClient]:
    own = gatun.connect(classpath=[str(java_helpers)])
    yield own
    own.close()


def _ops(client: gatun.GatunClient) -> Any:
    return client.jvm.gatuntest.StreamOps


def _as_text(table: Any) -> str:
    """What ``StreamOps.decodeAll`` prints for ``table``'s batches."""
    lines = []
    for batch in table.to_batches():
        cells = []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            values = column.to_pylist()
            cells.append(f"{name}=" + "|".join("null" if v is None else str(v) for v in values))
        lines.append("".join(c + ";" for c in cells))
    return "".join(line + "\n" for line in lines)


def _dictionary_table(rows: int = 5) -> Any:
    words = pa.array([["a", "b", None, "c"][i % 4] for i in range(rows)])
    return pa.table({"k": words.dictionary_encode(), "v": pa.array(range(rows), pa.int64())})


def test_a_table_with_a_dictionary_column_arrives_as_a_reader(client: gatun.GatunClient) -> None:
    table = _dictionary_table()
    reader = client.send_arrow(table)
    assert reader.getClass().getName() == READER
    assert list(reader.getDictionaryIds()) == [0]
    assert _ops(client).decodeAll(reader) == _as_text(table)


def test_a_stream_arrives_as_one_reader_batch_by_batch(client: gatun.GatunClient) -> None:
    schema = pa.schema([("x", pa.int64())])
    batches = [
        pa.record_batch({"x": list(range(i * 10, i * 10 + 7))}, schema=schema) for i in range(4)
    ]
    reader = client.send_arrow(pa.RecordBatchReader.from_batches(schema, iter(batches)))
    assert reader.getClass().getName() == READER
    total = sum(sum(b.column(0).to_pylist()) for b in batches)
    assert list(_ops(client).sum(reader, "x")) == [4, 28, total]
    assert not reader.loadNextBatch(), "the stream is over"


def test_a_stream_argument_becomes_an_arrow_reader_parameter(client: gatun.GatunClient) -> None:
    schema = pa.schema([("x", pa.int64())])
    stream = pa.RecordBatchReader.from_batches(
        schema, (pa.record_batch({"x": [i, None, 2 * i]}, schema=schema) for i in range(1, 6))
    )
    assert list(_ops(client).sum(stream, "x")) == [5, 15, 45]


def test_dictionaries_change_from_batch_to_batch(client: gatun.GatunClient) -> None:
    # Each batch carries its own dictionary (replacement, as in IPC streams).
    first = pa.record_batch({"k": pa.array(["p", "q", "p"]).dictionary_encode()})
    second = pa.record_batch({"k": pa.array(["r", "s", None, "r"]).dictionary_encode()})
    reader = client.send_arrow(pa.RecordBatchReader.from_batches(first.schema, [first, second]))
    assert _ops(client).decodeAll(reader) == "k=p|q|p;\nk=r|s|null|r;\n"


def test_nested_and_sliced_dictionary_columns(client: gatun.GatunClient) -> None:
    words = pa.array(["a", "b", "c", "a", None, "b", "c", "c"]).dictionary_encode()
    structs = pa.StructArray.from_arrays([words, pa.array(range(8))], names=["w", "i"])
    table = pa.table({"s": structs, "d": words}).slice(3, 4)
    back = _ops(client).same(client.send_arrow(table)).read_all()
    assert back.column("d").to_pylist() == ["a", None, "b", "c"]
    assert back.column("s").to_pylist() == table.column("s").to_pylist()
    assert pa.types.is_dictionary(back.schema.field("d").type)


def test_a_java_reader_with_dictionaries_becomes_a_pyarrow_reader(
    client: gatun.GatunClient,
) -> None:
    reader = _ops(client).dictionaryStream(3, 6)
    assert isinstance(reader, pa.RecordBatchReader)
    assert pa.types.is_dictionary(reader.schema.field("k").type)
    batches = list(reader)
    assert len(batches) == 3
    for b, batch in enumerate(batches):
        keys = [None if i % 4 == 3 else "xyz"[i % 3] for i in range(6)]
        assert batch.column(0).to_pylist() == keys
        assert batch.column(1).to_pylist() == [b * 100 + i for i in range(6)]


def test_a_stream_round_trips_python_java_python(client: gatun.GatunClient) -> None:
    table = pa.concat_tables([_dictionary_table(9), _dictionary_table(4)])
    stream = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    back = _ops(client).same(client.send_arrow(stream))
    assert isinstance(back, pa.RecordBatchReader)
    got = back.read_all()
    assert got.schema == table.schema
    assert got.to_pylist() == table.to_pylist()


def test_an_empty_stream_arrives_with_its_schema(client: gatun.GatunClient) -> None:
    schema = pa.schema([("x", pa.int64()), ("k", pa.dictionary(pa.int8(), pa.utf8()))])
    reader = client.send_arrow(pa.RecordBatchReader.from_batches(schema, []))
    assert list(_ops(client).sum(reader, "x")) == [1, 0, 0]


def test_an_unread_reader_releases_the_arena_when_dropped(client: gatun.GatunClient) -> None:
    before = client._native.arena_regions_in_use
    schema = pa.schema([("x", pa.int64())])
    batches = [pa.record_batch({"x": list(range(1000))}, schema=schema) for _ in range(3)]
    reader = client.send_arrow(pa.RecordBatchReader.from_batches(schema, batches))
    assert client._native.arena_regions_in_use == before + 1, "one batch waits, the rest is pulled"
    del reader
    gc.collect()
    client.gc()  # carries the release; the unreachable reader gives its batch back
    assert client._native.arena_regions_in_use == before


def test_dictionaries_of_dictionaries_are_refused_before_any_data_moves(
    client: gatun.GatunClient,
) -> None:
    inner = pa.array(["a", "b"]).dictionary_encode()
    outer = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int32()), inner)
    before = client._native.arena_regions_in_use
    with pytest.raises(gatun.UnsupportedArrowTypeError, match="decode the inner dictionary"):
        client.send_arrow(pa.table({"dd": outer}))
    assert client._native.arena_regions_in_use == before


def test_a_root_with_dictionary_columns_names_the_reader_as_the_way_back(
    client: gatun.GatunClient,
) -> None:
    reader = client.send_arrow(_dictionary_table())
    assert reader.loadNextBatch()
    with pytest.raises(gatun.JavaException, match="return the ArrowReader"):
        reader.getVectorSchemaRoot()


def test_above_the_high_water_mark_java_copies_out_and_the_arena_never_fills(
    java_helpers: Path,
) -> None:
    # 24 tables of 4 MB, all kept alive in Java, through a 32 MB arena: without
    # the copy-out the arena would be full after 8.
    with gatun.connect(memory="32MB", classpath=[str(java_helpers)]) as small:
        bridge = small.jvm.gatun.server.arrow.ArrowBridge
        copied_before = bridge.batchesCopiedOut()
        roots = []
        for i in range(24):
            roots.append(small.send_arrow(pa.table({"x": pa.array([i] * 500_000, pa.int64())})))
            assert small._native.arena_bytes_in_use <= 32 << 20
        assert bridge.batchesCopiedOut() - copied_before >= 12
        ops = small.jvm.gatuntest.TableOps
        assert [ops.sum(r, "x") for r in roots] == [i * 500_000 for i in range(24)]
        for r in roots:
            r.close()


def test_a_table_argument_fits_an_arrow_reader_or_field_vector_parameter(
    client: gatun.GatunClient,
) -> None:
    table = pa.table({"x": pa.array([1, 2, None, 4], pa.int64())})
    # ArrowReader parameter: a one-batch reader over the root, closed after the call.
    assert list(_ops(client).sum(table, "x")) == [1, 4, 7]
    # FieldVector parameter: a one-column table is its vector.
    assert _ops(client).nonNull(table) == 3
    assert _ops(client).nonNull(pa.record_batch({"y": ["a", None]})) == 1


def test_a_stream_larger_than_the_arena_is_pulled_batch_by_batch(java_helpers: Path) -> None:
    # 40 batches of 4 MB (160 MB) through a 32 MB arena: Java pulls each batch
    # when it reads the previous one, so at most two are ever in the arena.
    rows = 500_000
    with gatun.connect(memory="32MB", classpath=[str(java_helpers)]) as small:
        peak = [0]

        def batches() -> Iterator[Any]:
            for i in range(40):
                peak[0] = max(peak[0], small._native.arena_bytes_in_use)
                yield pa.record_batch({"x": pa.array([i] * rows, pa.int64())})

        schema = pa.schema([("x", pa.int64())])
        stream = pa.RecordBatchReader.from_batches(schema, batches())
        result = small.jvm.gatuntest.StreamOps.sum(stream, "x")
        assert list(result) == [40, 40 * rows, rows * sum(range(40))]
        assert peak[0] <= 3 * 4_000_064, f"arena peak {peak[0]} bytes"


def test_a_pulled_stream_can_be_read_on_another_java_thread(client: gatun.GatunClient) -> None:
    schema = pa.schema([("x", pa.int64())])
    stream = pa.RecordBatchReader.from_batches(
        schema, (pa.record_batch({"x": [i] * 10}, schema=schema) for i in range(6))
    )
    reader = client.send_arrow(stream)
    assert list(_ops(client).sumOnAnotherThread(reader, "x")) == [6, 60, 150]


def test_an_error_in_the_stream_reaches_java_and_releases_everything(
    client: gatun.GatunClient,
) -> None:
    schema = pa.schema([("x", pa.int64())])

    def failing() -> Iterator[Any]:
        yield pa.record_batch({"x": [1, 2]}, schema=schema)
        yield pa.record_batch({"x": [3]}, schema=schema)
        raise ValueError("the source broke")

    with pytest.raises(gatun.JavaException, match="the source broke"):
        _ops(client).sum(pa.RecordBatchReader.from_batches(schema, failing()), "x")
