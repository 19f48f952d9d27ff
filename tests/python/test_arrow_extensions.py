"""Extension types keep their type both ways: canonical ones pyarrow knows
(``arrow.uuid``, ``arrow.json``), a pyarrow ``ExtensionType`` registered in
Python, and an unregistered name carried as field metadata. Java sees the
``ARROW:extension:name`` / ``ARROW:extension:metadata`` field metadata (Arrow
Java 18 registers none of these types); pyarrow gets its extension type back.

Each Java root is read back once (see test_arrow_producers.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

import gatun

pytestmark = [pytest.mark.jvm, pytest.mark.timeout(120)]

NAME = "ARROW:extension:name"
METADATA = "ARROW:extension:metadata"


class Length(pa.ExtensionType):  # type: ignore[misc]
    """A user extension: int64 lengths in a unit kept in the metadata."""

    def __init__(self, unit: str = "m") -> None:
        self.unit = unit
        super().__init__(pa.int64(), "gatun.test.length")

    def __arrow_ext_serialize__(self) -> bytes:
        return json.dumps({"unit": self.unit}).encode()

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: Any, serialized: bytes) -> Length:
        return cls(json.loads(serialized)["unit"])


@pytest.fixture(scope="module", autouse=True)
def _length_registered() -> Iterator[None]:
    pa.register_extension_type(Length())
    yield
    pa.unregister_extension_type("gatun.test.length")


def _columns() -> dict[str, tuple[Any, str, str]]:
    """name -> (array, extension name, serialised metadata)."""
    unregistered = pa.field("my", pa.binary(2), metadata={NAME: "my.ext", METADATA: "v1"})
    return {
        "uuid": (
            pa.array([b"0123456789abcdef", None], pa.binary(16)).cast(pa.uuid()),
            "arrow.uuid",
            "",
        ),
        "json": (pa.array(['{"a": 1}', None]).cast(pa.json_()), "arrow.json", ""),
        "length": (
            pa.ExtensionArray.from_storage(Length("cm"), pa.array([1, None])),
            "gatun.test.length",
            '{"unit": "cm"}',
        ),
        "my": (pa.array([b"ab", None], unregistered.type), "my.ext", "v1"),
    }


def _java_metadata(root: Any, index: int) -> dict[str, str]:
    return dict(root.getSchema().getFields().get(index).getMetadata())


def test_a_table_of_extension_columns_keeps_them_both_ways(client: gatun.GatunClient) -> None:
    columns = _columns()
    fields = [
        pa.field(name, array.type)
        if name != "my"
        else pa.field(name, array.type, metadata={NAME: "my.ext", METADATA: "v1"})
        for name, (array, _, _) in columns.items()
    ]
    table = pa.Table.from_arrays([a for a, _, _ in columns.values()], schema=pa.schema(fields))
    root = client.send_arrow(table)
    try:
        for i, (_, extension, metadata) in enumerate(columns.values()):
            assert _java_metadata(root, i) == {NAME: extension, METADATA: metadata}
        back = client.jvm.java.util.Objects.requireNonNull(root)
    finally:
        root.close()
    assert back.schema == table.schema
    assert back.schema.field("uuid").type == pa.uuid()
    assert back.schema.field("length").type == Length("cm")
    assert back.equals(table)


@pytest.mark.parametrize("name", ["uuid", "json", "length"])
def test_an_extension_array_keeps_its_type_both_ways(client: gatun.GatunClient, name: str) -> None:
    array, extension, metadata = _columns()[name]
    root = client.send_arrow(array)
    try:
        assert _java_metadata(root, 0) == {NAME: extension, METADATA: metadata}
        back = pa.array(root.getVector(0))  # the vector proxy is an Arrow array
    finally:
        root.close()
    assert back.type == array.type
    assert back.equals(array)


def test_an_unregistered_extension_crosses_as_field_metadata(client: gatun.GatunClient) -> None:
    field = pa.field("my", pa.binary(2), metadata={NAME: "my.ext", METADATA: "v1"})
    table = pa.table({"my": pa.array([b"ab", None], pa.binary(2))}, schema=pa.schema([field]))
    # Through a proxy of the root, read by pyarrow as a producer.
    root = client.send_arrow(table)
    try:
        assert _java_metadata(root, 0) == {NAME: "my.ext", METADATA: "v1"}
        back = pa.table(root)
    finally:
        root.close()
    assert back.schema.field("my").metadata == {NAME.encode(): b"my.ext", METADATA.encode(): b"v1"}


@pytest.mark.parametrize("name", ["uuid", "my"])
def test_a_fixed_size_binary_extension_survives_a_java_slice(
    client: gatun.GatunClient, name: str
) -> None:
    """Arrow Java's (18 and 19.0.0) own TransferPair of a FixedSizeBinaryVector (so
    ``root.slice``) drops the field's metadata; received columns are
    ``gatun.server.arrow.TypedFixedSizeBinaryVector``s, which keep it."""
    array, extension, metadata = _columns()[name]
    field = pa.field(name, array.type, metadata={NAME: extension, METADATA: metadata})
    table = pa.table(
        {name: array}, schema=pa.schema([field if name == "my" else (name, array.type)])
    )
    root = client.send_arrow(table)
    try:
        back = client.invoke_method(root, "slice", 1, 1)
    finally:
        root.close()
    expected = table.slice(1, 1)
    del table  # a failure's traceback must not keep the data alive
    assert back.schema == expected.schema
    assert back.equals(expected)
