"""gatun: call Java from Python through shared memory.

>>> from gatun import connect                       # doctest: +SKIP
>>> client = connect()                              # doctest: +SKIP
>>> client.jvm.java.lang.Integer.parseInt("42")     # doctest: +SKIP
42

The Rust core lives in :mod:`gatun._native`; everything public is re-exported here.
"""

# gatun-rs package marker: _gatun_rs_guard (run at interpreter start) looks for
# this line to tell our __init__.py from one another distribution put here.

from __future__ import annotations

import logging as _logging
from pathlib import Path as _Path

from gatun._clash import check_name_clash as _check_name_clash

# Before anything else of ours is imported: upstream's files mixed into this
# directory would make those imports fail with misleading errors.
_check_name_clash(_Path(__file__).resolve().parent)

from gatun._compat import ArrowContext
from gatun._native import PROTOCOL_VERSION
from gatun._running import RunningCall
from gatun._upstream import (
    ArrowTableView,
    AsyncScopedArenaContext,
    ScopedArenaContext,
    estimate_arrow_size,
)
from gatun.arena import Arena, PayloadArena
from gatun.async_client import (
    AsyncGatunClient,
    AsyncJavaClass,
    AsyncJavaObject,
    AsyncJVMView,
    aconnect,
    run_sync,
)
from gatun.client import BatchContext, BatchResult, GatunClient
from gatun.config import GatunConfig, get_config, load_config, reset_config
from gatun.exceptions import (
    BatchSkippedError,
    BridgeClosedError,
    BridgeStartupError,
    CallbackTimeoutError,
    CancelledException,
    DeadConnectionError,
    GatunError,
    JavaClassNotFoundException,
    JavaException,
    JavaIllegalArgumentException,
    JavaIndexOutOfBoundsException,
    JavaNoSuchFieldException,
    JavaNoSuchMethodException,
    JavaNotFoundError,
    JavaNullPointerException,
    JavaNumberFormatException,
    JavaRuntimeException,
    JavaSecurityException,
    LimitExceededError,
    PayloadTooLargeError,
    ProtocolDesyncError,
    ProtocolError,
    ReentrancyError,
    SocketTimeoutError,
    StaleArenaError,
    UnsupportedArrowTypeError,
)
from gatun.jvm import JavaClass, JVMView, java_import
from gatun.launcher import GatunSession, attach, connect, launch_gateway
from gatun.objects import JavaArray, JavaList, JavaObject, TypeHint


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gatun-rs")
    except PackageNotFoundError:
        return "0+unknown"


__version__: str = _version()

__all__ = [
    "PROTOCOL_VERSION",
    "Arena",
    "BatchContext",
    "BatchResult",
    "BatchSkippedError",
    "BridgeClosedError",
    "ArrowContext",
    "ArrowTableView",
    "AsyncGatunClient",
    "AsyncJVMView",
    "AsyncJavaClass",
    "AsyncJavaObject",
    "AsyncScopedArenaContext",
    "BridgeStartupError",
    "CallbackTimeoutError",
    "CancelledException",
    "DeadConnectionError",
    "GatunClient",
    "GatunConfig",
    "GatunError",
    "JVMView",
    "JavaArray",
    "JavaClass",
    "JavaClassNotFoundException",
    "JavaException",
    "JavaIllegalArgumentException",
    "JavaIndexOutOfBoundsException",
    "JavaList",
    "JavaNoSuchFieldException",
    "JavaNoSuchMethodException",
    "JavaNotFoundError",
    "JavaNullPointerException",
    "JavaNumberFormatException",
    "JavaObject",
    "JavaRuntimeException",
    "LimitExceededError",
    "JavaSecurityException",
    "PayloadArena",
    "PayloadTooLargeError",
    "ProtocolDesyncError",
    "ProtocolError",
    "ReentrancyError",
    "RunningCall",
    "ScopedArenaContext",
    "SocketTimeoutError",
    "StaleArenaError",
    "TypeHint",
    "UnsupportedArrowTypeError",
    "__version__",
    "GatunSession",
    "aconnect",
    "launch_gateway",
    "attach",
    "connect",
    "estimate_arrow_size",
    "get_config",
    "java_import",
    "load_config",
    "reset_config",
    "run_sync",
]

# A library logs; the application decides where it goes. Without this,
# Python's last-resort handler printed every error record to stderr beside
# the exception that carried the same message.
_logging.getLogger("gatun").addHandler(_logging.NullHandler())

# The ``from __future__`` import above is not part of the package.
del annotations
