"""Arrow data across the bridge: sending producers to the JVM (batches, pulled
streams), reading Java's Arrow objects back, and casting view types away.

``GatunClient.send_arrow(data)`` is the primary API: any Arrow producer
(pyarrow ``Table``/``RecordBatch``/``RecordBatchReader``/``Array``, polars,
DuckDB, anything with ``__arrow_c_stream__`` or ``__arrow_c_array__``) crosses
to the JVM batch by batch. Each batch is copied **once** into the
shared-memory payload arena (data created by pyarrow or polars lives in their
own memory; no pool can be supplied from outside) and the JVM wraps it in
place as a ``VectorSchemaRoot``, without deserialising. The data stays valid
for exactly as long as Java references it: closing the root releases it.

The builders of data in the arena are in :mod:`gatun.arena`; the upstream
calls (``send_arrow_table``, ``arrow_context``, ...) in :mod:`gatun._compat`,
thin wrappers over the same path.
"""

from __future__ import annotations

import gc as _gc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from gatun import _native
from gatun._layout import PULLING_READER

if TYPE_CHECKING:
    from gatun.client import GatunClient
    from gatun.objects import JavaObject

__all__ = ["as_batches", "is_stream", "send", "without_views"]


def send(client: GatunClient, data: Any, cast_views: bool = False) -> JavaObject:
    """Send ``data``: one batch becomes a ``VectorSchemaRoot`` reference; a
    stream, a table of several chunks, or data with dictionary-encoded columns
    one Java ``BridgeArrowReader`` (a table's chunks are pushed whole, each
    crossing like a batch: no concatenation, so no copy for data built in the
    arena). With ``cast_views`` view columns are cast first (see
    :func:`without_views`)."""
    if cast_views:
        data = without_views(data)
    if is_stream(data):
        return send_stream(client, data)
    batches = as_batches(data)
    native = client._session.native
    return reclaiming(client, lambda: native.send_arrow(batches))


#: How long a send waits for arena space (other threads' batches in flight,
#: roots the JVM's collector has yet to find) before it gives up.
ARENA_FULL_WAIT = 10.0
#: How long the collection a full arena triggers waits for what it found
#: (the default of :meth:`GatunClient.gc`).
_RECLAIM_TIMEOUT = 5.0


def reclaiming(client: GatunClient, send: Any) -> Any:
    """``send()``, waiting for space while the arena is full: a collection in
    Python and then in the JVM (roots Java no longer references hold arena
    memory until its garbage collector finds them, see
    :meth:`GatunClient.gc`), repeated each second, while other threads'
    batches are released, up to :data:`ARENA_FULL_WAIT` seconds; then the
    error stands."""
    import time

    from gatun.exceptions import PayloadTooLargeError

    session = client._session
    deadline = next_collection = 0.0
    pause = 0.001
    while True:
        try:
            return send()
        except PayloadTooLargeError as e:
            if "arena full" not in str(e):
                raise
            now = time.monotonic()
            if not deadline:
                deadline = now + ARENA_FULL_WAIT
            elif now >= deadline:
                raise
            if now >= next_collection:
                # Python objects in reference cycles (a dropped DataFrame's
                # py4j proxy) may be what keeps the JVM's roots reachable:
                # collect here first, then in the JVM. Again every second,
                # for releases that needed both collections in turn.
                _gc.collect()
                session.gc(_RECLAIM_TIMEOUT)
                next_collection = time.monotonic() + 1.0
                continue
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
        session.ping()  # brings back the releases of what the JVM let go meanwhile


def as_batches(data: Any) -> Any:
    """``data`` as record batches: pyarrow ``Table``, ``RecordBatch`` and
    ``RecordBatchReader`` as they are; any other producer through
    ``_native.record_batches``: a struct type's fields are the columns, any
    other type (a pyarrow ``Array`` or ``ChunkedArray``, a polars ``Series``, a
    nanoarrow array) one column named after the producer's field, else
    ``"values"`` (``_native.DEFAULT_COLUMN``). A stream is wrapped, not read."""
    if type(data).__name__ in _BATCH_TYPES and type(data).__module__.startswith("pyarrow"):
        return data
    return _native.record_batches(_as_arrow_producer(data))


_BATCH_TYPES = ("Table", "RecordBatch", "RecordBatchReader")


def java_stream(client: GatunClient, obj: JavaObject) -> Any:
    """The Arrow data a proxy refers to, by value: a pyarrow ``Table`` for a
    ``VectorSchemaRoot``, ``ChunkedArray`` for a ``FieldVector``,
    ``RecordBatchReader`` for an ``ArrowReader``."""
    import pyarrow as pa

    value = client.invoke_static_method("gatun.server.arrow.ArrowValue", "of", obj)
    if isinstance(value, pa.Array):
        return pa.chunked_array([value], type=value.type)
    return value


def java_array(client: GatunClient, obj: JavaObject) -> Any:
    """The proxy's data as one array: a ``FieldVector``'s ``Array``, or a
    ``VectorSchemaRoot``'s ``RecordBatch`` (a struct array of its columns)."""
    import pyarrow as pa

    # A reader is refused in Java, unread (fetched, it would be closed).
    value = client.invoke_static_method("gatun.server.arrow.ArrowValue", "array", obj)
    if isinstance(value, pa.Table):
        batches = value.combine_chunks().to_batches()
        return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=value.schema)
    return value


def send_stream(client: GatunClient, data: Any) -> JavaObject:
    """Send a stream as a Java ``BridgeArrowReader`` that **pulls** its batches.

    The first batch goes with the reader; each later one is read from
    ``data`` and sent when Java's ``loadNextBatch()`` asks for it (a Python
    callback, ``java.util.function.BooleanSupplier``), so a stream larger than
    the arena flows through it: Java holds at most the batch it is reading,
    Python at most the next one.
    """
    import pyarrow as pa

    reader = (
        data
        if isinstance(data, pa.RecordBatchReader)
        else pa.RecordBatchReader.from_stream(as_batches(data))
    )
    batches = iter(reader)  # the native core cuts oversized batches
    first = next(batches, None)
    if first is None:
        first = pa.RecordBatch.from_pylist([], schema=reader.schema)
    pending = [next(batches, None)]
    native = client._session.native
    java_reader = reclaiming(client, lambda: native.stream_batch(first, 0, pending[0] is None))
    if pending[0] is None:
        return java_reader

    source = _StreamSource(client, batches, pending[0])
    proxy = client.register_callback(source, "gatun.server.arrow.BatchSource")
    source.callback_id = proxy.object_id
    java_reader.setSource(proxy)
    return java_reader


class _StreamSource:
    """The Python side of a pulled stream (``gatun.server.arrow.BatchSource``):
    Java calls :meth:`next` for each batch and :meth:`close` if its reader
    closes before the end. Holds the next batch only."""

    def __init__(self, client: GatunClient, batches: Iterator[Any], pending: Any) -> None:
        self._client = client
        self._batches: Iterator[Any] | None = batches
        self._pending = pending
        self.callback_id = 0

    def next(self) -> bool:
        batch = self._pending
        if batch is None or self._batches is None:
            return False
        try:
            self._pending = next(self._batches, None)
        except BaseException:
            self._forget()  # the stream is over: Java gets the error, nothing is kept
            raise
        end = self._pending is None
        if end:
            self._forget()  # Java asks no more after the last batch
        # PULLING_READER: the Java reader whose pull source is running (this
        # callback's request is served by the thread that pulls).
        native = self._client._session.native
        reclaiming(self._client, lambda: native.stream_batch(batch, PULLING_READER, end))
        return True

    def close(self) -> None:
        self._forget()

    def _forget(self) -> None:
        self._batches = None
        self._pending = None
        self._client._session.callbacks.forget(self.callback_id)


def without_views(data: Any) -> Any:
    """``data`` with every Utf8View / BinaryView column, at any depth, cast to
    Utf8 / Binary (a copy of those columns; others are untouched).

    Arrow Java loads view types, but not every JVM consumer knows them: Spark's
    ``ArrowUtils``, for one, has no mapping for them. ``send_arrow(data,
    cast_views=True)`` applies this on the way. A stream is cast batch by batch.
    """
    import pyarrow as pa

    if isinstance(data, (pa.Array, pa.ChunkedArray)):
        plain = _plain_type(data.type)
        return data if plain == data.type else data.cast(plain)
    if not isinstance(data, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
        data = (
            pa.RecordBatchReader.from_stream(as_batches(data))
            if is_stream(data)
            else pa.table(as_batches(data))
        )
    schema = pa.schema(
        [f.with_type(_plain_type(f.type)) for f in data.schema], metadata=data.schema.metadata
    )
    return data if schema == data.schema else data.cast(schema)


def _plain_type(t: Any) -> Any:
    """``t`` with view types replaced by their offset-based equivalents."""
    import pyarrow as pa

    if pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_binary_view(t):
        return pa.binary()

    def field(f: Any) -> Any:
        return f.with_type(_plain_type(f.type))

    if pa.types.is_list(t):
        return pa.list_(field(t.value_field))
    if pa.types.is_large_list(t):
        return pa.large_list(field(t.value_field))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(field(t.value_field), t.list_size)
    if pa.types.is_list_view(t):
        return pa.list_view(field(t.value_field))
    if pa.types.is_large_list_view(t):
        return pa.large_list_view(field(t.value_field))
    if pa.types.is_map(t):
        return pa.map_(field(t.key_field), field(t.item_field), t.keys_sorted)
    if pa.types.is_struct(t):
        return pa.struct([field(t.field(i)) for i in range(t.num_fields)])
    if pa.types.is_dictionary(t):
        return pa.dictionary(t.index_type, _plain_type(t.value_type), t.ordered)
    return t


def is_stream(data: Any) -> bool:
    """True for a stream of batches (``pyarrow.RecordBatchReader`` or another
    ``__arrow_c_stream__`` producer that is not a table or an array)."""
    if type(data).__name__ == "RecordBatchReader":
        return True
    return (
        hasattr(data, "__arrow_c_stream__")
        and not hasattr(data, "__arrow_c_array__")
        and not hasattr(data, "__len__")
        and not hasattr(data, "num_rows")
        and not hasattr(data, "shape")
    )


def reader_from_java(client: GatunClient, java_reader: JavaObject, schema: Any) -> Any:
    """A ``pyarrow.RecordBatchReader`` over a Java ``ArrowReader``: each batch
    is loaded in Java when pyarrow asks for it and crosses like a returned
    root (zero copy on the Python side). The Java reader is closed when the
    Python reader is garbage collected (or exhausted and dropped)."""
    import pyarrow as pa

    def batches() -> Iterator[Any]:
        while True:
            table = client.invoke_static_method(
                "gatun.server.arrow.ArrowBridge", "nextBatch", java_reader
            )
            if table is None:
                return
            yield from table.to_batches()

    return pa.RecordBatchReader.from_batches(schema, batches())


def _as_arrow_producer(data: Any) -> Any:
    """``data`` if it is an Arrow producer, else a ``TypeError`` saying so."""
    if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__arrow_c_array__"):
        return data
    raise TypeError(
        f"cannot send a {type(data).__name__} as Arrow data: it has neither "
        "__arrow_c_stream__ nor __arrow_c_array__ (convert it with pyarrow first)"
    )
