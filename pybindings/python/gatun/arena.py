"""Python's payload arena as Python code sees it: :class:`Arena`, the builders
behind ``client.arena`` (Arrow data built in shared memory, sent with no copy),
and :class:`PayloadArena`, upstream Gatun's view of it, kept for compatibility.

The arena itself (segments, allocator, the ledger of the JVM's holds) is the
native core's ``Arena`` (crate ``gatun-arena``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gatun._upstream import (
    AsyncScopedArenaContext,
    BufferInfo,
    ScopedArenaContext,
    compute_schema_hash,
    copy_arrow_table_to_arena,
    deserialize_schema,
    estimate_arrow_size,
    serialize_schema,
)
from gatun.exceptions import UnsupportedArrowTypeError

if TYPE_CHECKING:
    from gatun.client import GatunClient

__all__ = [
    "Arena",
    "AsyncScopedArenaContext",
    "BufferInfo",
    "PayloadArena",
    "ScopedArenaContext",
    "UnsupportedArrowTypeError",
    "compute_schema_hash",
    "copy_arrow_table_to_arena",
    "deserialize_schema",
    "estimate_arrow_size",
    "serialize_schema",
]

_USE_ARENA = (
    "gatun-rs allocates the payload arena itself: send Arrow data with "
    "client.send_arrow(data) (one copy), or build it in client.arena "
    "(client.arena.buffer(n), .numpy(shape, dtype), .array(values): no copy)"
)


class Arena:
    """Buffers in the shared-memory payload arena, for data built in place.

    Arrow data whose buffers come from here crosses to the JVM with **no copy
    at all**: the send path finds them inside the arena and references them.
    pyarrow wraps numeric numpy arrays without copying, so the simplest use is::

        x = client.arena.numpy(1_000_000, "int64")   # shared memory
        x[:] = np.arange(1_000_000)                   # fill it in place
        root = client.send_arrow(pa.table({"x": x}))  # nothing is copied

    A buffer stays valid while Python or the JVM references it.
    """

    def __init__(self, client: GatunClient) -> None:
        self._client = client

    def buffer(self, nbytes: int) -> Any:
        """A writable ``pyarrow.Buffer`` of ``nbytes`` in the arena."""
        import pyarrow as pa

        return pa.py_buffer(self._client._session.native.arena_allocate(nbytes))

    def numpy(self, shape: int | tuple[int, ...], dtype: Any) -> Any:
        """An uninitialised writable numpy array in the arena."""
        import numpy as np

        dt = np.dtype(dtype)
        dims = tuple(int(d) for d in np.atleast_1d(shape))
        if any(d < 0 for d in dims):
            raise ValueError(
                f"array shape {shape!r} has a negative dimension: counts must be non-negative"
            )
        count = int(np.prod(dims))
        raw = self._client._session.native.arena_allocate(max(1, count * dt.itemsize))
        return np.frombuffer(raw, dtype=dt, count=count).reshape(shape)

    def array(self, values: Any, type: Any = None) -> Any:
        """``values`` copied once into the arena as a pyarrow ``Array`` (fixed-width
        types without nulls), ready to be sent without a further copy."""
        import numpy as np
        import pyarrow as pa

        src = np.asarray(values if type is None else pa.array(values, type=type).to_numpy())
        dst = self.numpy(src.shape, src.dtype)
        dst[...] = src
        return pa.array(dst, type=type)


class PayloadArena:
    """Upstream Gatun's view of the payload arena (``client.get_payload_arena()``),
    kept for upstream-compatible code; new code uses :class:`Arena` (``client.arena``).

    The arena grows by shared-memory segments as needed and frees a region as
    soon as neither side references it, so there is nothing to reset and no
    stale data to guard against: :meth:`reset` is a no-op.
    """

    def __init__(self, path: GatunClient | Any, size: int | None = None) -> None:
        """``client.get_payload_arena()`` makes one. Upstream's
        ``PayloadArena(path, size)`` mapped a file of its own, which gatun-rs
        has no use for: given a path, this raises :class:`NotImplementedError`
        naming what to use instead."""
        if not hasattr(path, "_session"):
            raise NotImplementedError(f"PayloadArena({path!r}, {size!r}): {_USE_ARENA}")
        self._client: GatunClient = path

    @classmethod
    def create(cls, path: Any, size: int) -> PayloadArena:
        """Upstream's file-backed arena: raises :class:`NotImplementedError`
        naming what to use instead."""
        raise NotImplementedError(f"PayloadArena.create(): {_USE_ARENA}")

    @classmethod
    def from_mmap(cls, mmap_obj: Any, base_offset: int, size: int) -> PayloadArena:
        """Upstream's view of its own mapping: raises :class:`NotImplementedError`."""
        raise NotImplementedError(f"PayloadArena.from_mmap(): {_USE_ARENA}")

    def allocate(self, size: int, alignment: int | None = None) -> BufferInfo:
        """Upstream's bump allocation at an offset of its fixed zone: raises
        :class:`NotImplementedError` naming ``client.arena.buffer(size)``."""
        raise NotImplementedError(f"PayloadArena.allocate(): {_USE_ARENA}")

    def allocate_and_copy(self, data: Any) -> BufferInfo:
        """Upstream's copy into its fixed zone: raises :class:`NotImplementedError`."""
        raise NotImplementedError(f"PayloadArena.allocate_and_copy(): {_USE_ARENA}")

    def bytes_used(self) -> int:
        """Bytes held by live regions."""
        return int(self._client._session.native.arena_bytes_in_use)

    def bytes_available(self) -> int:
        """Bytes the arena may still grow by."""
        return max(0, (self._client.memory or 0) - self.bytes_used())

    def reset(self) -> None:
        """No-op: regions are freed when released (upstream needed an epoch)."""

    def close(self) -> None:
        """No-op: the arena belongs to the client."""

    def __enter__(self) -> PayloadArena:
        return self

    def __exit__(self, exc_type: object, exc_val: object, exc_tb: object) -> None:
        self.close()
