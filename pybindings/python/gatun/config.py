"""Configuration: ``[tool.gatun]`` in ``pyproject.toml`` plus ``GATUN_*``
environment variables.

Precedence, highest first: an argument of :func:`gatun.connect`, an
environment variable, ``pyproject.toml`` (the nearest one above the working
directory), the default.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "GatunConfig",
    "find_pyproject_toml",
    "get_config",
    "load_config",
    "parse_memory",
    "reset_config",
]

DEFAULT_MEMORY = "1GB"  # upper bound of the payload arena; reserved only as used
DEFAULT_STARTUP_TIMEOUT = 30.0

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kb": 1 << 10,
    "kib": 1 << 10,
    "m": 1 << 20,
    "mb": 1 << 20,
    "mib": 1 << 20,
    "g": 1 << 30,
    "gb": 1 << 30,
    "gib": 1 << 30,
    "t": 1 << 40,
    "tb": 1 << 40,
    "tib": 1 << 40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: str | int) -> int:
    """A size in bytes from ``"64MB"``, ``"1.5GB"``, ``"512KB"`` or an int.

    Units are binary (``1KB == 1024``).

    >>> parse_memory("1.5KB")
    1536
    """
    if isinstance(value, bool):
        raise TypeError("memory must be a size such as '64MB' or a number of bytes, not a bool")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"memory must be positive, got {value}")
        return value
    match = _SIZE.match(str(value))
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"cannot parse memory size {value!r}; use e.g. '64MB', '1.5GB', '512KB' or bytes"
        )
    size = int(float(match.group(1)) * unit)
    if size <= 0:
        raise ValueError(f"memory must be positive, got {value!r}")
    return size


def _truthy(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class GatunConfig:
    """Settings used by :func:`gatun.connect` when no argument overrides them."""

    # The first five fields in upstream's order, so positional construction matches.
    memory: str | int = DEFAULT_MEMORY
    socket_path: str | None = None
    jvm_flags: list[str] = field(default_factory=list)
    #: Accepted for upstream compatibility; gatun-rs has no separate connect phase.
    connect_timeout: float | None = None
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT
    classpath: list[str] = field(default_factory=list)
    trace: bool = False
    log_level: str | None = None
    debug: bool = False
    java: str | None = None
    #: Where :attr:`java` was set, for error messages (``None``: not set).
    java_source: str | None = None
    lanes: int = 4
    #: Check string columns received from the JVM for UTF-8 (see :func:`gatun.connect`).
    verify_utf8: bool = False

    @property
    def memory_bytes(self) -> int:
        """:attr:`memory` in bytes."""
        return parse_memory(self.memory)


def find_pyproject_toml(start_path: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start_path`` (default: cwd)."""
    here = Path(start_path if start_path is not None else Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _read_pyproject(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: tomli, a dependency there
        import tomli as tomllib  # type: ignore[no-redef]
    with path.open("rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as e:
            import warnings

            warnings.warn(
                f"gatun: ignoring {path}, which is not valid TOML ({e}); its [tool.gatun] "
                "settings are ignored (the defaults and GATUN_* variables apply)",
                stacklevel=3,
            )
            return {}
    section = data.get("tool", {}).get("gatun", {})
    if not isinstance(section, dict):
        return {}
    unknown = sorted(set(section) - _KEYS)
    if unknown:
        import warnings

        warnings.warn(
            f"gatun: unknown key(s) in [tool.gatun] of {path}, ignored: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_KEYS))})",
            stacklevel=3,
        )
    return section


#: The keys :func:`load_config` reads from ``[tool.gatun]``.
_KEYS = frozenset(
    {
        "memory",
        "socket_path",
        "jvm_flags",
        "jvm_options",
        "classpath",
        "startup_timeout",
        "connect_timeout",
        "trace",
        "log_level",
        "debug",
        "java",
        "lanes",
        "verify_utf8",
    }
)


def _number(kind: type[int] | type[float], value: Any, where: str) -> Any:
    """``value`` as an int or float, or a ``ValueError`` naming the setting
    (``where``) and the value that is not one."""
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float)):
            raise ValueError
        return kind(value)
    except (TypeError, ValueError):
        what = "an integer" if kind is int else "a number of seconds"
        raise ValueError(f"gatun: {where} must be {what}, got {value!r}") from None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def load_config(pyproject_path: str | os.PathLike[str] | None = None) -> GatunConfig:
    """Read ``[tool.gatun]`` from ``pyproject_path`` (default: the nearest
    ``pyproject.toml``), then apply the ``GATUN_*`` environment variables."""
    config = GatunConfig()
    pyproject = Path(pyproject_path) if pyproject_path is not None else find_pyproject_toml()
    section = _read_pyproject(pyproject) if pyproject is not None and pyproject.is_file() else {}

    if "memory" in section:
        config.memory = section["memory"]
    if section.get("socket_path"):
        config.socket_path = os.path.expanduser(str(section["socket_path"]))
    config.jvm_flags = _as_list(section.get("jvm_flags", section.get("jvm_options")))
    classpath = section.get("classpath")
    if isinstance(classpath, str):
        config.classpath = [p for p in classpath.split(os.pathsep) if p]
    elif classpath:
        config.classpath = [str(p) for p in classpath]
    where = f"[tool.gatun] {{}} in {pyproject}"
    if "startup_timeout" in section:
        config.startup_timeout = _number(
            float, section["startup_timeout"], where.format("startup_timeout")
        )
    if "connect_timeout" in section:
        config.connect_timeout = _number(
            float, section["connect_timeout"], where.format("connect_timeout")
        )
    config.trace = bool(section.get("trace", False))
    if section.get("log_level"):
        config.log_level = str(section["log_level"])
    config.debug = bool(section.get("debug", False))
    if section.get("java"):
        config.java = str(section["java"])
        config.java_source = where.format("java")
    if "lanes" in section:
        config.lanes = _number(int, section["lanes"], where.format("lanes"))
    config.verify_utf8 = bool(section.get("verify_utf8", False))

    env = os.environ
    if env.get("GATUN_MEMORY"):
        config.memory = env["GATUN_MEMORY"]
    if env.get("GATUN_SOCKET_PATH"):
        config.socket_path = os.path.expanduser(env["GATUN_SOCKET_PATH"])
    if env.get("GATUN_STARTUP_TIMEOUT"):
        config.startup_timeout = _number(
            float, env["GATUN_STARTUP_TIMEOUT"], "the environment variable GATUN_STARTUP_TIMEOUT"
        )
    if env.get("GATUN_CONNECT_TIMEOUT"):
        config.connect_timeout = _number(
            float, env["GATUN_CONNECT_TIMEOUT"], "the environment variable GATUN_CONNECT_TIMEOUT"
        )
    if env.get("GATUN_JVM_OPTIONS"):
        config.jvm_flags = shlex.split(env["GATUN_JVM_OPTIONS"])
    if env.get("GATUN_TRACE"):
        config.trace = _truthy(env["GATUN_TRACE"])
    if env.get("GATUN_LOG_LEVEL"):
        config.log_level = env["GATUN_LOG_LEVEL"]
    if env.get("GATUN_DEBUG"):
        config.debug = _truthy(env["GATUN_DEBUG"])
    if env.get("GATUN_VERIFY_UTF8"):
        config.verify_utf8 = _truthy(env["GATUN_VERIFY_UTF8"])
    parse_memory(config.memory)  # fail early on a bad setting
    return config


_cached: GatunConfig | None = None


def get_config() -> GatunConfig:
    """The configuration, loaded once per process (see :func:`reset_config`)."""
    global _cached
    if _cached is None:
        _cached = load_config()
    return _cached


def reset_config() -> None:
    """Forget the cached configuration; the next :func:`get_config` reloads it."""
    global _cached
    _cached = None
