"""A JVM that many clients attach to, as upstream Gatun's ``launch_gateway``.

:func:`launch_gateway` starts a JVM hosting a server at a socket path;
any number of clients — in this process or in others — attach to it with
``GatunClient(socket_path).connect()`` (or :func:`gatun.attach`), each in its
own session. The JVM runs until :meth:`GatunSession.stop`, exit of this
process, or its death (it is killed with this process, even by ``kill -9``).
Other processes find the session token in ``<socket_path>.conn`` (mode 0600,
readable by this user only), which the server writes once it listens.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import socket
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gatun import _native, _output
from gatun._attach import attach
from gatun._launch_support import (
    DEFAULT_SOCKET_PATH,
    JAR_PATH,
    classpath_entries,
    connection_file_for,
    entry_point_flag,
    find_server_jar,
    jvm_flags,
)
from gatun._limits import limit_flags
from gatun.config import get_config, parse_memory
from gatun.exceptions import BridgeStartupError

__all__ = ["DEFAULT_SOCKET_PATH", "GatunSession", "connection_file_for", "launch_gateway"]

_log = logging.getLogger("gatun")
_LIVE: weakref.WeakSet[GatunSession] = weakref.WeakSet()


class GatunSession:
    """A running gateway JVM (what :func:`launch_gateway` returns).

    ``socket_path`` is where clients connect; :meth:`connect` attaches one;
    :meth:`stop` ends the JVM and every session on it.
    """

    #: The server jar the gateway runs (the bundled one unless ``GATUN_JAR``
    #: names another; each session's is the one its JVM was started with).
    JAR_PATH: str = str(JAR_PATH)

    def __init__(self, process: Any, socket_path: str, memory_bytes: int | None) -> None:
        """Made by :func:`launch_gateway`; ``process`` is the native gateway
        (upstream's parameter names)."""
        self._native = process
        self.socket_path = socket_path
        #: The file with the socket path and token (mode 0600).
        self.connection_file = connection_file_for(socket_path)
        #: The JVM arena size given to ``launch_gateway``, in bytes.
        self.memory = memory_bytes
        self._lock = threading.Lock()
        self._stopped = False
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        """The gateway JVM's pid."""
        return int(self._native.pid)

    @property
    def running(self) -> bool:
        """Whether the JVM still runs."""
        return not self._stopped and bool(self._native.running)

    def connect(self, **options: Any) -> Any:
        """A new client session on this gateway (options as :func:`gatun.attach`)."""
        return attach(connection_file=self.connection_file, **options)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the JVM (every attached session ends) and remove its files.
        Safe to call more than once. The clients' calls, a call still waiting
        included, then raise :class:`~gatun.BridgeClosedError` saying the
        server stopped."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        _log.info("stopping the gateway JVM (pid %d) at %s", self.pid, self.socket_path)
        self._native.stop(timeout)
        for path in (self.socket_path, self.connection_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def __enter__(self) -> GatunSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<GatunSession {self.socket_path} pid={self.pid} {state}>"


def launch_gateway(
    memory: str | int | None = None,
    socket_path: str | os.PathLike[str] | None = None,
    classpath: str | Sequence[str] | None = None,
    trace: bool = False,
    log_level: str | None = None,
    debug: bool = False,
    extra_jvm_flags: Sequence[str] | None = None,
    *,
    jvm_options: Sequence[str] | None = None,
    java: str | None = None,
    startup_timeout: float | None = None,
    output: _output.OutputTarget = "python",
    limits: Mapping[str, int] | None = None,
    entry_point: str | None = None,
) -> GatunSession:
    """Start a JVM hosting a gatun server at ``socket_path`` (default
    ``~/gatun.sock``) and return its :class:`GatunSession`.

    Clients attach with ``GatunClient(socket_path).connect()``,
    ``session.connect()`` or :func:`gatun.attach`, from this process or
    another of the same user. ``memory`` caps the JVM's arena (results built
    on ``ArrowBridge.allocator()``); each client sizes its own with its own
    ``memory``. ``classpath``, ``trace``, ``log_level``, ``debug``,
    ``extra_jvm_flags``, ``jvm_options``, ``java``, ``startup_timeout`` and
    ``output`` are as for :func:`gatun.connect`; so is ``entry_point``, the
    object every client of the gateway reaches as ``client.entry_point``.
    ``limits`` sets the resource limits of every session of this gateway
    (upstream's ``-Dgatun.limits.*``; may raise them above the defaults); a
    client can only lower its own. A stale socket file (nothing listening) is
    replaced; a live one is an error.

    >>> session = launch_gateway()                       # doctest: +SKIP
    >>> client = GatunClient(session.socket_path)        # doctest: +SKIP
    >>> client.connect()                                 # doctest: +SKIP
    True
    """
    _output.check(output)
    jar = find_server_jar()
    config = get_config()
    memory_bytes = parse_memory(memory if memory is not None else config.memory)
    path = os.path.abspath(
        os.fspath(socket_path) if socket_path is not None else DEFAULT_SOCKET_PATH
    )
    _clear_stale(path)
    options = jvm_flags(config, extra_jvm_flags, jvm_options, trace, log_level, debug)
    options += limit_flags(limits)
    options += entry_point_flag(entry_point)
    if memory_bytes is not None and not any(
        o.startswith("-Dgatun.arrow.allocator.maxBytes=") for o in options
    ):
        options.append(f"-Dgatun.arrow.allocator.maxBytes={memory_bytes}")
    if (debug or config.debug) and output == "python":
        output = "stderr"
    entries = classpath_entries(classpath) if classpath is not None else list(config.classpath)
    timeout = startup_timeout if startup_timeout is not None else config.startup_timeout
    try:
        native = _native.NativeGateway.launch(
            jar,
            path,
            connection_file_for(path),
            java=java or config.java,
            java_source=None if java else config.java_source,
            classpath=entries,
            jvm_options=options,
            startup_timeout=float(timeout),
        )
    except Exception as e:
        _log.error("could not start the gateway JVM: %s", e)
        raise
    _output.forward_reader(native.output_reader(), output)
    session = GatunSession(native, path, memory_bytes)
    session.JAR_PATH = jar
    _log.info("launched a gateway JVM (pid %d) at %s", session.pid, path)
    return session


def _clear_stale(path: str) -> None:
    """Remove ``path`` (and its connection file) if it is a socket nothing
    listens on; refuse if a server answers there or it is something else."""
    if not os.path.lexists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as e:
        if e.errno not in (errno.ECONNREFUSED, errno.ENOENT, errno.ENOTSOCK):
            raise BridgeStartupError(f"cannot use the socket path {path}: {e}") from e
        if e.errno == errno.ENOTSOCK or not Path(path).is_socket():
            raise BridgeStartupError(
                f"{path} exists and is not a socket; choose another socket_path"
            ) from e
        os.unlink(path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(connection_file_for(path))
        return
    finally:
        probe.close()
    raise BridgeStartupError(
        f"a server already listens at {path}; stop it or choose another socket_path"
    )


@atexit.register
def _stop_all() -> None:
    for session in list(_LIVE):
        session.stop()
