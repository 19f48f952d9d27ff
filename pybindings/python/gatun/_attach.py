"""Attaching to a server another JVM hosts: :func:`attach`."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from gatun import _native
from gatun._launch_support import check_lanes, read_connection_file
from gatun._limits import apply_limits, check_limits
from gatun.client import GatunClient
from gatun.config import get_config, parse_memory

__all__ = ["attach"]

_log = logging.getLogger("gatun")


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
    limits: Mapping[str, int] | None = None,
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
    - ``limits``: lower this session's resource limits (as for
      :func:`connect`); a value above the host's is refused with
      ``ValueError``: only the host raises them (``-Dgatun.limits.*``).

    >>> client = attach(connection_file="/run/app/gatun.conn")   # doctest: +SKIP
    >>> client.jvm.java.lang.Math.max(1, 2)  # doctest: +SKIP
    """
    if connection_file is not None:
        if socket_path is not None or token is not None:
            raise ValueError("give either connection_file or socket_path and token, not both")
        socket_path, token = read_connection_file(connection_file)
    if socket_path is None or token is None:
        raise ValueError("attach() needs socket_path and token (or connection_file)")
    if limits is not None:
        check_limits(limits)
    config = get_config()
    memory_bytes = parse_memory(memory if memory is not None else config.memory)
    lanes = lanes if lanes is not None else config.lanes
    check_lanes(lanes, callback_lanes)
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
    client = GatunClient(native, memory=memory_bytes)
    apply_limits(client, limits)
    return client
