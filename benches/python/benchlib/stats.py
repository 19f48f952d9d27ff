"""Percentiles over timing samples and the µs formatting of the call tables,
shared by the calls and doorbell suites so their tables read alike."""

from __future__ import annotations


def percentiles(samples: list[float]) -> dict:
    import numpy as np

    a = np.asarray(samples, dtype=float)
    return {
        "n": int(a.size),
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "p10": float(np.percentile(a, 10)),
        "p90": float(np.percentile(a, 90)),
        "min": float(a.min()),
        "mean": float(a.mean()),
        "max": float(a.max()),
    }


def fmt_us(x: float) -> str:
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"
