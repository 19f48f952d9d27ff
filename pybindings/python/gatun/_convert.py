"""Argument conversion: the Python values the native core does not know
(dates, ``Decimal``, ``array.array``, numpy, pyarrow arrays and tables, sets)
turned into ones it does, plus the ``JavaArray`` hooks of the native core.

The native core calls :func:`convert_argument` (through the hook the client
installs) for any argument it cannot encode itself.
"""

from __future__ import annotations

import array
import datetime as _dt
import decimal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from gatun import arrow as _arrow
from gatun.objects import JavaArray, TypeHint

if TYPE_CHECKING:
    from gatun.client import GatunClient
    from gatun.objects import JavaObject

__all__ = ["convert_argument", "is_java_array", "make_array", "single_batch"]

_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def convert_argument(client: GatunClient, value: Any) -> Any:
    """Turn an argument the native core does not know into one it does."""
    if isinstance(value, _dt.datetime):
        return _timestamp(client, value)
    if isinstance(value, _dt.date):
        return client.invoke_static_method(
            "java.sql.Date", "valueOf", value.isoformat(), return_object_ref=True
        )
    if isinstance(value, _dt.time):
        # java.sql.Time has whole seconds only.
        text = value.replace(microsecond=0, tzinfo=None).isoformat()
        return client.invoke_static_method("java.sql.Time", "valueOf", text, return_object_ref=True)
    if isinstance(value, (set, frozenset)):
        # Sent as a java.util.List (element order is Python's).
        return list(value)
    if isinstance(value, (tuple, range)):
        return list(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, array.array):
        return _from_array_module(value)
    if isinstance(value, decimal.Decimal):
        return client.create_object("java.math.BigDecimal", str(value))
    module = type(value).__module__ or ""
    if _is_arrow_table_like(value):
        # A table-like argument crosses as a VectorSchemaRoot, a stream (or
        # data with dictionaries) as a BridgeArrowReader. It lives as long
        # as its proxy: for the duration of this call. To keep data in
        # Java, send it with send_arrow() and keep the returned reference.
        if _arrow.is_stream(value):
            return client.send_arrow(value)
        return client.send_arrow(single_batch(value))
    if module.startswith("pyarrow"):
        converted = _from_arrow(value)
        if converted is not None:
            return converted
    if module == "numpy" or module.startswith("numpy."):
        converted = _from_numpy(value)
        if converted is not None:
            return converted
    qualified = type(value).__qualname__
    if module not in ("", "builtins"):
        qualified = f"{module}.{qualified}"
    raise TypeError(
        f"cannot pass a value of type {qualified!r} to Java; supported: None, bool, int, "
        "float, str, bytes, list, tuple, dict, set, JavaObject, JavaArray, TypeHint, datetime, "
        "array.array, numpy scalars and pyarrow arrays"
    )


def _timestamp(client: GatunClient, value: _dt.datetime) -> JavaObject:
    # Naive datetimes are local time, like java.sql.Timestamp.valueOf.
    aware = value if value.tzinfo is not None else value.astimezone()
    delta = aware - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    stamp = client.create_object(
        "java.sql.Timestamp", TypeHint(seconds * 1000 + delta.microseconds // 1000, "long")
    )
    if delta.microseconds:
        stamp.setNanos(delta.microseconds * 1000)
    return stamp


def _is_arrow_table_like(value: Any) -> bool:
    """Any Arrow producer but a pyarrow ``Array`` or ``ChunkedArray`` (those
    stay typed Java arrays): tables, batches, streams, and the one-column
    producers of other libraries (a polars ``Series``, a nanoarrow array)."""
    if not (hasattr(value, "__arrow_c_stream__") or hasattr(value, "__arrow_c_array__")):
        return False
    pa = sys.modules.get("pyarrow")
    return pa is None or not isinstance(value, (pa.Array, pa.ChunkedArray))


def single_batch(value: Any) -> Any:
    """One batch for one table argument (a multi-chunk table is combined; a
    one-column producer is a table of that column, see ``arrow.as_batches``)."""
    import pyarrow as pa

    if isinstance(value, pa.RecordBatch):
        return value
    table = value if isinstance(value, pa.Table) else pa.table(_arrow.as_batches(value))
    return table.combine_chunks()


def make_array(items: list[Any], element_type: str) -> JavaArray:
    """The native core's hook for a returned primitive array."""
    return JavaArray(items, element_type)


def is_java_array(value: Any) -> tuple[str, Sequence[Any]] | None:
    """The native core's hook: ``(element_type, items)`` of a ``JavaArray``."""
    if isinstance(value, JavaArray):
        return value.element_type, list(value)
    return None


def _integer_element_type(signed: bool, itemsize: int) -> str:
    """Smallest Java array type holding every value of a C integer type."""
    if itemsize == 1:
        return "Byte"  # unsigned bytes wrap, as in Java's byte[]
    widths = {2: "Short", 4: "Int", 8: "Long"}
    return widths[itemsize] if signed else widths[min(itemsize * 2, 8)]


def _as_signed_bytes(values: list[int]) -> list[int]:
    return [v - 256 if v > 127 else v for v in values]


def _from_array_module(value: array.array[Any]) -> JavaArray:
    code = value.typecode
    items = value.tolist()
    if code in "fd":
        return JavaArray(items, "Float" if code == "f" else "Double")
    if code == "u" or code == "w":
        return JavaArray(items, "Char")
    element_type = _integer_element_type(code.islower(), value.itemsize)
    if code == "B":
        items = _as_signed_bytes(items)
    return JavaArray(items, element_type)


def _check_no_nulls(items: list[Any], what: str) -> None:
    for index, item in enumerate(items):
        if item is None:
            raise TypeError(
                f"{what} has a null at index {index}; a primitive Java array cannot hold "
                "null (fill the nulls or cast the array to a non-primitive type)"
            )


def _from_arrow(value: Any) -> JavaArray | None:
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return None
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if not isinstance(value, pa.Array):
        return None
    arrow_type = value.type
    types = pa.types
    if types.is_dictionary(arrow_type):
        return _from_arrow(value.dictionary_decode())
    items = value.to_pylist()  # honours offsets and nulls, unlike raw buffers
    is_string_view = getattr(types, "is_string_view", lambda _: False)
    if types.is_string(arrow_type) or types.is_large_string(arrow_type):
        return JavaArray(items, "String")
    if is_string_view(arrow_type):
        return JavaArray(items, "String")
    what = f"pyarrow array of {arrow_type}"
    if types.is_boolean(arrow_type):
        _check_no_nulls(items, what)
        return JavaArray(items, "Bool")
    if types.is_integer(arrow_type):
        _check_no_nulls(items, what)
        signed = types.is_signed_integer(arrow_type)
        element_type = _integer_element_type(signed, arrow_type.bit_width // 8)
        if not signed and arrow_type.bit_width == 8:
            items = _as_signed_bytes(items)
        return JavaArray(items, element_type)
    if types.is_floating(arrow_type):
        _check_no_nulls(items, what)
        return JavaArray(items, "Double" if arrow_type.bit_width == 64 else "Float")
    return JavaArray(items, "Object")


def _from_numpy(value: Any) -> Any:
    np = sys.modules.get("numpy")
    if np is None:
        return None
    if isinstance(value, np.generic):
        if isinstance(value, (np.bool_, np.integer, np.floating, np.str_, np.bytes_)):
            return value.item()
        return None
    if isinstance(value, np.ndarray) and value.ndim == 1:
        kind, itemsize = value.dtype.kind, value.dtype.itemsize
        items = value.tolist()
        if kind == "b":
            return JavaArray(items, "Bool")
        if kind in "iu":
            if kind == "u" and itemsize == 1:
                items = _as_signed_bytes(items)
            return JavaArray(items, _integer_element_type(kind == "i", itemsize))
        if kind == "f" and itemsize in (4, 8):
            return JavaArray(items, "Float" if itemsize == 4 else "Double")
        if kind in "UO":
            return list(items)
    return None
