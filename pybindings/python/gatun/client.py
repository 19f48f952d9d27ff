"""The synchronous client: typed wrappers over :class:`gatun._native.NativeClient`.

Every call is one request to the JVM (or one batch of requests). Values are
converted by the native core; this module supplies the hooks for the types it
does not know (proxies, ``JavaArray``, ``pyarrow`` arrays, dates, numpy
scalars) and the guards against using a client after ``close()`` or ``fork()``.
"""

from __future__ import annotations

import array
import asyncio
import atexit
import concurrent.futures
import contextlib
import datetime as _dt
import decimal
import inspect
import os
import sys
import threading
import types
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Final

from gatun import _native
from gatun import arrow as _arrow
from gatun.exceptions import BridgeClosedError
from gatun.jvm import JVMNode, JVMView
from gatun.objects import JavaArray, JavaList, JavaObject, TypeHint

__all__ = ["BatchContext", "BatchResult", "GatunClient"]

_ACTIONS: Final[dict[str, int]] = dict(_native.ACTIONS)
_PING: Final = _ACTIONS["Ping"]
_CREATE: Final = _ACTIONS["CreateObject"]
_INVOKE: Final = _ACTIONS["InvokeMethod"]
_INVOKE_STATIC: Final = _ACTIONS["InvokeStaticMethod"]
_GET_FIELD: Final = _ACTIONS["GetField"]
_SET_FIELD: Final = _ACTIONS["SetField"]
_GET_STATIC: Final = _ACTIONS["GetStaticField"]
_SET_STATIC: Final = _ACTIONS["SetStaticField"]
_REFLECT: Final = _ACTIONS["Reflect"]
_IS_INSTANCE: Final = _ACTIONS["IsInstanceOf"]
_GET_METRICS: Final = _ACTIONS["GetMetrics"]
_REGISTER_CALLBACK: Final = _ACTIONS["RegisterCallback"]
_UNREGISTER_CALLBACK: Final = _ACTIONS["UnregisterCallback"]

# Plain callables: called for every abstract method of the interface. Any other
# object is asked for an attribute named like the Java method first.
_FUNCTION_TYPES: Final = (
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
)

#: Reflect answers kept per client before the cache is reset.
_REFLECT_CACHE_SIZE: Final = 10_000

# One command of a batch: (action, target, class_name, name, args, return_object_ref),
# the target a proxy, an object id or None.
_Command = tuple[int, "JavaObject | int | None", "str | None", "str | None", Sequence[Any], bool]


# Clients of this process, for the atexit and fork hooks.
_LIVE: weakref.WeakSet[GatunClient] = weakref.WeakSet()


def _check_callback(fn: object) -> None:
    if not callable(fn) and type(fn).__module__ == "builtins":
        raise TypeError(
            "register_callback needs a callable, or an object with methods named like the "
            f"interface's, not {type(fn).__name__}"
        )


def _class_name_of(cls: str | JVMNode) -> str:
    if isinstance(cls, str):
        return cls
    if isinstance(cls, JVMNode):
        return cls.path
    raise TypeError(f"expected a class name or a class node, not {type(cls).__name__}")


def _object_id_of(obj: JavaObject | int) -> int:
    if isinstance(obj, _native.ObjectRef):
        return obj.object_id
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj
    raise TypeError(f"expected a JavaObject or an object id, not {type(obj).__name__}")


class GatunClient:
    """A session with one JVM. Made by :func:`gatun.connect`.

    >>> with connect() as client:                              # doctest: +SKIP
    ...     client.invoke_static_method("java.lang.Math", "max", 1, 2)
    2
    """

    def __init__(self, native: _native.NativeClient, *, memory: int | None = None) -> None:
        self._native = native
        #: Arrow arena size requested through ``connect(memory=...)``, in bytes.
        self.memory = memory
        # Why the client can no longer be used (closed, forked), else None.
        self._unusable: str | None = None
        self._close_lock = threading.Lock()
        self._reflect_cache: dict[str, str] = {}
        # The root(s) of the last upstream-style send (send_arrow_table).
        self._current_root: Any = None
        # Python callbacks: callback id -> (function, event loop for coroutines).
        self._callbacks: dict[int, tuple[Callable[..., Any], asyncio.AbstractEventLoop | None]] = {}
        self._callback_lock = threading.Lock()
        self._callback_threads: list[threading.Thread] = []
        self._jvm = JVMView(self)
        self._install_factories()
        _LIVE.add(self)

    # -- factories ----------------------------------------------------------

    def _install_factories(self) -> None:
        # The factories live inside the native client; a weak reference keeps
        # them from forming a cycle back to this object.
        ref = weakref.ref(self)

        def make_object(object_id: int, class_name: str) -> JavaObject:
            client = ref()
            if client is None:
                raise BridgeClosedError("the GatunClient owning this session was garbage collected")
            return JavaObject(client, object_id, class_name)

        def convert_argument(value: Any) -> Any:
            client = ref()
            if client is None:
                raise BridgeClosedError("the GatunClient owning this session was garbage collected")
            return client._convert_argument(value)

        def make_reader(java_reader: JavaObject, schema: Any) -> Any:
            client = ref()
            if client is None:
                raise BridgeClosedError("the GatunClient owning this session was garbage collected")
            return _arrow.reader_from_java(client, java_reader, schema)

        def dispatch_callback(
            callback_id: int, method: str, interface: str, args: tuple[Any, ...]
        ) -> Any:
            client = ref()
            if client is None:
                raise BridgeClosedError("the GatunClient of this callback was garbage collected")
            return client._dispatch_callback(callback_id, method, interface, args)

        self._native.set_factories(
            make_object, JavaList, _make_array, convert_argument, _is_java_array, make_reader
        )
        self._native.set_callback_dispatcher(dispatch_callback)

    # -- state --------------------------------------------------------------

    @property
    def jvm(self) -> JVMView:
        """Package-style access to the JVM: ``client.jvm.java.util.ArrayList()``."""
        return self._jvm

    @property
    def closed(self) -> bool:
        """Whether this client can no longer make calls."""
        return self._unusable is not None or self._native.closed

    @property
    def jvm_pid(self) -> int:
        """Process id of the JVM."""
        return self._native.jvm_pid

    def _check(self) -> None:
        if self._unusable is not None:
            raise BridgeClosedError(self._unusable)

    def _request(
        self,
        action: int,
        object_id: int = 0,
        class_name: str | None = None,
        name: str | None = None,
        args: Sequence[Any] = (),
        return_object_ref: bool = False,
    ) -> Any:
        if self._unusable is not None:
            raise BridgeClosedError(self._unusable)
        return self._native.request(action, object_id, class_name, name, args, return_object_ref)

    def _run_all(self, commands: Iterable[_Command]) -> list[Any]:
        """Run ``commands`` in as few round trips as the lane slot allows;
        return their values in order, or raise the first error."""
        batch = _native.NativeBatch(self._native, True)
        for action, target, class_name, name, args, return_object_ref in commands:
            batch._add(action, target, class_name, name, args, return_object_ref)
        if len(batch):
            self._check()
            batch._run()
        return batch._values()

    def _static_calls(self, calls: Iterable[tuple[str, str, Sequence[Any]]]) -> list[Any]:
        return self._run_all(
            (_INVOKE_STATIC, None, cls, name, args, False) for cls, name, args in calls
        )

    # -- objects and calls ----------------------------------------------------

    def create_object(self, class_name: str | JVMNode, *args: Any) -> Any:
        """Construct ``class_name`` with ``args`` and return the new object."""
        return self._request(_CREATE, 0, _class_name_of(class_name), None, args)

    def invoke_method(
        self,
        obj: JavaObject | int,
        method_name: str,
        *args: Any,
        return_object_ref: bool = False,
    ) -> Any:
        """Call ``obj.method_name(*args)``. ``obj`` may be a proxy or a raw id.

        With ``return_object_ref=True`` the result stays a :class:`JavaObject`
        even when it would convert by value (String, List, ...).
        """
        return self._request(
            _INVOKE, _object_id_of(obj), None, method_name, args, return_object_ref
        )

    def invoke_static_method(
        self,
        cls: str | JVMNode,
        method_name: str,
        *args: Any,
        return_object_ref: bool = False,
    ) -> Any:
        """Call the static method ``cls.method_name(*args)``."""
        return self._request(
            _INVOKE_STATIC, 0, _class_name_of(cls), method_name, args, return_object_ref
        )

    def get_field(self, obj: JavaObject | int | str | JVMNode, name: str) -> Any:
        """Read a field: an instance field of an object, or a static field when
        ``obj`` is a class (a class node such as ``client.jvm.java.lang.Integer``
        or a class name)."""
        if isinstance(obj, (str, JVMNode)):
            return self.get_static_field(obj, name)
        return self._request(_GET_FIELD, _object_id_of(obj), None, name)

    def set_field(self, obj: JavaObject | int | str | JVMNode, name: str, value: Any) -> None:
        """Write a field; static when ``obj`` is a class (see :meth:`get_field`)."""
        if isinstance(obj, (str, JVMNode)):
            self.set_static_field(obj, name, value)
            return
        self._request(_SET_FIELD, _object_id_of(obj), None, name, (value,))

    def get_static_field(self, cls: str | JVMNode, name: str) -> Any:
        """Read the public static field ``cls.name``."""
        return self._request(_GET_STATIC, 0, _class_name_of(cls), name)

    def set_static_field(self, cls: str | JVMNode, name: str, value: Any) -> None:
        """Write the public static field ``cls.name``."""
        self._request(_SET_STATIC, 0, _class_name_of(cls), name, (value,))

    def reflect(self, full_name: str) -> str:
        """What ``full_name`` is: ``"class"``, ``"method"``, ``"field"`` or ``"none"``."""
        return str(self._request(_REFLECT, 0, full_name))

    def _reflect_cached(self, full_name: str) -> str:
        kind = self._reflect_cache.get(full_name)
        if kind is None:
            kind = self.reflect(full_name)
            self._remember_reflect(full_name, kind)
        return kind

    def _remember_reflect(self, full_name: str, kind: str) -> None:
        if len(self._reflect_cache) >= _REFLECT_CACHE_SIZE:
            self._reflect_cache.clear()
        self._reflect_cache[full_name] = kind

    def is_instance_of(self, obj: JavaObject | int, class_name: str | JVMNode) -> bool:
        """Java ``obj instanceof class_name``."""
        return bool(self._request(_IS_INSTANCE, _object_id_of(obj), _class_name_of(class_name)))

    def ping(self) -> bool:
        """One empty round trip; ``True`` when the JVM answers."""
        if self._unusable is not None:
            raise BridgeClosedError(self._unusable)
        self._native.request(_PING, 0, None, None, (), False)
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
        if self._unusable is not None:
            raise BridgeClosedError(self._unusable)
        freed = self.invoke_static_method(
            "gatun.server.arrow.ArrowBridge", "reclaim", max(0, int(timeout * 1000))
        )
        self.ping()  # applies the release notices that came back with the reply
        return int(freed)

    def get_metrics(self) -> str:
        """The server's metrics report (text)."""
        return str(self._request(_GET_METRICS))

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

    def invoke_methods(
        self,
        obj: JavaObject | int,
        calls: Sequence[tuple[str, Sequence[Any]]],
        return_object_refs: bool | Sequence[bool] = False,
    ) -> list[Any]:
        """Call several methods of ``obj`` in order, in one round trip.

        ``calls`` is a list of ``(method_name, args_tuple)``. The first failure
        is raised. ``return_object_refs`` is one flag for all calls or one per call.
        """
        if isinstance(return_object_refs, bool):
            flags: Sequence[bool] = [return_object_refs] * len(calls)
        else:
            flags = list(return_object_refs)
            if len(flags) != len(calls):
                raise ValueError(
                    f"return_object_refs has {len(flags)} flags for {len(calls)} calls"
                )
        return self._run_all(
            (_INVOKE, obj, None, name, args, bool(flag))
            for (name, args), flag in zip(calls, flags, strict=True)
        )

    def create_objects(self, specs: Sequence[tuple[str | JVMNode, Sequence[Any]]]) -> list[Any]:
        """Construct several objects in one round trip; ``specs`` is a list of
        ``(class_name, args_tuple)``. The first failure is raised."""
        return self._run_all(
            (_CREATE, None, _class_name_of(cls), None, args, False) for cls, args in specs
        )

    def get_fields(self, obj: JavaObject | int, names: Sequence[str]) -> list[Any]:
        """Read several instance fields of ``obj`` in one round trip."""
        return self._run_all((_GET_FIELD, obj, None, n, (), False) for n in names)

    # -- Python callbacks ----------------------------------------------------------

    def register_callback(
        self,
        fn: Callable[..., Any],
        interface_name: str | JVMNode,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> JavaObject:
        """Implement the Java interface ``interface_name`` with ``fn``.

        Returns a :class:`JavaObject` (a ``java.lang.reflect.Proxy``) to pass to
        Java. Each call of one of the interface's abstract methods runs
        ``fn(*args)`` in this process and returns its result to Java; if ``fn``
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
        _check_callback(fn)
        proxy = self._request(_REGISTER_CALLBACK, 0, _class_name_of(interface_name))
        self._adopt_callback(proxy, fn, loop)
        return proxy  # type: ignore[no-any-return]

    def _adopt_callback(
        self, proxy: JavaObject, fn: Callable[..., Any], loop: asyncio.AbstractEventLoop | None
    ) -> None:
        """Route Java's calls of ``proxy`` (just registered) to ``fn``."""
        self._callbacks[proxy.object_id] = (fn, loop)
        self._start_callback_threads()

    def unregister_callback(self, callback: JavaObject | int) -> None:
        """Forget a callback (its proxy, or its id ``proxy.object_id``): Java
        calls of the proxy throw ``IllegalStateException`` from now on."""
        callback_id = _object_id_of(callback)
        self._callbacks.pop(callback_id, None)
        self._request(_UNREGISTER_CALLBACK, callback_id)

    def _dispatch_callback(
        self, callback_id: int, method: str, interface: str, args: tuple[Any, ...]
    ) -> Any:
        """Run one callback call from Java (called by the native core)."""
        target, loop = self._callback_target(callback_id, method, interface)
        result = target(*args)
        if inspect.isawaitable(result):
            result = _wait_for(result, loop)
        return result

    def _callback_target(
        self, callback_id: int, method: str, interface: str
    ) -> tuple[Callable[..., Any], asyncio.AbstractEventLoop | None]:
        """The function to call for Java's call of ``interface.method`` on
        callback ``callback_id``, and the loop its coroutines belong to."""
        entry = self._callbacks.get(callback_id)
        if entry is None:
            raise LookupError(
                f"Python callback {callback_id} ({interface}.{method}) is not registered "
                "in this client (it was unregistered)"
            )
        fn, loop = entry
        target = fn
        if not isinstance(fn, _FUNCTION_TYPES):
            named = getattr(fn, method, None)
            if callable(named):
                target = named
        return target, loop

    def _start_callback_threads(self) -> None:
        """Start one daemon thread per callback lane (once): they run callbacks
        that Java fires on threads which are not serving a Python call."""
        with self._callback_lock:
            if self._callback_threads:
                return
            for index in self._native.callback_lanes:
                thread = threading.Thread(
                    target=self._native.serve_callbacks,
                    args=(index,),
                    name=f"gatun-callbacks-lane{index}",
                    daemon=True,
                )
                thread.start()
                self._callback_threads.append(thread)

    # -- argument conversion ---------------------------------------------------

    def _convert_argument(self, value: Any) -> Any:
        """Turn an argument the native core does not know into one it does."""
        if isinstance(value, _dt.datetime):
            return self._timestamp(value)
        if isinstance(value, _dt.date):
            return self.invoke_static_method(
                "java.sql.Date", "valueOf", value.isoformat(), return_object_ref=True
            )
        if isinstance(value, _dt.time):
            # java.sql.Time has whole seconds only.
            text = value.replace(microsecond=0, tzinfo=None).isoformat()
            return self.invoke_static_method(
                "java.sql.Time", "valueOf", text, return_object_ref=True
            )
        if isinstance(value, (set, frozenset)):
            # Sent as a java.util.List (element order is Python's).
            return list(value)
        if isinstance(value, (tuple, range)):
            return list(value)
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, array.array):
            return _from_array_module(value)
        if isinstance(value, decimal.Decimal):
            return self.create_object("java.math.BigDecimal", str(value))
        module = type(value).__module__ or ""
        if _is_arrow_table_like(value):
            # A table-like argument crosses as a VectorSchemaRoot, a stream (or
            # data with dictionaries) as a BridgeArrowReader. It lives as long
            # as its proxy: for the duration of this call. To keep data in
            # Java, send it with send_arrow() and keep the returned reference.
            if _arrow.is_stream(value):
                return self.send_arrow(value)
            return self.send_arrow(_single_batch(value))
        if module.startswith("pyarrow"):
            converted = _from_arrow(value)
            if converted is not None:
                return converted
        if module == "numpy" or module.startswith("numpy."):
            converted = _from_numpy(value)
            if converted is not None:
                return converted
        qualified = type(value).__qualname__
        if module not in ("", "builtins"):
            qualified = f"{module}.{qualified}"
        raise TypeError(
            f"cannot pass a value of type {qualified!r} to Java; supported: None, bool, int, "
            "float, str, bytes, list, tuple, dict, set, JavaObject, JavaArray, TypeHint, datetime, "
            "array.array, numpy scalars and pyarrow arrays"
        )

    def _timestamp(self, value: _dt.datetime) -> JavaObject:
        # Naive datetimes are local time, like java.sql.Timestamp.valueOf.
        aware = value if value.tzinfo is not None else value.astimezone()
        delta = aware - _EPOCH
        seconds = delta.days * 86_400 + delta.seconds
        stamp = self.create_object(
            "java.sql.Timestamp", TypeHint(seconds * 1000 + delta.microseconds // 1000, "long")
        )
        if delta.microseconds:
            stamp.setNanos(delta.microseconds * 1000)
        return stamp

    # -- lifecycle ---------------------------------------------------------------

    # ------------------------------------------------------------- Arrow

    @property
    def arena(self) -> _arrow.ArenaAllocator:
        """Buffers in the shared-memory payload arena (the zero-copy path)."""
        return _arrow.ArenaAllocator(self)

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
        self._check()
        return _arrow.send(self, data, cast_views)

    def send_arrow_table(self, table: Any) -> str:
        """Upstream-compatible: send ``table``; returns ``"Received N rows"``.

        The JVM keeps the data as the client's current root (see
        :meth:`get_arrow_data`) until the next send or :meth:`reset_payload_arena`.
        """
        # As upstream: a table's chunks are combined into one batch.
        batch = _single_batch(table)
        self._replace_current_root(self.send_arrow(batch))
        return f"Received {batch.num_rows} rows"

    def send_arrow_table_batched(self, table: Any, batch_size: int | None = None) -> list[str]:
        """Upstream-compatible: send ``table`` in batches of ``batch_size`` rows."""
        batches = table.to_batches(max_chunksize=batch_size) if batch_size else table.to_batches()
        return [self.send_arrow_table(batch) for batch in batches]

    def get_payload_arena(self) -> _arrow.PayloadArena:
        """Upstream-compatible view of the payload arena."""
        return _arrow.PayloadArena(self)

    def send_arrow_buffers(
        self, table: Any, arena: _arrow.PayloadArena | None = None, schema_cache: Any = None
    ) -> str:
        """Upstream-compatible zero-copy send; ``arena`` and ``schema_cache`` are
        accepted and unused (schemas are registered once per session anyway)."""
        batch = _single_batch(table)
        self._replace_current_root(self.send_arrow(batch))
        return f"Received {batch.num_rows} rows via zero-copy buffers"

    def reset_payload_arena(self) -> None:
        """Upstream-compatible: release the current root. Nothing else needs a
        reset: regions are freed as soon as neither side references them."""
        self._replace_current_root(None)

    def get_arrow_data(self) -> Any:
        """The data of the last :meth:`send_arrow_table` / :meth:`send_arrow_buffers`,
        read back from the JVM as a pyarrow ``Table``."""
        root = self._current_root
        if root is None:
            raise RuntimeError("no Arrow data has been sent yet (send_arrow_table first)")
        if root.class_name != "org.apache.arrow.vector.VectorSchemaRoot":
            raise NotImplementedError(
                f"the last send crossed as a {root.class_name} (dictionary columns, or a "
                "batch over 512 MiB), which cannot be read back without consuming it"
            )
        # Returned by value, the root itself crosses (its buffers are Python's own
        # regions, referenced in place); the JVM's root is left as it was.
        return self.invoke_static_method("java.util.Objects", "requireNonNull", root)

    def arrow_context(self) -> Any:
        """Upstream-compatible scope: tables sent through it are closed on exit."""
        return _arrow.arrow_context(self)

    def _replace_current_root(self, root: Any) -> Any:
        old, self._current_root = self._current_root, root
        if old is not None and not self.closed:
            old.close()
        return root

    def close(self) -> None:
        """End the session and stop the JVM. Safe to call more than once.

        Everything the session holds goes now, not when this object is
        collected: lane sockets, shared-memory segments (memfds and their
        mappings) and callback threads. Arrow data still referenced here
        stays valid (a received table keeps the JVM segment it points into
        mapped, an arena buffer its segment) until it is dropped. Later calls
        raise :class:`~gatun.BridgeClosedError`.
        """
        with self._close_lock:
            if self._unusable is not None:
                return
            self._unusable = "this GatunClient is closed"
        _LIVE.discard(self)
        self._native.close()
        # The callback threads end with the session; wait briefly so none is
        # left inside the interpreter when it exits.
        current = threading.current_thread()
        for thread in self._callback_threads:
            if thread is not current:
                thread.join(timeout=2.0)
        self._callbacks.clear()

    def _mark_forked(self) -> None:
        # The child of a fork shares the parent's session memory; it must
        # never speak on it nor stop the parent's JVM.
        self._unusable = (
            "this GatunClient was inherited through os.fork() and cannot be used in the "
            "child process; call gatun.connect() in the child instead"
        )

    def __enter__(self) -> GatunClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"jvm_pid={self._native.jvm_pid}"
        return f"<GatunClient {state}>"


_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


# ------------------------------------------------------------------ batches


#: The future result of one command of a :class:`BatchContext` (native: a
#: handle on the batch's store of replies, not tracked by Python's cyclic GC).
BatchResult = _native.BatchResult


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

    __slots__ = ("_client",)
    _client: GatunClient

    def __new__(cls, client: GatunClient, stop_on_error: bool = False) -> BatchContext:
        self = super().__new__(cls, client._native, stop_on_error)
        self._client = client
        return self

    def create(self, class_name: str | JVMNode, *args: Any) -> BatchResult:
        """Queue ``new class_name(*args)``."""
        return self._add(_CREATE, None, _class_name_of(class_name), None, args)

    def call_static(self, cls: str | JVMNode, method_name: str, *args: Any) -> BatchResult:
        """Queue the static call ``cls.method_name(*args)``."""
        return self._add(_INVOKE_STATIC, None, _class_name_of(cls), method_name, args)

    def get_field(self, obj: JavaObject | int | str | JVMNode, name: str) -> BatchResult:
        """Queue a field read (static when ``obj`` is a class)."""
        if isinstance(obj, (str, JVMNode)):
            return self._add(_GET_STATIC, None, _class_name_of(obj), name)
        return self._add(_GET_FIELD, obj, None, name)

    def set_field(
        self, obj: JavaObject | int | str | JVMNode, name: str, value: Any
    ) -> BatchResult:
        """Queue a field write (static when ``obj`` is a class)."""
        if isinstance(obj, (str, JVMNode)):
            return self._add(_SET_STATIC, None, _class_name_of(obj), name, (value,))
        return self._add(_SET_FIELD, obj, None, name, (value,))

    def execute(self) -> list[BatchResult]:
        """Send the queued commands (once) and return their results in order."""
        self._send()
        return self._results()

    def _send(self) -> None:
        if not self.ran and len(self):
            self._client._check()
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


# ------------------------------------------------------------ callbacks


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _wait_for(awaitable: Awaitable[Any], loop: asyncio.AbstractEventLoop | None) -> Any:
    """The result of a coroutine callback, from a thread that is not running it.

    It runs on ``loop`` when that loop is running on another thread (the async
    client's loop, free while its call waits in a worker thread); otherwise on
    a private loop in a helper thread (this thread may be the loop's own,
    blocked inside the Java call).
    """
    if loop is not None and loop.is_running():
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is not loop:
            return asyncio.run_coroutine_threadsafe(_awaited(awaitable), loop).result()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gatun-callback") as pool:
        return pool.submit(asyncio.run, _awaited(awaitable)).result()


# ------------------------------------------------------- conversion helpers


def _is_arrow_table_like(value: Any) -> bool:
    """Any Arrow producer but a pyarrow ``Array`` or ``ChunkedArray`` (those
    stay typed Java arrays): tables, batches, streams, and the one-column
    producers of other libraries (a polars ``Series``, a nanoarrow array)."""
    if not (hasattr(value, "__arrow_c_stream__") or hasattr(value, "__arrow_c_array__")):
        return False
    pa = sys.modules.get("pyarrow")
    return pa is None or not isinstance(value, (pa.Array, pa.ChunkedArray))


def _single_batch(value: Any) -> Any:
    """One batch for one table argument (a multi-chunk table is combined; a
    one-column producer is a table of that column, see ``arrow.as_batches``)."""
    import pyarrow as pa

    if isinstance(value, pa.RecordBatch):
        return value
    table = value if isinstance(value, pa.Table) else pa.table(_arrow.as_batches(value))
    return table.combine_chunks()


def _make_array(items: list[Any], element_type: str) -> JavaArray:
    return JavaArray(items, element_type)


def _is_java_array(value: Any) -> tuple[str, Sequence[Any]] | None:
    if isinstance(value, JavaArray):
        return _wire_element_type(value.element_type), list(value)
    return None


def _wire_element_type(element_type: str) -> str:
    # JavaArray says "Bool"; accept a native table that spells it "Boolean".
    if element_type == "Bool" and "Bool" not in _native.ELEMENT_TYPES:
        return "Boolean"
    return element_type


def _integer_element_type(signed: bool, itemsize: int) -> str:
    """Smallest Java array type holding every value of a C integer type."""
    if itemsize == 1:
        return "Byte"  # unsigned bytes wrap, as in Java's byte[]
    widths = {2: "Short", 4: "Int", 8: "Long"}
    return widths[itemsize] if signed else widths[min(itemsize * 2, 8)]


def _as_signed_bytes(values: list[int]) -> list[int]:
    return [v - 256 if v > 127 else v for v in values]


def _from_array_module(value: array.array[Any]) -> JavaArray:
    code = value.typecode
    items = value.tolist()
    if code in "fd":
        return JavaArray(items, "Float" if code == "f" else "Double")
    if code == "u" or code == "w":
        return JavaArray(items, "Char")
    element_type = _integer_element_type(code.islower(), value.itemsize)
    if code == "B":
        items = _as_signed_bytes(items)
    return JavaArray(items, element_type)


def _check_no_nulls(items: list[Any], what: str) -> None:
    for index, item in enumerate(items):
        if item is None:
            raise TypeError(
                f"{what} has a null at index {index}; a primitive Java array cannot hold "
                "null (fill the nulls or cast the array to a non-primitive type)"
            )


def _from_arrow(value: Any) -> JavaArray | None:
    pa = sys.modules.get("pyarrow")
    if pa is None:
        return None
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if not isinstance(value, pa.Array):
        return None
    arrow_type = value.type
    types = pa.types
    if types.is_dictionary(arrow_type):
        return _from_arrow(value.dictionary_decode())
    items = value.to_pylist()  # honours offsets and nulls, unlike raw buffers
    is_string_view = getattr(types, "is_string_view", lambda _: False)
    if types.is_string(arrow_type) or types.is_large_string(arrow_type):
        return JavaArray(items, "String")
    if is_string_view(arrow_type):
        return JavaArray(items, "String")
    what = f"pyarrow array of {arrow_type}"
    if types.is_boolean(arrow_type):
        _check_no_nulls(items, what)
        return JavaArray(items, "Bool")
    if types.is_integer(arrow_type):
        _check_no_nulls(items, what)
        signed = types.is_signed_integer(arrow_type)
        element_type = _integer_element_type(signed, arrow_type.bit_width // 8)
        if not signed and arrow_type.bit_width == 8:
            items = _as_signed_bytes(items)
        return JavaArray(items, element_type)
    if types.is_floating(arrow_type):
        _check_no_nulls(items, what)
        return JavaArray(items, "Double" if arrow_type.bit_width == 64 else "Float")
    return JavaArray(items, "Object")


def _from_numpy(value: Any) -> Any:
    np = sys.modules.get("numpy")
    if np is None:
        return None
    if isinstance(value, np.generic):
        if isinstance(value, (np.bool_, np.integer, np.floating, np.str_, np.bytes_)):
            return value.item()
        return None
    if isinstance(value, np.ndarray) and value.ndim == 1:
        kind, itemsize = value.dtype.kind, value.dtype.itemsize
        items = value.tolist()
        if kind == "b":
            return JavaArray(items, "Bool")
        if kind in "iu":
            if kind == "u" and itemsize == 1:
                items = _as_signed_bytes(items)
            return JavaArray(items, _integer_element_type(kind == "i", itemsize))
        if kind == "f" and itemsize in (4, 8):
            return JavaArray(items, "Float" if itemsize == 4 else "Double")
        if kind in "UO":
            return list(items)
    return None


# -------------------------------------------------------- process hooks


def _close_all_at_exit() -> None:
    for client in list(_LIVE):
        with contextlib.suppress(Exception):  # the interpreter is exiting
            client.close()


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client._mark_forked()
    _LIVE.clear()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
