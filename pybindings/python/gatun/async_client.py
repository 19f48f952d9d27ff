"""The asyncio client: the same session, with awaitable calls.

>>> client = await aconnect()                          # doctest: +SKIP
>>> arr = await client.jvm.java.util.ArrayList()       # doctest: +SKIP
>>> await arr.add("hello")                             # doctest: +SKIP
True

**How a call waits.** A call takes a free lane without blocking
(``NativeClient.begin``), sends its request, and watches the lane's socket
with ``loop.add_reader`` (ARCHITECTURE §5, "always ring" lanes). While the
event loop holds the lane, Python's waiting flag stays raised, so Java writes a
doorbell byte for every answer; each time the socket is readable the call
drains the byte and checks the sequence number in shared memory (the truth,
the byte only a hint). Before registering the socket a call lets the loop
turn once, since a hot JVM often answers within it (a ping then costs a few
µs instead of a wake-up). Nothing spins or blocks on the loop's thread, and a
JVM that dies closes the socket, which fails the call at once.

**When it falls back to a thread.** The loop borrows at most ``lanes - 1``
lanes (all of them when ``lanes=1``), keeping one for the blocking calls its
thread still makes (the first navigation of a name such as
``client.jvm.java.util``, a static field read). A call that finds no lane to
borrow, one whose arguments need a Java call to convert (``datetime``,
``Decimal``, Arrow tables), :meth:`AsyncGatunClient.send_arrow`, upstream's
Arrow calls (``send_arrow_table``, ...) and the vectorised ones
(``invoke_methods``, ``create_objects``, ``get_fields``) run on a small
thread pool instead, as every call did before: the native wait releases the
GIL, so they too leave the loop free.

**Callbacks.** Java may call back during a call: the callback call arrives on
the lane instead of the answer. A plain function runs on the loop's thread
with the lane held, so the blocking calls it makes go back on that lane. A
coroutine function runs as a task on this loop; the calls it awaits on this
client go on the same lane, one at a time, where the Java thread waiting for
the callback serves them. (Blocking calls from inside a coroutine callback
take another lane.)

**Cancellation.** Cancelling the awaiting task sends ``CANCEL`` for the call
and gives the lane back; the lane drops the late answer (and refuses late
callback calls) by sequence number before anyone uses it again. A call made
by a coroutine callback on its lane finishes before the cancellation is
raised, so the lane never carries two requests. Each call the loop waits for
also has a request id (:meth:`AsyncGatunClient.running_calls`);
:meth:`AsyncGatunClient.cancel` stops it the same way and the awaiting task
gets :class:`~gatun.CancelledException`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import select
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

from gatun import _actions, _native
from gatun._async_proxies import (
    _HELD,
    AsyncJavaClass,
    AsyncJavaObject,
    AsyncJVMView,
    _class_of,
    _HeldLane,
    _id_of,
    _unwrap,
    _unwrap_deep,
    _wrap,
)
from gatun._callbacks import awaited, check_callback
from gatun._layout import POLL_ANSWER, POLL_CALLBACK
from gatun._metrics import parse_report
from gatun._running import RunningCall
from gatun._upstream import AsyncScopedArenaContext
from gatun.client import GatunClient
from gatun.exceptions import BridgeClosedError, CancelledException
from gatun.jvm import JVMNode
from gatun.launcher import connect
from gatun.objects import JavaObject

__all__ = [
    "AsyncGatunClient",
    "AsyncJVMView",
    "AsyncJavaClass",
    "AsyncJavaObject",
    "aconnect",
    "get_default_executor",
    "run_sync",
]

_T = TypeVar("_T")
_default_executor: ThreadPoolExecutor | None = None


def get_default_executor() -> ThreadPoolExecutor:
    """The thread pool :func:`run_sync` uses when given none (4 workers,
    made on first use)."""
    global _default_executor
    if _default_executor is None:
        _default_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gatun-run-sync")
    return _default_executor


async def run_sync(
    func: Callable[..., _T],
    *args: Any,
    executor: ThreadPoolExecutor | None = None,
    **kwargs: Any,
) -> _T:
    """``func(*args, **kwargs)`` on a worker thread, awaited (upstream's
    helper for calling the synchronous client from asyncio code; the
    native wait releases the GIL, so the loop stays free).

    >>> size = await run_sync(client.invoke_method, arr, "size")   # doctest: +SKIP
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(func, *args, **kwargs)
    return await loop.run_in_executor(executor or get_default_executor(), call)


_PING: Final = _actions.PING
_CREATE: Final = _actions.CREATE_OBJECT
_INVOKE: Final = _actions.INVOKE_METHOD
_INVOKE_STATIC: Final = _actions.INVOKE_STATIC_METHOD
_GET_STATIC: Final = _actions.GET_STATIC_FIELD
_REFLECT: Final = _actions.REFLECT
_SET_STATIC: Final = _actions.SET_STATIC_FIELD
_GET_FIELD: Final = _actions.GET_FIELD
_SET_FIELD: Final = _actions.SET_FIELD
_IS_INSTANCE_OF: Final = _actions.IS_INSTANCE_OF
_GET_METRICS: Final = _actions.GET_METRICS
_REGISTER_CALLBACK: Final = _actions.REGISTER_CALLBACK
_UNREGISTER_CALLBACK: Final = _actions.UNREGISTER_CALLBACK


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _LoopCall:
    """A call the event loop waits for: its request id, and what
    :meth:`AsyncGatunClient.cancel` needs to stop the wait."""

    __slots__ = ("cancelled", "info", "wake")

    def __init__(self, info: RunningCall) -> None:
        self.info = info
        self.cancelled = False
        #: The future the wait is parked on, woken by a cancel.
        self.wake: asyncio.Future[None] | None = None


#: Stands for a nested call (made by a coroutine callback): it has no id of its own.
_NESTED: Final = RunningCall(0, 0, "", "", 0.0)


async def _readable(loop: asyncio.AbstractEventLoop, fd: int, call: _LoopCall) -> None:
    """Until ``fd`` is readable (a doorbell byte or EOF) or ``call`` is
    cancelled, without blocking the loop."""
    future = loop.create_future()
    try:
        loop.add_reader(fd, _wake, future)
    except NotImplementedError:  # a loop that cannot watch sockets
        await loop.run_in_executor(None, select.select, [fd], [], [])
        return
    call.wake = future
    try:
        await future
    finally:
        call.wake = None
        loop.remove_reader(fd)


async def _settle(task: asyncio.Future[Any]) -> None:
    """Wait for ``task`` to end, whatever happens to the waiter meanwhile."""
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            continue
    if not task.cancelled():
        task.exception()  # retrieved: the caller raises its own error


class AsyncGatunClient:
    """An asyncio face of :class:`gatun.GatunClient`; made by :func:`aconnect`.

    ``AsyncGatunClient(socket_path)`` (upstream's form) is a client of the
    gateway at ``socket_path`` that ``await client.connect()`` (or ``async
    with``) attaches, as ``GatunClient(socket_path).connect()`` does; the
    timeouts are as for :class:`gatun.GatunClient`.
    """

    def __init__(
        self,
        socket_path: GatunClient | str | None = None,
        callback_timeout: float | None = None,
        socket_timeout: float | None = None,
        handshake_timeout: float | None = None,
        *,
        workers: int | None = None,
    ) -> None:
        sync = socket_path
        if not isinstance(sync, GatunClient):
            sync = GatunClient(sync, callback_timeout, socket_timeout, handshake_timeout)
        #: The synchronous client underneath.
        self.sync = sync
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        #: How many calls waited through the event loop and how many on a
        #: worker thread (see the module docstring).
        self.calls_on_loop = 0
        self.calls_on_threads = 0
        #: The calls the loop waits for, by request id.
        self._loop_calls: dict[int, _LoopCall] = {}

    @property
    def _session(self) -> Any:
        return self.sync._session

    @property
    def socket_path(self) -> str | None:
        """The gateway socket of a client made from a path (else None)."""
        return self.sync.socket_path

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self._workers or self._session.native.lanes,
                thread_name_prefix="gatun-async",
            )
        return self._pool

    async def connect(self) -> bool:
        """Attach a client made from a socket path (see
        :meth:`gatun.GatunClient.connect`); ``True`` once connected."""
        loop = asyncio.get_running_loop()
        return bool(await loop.run_in_executor(None, self.sync.connect))

    async def _run(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` on a worker thread (the fallback path)."""
        self.calls_on_threads += 1
        loop = asyncio.get_running_loop()
        value = await loop.run_in_executor(self._executor(), functools.partial(fn, *_unwrap(args)))
        return _wrap(self, value)

    async def _call(
        self,
        action: int,
        object_id: int = 0,
        class_name: str | None = None,
        name: str | None = None,
        args: Sequence[Any] = (),
        return_object_ref: bool = False,
    ) -> Any:
        """One request: on a lane watched by the loop when one is free, else
        on a worker thread."""
        self._session.check()
        args = _unwrap(args)
        held = _HELD.get()
        if held is not None and held.client is self and held.active:
            return await self._call_nested(
                held, action, object_id, class_name, name, args, return_object_ref
            )
        try:
            pending = self._session.native.begin(
                action, object_id, class_name, name, args, return_object_ref
            )
        except _native.CallNeedsThread:
            pending = None
        if pending is None:
            return await self._run(
                self._session.request, action, object_id, class_name, name, args, return_object_ref
            )
        self.calls_on_loop += 1
        call = self._track(action, object_id, class_name, name)
        try:
            return _wrap(self, await self._complete(pending, call))
        finally:
            del self._loop_calls[call.info.request_id]

    def _track(
        self, action: int, object_id: int, class_name: str | None, name: str | None
    ) -> _LoopCall:
        """Registers a call the loop is about to wait for, under a fresh request id."""
        if class_name is not None:
            target = f"{class_name}.{name}" if name is not None else class_name
        elif object_id:
            target = f"#{object_id}.{name}" if name is not None else f"#{object_id}"
        else:
            target = name or ""
        info = RunningCall(
            self._session.native.next_request_id(),
            threading.get_ident(),
            _actions.NAMES.get(action, str(action)),
            target,
            time.time(),
        )
        call = _LoopCall(info)
        self._loop_calls[info.request_id] = call
        return call

    async def _call_nested(
        self,
        held: _HeldLane,
        action: int,
        object_id: int,
        class_name: str | None,
        name: str | None,
        args: tuple[Any, ...],
        return_object_ref: bool,
    ) -> Any:
        """A call from a coroutine callback: on the lane of the call that fired it."""
        async with held.lock:
            if held.active:
                pending = held.pending.begin_nested(
                    action, object_id, class_name, name, args, return_object_ref
                )
                self.calls_on_loop += 1
                inner = asyncio.ensure_future(self._complete(pending, None))
                try:
                    # The request must be answered before the callback replies
                    # on this lane: a cancellation waits for it.
                    value = await asyncio.shield(inner)
                except asyncio.CancelledError:
                    await _settle(inner)
                    raise
                return _wrap(self, value)
        # The callback has returned (this task outlived it): an ordinary call.
        token = _HELD.set(None)
        try:
            return await self._call(action, object_id, class_name, name, args, return_object_ref)
        finally:
            _HELD.reset(token)

    async def _complete(self, pending: _native.PendingCall, call: _LoopCall | None) -> Any:
        """Poll ``pending`` whenever its socket is readable until the answer
        is in, running the callback calls that arrive meanwhile; a cancel of
        ``call`` (by request id) abandons it."""
        loop = asyncio.get_running_loop()
        yielded = False
        waiting = call if call is not None else _LoopCall(_NESTED)
        try:
            while True:
                if waiting.cancelled:
                    raise CancelledException(waiting.info.request_id)
                state = pending.poll()
                if state == POLL_ANSWER:
                    return pending.result()
                if state == POLL_CALLBACK:
                    await self._serve_callback(pending)
                    yielded = False
                elif not yielded:
                    # One turn of the loop first: a hot JVM answers within it,
                    # which saves registering the socket and a wake-up.
                    yielded = True
                    await asyncio.sleep(0)
                else:
                    await _readable(loop, pending.fileno(), waiting)
        except BaseException:
            pending.abandon()  # no-op once the answer is in
            raise

    async def _serve_callback(self, pending: _native.PendingCall) -> None:
        """Run the callback call that arrived on ``pending``'s lane and reply."""
        callback_id, method, interface, args = pending.callback_call()
        try:
            target, _ = self._session.callbacks.target(callback_id, method, interface)
            result = pending.call_held(target, args)
            if inspect.isawaitable(result):
                result = await self._await_holding(pending, result)
        except BaseException as exc:
            if pending.reply_error(exc):  # abandoned: CancelledError, KeyboardInterrupt...
                raise
            return
        pending.reply(result)

    async def _await_holding(self, pending: _native.PendingCall, awaitable: Awaitable[Any]) -> Any:
        """Await a coroutine callback in a task whose calls use ``pending``'s lane."""
        held = _HeldLane(self, pending)
        context = contextvars.copy_context()
        context.run(_HELD.set, held)
        task = context.run(asyncio.ensure_future, awaited(awaitable))
        try:
            return await task
        finally:
            held.active = False

    async def _reflect(self, full_name: str) -> str:
        """What ``full_name`` is (cached per client, as the sync client's)."""
        kind = self._session.cached_reflect(full_name)
        if kind is None:
            kind = str(await self._call(_REFLECT, 0, full_name))
            self._session.remember_reflect(full_name, kind)
        return kind

    @property
    def jvm(self) -> AsyncJVMView:
        """Package navigation, as ``client.jvm`` of the sync client."""
        return AsyncJVMView(self, self.sync.jvm)

    async def create_object(self, class_name: str | JVMNode | AsyncJVMView, *args: Any) -> Any:
        """``new class_name(*args)``."""
        return await self._call(_CREATE, 0, _class_of(class_name), None, args)

    async def invoke_method(
        self,
        obj_id: AsyncJavaObject | JavaObject | int,
        method_name: str,
        *args: Any,
        return_object_ref: bool = False,
    ) -> Any:
        """``obj_id.method_name(*args)`` (a proxy, or the id of a live one)."""
        return await self._call(
            _INVOKE,
            _id_of(obj_id, self._session.native),
            None,
            method_name,
            args,
            return_object_ref,
        )

    async def invoke_static_method(
        self,
        class_name: str | JVMNode | AsyncJVMView,
        method_name: str,
        *args: Any,
        return_object_ref: bool = False,
    ) -> Any:
        """``class_name.method_name(*args)``."""
        return await self._call(
            _INVOKE_STATIC, 0, _class_of(class_name), method_name, args, return_object_ref
        )

    async def get_static_field(
        self, class_name: str | JVMNode | AsyncJVMView, field_name: str
    ) -> Any:
        """``class_name.field_name``."""
        return await self._call(_GET_STATIC, 0, _class_of(class_name), field_name)

    async def set_static_field(
        self, class_name: str | JVMNode | AsyncJVMView, field_name: str, value: Any
    ) -> None:
        """``class_name.field_name = value``."""
        await self._call(_SET_STATIC, 0, _class_of(class_name), field_name, (value,))

    async def get_field(self, obj_id: AsyncJavaObject | JavaObject | int, field_name: str) -> Any:
        """The instance field ``obj_id.field_name``."""
        return await self._call(_GET_FIELD, _id_of(obj_id, self._session.native), None, field_name)

    async def set_field(
        self, obj_id: AsyncJavaObject | JavaObject | int, field_name: str, value: Any
    ) -> None:
        """``obj_id.field_name = value``."""
        await self._call(
            _SET_FIELD, _id_of(obj_id, self._session.native), None, field_name, (value,)
        )

    async def is_instance_of(
        self, obj: AsyncJavaObject | JavaObject | int, class_name: str | JVMNode | AsyncJVMView
    ) -> bool:
        """Java ``obj instanceof class_name``."""
        return bool(
            await self._call(
                _IS_INSTANCE_OF, _id_of(obj, self._session.native), _class_of(class_name)
            )
        )

    async def reflect(self, full_name: str) -> str:
        """What ``full_name`` is: ``"class"``, ``"method"``, ``"field"`` or ``"none"``."""
        return await self._reflect(full_name)

    async def get_metrics(self, *, as_dict: bool = False) -> Any:
        """The server's metrics report (text, or a dict with ``as_dict=True``;
        see :meth:`gatun.GatunClient.get_metrics`)."""
        report = str(await self._call(_GET_METRICS))
        return parse_report(report) if as_dict else report

    async def _run_all(self, fn: Any, *args: Any) -> list[Any]:
        values = await self._run(lambda: fn(*_unwrap_deep(args)))
        return [_wrap(self, v) for v in values]

    async def get_fields(
        self, obj: AsyncJavaObject | JavaObject | int, field_names: Sequence[str]
    ) -> list[Any]:
        """Several instance fields of ``obj`` in one round trip."""
        return await self._run_all(self.sync.get_fields, obj, field_names)

    async def invoke_methods(
        self,
        obj: AsyncJavaObject | JavaObject | int,
        calls: Sequence[tuple[str, Sequence[Any]]],
        return_object_refs: bool | Sequence[bool] = False,
    ) -> list[Any]:
        """Several calls on ``obj`` in one round trip (see
        :meth:`gatun.GatunClient.invoke_methods`)."""
        return await self._run_all(self.sync.invoke_methods, obj, calls, return_object_refs)

    async def create_objects(
        self, specs: Sequence[tuple[str | JVMNode, Sequence[Any]]]
    ) -> list[Any]:
        """Several objects in one round trip; ``specs`` is ``[(class_name, args)]``."""
        return await self._run_all(self.sync.create_objects, specs)

    async def free_object(self, object_id: AsyncJavaObject | JavaObject | int) -> None:
        """Send the releases queued so far (see :meth:`gatun.GatunClient.free_object`)."""
        await self._run(self.sync.free_object, _id_of(object_id))

    async def send_arrow_table(self, table: Any) -> str:
        """Upstream's Arrow send (see :meth:`gatun.GatunClient.send_arrow_table`)."""
        return str(await self._run(self.sync.send_arrow_table, table))

    async def send_arrow_table_batched(
        self, table: Any, batch_size: int | None = None
    ) -> list[str]:
        """As :meth:`gatun.GatunClient.send_arrow_table_batched`."""
        return list(await self._run(self.sync.send_arrow_table_batched, table, batch_size))

    async def send_arrow_buffers(
        self, table: Any, arena: Any = None, schema_cache: Any = None
    ) -> str:
        """As :meth:`gatun.GatunClient.send_arrow_buffers`."""
        return str(await self._run(self.sync.send_arrow_buffers, table, arena, schema_cache))

    async def get_arrow_data(self) -> Any:
        """As :meth:`gatun.GatunClient.get_arrow_data` (an :class:`~gatun.ArrowTableView`)."""
        return await self._run(self.sync.get_arrow_data)

    async def reset_payload_arena(self) -> None:
        """As :meth:`gatun.GatunClient.reset_payload_arena`: release the current Arrow data."""
        await self._run(self.sync.reset_payload_arena)

    def get_payload_arena(self) -> Any:
        """As :meth:`gatun.GatunClient.get_payload_arena` (no round trip)."""
        return self.sync.get_payload_arena()

    def running_calls(self) -> list[RunningCall]:
        """The calls in flight, oldest first: those this loop waits for and
        the blocking ones (worker threads, other threads) of the client
        underneath, all numbered from one counter (see
        :meth:`gatun.GatunClient.running_calls`)."""
        calls = [c.info for c in self._loop_calls.values()] + self.sync.running_calls()
        return sorted(calls, key=lambda c: c.request_id)

    async def cancel(self, request_id: int) -> bool:
        """Cancel call ``request_id`` (see :meth:`running_calls`): the task
        awaiting it gets :class:`~gatun.CancelledException` and the JVM
        interrupts the thread running it. True if it was in flight and not
        cancelled yet. (Cancelling the awaiting task, ``task.cancel()``, also
        stops a call, with :class:`asyncio.CancelledError`.)"""
        call = self._loop_calls.get(request_id)
        if call is None:
            return self.sync.cancel(request_id)
        if call.cancelled:
            return False
        call.cancelled = True
        if call.wake is not None:
            _wake(call.wake)
        return True

    def arrow_context(self) -> AsyncScopedArenaContext:
        """Upstream's scope: ``async with client.arrow_context() as ctx:
        await ctx.send(table)``."""
        return AsyncScopedArenaContext(self)

    async def send_arrow(self, data: Any, *, cast_views: bool = False) -> Any:
        """Arrow data to the JVM (see :meth:`gatun.GatunClient.send_arrow`).
        Runs on a worker thread: it copies the data into the arena."""
        return await self._run(lambda: self.sync.send_arrow(data, cast_views=cast_views))

    async def register_callback(
        self, callback_fn: Any, interface_name: str | JVMNode
    ) -> AsyncJavaObject:
        """Implement a Java interface with ``fn`` (see
        :meth:`gatun.GatunClient.register_callback`); a coroutine function is
        awaited on this event loop each time Java calls it."""
        check_callback(callback_fn)
        loop = asyncio.get_running_loop()
        proxy = await self._call(_REGISTER_CALLBACK, 0, _class_of(interface_name))
        self._session.callbacks.adopt(proxy.java_object.object_id, callback_fn, loop)
        return proxy  # type: ignore[no-any-return]

    async def unregister_callback(self, callback_id: AsyncJavaObject | JavaObject | int) -> None:
        """Forget a callback (its id, or its proxy)."""
        callback_id = _id_of(callback_id)
        self._session.callbacks.forget(callback_id)
        await self._call(_UNREGISTER_CALLBACK, callback_id)

    @property
    def closed(self) -> bool:
        """Whether the session is closed (as :attr:`GatunClient.closed`)."""
        return self.sync.closed

    @property
    def arena(self) -> Any:
        """The session's payload arena, for building Arrow data in shared
        memory (as :attr:`GatunClient.arena`; no I/O)."""
        return self.sync.arena

    @property
    def entry_point(self) -> Awaitable[AsyncJavaObject | None]:
        """The server's entry point (as :attr:`GatunClient.entry_point`), to be
        awaited: ``app = await client.entry_point``; ``None`` when the server
        has none."""

        async def fetch() -> AsyncJavaObject | None:
            return await self.invoke_static_method(  # type: ignore[no-any-return]
                "gatun.server.GatunServer", "currentEntryPoint", return_object_ref=True
            )

        return fetch()

    async def gc(self, timeout: float = 5.0) -> int:
        """As :meth:`GatunClient.gc`, off the event loop."""
        return int(await self._run(self.sync.gc, timeout))

    async def ping(self) -> bool:
        """One empty round trip; ``True`` when the JVM answers."""
        await self._call(_PING)
        return True

    async def close(self) -> None:
        """Stop the JVM and give back what the session holds (see :meth:`GatunClient.close`)."""
        await asyncio.get_running_loop().run_in_executor(None, self.sync.close)
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    async def __aenter__(self) -> AsyncGatunClient:
        if self.sync.socket_path is not None and self.sync.closed and not await self.connect():
            raise BridgeClosedError(f"could not connect to the gateway at {self.socket_path}")
        return self

    async def __aexit__(self, exc_type: object, exc_val: object, exc_tb: object) -> None:
        await self.close()


async def aconnect(*args: Any, **kwargs: Any) -> AsyncGatunClient:
    """Start a JVM without blocking the event loop; arguments as :func:`gatun.connect`."""
    loop = asyncio.get_running_loop()
    sync = await loop.run_in_executor(None, functools.partial(connect, *args, **kwargs))
    return AsyncGatunClient(sync)


# Same parameters as connect(), for help() and signature-based tools.
# (Annotations evaluated where connect() is defined: as strings they would
# name modules this one does not import.)
aconnect.__signature__ = inspect.signature(connect, eval_str=True).replace(  # type: ignore[attr-defined]
    return_annotation="AsyncGatunClient"
)
