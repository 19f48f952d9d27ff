"""Arrow data to the JVM and back, checked from the Java side.

Python -> Java: ``client.send_arrow`` hands the JVM a ``VectorSchemaRoot``
wrapped in place over the payload arena; the values Java reads must match
pyarrow's, and closing the root must give every arena region back.

Java -> Python: a Java method returning a ``VectorSchemaRoot`` answers with a
pyarrow object (once the Python side imports Arrow values).

The helper class ``gatuntest.TableOps`` (tests/python/java) is compiled with
javac against the server jar.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import gatun

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def arrow_client(java_helpers: Path) -> Iterator[gatun.GatunClient]:
    own = gatun.connect(classpath=[str(java_helpers)])
    yield own
    own.close()


def _send(client: gatun.GatunClient, data: Any) -> Any:
    """One root for one batch (the public wrapper if there is one)."""
    if hasattr(client, "send_arrow"):
        return client.send_arrow(data)
    return client._native.send_arrow(data)


def _regions(client: gatun.GatunClient) -> int:
    return int(client._native.arena_regions_in_use)


def _ops(client: gatun.GatunClient) -> Any:
    return client.jvm.gatuntest.TableOps


def _vector(client: gatun.GatunClient, root: Any, name: str) -> Any:
    """A column as a Java reference (a bare FieldVector result would convert to pyarrow)."""
    return client.invoke_method(root, "getVector", name, return_object_ref=True)


def _java_value(client: gatun.GatunClient, vector: Any, i: int) -> Any:
    """``vector.getObject(i)`` with Java's Text/JsonStringArrayList/... rendered as strings."""
    if client.invoke_method(vector, "isNull", i):
        return None
    value = client.invoke_method(vector, "getObject", i)
    if isinstance(value, (int, float, bool, str)):
        return value
    # Text, lists and maps: Java's own toString() (JSON for Arrow's list/struct values).
    return str(client.invoke_method(vector, "getObject", i, return_object_ref=True))


def _sample_table() -> Any:
    n = 12
    return pa.table(
        {
            "x": pa.array([None if i % 4 == 0 else i * 3 for i in range(n)], pa.int64()),
            "f": pa.array([i / 4 if i % 5 else None for i in range(n)], pa.float64()),
            "s": pa.array([None if i % 3 == 0 else f"v{i}é" for i in range(n)], pa.utf8()),
            "b": pa.array([None if i == 7 else i % 2 == 0 for i in range(n)], pa.bool_()),
            "l": pa.array(
                [None if i == 5 else list(range(i % 4)) for i in range(n)], pa.list_(pa.int32())
            ),
            "st": pa.array(
                [None if i == 2 else {"a": i, "t": f"t{i}"} for i in range(n)],
                pa.struct([("a", pa.int64()), ("t", pa.utf8())]),
            ),
        }
    )


def test_values_match_in_java(arrow_client: gatun.GatunClient) -> None:
    client = arrow_client
    table = _sample_table()
    baseline = _regions(client)
    root = _send(client, table)
    try:
        assert root.getRowCount() == table.num_rows
        x = _vector(client, root, "x")
        f = _vector(client, root, "f")
        s = _vector(client, root, "s")
        b = _vector(client, root, "b")
        for i in range(table.num_rows):
            assert _java_value(client, x, i) == table["x"][i].as_py()
            assert _java_value(client, f, i) == table["f"][i].as_py()
            assert _java_value(client, s, i) == table["s"][i].as_py()
            assert _java_value(client, b, i) == table["b"][i].as_py()
        assert client.invoke_method(x, "getNullCount") == table["x"].null_count
        lst = _vector(client, root, "l")
        assert _java_value(client, lst, 5) is None
        assert _java_value(client, lst, 3) == "[0,1,2]"
        st = _vector(client, root, "st")
        assert _java_value(client, st, 2) is None
        assert _java_value(client, st, 4) == '{"a":4,"t":"t4"}'
        assert _ops(client).sum(root, "x") == pc.sum(table["x"]).as_py()
        assert _ops(client).nulls(root, "s") == table["s"].null_count
    finally:
        root.close()
    client.ping()
    assert _regions(client) == baseline


def test_sliced_table_arrives_sliced(arrow_client: gatun.GatunClient) -> None:
    client = arrow_client
    table = _sample_table().slice(3, 5)
    root = _send(client, table)
    try:
        assert root.getRowCount() == 5
        s = _vector(client, root, "s")
        b = _vector(client, root, "b")
        for i in range(5):
            assert _java_value(client, s, i) == table["s"][i].as_py()
            assert _java_value(client, b, i) == table["b"][i].as_py()
        assert _ops(client).sum(root, "x") == pc.sum(table["x"]).as_py()
    finally:
        root.close()


def test_closing_roots_returns_every_region(arrow_client: gatun.GatunClient) -> None:
    client = arrow_client
    baseline = _regions(client)
    table = pa.table({"x": pa.array(range(10_000), pa.int64())})
    roots = [_send(client, table) for _ in range(5)]
    assert _regions(client) >= baseline + 5
    for i, root in enumerate(roots):
        assert _ops(client).sum(root, "x") == 49_995_000
        root.close()
        client.ping()
        assert _regions(client) == baseline + 4 - i


def test_schema_is_defined_once_and_reused(arrow_client: gatun.GatunClient) -> None:
    client = arrow_client
    baseline = _regions(client)
    schema = pa.schema([("x", pa.int64())])
    for k in range(3):
        batch = pa.record_batch([pa.array([k, k + 1, None], pa.int64())], schema=schema)
        root = _send(client, batch)
        assert _ops(client).sum(root, "x") == 2 * k + 1
        root.close()
    client.ping()
    assert _regions(client) == baseline


def test_decimal32_is_refused_before_anything_moves(arrow_client: gatun.GatunClient) -> None:
    client = arrow_client
    if not hasattr(pa, "decimal32"):
        pytest.skip("pyarrow without decimal32")
    baseline_regions = _regions(client)
    baseline_bytes = int(client._native.arena_bytes_in_use)
    table = pa.table(
        {"ok": pa.array([1, 2], pa.int64()), "price": pa.array([1, 2], pa.decimal32(7, 2))}
    )
    with pytest.raises(Exception, match="price") as refused:
        _send(client, table)
    # The message names the Arrow Java the jar is built with, not an older one.
    pom = (Path(__file__).resolve().parents[2] / "java" / "pom.xml").read_text()
    pinned = re.search(r"<arrow.version>([^<]+)</arrow.version>", pom).group(1)  # type: ignore[union-attr]
    assert f"cannot be loaded by Arrow Java {pinned} (the server's)" in str(refused.value)
    assert _regions(client) == baseline_regions
    assert int(client._native.arena_bytes_in_use) == baseline_bytes
    client.ping()


def test_session_end_releases_open_roots(java_helpers: Path) -> None:
    client = gatun.connect(classpath=[str(java_helpers)])
    try:
        root = _send(client, _sample_table())
        assert root.getRowCount() == 12
        assert _ops(client).allocated() > 0
    finally:
        client.close()  # the JVM closes the root; nothing to check from a closed client


def test_java_returns_a_root(arrow_client: gatun.GatunClient) -> None:
    client = arrow_client
    table = pa.table(
        {"x": pa.array([5, None, 20, 7, 30], pa.int64()), "s": ["a", "b", "c", "d", "e"]}
    )
    root = _send(client, table)
    try:
        out = _ops(client).filterGreater(root, "x", 6)
    finally:
        root.close()
    assert isinstance(out, (pa.Table, pa.RecordBatch)), type(out).__name__
    got = pa.table(out) if isinstance(out, pa.RecordBatch) else out
    assert got.column("x").to_pylist() == [20, 7, 30]
    assert got.column("s").to_pylist() == ["c", "d", "e"]
    # The returned root is the JVM's: neither emptied nor closed by the return.
    # A column comes back as a pyarrow array.
    root = _send(client, table)
    try:
        column = root.getVector("x")
        assert isinstance(column, (pa.Array, pa.ChunkedArray, pa.Table, pa.RecordBatch)), type(
            column
        )
        values = column.column(0) if hasattr(column, "column") else column
        assert values.to_pylist() == [5, None, 20, 7, 30]
        assert root.getRowCount() == 5, "a returned FieldVector is not closed"
    finally:
        root.close()
    del out, got, column, values
    client.ping()


def _java_text_vector(client: gatun.GatunClient, values: list[bytes]) -> Any:
    """A ``VarCharVector`` that Java code filled with exactly these bytes."""
    bridge = client.jvm.gatun.server.arrow.ArrowBridge
    vector = client.jvm.org.apache.arrow.vector.VarCharVector("s", bridge.allocator())
    vector.allocateNew()
    for i, value in enumerate(values):
        vector.setSafe(i, value)
    vector.setValueCount(len(values))
    return vector


def test_text_that_is_not_utf8_is_found_where_it_is_decoded(
    arrow_client: gatun.GatunClient,
) -> None:
    """By default strings from the JVM are checked for offsets and bounds, not
    UTF-8 (as pyarrow's IPC reader): bad text arrives and pyarrow reports it
    where it decodes it; good text around it is intact."""
    client = arrow_client
    vector = _java_text_vector(client, [b"ok", b"\xff\xfe", "é".encode()])
    try:
        got = client.jvm.java.util.Objects.requireNonNull(vector)
        assert got.type == pa.string()
        assert got[0].as_py() == "ok"
        assert got[2].as_py() == "é"
        with pytest.raises(UnicodeDecodeError):
            got.to_pylist()
        with pytest.raises(pa.ArrowInvalid, match="UTF8"):
            got.validate(full=True)
        del got
    finally:
        vector.close()


def test_verify_utf8_refuses_text_that_is_not_utf8(java_helpers: Path) -> None:
    """``verify_utf8=True`` checks the text on arrival: an error naming the
    column; valid text (flat and nested) still arrives equal."""
    client = gatun.connect(verify_utf8=True, classpath=[str(java_helpers)])
    try:
        vector = _java_text_vector(client, [b"ok", b"\xff\xfe"])
        try:
            with pytest.raises(gatun.GatunError, match=r"field 's'.*UTF-8"):
                client.jvm.java.util.Objects.requireNonNull(vector)
        finally:
            vector.close()
        table = pa.table(
            {
                "s": pa.array(["a", None, "é☃"]),
                "l": pa.array([["x"], [], None], pa.list_(pa.large_string())),
            }
        )
        root = _send(client, table)
        try:
            back = root.slice(0, 3)
            assert pa.table(back).equals(table)
            del back
        finally:
            root.close()
        client.ping()
    finally:
        client.close()


def test_a_dropped_root_proxy_frees_its_arena_region(arrow_client: gatun.GatunClient) -> None:
    """Data stays valid exactly as long as it is referenced: no close() needed.
    A root no Java code was given goes with its proxy; one Java code was
    given goes once the JVM's collector finds it unreachable (client.gc())."""
    client = arrow_client
    before = client._native.arena_regions_in_use
    root = client.send_arrow(pa.table({"x": pa.array(range(1000), pa.int64())}))
    assert root.getRowCount() == 1000
    assert client._native.arena_regions_in_use == before + 1
    del root
    gc.collect()
    client.ping()  # carries the release to Java, which closes the root
    client.ping()  # brings the region's release back
    assert client._native.arena_regions_in_use == before

    root = client.send_arrow(pa.table({"x": pa.array(range(1000), pa.int64())}))
    assert client.jvm.java.util.Objects.hashCode(root) != 0  # Java code was given it
    del root
    gc.collect()
    client.ping()
    client.ping()
    assert client._native.arena_regions_in_use == before + 1, "Java may have kept it"
    client.gc()
    assert client._native.arena_regions_in_use == before


def test_a_table_argument_crosses_as_a_root(arrow_client: gatun.GatunClient) -> None:
    client = arrow_client
    before = client._native.arena_regions_in_use
    table = pa.table({"x": pa.array([1, 2, 3], pa.int64()), "s": ["a", "b", None]})
    assert client.jvm.gatuntest.TableOps.sum(table, "x") == 6
    gc.collect()
    client.gc()
    assert client._native.arena_regions_in_use == before, (
        "the argument's root, unreachable in Java after the call, gives its region back"
    )
