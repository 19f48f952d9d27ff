"""Python's payload arena as Python code sees it: :class:`Arena`, the builders
behind ``client.arena`` (Arrow data built in shared memory, sent with no copy),
and :class:`PayloadArena`, upstream Gatun's view of it, kept for compatibility.

The arena itself (segments, allocator, the ledger of the JVM's holds) is the
native core's ``Arena`` (crate ``gatun-arena``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gatun.client import GatunClient

__all__ = ["Arena", "PayloadArena"]


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
        count = int(np.prod(shape))
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

    def __init__(self, client: GatunClient) -> None:
        self._client = client

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

    def __exit__(self, *exc: object) -> None:
        self.close()
