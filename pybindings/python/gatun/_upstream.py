"""Upstream Gatun's Arrow wrappers, kept so code written for it runs unchanged:
:class:`ArrowTableView` (what ``get_arrow_data()`` returns),
:class:`ScopedArenaContext` / :class:`AsyncScopedArenaContext` (what
``arrow_context()`` returns) and the schema helpers of ``gatun.arena``.

Upstream had one fixed shared-memory zone per session, reset by hand, with an
epoch to catch tables that outlived a reset. Here a region of the arena is
freed only when neither side references it, so nothing goes stale: the
wrappers keep upstream's shape without its hazards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from gatun.arena import PayloadArena

__all__ = [
    "ArrowTableView",
    "AsyncScopedArenaContext",
    "BufferInfo",
    "ScopedArenaContext",
    "compute_schema_hash",
    "copy_arrow_table_to_arena",
    "deserialize_schema",
    "estimate_arrow_size",
    "serialize_schema",
]


class ArrowTableView:
    """A pyarrow ``Table`` received from the JVM, as upstream's
    ``get_arrow_data()`` returned it.

    ``table`` is the table itself; the other attributes and methods of a
    ``pyarrow.Table`` (``equals``, ``slice``, ...) are forwarded to it. Unlike
    upstream's, the view never becomes stale (no
    :class:`~gatun.StaleArenaError`): its buffers stay valid for as long as it
    is referenced, after ``reset_payload_arena()`` and after ``close()``.
    """

    def __init__(self, table: Any, epoch: int = 0, client: Any = None) -> None:
        self._table = table
        #: Always 0: kept for upstream's ``repr``/debugging, never checked.
        self.epoch = epoch
        self._client = client

    @property
    def table(self) -> Any:
        """The ``pyarrow.Table``."""
        return self._table

    def to_pandas(self, **kwargs: Any) -> Any:
        """``table.to_pandas(**kwargs)``."""
        return self._table.to_pandas(**kwargs)

    def to_pydict(self) -> dict[str, list[Any]]:
        """``table.to_pydict()``."""
        return self._table.to_pydict()  # type: ignore[no-any-return]

    def to_pylist(self) -> list[dict[str, Any]]:
        """``table.to_pylist()``."""
        return self._table.to_pylist()  # type: ignore[no-any-return]

    @property
    def num_rows(self) -> int:
        """Number of rows."""
        return int(self._table.num_rows)

    @property
    def num_columns(self) -> int:
        """Number of columns."""
        return int(self._table.num_columns)

    @property
    def schema(self) -> Any:
        """The table's schema."""
        return self._table.schema

    @property
    def column_names(self) -> list[str]:
        """The column names."""
        return list(self._table.column_names)

    def column(self, name: str | int) -> Any:
        """One column (a ``ChunkedArray``)."""
        return self._table.column(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._table, name)

    def __len__(self) -> int:
        return len(self._table)

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._table.__arrow_c_stream__(requested_schema)

    def __repr__(self) -> str:
        return f"<ArrowTableView rows={self.num_rows} cols={self.num_columns} (valid)>"


class ScopedArenaContext:
    """Upstream's ``client.arrow_context()``: send tables with
    ``send_arrow_buffers`` and read the last one back with :meth:`receive`;
    on exit the client's current Arrow data is released
    (``reset_payload_arena()``). Not reentrant.

    >>> with client.arrow_context() as ctx:     # doctest: +SKIP
    ...     ctx.send(table)
    ...     back = ctx.receive()
    'Received 3 rows via zero-copy buffers'
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._arena: PayloadArena | None = None
        self._schema_cache: dict[int, bool] = {}

    def __enter__(self) -> ScopedArenaContext:
        if self._arena is not None:
            raise RuntimeError("ScopedArenaContext is not reentrant")
        self._arena = self._client.get_payload_arena()
        return self

    def __exit__(self, exc_type: object, exc_val: object, exc_tb: object) -> None:
        if self._arena is not None:
            self._arena = None
            if not self._client.closed:
                self._client.reset_payload_arena()

    def _check(self, what: str) -> PayloadArena:
        if self._arena is None:
            raise RuntimeError(f"{what}() must be called inside `with client.arrow_context()`")
        return self._arena

    def send(self, table: Any) -> str:
        """Send ``table`` (``send_arrow_buffers``); returns its reply."""
        arena = self._check("send")
        return str(self._client.send_arrow_buffers(table, arena, self._schema_cache))

    def receive(self) -> Any:
        """The last table sent, read back from the JVM as a pyarrow
        ``Table``. It stays valid after the context ends."""
        self._check("receive")
        return self._client.get_arrow_data().table

    @property
    def arena(self) -> PayloadArena | None:
        """The payload arena view while the context is open."""
        return self._arena

    @property
    def schema_cache(self) -> dict[int, bool]:
        """Upstream's schema cache; unused (each session registers a schema once)."""
        return self._schema_cache


class AsyncScopedArenaContext:
    """Upstream's ``arrow_context()`` of the async client: ``await ctx.send(table)``."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._entered = False

    async def __aenter__(self) -> AsyncScopedArenaContext:
        if self._entered:
            raise RuntimeError("AsyncScopedArenaContext is not reentrant")
        self._entered = True
        return self

    async def __aexit__(self, exc_type: object, exc_val: object, exc_tb: object) -> None:
        self._entered = False

    async def send(self, table: Any) -> str:
        """Send ``table`` (``await client.send_arrow_table(table)``)."""
        if not self._entered:
            raise RuntimeError("send() must be called inside `async with client.arrow_context()`")
        return str(await self._client.send_arrow_table(table))


# The functional form keeps the field types real objects: with postponed
# annotations the class form leaves ForwardRef('Any') in __new__, which
# nothing outside this module can resolve (the API reference build warns).
BufferInfo = NamedTuple("BufferInfo", [("offset", int), ("length", int), ("buffer", Any)])  # noqa: UP014
BufferInfo.__doc__ = "Upstream's description of a buffer in its payload arena."


def copy_arrow_table_to_arena(table: Any, arena: Any) -> Any:
    """Upstream's manual copy into its fixed payload zone; not needed here.

    Raises :class:`NotImplementedError` naming what to use instead.
    """
    raise NotImplementedError(
        "copy_arrow_table_to_arena() filled upstream's fixed payload zone by hand; "
        "gatun-rs allocates the arena itself: send the table with client.send_arrow(table) "
        "(one copy into shared memory) or build its columns in client.arena (no copy)"
    )


_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1


def serialize_schema(schema: Any) -> bytes:
    """``schema`` as Arrow IPC bytes."""
    return bytes(schema.serialize().to_pybytes())


def deserialize_schema(schema_bytes: bytes) -> Any:
    """The ``pyarrow.Schema`` of Arrow IPC schema bytes."""
    import pyarrow as pa

    return pa.ipc.read_schema(pa.py_buffer(schema_bytes))


def compute_schema_hash(schema: Any) -> int:
    """A stable 64-bit hash of ``schema`` (64-bit FNV-1a of its IPC bytes,
    as upstream computed it)."""
    value = _FNV_OFFSET
    for byte in serialize_schema(schema):
        value = ((value ^ byte) * _FNV_PRIME) & _MASK64
    return value


def estimate_arrow_size(table: Any) -> int:
    """Upper bound of the arena bytes ``table`` needs: every buffer of every
    chunk, each rounded up to Arrow's 64-byte alignment (slices count whole)."""
    total = 0
    for column in table.columns:
        for chunk in column.chunks:
            for buf in chunk.buffers():
                if buf is not None:
                    total += (buf.size + 63) // 64 * 64
    return total
