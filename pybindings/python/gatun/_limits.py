"""Resource limits: upstream Gatun's ``-Dgatun.limits.*`` names, and a
session lowering its own (``connect(limits={...})``).

The JVM enforces every limit (see README "Limits"); this module checks the
names and values before anything is sent, and turns a mapping into the JVM
flags of a gateway or the one request that lowers a session's limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from gatun import _actions
from gatun.exceptions import JavaException

if TYPE_CHECKING:
    from gatun.client import GatunClient

__all__ = ["LIMIT_NAMES", "apply_limits", "check_limits", "limit_flags"]

#: Every limit, as ``-Dgatun.limits.<name>`` and as a key of ``limits=``.
LIMIT_NAMES: Final = (
    "max_objects",
    "max_string_length",
    "max_list_entries",
    "max_nesting_depth",
    "max_batch_size",
    "max_method_calls",
    "max_create_objects",
    "session_idle_timeout_ms",
    "max_arrow_bytes",
)


def check_limits(limits: Mapping[str, int]) -> dict[str, int]:
    """``limits`` as a plain dict, or ValueError/TypeError naming what is wrong."""
    if not isinstance(limits, Mapping):
        raise TypeError(f"limits must be a dict of limit name to int, not {type(limits).__name__}")
    out: dict[str, int] = {}
    for name, value in limits.items():
        if name not in LIMIT_NAMES:
            raise ValueError(f"unknown limit {name!r}; the limits are {', '.join(LIMIT_NAMES)}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"limit {name} must be an int, not {type(value).__name__}")
        floor = 0 if name == "session_idle_timeout_ms" else 1
        if value < floor:
            raise ValueError(f"limit {name} must be at least {floor}, got {value}")
        out[name] = value
    return out


def limit_flags(limits: Mapping[str, int] | None) -> list[str]:
    """The JVM flags setting ``limits`` for every session of a server."""
    if not limits:
        return []
    return [f"-Dgatun.limits.{k}={v}" for k, v in check_limits(limits).items()]


def apply_limits(client: GatunClient, limits: Mapping[str, int] | None) -> dict[str, Any] | None:
    """Lower ``client``'s session limits; return every limit in force (None
    when ``limits`` is empty). A value above the server's is refused with
    ValueError (a session may only lower what the host set); on any failure
    the client is closed, so a refused connect leaves nothing running."""
    if not limits:
        return None
    try:
        wanted = check_limits(limits)
        in_force = client._session.request(_actions.SET_LIMITS, 0, None, None, (wanted,))
    except JavaException as e:
        client.close()
        raise ValueError(e.message or str(e)) from e
    except BaseException:
        client.close()
        raise
    return dict(in_force)
