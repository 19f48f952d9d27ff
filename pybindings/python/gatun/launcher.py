"""Getting a client: :func:`connect` starts a private JVM, :func:`attach`
joins a server that another JVM hosts.

Each :func:`connect` starts a private JVM running the bundled server jar; the
JVM lives exactly as long as the returned client (``close()``, exit of this
process, or its death). An attached client's JVM is not ours: closing the
client ends its session only.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gatun import _native, _output
from gatun.client import GatunClient
from gatun.config import get_config, parse_memory
from gatun.exceptions import BridgeStartupError

__all__ = [
    "GatunSession",
    "attach",
    "connect",
    "find_server_jar",
    "launch_gateway",
    "read_connection_file",
]

_JAR_NAME = "gatun-server.jar"

_log = logging.getLogger("gatun")


def find_server_jar() -> str:
    """Path of the server jar: ``$GATUN_JAR`` or the one bundled in the package."""
    override = os.environ.get("GATUN_JAR")
    if override:
        if not Path(override).is_file():
            raise BridgeStartupError(f"GATUN_JAR points to {override!r}, which is not a file")
        return override
    bundled = Path(__file__).resolve().parent / "jars" / _JAR_NAME
    if not bundled.is_file():
        raise BridgeStartupError(
            f"the server jar is missing: expected {bundled}. Build it with "
            "`mvn -f java/pom.xml package` and copy java/target/gatun-server.jar there, "
            "or set GATUN_JAR to its path"
        )
    return str(bundled)


def _classpath_entries(classpath: str | os.PathLike[str] | Sequence[str] | None) -> list[str]:
    if classpath is None:
        return []
    if isinstance(classpath, (str, os.PathLike)):
        return [p for p in os.fspath(classpath).split(os.pathsep) if p]
    return [os.fspath(p) for p in classpath]


def _check_lanes(lanes: object, callback_lanes: object) -> None:
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


def connect(
    memory: str | int | None = None,
    socket_path: str | None = None,
    classpath: str | Sequence[str] | None = None,
    trace: bool = False,
    log_level: str | None = None,
    debug: bool = False,
    extra_jvm_flags: Sequence[str] | None = None,
    *,
    jvm_options: Sequence[str] | None = None,
    lanes: int | None = None,
    startup_timeout: float | None = None,
    java: str | None = None,
    doorbell: str | None = None,
    callback_lanes: int = 2,
    verify_utf8: bool | None = None,
    output: _output.OutputTarget = "python",
) -> GatunClient:
    """Start a JVM and return a client connected to it.

    - ``memory``: Arrow arena size (``"64MB"``, ``"1.5GB"`` or bytes).
    - ``socket_path``: accepted for upstream compatibility; gatun-rs always uses a
      private per-session directory.
    - ``classpath``: extra jars/directories, a list or an ``os.pathsep``-separated string.
    - ``trace`` / ``log_level``: the server's own log (``java.util.logging``
      logger ``gatun``, written to the JVM's stderr): ``log_level`` is its
      level (``"INFO"``, ``"FINE"``, ...); ``trace`` logs each method
      resolution (and sets the level to ``FINE`` unless given).
    - ``debug``: the JVM's stdout and stderr both go to Python's
      ``sys.stderr`` (as upstream's ``debug`` does).
    - ``output``: where the JVM's stdout and stderr go: ``"python"``
      (default: ``sys.stdout`` / ``sys.stderr``), ``"stderr"``,
      ``"logging"`` (logger ``gatun.jvm``) or a ``logging.Logger``, a path
      or an open file, or ``None``.
    - ``extra_jvm_flags`` / ``jvm_options``: more JVM command-line options.
    - ``lanes``: concurrent request lanes (threads calling at once without waiting).
    - ``startup_timeout``: seconds to wait for the JVM (default 30, ``GATUN_STARTUP_TIMEOUT``).
    - ``java``: the ``java`` executable (default: ``JAVA_HOME``, then ``PATH``).
    - ``doorbell``: how a call waits for its reply: ``"adaptive"`` (default: spin
      briefly while the JVM is hot, else block), ``"spin"``, ``"backoff"`` or
      ``"block"`` (never spin; least CPU). Also ``GATUN_DOORBELL``.
    - ``callback_lanes``: lanes reserved for Python callbacks that Java fires on
      threads which are not serving a Python call (``new Thread``, executors,
      parallel streams); each is served by a Python daemon thread started by
      the first :meth:`~gatun.GatunClient.register_callback`. ``0`` makes such
      callbacks fail with a Java ``IllegalStateException``.
    - ``verify_utf8``: check that string columns received from the JVM are
      UTF-8 before Python gets them (default ``False``; also
      ``GATUN_VERIFY_UTF8`` and ``verify_utf8`` in ``[tool.gatun]``). Offsets
      and bounds are always checked, so bad data is never read outside its
      buffers; without this check, text that is not UTF-8 is found where it is
      decoded (``to_pylist``, string kernels, ``validate(full=True)``), as
      with pyarrow's own IPC reader. The check reads every byte of the text:
      for short strings it is most of the cost of receiving them.

    >>> client = connect()                                   # doctest: +SKIP
    >>> client.jvm.java.lang.Math.max(10, 20)                # doctest: +SKIP
    20
    """
    _output.check(output)
    jar = find_server_jar()
    config = get_config()
    memory_bytes = parse_memory(memory if memory is not None else config.memory)
    del socket_path  # see docstring

    options = jvm_flags(config, extra_jvm_flags, jvm_options, trace, log_level, debug)
    if (debug or config.debug) and output == "python":
        output = "stderr"

    entries = _classpath_entries(classpath) if classpath is not None else list(config.classpath)
    timeout = startup_timeout if startup_timeout is not None else config.startup_timeout

    lanes = lanes if lanes is not None else config.lanes
    _check_lanes(lanes, callback_lanes)
    started = time.monotonic()
    try:
        native = _native.NativeClient.launch(
            jar,
            java=java or config.java,
            classpath=entries,
            jvm_options=options,
            lanes=lanes,
            startup_timeout=float(timeout),
            arena_memory=memory_bytes,
            doorbell=doorbell or os.environ.get("GATUN_DOORBELL") or "adaptive",
            callback_lanes=callback_lanes,
            verify_utf8=config.verify_utf8 if verify_utf8 is None else verify_utf8,
        )
    except Exception as e:
        _log.error("could not start the JVM: %s", e)
        raise
    _output.forward(native, output)
    _log.info(
        "launched the JVM (pid %d) with %d lanes in %.2f s",
        native.jvm_pid,
        lanes,
        time.monotonic() - started,
    )
    return GatunClient(native, memory=memory_bytes)


def jvm_flags(
    config: Any,
    extra_jvm_flags: Sequence[str] | None,
    jvm_options: Sequence[str] | None,
    trace: bool,
    log_level: str | None,
    debug: bool,
) -> list[str]:
    """The JVM options a launch gets: the configuration's, the caller's, and
    the server's diagnostics (trace, log level, debug)."""
    options: list[str] = list(config.jvm_flags)
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


def attach(
    socket_path: str | os.PathLike[str] | None = None,
    token: str | None = None,
    *,
    connection_file: str | os.PathLike[str] | None = None,
    memory: str | int | None = None,
    lanes: int | None = None,
    callback_lanes: int = 2,
    timeout: float = 30.0,
    doorbell: str | None = None,
    verify_utf8: bool | None = None,
) -> GatunClient:
    """Connect to a gatun server that another JVM hosts and return a client.

    The host started the server with ``GatunServer.startHosted(...)`` (a
    Spark driver through :func:`gatun.spark.attach`, or any Java
    application) and told us its socket and token, directly or through the
    file ``GatunServer.writeConnectionFile`` wrote (``connection_file=``).
    The JVM need not be this process's child: our shared memory is handed
    over as files in a private ``/dev/shm`` directory, each unlinked as soon
    as it is no longer needed. Several clients may attach to one server,
    each in its own session; closing one ends its session only, never the
    host JVM.

    - ``token``: the 32 hexadecimal digits the server was started with.
    - ``memory``, ``lanes``, ``callback_lanes``, ``doorbell``,
      ``verify_utf8``: as for :func:`connect` (``memory`` caps this side's
      arena; the host JVM's own arena is sized by the host).
    - ``timeout``: seconds the handshake may take.

    >>> client = attach(connection_file="/run/app/gatun.conn")   # doctest: +SKIP
    >>> client.jvm.java.lang.Runtime.getRuntime().availableProcessors()  # doctest: +SKIP
    """
    if connection_file is not None:
        if socket_path is not None or token is not None:
            raise ValueError("give either connection_file or socket_path and token, not both")
        socket_path, token = read_connection_file(connection_file)
    if socket_path is None or token is None:
        raise ValueError("attach() needs socket_path and token (or connection_file)")
    config = get_config()
    memory_bytes = parse_memory(memory if memory is not None else config.memory)
    lanes = lanes if lanes is not None else config.lanes
    _check_lanes(lanes, callback_lanes)
    try:
        native = _native.NativeClient.attach(
            os.fspath(socket_path),
            token,
            lanes=lanes,
            timeout=float(timeout),
            arena_memory=memory_bytes,
            doorbell=doorbell or os.environ.get("GATUN_DOORBELL") or "adaptive",
            callback_lanes=callback_lanes,
            verify_utf8=config.verify_utf8 if verify_utf8 is None else verify_utf8,
        )
    except Exception as e:
        _log.error("could not attach to %s: %s", os.fspath(socket_path), e)
        raise
    _log.info("attached to %s (JVM pid %d)", os.fspath(socket_path), native.jvm_pid)
    return GatunClient(native, memory=memory_bytes)


# Upstream's names for the gateway live here too (``gatun.launcher.launch_gateway``);
# gatun.gateway imports this module, so they come last.
from gatun.gateway import GatunSession, launch_gateway  # noqa: E402
