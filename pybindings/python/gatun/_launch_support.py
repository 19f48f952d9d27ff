"""What launching, attaching and gateways share: the server jar, the JVM
options, class-path entries, lane checks and the connection file."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gatun._cache import crash_report_option
from gatun.exceptions import BridgeStartupError

__all__ = [
    "DEFAULT_JVM_FLAGS",
    "DEFAULT_SOCKET_PATH",
    "JAR_PATH",
    "check_lanes",
    "classpath_entries",
    "connection_file_for",
    "find_server_jar",
    "jvm_flags",
    "read_connection_file",
]

_JAR_NAME = "gatun-server.jar"

#: The server jar bundled in the package (upstream's ``JAR_PATH``); a
#: ``GATUN_JAR`` environment variable overrides it at launch
#: (:func:`find_server_jar`).
JAR_PATH: Path = Path(__file__).resolve().parent / "jars" / _JAR_NAME

#: The JVM options every launch gets before the caller's (upstream's
#: ``DEFAULT_JVM_FLAGS``), as the native launcher adds them
#: (``REQUIRED_JVM_FLAGS`` in ``bridge/src/launcher.rs``): Arrow's memory
#: module reads ``java.nio.Buffer.address``; ``get_field`` reads non-public
#: fields of ``java.lang`` classes (the class policy refuses writing them).
#: Nothing else of ``java.base`` is opened. Informational: changing this list
#: changes no launch.
DEFAULT_JVM_FLAGS: tuple[str, ...] = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
)

#: Where :func:`launch_gateway` and ``GatunClient()`` put the socket when no
#: path is given (upstream's default).
DEFAULT_SOCKET_PATH = os.path.join(os.path.expanduser("~"), "gatun.sock")


def find_server_jar() -> str:
    """Path of the server jar: ``$GATUN_JAR`` or the one bundled in the package."""
    override = os.environ.get("GATUN_JAR")
    if override:
        if not Path(override).is_file():
            raise BridgeStartupError(f"GATUN_JAR points to {override!r}, which is not a file")
        return override
    bundled = JAR_PATH
    if not bundled.is_file():
        if _source_checkout(bundled) is not None:
            how = "Build it with `scripts/build` (or `mvn -f java/pom.xml package` and copy "
            how += "java/target/gatun-server.jar there)"
        else:  # an installed wheel: the jar is part of it, so the install is broken
            how = "The installed package is incomplete: reinstall it with "
            how += "`pip install --force-reinstall gatun-rs`"
        raise BridgeStartupError(
            f"the server jar is missing: expected {bundled}. {how}, or set GATUN_JAR to its path"
        )
    return str(bundled)


def _source_checkout(jar: Path) -> Path | None:
    """The repository root if ``jar`` is inside a source checkout
    (``<root>/pybindings/python/gatun/jars/``, with ``<root>/java/pom.xml``),
    else ``None`` (an installed package)."""
    root = jar.parents[4] if len(jar.parents) > 4 else None
    if root is not None and (root / "java" / "pom.xml").is_file():
        return root
    return None


def classpath_entries(classpath: str | os.PathLike[str] | Sequence[str] | None) -> list[str]:
    if classpath is None:
        return []
    if isinstance(classpath, (str, os.PathLike)):
        return [p for p in os.fspath(classpath).split(os.pathsep) if p]
    return [os.fspath(p) for p in classpath]


def check_lanes(lanes: object, callback_lanes: object) -> None:
    """``lanes`` and ``callback_lanes`` as the control segment can hold them,
    or a ``ValueError`` naming the one that is wrong."""
    from gatun._layout import MAX_LANES

    for name, value, least in (("lanes", lanes, 1), ("callback_lanes", callback_lanes, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer of at least {least}, not {value!r}")
    if lanes + callback_lanes > MAX_LANES:  # type: ignore[operator]
        raise ValueError(
            f"lanes ({lanes}) + callback_lanes ({callback_lanes}) must be at most {MAX_LANES}"
        )


def jvm_flags(
    config: Any,
    extra_jvm_flags: Sequence[str] | None,
    jvm_options: Sequence[str] | None,
    trace: bool,
    log_level: str | None,
    debug: bool,
) -> list[str]:
    """The JVM options a launch gets: where a crash report goes (first, so
    the caller's own ``-XX:ErrorFile`` wins), the configuration's, the
    caller's, and the server's diagnostics (trace, log level, debug)."""
    for name, given in (("extra_jvm_flags", extra_jvm_flags), ("jvm_options", jvm_options)):
        # A str is a sequence too: "-Xmx1g" would become six one-letter options.
        if isinstance(given, (str, bytes)) or not all(isinstance(o, str) for o in given or ()):
            raise TypeError(
                f"{name} takes a list of strings, one option each (e.g. [{'-Xmx1g'!r}]), "
                f"not {given!r}"
            )
    options: list[str] = crash_report_option()
    options += list(config.jvm_flags)
    options += list(extra_jvm_flags or ())
    options += list(jvm_options or ())
    if trace or config.trace:
        options.append("-Dgatun.trace=true")
    level = log_level or config.log_level
    if level:
        options.append(f"-Dgatun.log.level={level}")
    if debug or config.debug:
        options.append("-Dgatun.debug=true")
    return options


_JAVA_NAME = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*")


def entry_point_flag(entry_point: object) -> list[str]:
    """The JVM option naming the entry point class a launched server makes at
    start (``-Dgatun.entryPoint=...``), or none; a name that cannot be a Java
    class name is refused here, before a JVM starts."""
    if entry_point is None:
        return []
    if not isinstance(entry_point, str) or not _JAVA_NAME.fullmatch(entry_point):
        raise ValueError(
            "entry_point must be a Java class name such as 'com.example.App' (a public "
            f"class with a no-argument constructor, or a Scala object), got {entry_point!r}"
        )
    return [f"-Dgatun.entryPoint={entry_point}"]


def connection_file_for(socket_path: str | os.PathLike[str]) -> str:
    """The file holding a gateway's socket and token: ``<socket_path>.conn``."""
    return os.fspath(socket_path) + ".conn"


def read_connection_file(path: str | os.PathLike[str]) -> tuple[str, str]:
    """The ``(socket_path, token)`` a hosting JVM wrote with
    ``GatunServer.writeConnectionFile``: lines ``socket=<path>`` and
    ``token=<32 hex digits>``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise BridgeStartupError(f"cannot read the connection file {os.fspath(path)!r}: {e}") from e
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    missing = [k for k in ("socket", "token") if not fields.get(k)]
    if missing:
        raise BridgeStartupError(
            f"the connection file {os.fspath(path)!r} has no {' or '.join(missing)}= line"
        )
    return fields["socket"], fields["token"]
