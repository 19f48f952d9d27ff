"""The dict form of the server's metrics report (``get_metrics(as_dict=True)``)."""

from __future__ import annotations

from typing import Any

__all__ = ["parse_report"]


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def parse_report(report: str) -> dict[str, dict[str, Any]]:
    """The report as ``{section: {key: value}}`` (sections lower-cased:
    ``global``, ``arrow``, ``callbacks``, ``actions``, ``session``); each
    action maps to ``{"count", "errors", "p50_us", "p90_us", "p99_us"}``."""
    out: dict[str, dict[str, Any]] = {}
    section: dict[str, Any] | None = None
    name = ""
    for line in report.splitlines():
        if not line.strip() or line.startswith("==="):
            continue
        if not line.startswith(" ") and line.endswith(":"):
            name = line[:-1].strip().lower()
            section = out.setdefault(name, {})
            continue
        if section is None:
            continue
        key, _, value = line.strip().partition(": ")
        if name == "actions":
            fields = (item.partition("=") for item in value.split())
            section[key] = {k: _number(v) for k, _, v in fields}
        else:
            section[key] = _number(value)
    return out
