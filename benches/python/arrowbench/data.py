"""The Arrow suite's data, identical on every side: one column of i, i * 0.5,
or i as 8 decimal digits, in buffers from whichever allocator a path needs."""

from __future__ import annotations


def fill(kind: str, n: int, alloc_numpy, alloc_buffer, start: int = 0):
    """A one-column, one-batch pyarrow Table whose buffers come from the given
    allocators."""
    import numpy as np
    import pyarrow as pa

    if kind == "int64":
        x = alloc_numpy(n, "int64")
        x[:] = np.arange(start, start + n, dtype=np.int64)
        return pa.table({"x": x})
    if kind == "float64":
        x = alloc_numpy(n, "float64")
        np.multiply(np.arange(start, start + n, dtype=np.float64), 0.5, out=x)
        return pa.table({"x": x})
    offsets = alloc_buffer(4 * (n + 1))
    data = alloc_buffer(8 * n)
    o = np.frombuffer(offsets, dtype=np.int32)
    o[:] = np.arange(0, 8 * n + 1, 8, dtype=np.int32)
    d = np.frombuffer(data, dtype=np.uint8).reshape(n, 8)
    i = np.arange(start, start + n, dtype=np.int64)
    for k in range(8):
        d[:, 7 - k] = (i // 10**k) % 10 + 48
    arr = pa.Array.from_buffers(pa.utf8(), n, [None, offsets, data])
    return pa.table({"x": arr})


def heap_numpy(n, dtype):
    import numpy as np

    return np.empty(n, dtype=dtype)


def heap_buffer(nbytes):
    import pyarrow as pa

    return pa.allocate_buffer(nbytes)


def table_bytes(t) -> int:
    return sum(
        b.size for col in t.columns for ch in col.chunks for b in ch.buffers() if b is not None
    )
