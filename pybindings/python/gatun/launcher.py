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
from collections.abc import Mapping, Sequence

from gatun import _native, _output
from gatun._attach import attach
from gatun._launch_support import (
    DEFAULT_JVM_FLAGS,
    JAR_PATH,
    check_lanes,
    classpath_entries,
    entry_point_flag,
    find_server_jar,
    jvm_flags,
    read_connection_file,
)
from gatun._limits import apply_limits, check_limits
from gatun.client import GatunClient
from gatun.config import get_config, parse_memory
from gatun.gateway import GatunSession, launch_gateway

__all__ = [
    "DEFAULT_JVM_FLAGS",
    "JAR_PATH",
    "GatunSession",
    "attach",
    "connect",
    "find_server_jar",
    "launch_gateway",
    "read_connection_file",
]

_log = logging.getLogger("gatun")


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
    limits: Mapping[str, int] | None = None,
    entry_point: str | None = None,
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
    - ``extra_jvm_flags`` / ``jvm_options``: more JVM command-line options, a list of
      strings, one option each (a single ``str`` raises ``TypeError``).
    - ``lanes``: concurrent request lanes (threads calling at once without waiting).
    - ``startup_timeout``: seconds to wait for the JVM (default 30, ``GATUN_STARTUP_TIMEOUT``).
    - ``java``: the ``java`` executable, a command name looked up on ``PATH``, or a
      JDK home (its ``bin/java``) (default: ``[tool.gatun] java``, then
      ``JAVA_HOME``, then ``PATH``). A ``java`` that does not answer ``-version``
      within ``startup_timeout`` raises :class:`~gatun.JavaNotFoundError`.
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
    - ``limits``: lower this session's resource limits, e.g.
      ``{"max_objects": 10_000, "session_idle_timeout_ms": 60_000}`` (names
      as ``-Dgatun.limits.*``, see README "Limits"). Unknown names raise
      ``ValueError`` before the JVM starts. Since this JVM is private, a limit
      above the default is set with ``extra_jvm_flags=["-Dgatun.limits.max_objects=N"]``;
      ``limits`` may only lower what the JVM was started with.
    - ``entry_point``: a class on the class path the server makes when it
      starts (its public no-argument constructor, or a Scala object's
      ``MODULE$``), reached as :attr:`~gatun.GatunClient.entry_point`
      (Py4J's ``GatewayServer(entryPoint)``). A class that cannot be made
      fails the start with :class:`~gatun.BridgeStartupError` naming it.

    >>> client = connect()                                   # doctest: +SKIP
    >>> client.jvm.java.lang.Math.max(10, 20)                # doctest: +SKIP
    20
    """
    _output.check(output)
    if limits is not None:
        check_limits(limits)
    jar = find_server_jar()
    config = get_config()
    memory_bytes = parse_memory(memory if memory is not None else config.memory)
    del socket_path  # see docstring

    options = jvm_flags(config, extra_jvm_flags, jvm_options, trace, log_level, debug)
    options += entry_point_flag(entry_point)
    if (debug or config.debug) and output == "python":
        output = "stderr"

    entries = classpath_entries(classpath) if classpath is not None else list(config.classpath)
    timeout = startup_timeout if startup_timeout is not None else config.startup_timeout

    lanes = lanes if lanes is not None else config.lanes
    check_lanes(lanes, callback_lanes)
    started = time.monotonic()
    try:
        native = _native.NativeClient.launch(
            jar,
            java=java or config.java,
            java_source=None if java else config.java_source,
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
    client = GatunClient(native, memory=memory_bytes)
    apply_limits(client, limits)
    return client
