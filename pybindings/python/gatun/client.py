"""The synchronous client, :class:`GatunClient`, and its batches, :class:`BatchContext`.

Every call is one request to the JVM (or one batch of requests), made through
the client's :class:`~gatun._session._Session`. Values are converted by the
native core; the hooks for the types it does not know are in
:mod:`gatun._convert`, Python callbacks in :mod:`gatun._callbacks`, the
upstream-compatible calls in :mod:`gatun._compat`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any

from gatun import _actions, _native
from gatun import arrow as _arrow
from gatun._callbacks import check_callback
from gatun._compat import UpstreamCalls
from gatun._convert import convert_argument, is_java_array, make_array
from gatun._metrics import parse_report
from gatun._native import PROTOCOL_VERSION
from gatun._session import _Session
from gatun._upstream import ArrowTableView
from gatun.arena import Arena
from gatun.exceptions import (
    BridgeClosedError,
    CallbackTimeoutError,
    CancelledException,
    DeadConnectionError,
    JavaClassNotFoundException,
    JavaException,
    JavaIllegalArgumentException,
    JavaIndexOutOfBoundsException,
    JavaNoSuchFieldException,
    JavaNoSuchMethodException,
    JavaNullPointerException,
    JavaNumberFormatException,
    JavaRuntimeException,
    JavaSecurityException,
    PayloadTooLargeError,
    ProtocolDesyncError,
    ReentrancyError,
    SocketTimeoutError,
    StaleArenaError,
)
from gatun.jvm import JavaClass, JVMNode, JVMView, class_name_of, java_import
from gatun.objects import JavaArray, JavaList, JavaObject, TypeHint, object_id_of

# Upstream's gatun.client exported its exceptions, proxies and constants too:
# ``from gatun.client import JavaException`` and the like keep working.
__all__ = [
    "ArrowTableView",
    "BatchContext",
    "BatchResult",
    "COMMAND_ZONE_SIZE",
    "CallbackTimeoutError",
    "CancelledException",
    "DEFAULT_CALLBACK_TIMEOUT",
    "DEFAULT_SOCKET_TIMEOUT",
    "DeadConnectionError",
    "GatunClient",
    "HANDSHAKE_TIMEOUT",
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
    "JavaNullPointerException",
    "JavaNumberFormatException",
    "JavaObject",
    "JavaRuntimeException",
    "JavaSecurityException",
    "PROTOCOL_VERSION",
    "PayloadTooLargeError",
    "ProtocolDesyncError",
    "RESPONSE_ZONE_SIZE",
    "ReentrancyError",
    "SocketTimeoutError",
    "StaleArenaError",
    "TypeHint",
    "java_import",
]


#: Upstream's 64 KiB command zone. Here, the default lane slot (1 MiB); a
#: request larger than its slot spills into the payload arena, so this is
#: not a limit on what a call may carry.
COMMAND_ZONE_SIZE: int = 1 << 20
#: Upstream's 64 KiB response zone; as :data:`COMMAND_ZONE_SIZE`, the
#: default slot, which larger replies spill out of.
RESPONSE_ZONE_SIZE: int = 1 << 20
#: ``None``: callbacks have no time limit here (upstream's was 30 s).
DEFAULT_CALLBACK_TIMEOUT: float | None = None
#: ``None``: calls have no time limit here (upstream's 30 s killed the
#: connection during long Java calls); a dead JVM is detected at once.
DEFAULT_SOCKET_TIMEOUT: float | None = None
#: Seconds ``GatunClient(socket_path).connect()`` waits for the handshake.
HANDSHAKE_TIMEOUT: float = 30.0


_log = logging.getLogger("gatun")


class GatunClient(UpstreamCalls):
    """A session with one JVM. Made by :func:`gatun.connect`.

    >>> with connect() as client:                              # doctest: +SKIP
    ...     client.invoke_static_method("java.lang.Math", "max", 1, 2)
    2
    """

    def __init__(
        self,
        socket_path: _native.NativeClient | str | os.PathLike[str] | None = None,
        callback_timeout: float | None = None,
        socket_timeout: float | None = None,
        handshake_timeout: float | None = None,
        *,
        memory: int | None = None,
    ) -> None:
        """``GatunClient(socket_path)``, as upstream's, makes a client of the
        gateway at ``socket_path`` (default ``~/gatun.sock``, see
        :func:`gatun.launch_gateway`) that :meth:`connect` attaches.
        (:func:`gatun.connect` passes a connected native core instead.)
        ``callback_timeout`` and ``socket_timeout`` are accepted and kept as
        attributes for upstream compatibility, but calls and callbacks have no
        time limit here (a dead JVM is detected at once); ``handshake_timeout``
        bounds :meth:`connect`."""
        native = socket_path
        #: Accepted for upstream compatibility; unused (see above).
        self.callback_timeout = callback_timeout
        #: Accepted for upstream compatibility; unused (see above).
        self.socket_timeout = socket_timeout
        #: Seconds :meth:`connect` waits for the handshake (default 30).
        self.handshake_timeout = handshake_timeout
        #: Arrow arena size requested through ``connect(memory=...)``, in bytes.
        self.memory = memory
        self._jvm = JVMView(self)
        # Class name -> the Python protocol its objects follow (JavaObject._kind).
        self._kinds: dict[str, str] = {}
        #: The gateway socket of a client made from a path (else None).
        self.socket_path: str | None = None
        if isinstance(native, _native.NativeClient):
            #: The session with the JVM; proxies and views reach it through here.
            self._session: Any = _Session(native)
            self._install_hooks()
        else:
            self.socket_path = (
                os.fspath(native)
                if native is not None
                else os.path.join(os.path.expanduser("~"), "gatun.sock")
            )
            self._session = _Unconnected(self.socket_path)

    def connect(self) -> bool:
        """Attach a client made from a socket path to its gateway; ``True``
        once connected (also when it already was), ``False`` after logging
        why it could not, as upstream's. The token comes from the gateway's
        connection file, ``<socket_path>.conn``."""
        if not isinstance(self._session, _Unconnected):
            return not self.closed
        from gatun._launch_support import connection_file_for, read_connection_file

        assert self.socket_path is not None
        try:
            socket_path, token = read_connection_file(connection_file_for(self.socket_path))
            native = _native.NativeClient.attach(
                socket_path,
                token,
                timeout=float(self.handshake_timeout or HANDSHAKE_TIMEOUT),
                arena_memory=self.memory,
            )
        except Exception as e:  # noqa: BLE001 - upstream's connect() reports by returning False
            _log.error("could not connect to the gateway at %s: %s", self.socket_path, e)
            return False
        self._session = _Session(native)
        self._install_hooks()
        _log.info("connected to the gateway at %s (JVM pid %d)", self.socket_path, native.jvm_pid)
        return True

    def _install_hooks(self) -> None:
        """Give the native core the Python code it calls while converting
        values and for callbacks. The hooks live inside the native client; a
        weak reference keeps them from forming a cycle back to this object."""
        ref = weakref.ref(self)

        def owner(what: str) -> GatunClient:
            client = ref()
            if client is None:
                raise BridgeClosedError(f"the GatunClient {what} was garbage collected")
            return client

        def make_object(object_id: int, class_name: str) -> JavaObject:
            return JavaObject(owner("owning this session"), object_id, class_name)

        def convert(value: Any) -> Any:
            return convert_argument(owner("owning this session"), value)

        def make_reader(java_reader: JavaObject, schema: Any) -> Any:
            return _arrow.reader_from_java(owner("owning this session"), java_reader, schema)

        def dispatch_callback(
            callback_id: int, method: str, interface: str, args: tuple[Any, ...]
        ) -> Any:
            callbacks = owner("of this callback")._session.callbacks
            return callbacks.dispatch(callback_id, method, interface, args)

        native = self._session.native
        native.set_factories(make_object, JavaList, make_array, convert, is_java_array, make_reader)
        native.set_callback_dispatcher(dispatch_callback)

    # -- state --------------------------------------------------------------

    @property
    def _native(self) -> _native.NativeClient:
        """The native client underneath (diagnostics: ``arrow_stats()``,
        ``arena_regions_in_use``, ...)."""
        return self._session.native

    @property
    def jvm(self) -> JVMView:
        """Package-style access to the JVM: ``client.jvm.java.util.ArrayList()``."""
        return self._jvm

    @property
    def closed(self) -> bool:
        """Whether this client can no longer make calls."""
        return self._session.closed

    @property
    def attached(self) -> bool:
        """Whether this client joined a server another JVM hosts
        (:func:`gatun.attach`): closing it ends its session, not the JVM."""
        return bool(self._session.native.attached)

    @property
    def jvm_pid(self) -> int:
        """Process id of the JVM."""
        return self._session.native.jvm_pid

    # -- objects and calls ----------------------------------------------------

    def create_object(self, class_name: str | JVMNode, *args: Any) -> Any:
        """Construct ``class_name`` with ``args`` and return the new object."""
        return self._session.request(
            _actions.CREATE_OBJECT, 0, class_name_of(class_name), None, args
        )

    def invoke_method(
        self,
        obj_id: JavaObject | int,
        method_name: str,
        *args: Any,
        return_object_ref: bool = False,
    ) -> Any:
        """Call ``obj_id.method_name(*args)``: ``obj_id`` is a proxy (or, as
        upstream allowed, the raw id of a live one).

        With ``return_object_ref=True`` the result stays a :class:`JavaObject`
        even when it would convert by value (String, List, ...).
        """
        return self._session.request(
            _actions.INVOKE_METHOD,
            object_id_of(obj_id, self._session.native),
            None,
            method_name,
            args,
            return_object_ref,
        )

    def invoke_static_method(
        self,
        class_name: str | JVMNode,
        method_name: str,
        *args: Any,
        return_object_ref: bool = False,
    ) -> Any:
        """Call the static method ``class_name.method_name(*args)`` (a name or
        a class node such as ``client.jvm.java.lang.Math``)."""
        return self._session.request(
            _actions.INVOKE_STATIC_METHOD,
            0,
            class_name_of(class_name),
            method_name,
            args,
            return_object_ref,
        )

    def get_field(self, obj_id: JavaObject | int | str | JVMNode, field_name: str) -> Any:
        """Read a field: an instance field of an object, or a static field when
        ``obj_id`` is a class (a class node such as ``client.jvm.java.lang.Integer``
        or a class name)."""
        if isinstance(obj_id, (str, JVMNode)):
            return self.get_static_field(obj_id, field_name)
        return self._session.request(
            _actions.GET_FIELD, object_id_of(obj_id, self._session.native), None, field_name
        )

    def set_field(
        self, obj_id: JavaObject | int | str | JVMNode, field_name: str, value: Any
    ) -> None:
        """Write a field; static when ``obj_id`` is a class (see :meth:`get_field`)."""
        if isinstance(obj_id, (str, JVMNode)):
            self.set_static_field(obj_id, field_name, value)
            return
        self._session.request(
            _actions.SET_FIELD,
            object_id_of(obj_id, self._session.native),
            None,
            field_name,
            (value,),
        )

    def get_static_field(self, class_name: str | JVMNode, field_name: str) -> Any:
        """Read the public static field ``class_name.field_name``."""
        return self._session.request(
            _actions.GET_STATIC_FIELD, 0, class_name_of(class_name), field_name
        )

    def set_static_field(self, class_name: str | JVMNode, field_name: str, value: Any) -> None:
        """Write the public static field ``class_name.field_name``."""
        self._session.request(
            _actions.SET_STATIC_FIELD, 0, class_name_of(class_name), field_name, (value,)
        )

    def reflect(self, full_name: str) -> str:
        """What ``full_name`` is: ``"class"``, ``"method"``, ``"field"`` or ``"none"``."""
        return str(self._session.request(_actions.REFLECT, 0, full_name))

    def is_instance_of(self, obj: JavaObject | int, class_name: str | JVMNode) -> bool:
        """Java ``obj instanceof class_name``."""
        return bool(
            self._session.request(
                _actions.IS_INSTANCE_OF,
                object_id_of(obj, self._session.native),
                class_name_of(class_name),
            )
        )

    def ping(self) -> bool:
        """One empty round trip; ``True`` when the JVM answers."""
        self._session.ping()
        return True

    def gc(self, timeout: float = 5.0) -> int:
        """Give back the Arrow memory of Java objects nobody references any more.

        Arrow data Java received (a root from :meth:`send_arrow`, a table
        passed as an argument) stays valid for as long as Java references it,
        and the bridge never closes it behind Java's back. Its memory comes
        back when Java closes it, or when the JVM's garbage collector finds it
        unreachable; that happens by itself when an arena fills up. This runs
        a collection in the JVM now, waits (at most ``timeout`` seconds) for
        the memory of what it found, and applies the releases here.

        Returns the number of allocations the collection gave back.
        """
        return self._session.gc(timeout)

    def get_metrics(self, *, as_dict: bool = False) -> Any:
        """The server's metrics report: text in upstream's layout, or with
        ``as_dict=True`` the same as ``{section: {key: value}}`` (see README
        "Metrics")."""
        report = str(self._session.request(_actions.GET_METRICS))
        return parse_report(report) if as_dict else report

    # -- several requests in one round trip ------------------------------------

    def batch(self, stop_on_error: bool = False) -> BatchContext:
        """Collect calls and send them in one round trip when the block ends
        (in as few as the lane slot allows when they, or their replies, do not
        fit one). With ``stop_on_error`` the commands after the first failure
        are skipped. See :class:`BatchContext`.

        >>> with client.batch() as b:                       # doctest: +SKIP
        ...     r = b.call_static("java.lang.Math", "max", 1, 2)
        >>> r.get()                                         # doctest: +SKIP
        2
        """
        return BatchContext(self, stop_on_error)

    # -- Python callbacks ----------------------------------------------------------

    def register_callback(
        self,
        callback_fn: Callable[..., Any],
        interface_name: str | JVMNode,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> JavaObject:
        """Implement the Java interface ``interface_name`` with ``fn``.

        Returns a :class:`JavaObject` (a ``java.lang.reflect.Proxy``) to pass to
        Java. Each call of one of the interface's abstract methods runs
        ``callback_fn(*args)`` in this process and returns its result to Java; if ``fn``
        is an object (not a plain function) with a method named like the Java
        method, that method is called instead. Default methods (e.g.
        ``Comparator.reversed()``) run their Java code; ``toString``,
        ``hashCode`` and ``equals`` are answered by Java.

        ``fn`` may call Java itself. When Java calls it on the thread that serves
        a Python call, it runs on the Python thread that made that call;
        otherwise on one of the client's callback threads. A coroutine function
        is awaited on ``loop`` (the async client passes its own), else on a
        private event loop. An exception raised by ``fn`` is thrown in Java as
        ``gatun.server.PythonException`` ("ValueError: message").

        >>> cmp = client.register_callback(compare, "java.util.Comparator")  # doctest: +SKIP
        >>> client.jvm.java.util.Collections.sort(arr, cmp)  # doctest: +SKIP
        """
        check_callback(callback_fn)
        proxy = self._session.request(_actions.REGISTER_CALLBACK, 0, class_name_of(interface_name))
        self._session.callbacks.adopt(proxy.object_id, callback_fn, loop)
        return proxy  # type: ignore[no-any-return]

    def unregister_callback(self, callback_id: JavaObject | int) -> None:
        """Forget a callback (its id ``proxy.object_id``, or the proxy): Java
        calls of the proxy throw ``IllegalStateException`` from now on."""
        callback_id = object_id_of(callback_id)
        self._session.callbacks.forget(callback_id)
        self._session.request(_actions.UNREGISTER_CALLBACK, callback_id)

    # -- Arrow -------------------------------------------------------------------

    @property
    def arena(self) -> Arena:
        """Buffers in the shared-memory payload arena (the zero-copy path)."""
        return Arena(self)

    def send_arrow(self, data: Any, *, cast_views: bool = False) -> Any:
        """Send Arrow data to the JVM through the shared-memory payload arena.

        ``data`` is any Arrow producer: a pyarrow ``Table``, ``RecordBatch``,
        ``RecordBatchReader``, ``Array`` or ``ChunkedArray``, a polars
        ``DataFrame`` or ``Series``, a nanoarrow array or stream, a proxy of a
        Java root, anything with ``__arrow_c_stream__`` / ``__arrow_c_array__``.
        A struct type's fields are the columns (a struct array with null rows is
        refused); any other type is **one column**, named after the producer's
        field (a ``Series``' name) or else ``"values"``. A stream is sent batch
        by batch as it is read. Each batch is copied once into the arena (not at
        all when built in ``client.arena``) and wrapped in place by the JVM.
        Returns a reference to a ``VectorSchemaRoot`` for one batch (a table of
        one chunk, a record batch, an array), or to one
        ``gatun.server.arrow.BridgeArrowReader`` for a stream, a table or
        chunked array of several chunks or data with dictionary-encoded columns.
        Extension types (``pa.uuid()``, ``pa.json_()``, user ones) cross as
        their ``ARROW:extension:*`` field metadata and come back as the type. Close it in Java
        (``root.close()``) to release the data; the session's end does too.
        A type Arrow Java cannot load (Decimal32, Decimal64) is refused before
        any data moves. View columns (Utf8View, BinaryView) arrive as Java view
        vectors; ``cast_views=True`` casts them to Utf8 / Binary first, for JVM
        code that does not know view types (Spark).
        """
        self._session.check()
        return _arrow.send(self, data, cast_views)

    # -- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        """End the session and stop the JVM (an attached client's ends its
        session only). Safe to call more than once.

        Everything the session holds goes now, not when this object is
        collected: lane sockets, shared-memory segments (memfds and their
        mappings) and callback threads. Arrow data still referenced here
        stays valid (a received table keeps the JVM segment it points into
        mapped, an arena buffer its segment) until it is dropped. Later calls
        raise :class:`~gatun.BridgeClosedError`.
        """
        if isinstance(self._session, _Unconnected):
            return
        if not self._session.closed:
            _log.info("closing the session with the JVM (pid %d)", self.jvm_pid)
        self._session.close()

    def __enter__(self) -> GatunClient:
        if isinstance(self._session, _Unconnected) and not self.connect():
            raise BridgeClosedError(f"could not connect to the gateway at {self.socket_path}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"jvm_pid={self._session.native.jvm_pid}"
        return f"<GatunClient {state}>"


# ------------------------------------------------------------------ batches


#: The future result of one command of a :class:`BatchContext` (native: a
#: handle on the batch's store of replies, not tracked by Python's cyclic GC).
BatchResult = _native.BatchResult


class _Unconnected:
    """The session of a client made from a socket path before ``connect()``."""

    closed = True

    def __init__(self, socket_path: str) -> None:
        self.unusable = f"not connected: call connect() to attach to the gateway at {socket_path}"

    def __getattr__(self, name: str) -> Any:
        raise BridgeClosedError(self.unusable)


class BatchContext(_native.NativeBatch):
    """Commands encoded as they are queued and sent on ``__exit__`` (only when
    the with-block did not raise) or on :meth:`execute`, in one round trip, or
    in as few as the lane slot allows when they do not fit one.

    ``call`` is the native method itself: queueing a call runs no Python code.
    Arguments are converted when queued (a ``datetime`` or ``Decimal`` then
    becomes a Java object); a command too large for any message raises
    :class:`~gatun.PayloadTooLargeError` there.

    >>> with client.batch() as b:                           # doctest: +SKIP
    ...     added = [b.call(arr, "add", i) for i in range(1000)]
    >>> added[0].get(), len(b)                              # doctest: +SKIP
    (True, 1000)
    """

    __slots__ = ("_session",)
    _session: _Session

    def __new__(cls, client: GatunClient, stop_on_error: bool = False) -> BatchContext:
        session = client._session
        self = super().__new__(cls, session.native, stop_on_error)
        self._session = session
        return self

    def create(self, class_name: str | JVMNode, *args: Any) -> BatchResult:
        """Queue ``new class_name(*args)``."""
        return self._add(_actions.CREATE_OBJECT, None, class_name_of(class_name), None, args)

    def call_static(self, class_name: str | JVMNode, method_name: str, *args: Any) -> BatchResult:
        """Queue the static call ``class_name.method_name(*args)``."""
        return self._add(
            _actions.INVOKE_STATIC_METHOD, None, class_name_of(class_name), method_name, args
        )

    def get_field(self, obj: JavaObject | int | str | JVMNode, field_name: str) -> BatchResult:
        """Queue a field read (static when ``obj`` is a class)."""
        if isinstance(obj, (str, JVMNode)):
            return self._add(_actions.GET_STATIC_FIELD, None, class_name_of(obj), field_name)
        return self._add(_actions.GET_FIELD, obj, None, field_name)

    def set_field(
        self, obj: JavaObject | int | str | JVMNode, field_name: str, value: Any
    ) -> BatchResult:
        """Queue a field write (static when ``obj`` is a class)."""
        if isinstance(obj, (str, JVMNode)):
            return self._add(
                _actions.SET_STATIC_FIELD, None, class_name_of(obj), field_name, (value,)
            )
        return self._add(_actions.SET_FIELD, obj, None, field_name, (value,))

    def execute(self) -> list[BatchResult]:
        """Send the queued commands (once) and return their results in order."""
        self._send()
        return self._results()

    def _send(self) -> None:
        if not self.ran and len(self):
            self._session.check()
        self._run()

    def __enter__(self) -> BatchContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._send()
        else:
            self._drop_spare()
