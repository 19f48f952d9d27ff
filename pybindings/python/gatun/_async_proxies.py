"""The async client's proxies: Java objects whose methods are coroutines, and
``client.jvm`` navigation whose calls are awaited (:mod:`gatun.async_client`
documents how the calls wait)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gatun import _actions, _native
from gatun._layout import REFLECT_CLASS, REFLECT_FIELD, REFLECT_METHOD
from gatun.jvm import JavaClass, JavaStaticMethod, JVMNode, _node, class_name_of
from gatun.objects import JavaObject, object_id_of

if TYPE_CHECKING:
    from gatun.async_client import AsyncGatunClient

__all__ = ["AsyncJVMView", "AsyncJavaClass", "AsyncJavaObject"]


class _HeldLane:
    """The lane of a call whose coroutine callback is running: calls the
    coroutine awaits on the same client go on it, one at a time."""

    __slots__ = ("active", "client", "lock", "pending")

    def __init__(self, client: AsyncGatunClient, pending: _native.PendingCall) -> None:
        self.client = client
        self.pending = pending
        self.lock = asyncio.Lock()
        self.active = True


#: Set in the task that runs a coroutine callback (and in tasks it starts).
_HELD: contextvars.ContextVar[_HeldLane | None] = contextvars.ContextVar(
    "gatun_held_lane", default=None
)


def _wrap(client: AsyncGatunClient, value: Any) -> Any:
    return AsyncJavaObject(client, value) if isinstance(value, JavaObject) else value


def _unwrap(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(a.java_object if isinstance(a, AsyncJavaObject) else a for a in args)


def _unwrap_deep(value: Any) -> Any:
    """``value`` with async proxies replaced by sync ones, inside the lists
    and tuples the vectorised calls take."""
    if isinstance(value, AsyncJavaObject):
        return value.java_object
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap_deep(v) for v in value)
    return value


def _id_of(obj: Any, native: Any = None) -> int:
    if isinstance(obj, AsyncJavaObject):
        obj = obj.java_object
    return object_id_of(obj, native)


class AsyncJavaObject:
    """A Java object whose methods are coroutines: ``await obj.size()``."""

    __slots__ = ("_client", "_obj")

    def __init__(self, client: AsyncGatunClient, obj: JavaObject) -> None:
        self._client = client
        self._obj = obj

    @property
    def java_object(self) -> JavaObject:
        """The synchronous proxy (for passing to calls)."""
        return self._obj

    @property
    def object_id(self) -> int:
        """The object's id in its session."""
        return self._obj.object_id

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any) -> Any:
            # The proxy stays referenced by this coroutine until Java answered.
            obj = self._obj
            return await self._client._call(_actions.INVOKE_METHOD, obj.object_id, None, name, args)

        return call

    async def __aenter__(self) -> AsyncJavaObject:
        return self

    async def __aexit__(self, exc_type: object, exc_val: object, exc_tb: object) -> None:
        self._obj = None  # type: ignore[assignment]  # releases the Java object

    def __repr__(self) -> str:
        return f"<AsyncJavaObject {self._obj!r}>"


class AsyncJVMView:
    """``client.jvm`` for the async client: navigation is synchronous (names are
    resolved once and cached, a static field is read at once, as the sync
    view does); calling a class or static method is awaited.

    ``AsyncJVMView(client, "java.util")`` (upstream's form) is a view of one
    package; ``""`` is the root.
    """

    __slots__ = ("_client", "_node")

    def __init__(self, client: AsyncGatunClient, path: str | Any = "") -> None:
        self._client = client
        if isinstance(path, str):
            path = _node(client.sync, path) if path else client.sync.jvm
        self._node = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        held = _HELD.get()
        if (
            held is not None
            and held.client is self._client
            and held.active
            and not held.lock.locked()
        ):
            # In a coroutine callback: the blocking name lookups go on the lane
            # the callback's call holds (the only one sure to be free for it).
            return self._child(held.pending.call_held(getattr, (self._node, name)))
        return self._child(getattr(self._node, name))  # a static field is read here

    def _child(self, child: Any) -> Any:
        if isinstance(child, JavaClass):
            return AsyncJavaClass(self._client, child)
        return AsyncJVMView(self._client, child) if callable(child) else _wrap(self._client, child)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self._node, 'path', '')}>"

    async def __call__(self, *args: Any) -> Any:
        node, client = self._node, self._client
        if isinstance(node, JavaStaticMethod):
            static = _actions.INVOKE_STATIC_METHOD
            return await client._call(static, 0, node.class_name, node.name, args)
        if not isinstance(node, JVMNode):
            return await client._run(node, *args)
        # As JVMNode.__call__, with the name lookups awaited.
        path = node.path
        parent, _, name = path.rpartition(".")
        kind = await client._reflect(path)
        if kind == REFLECT_CLASS:
            return await client._call(_actions.CREATE_OBJECT, 0, path, None, args)
        if kind == REFLECT_METHOD:
            return await client._call(_actions.INVOKE_STATIC_METHOD, 0, parent, name, args)
        if kind == REFLECT_FIELD:
            raise TypeError(f"{path} is a static field, not callable")
        if parent and await client._reflect(parent) == REFLECT_CLASS:
            return await client._call(_actions.INVOKE_STATIC_METHOD, 0, parent, name, args)
        return await client._call(_actions.CREATE_OBJECT, 0, path, None, args)


class AsyncJavaClass(AsyncJVMView):
    """A class seen from the async client: ``await cls(args)`` constructs,
    ``await cls.method(args)`` calls a static method, ``cls.FIELD`` reads a
    static field (``AsyncJavaClass(client, "java.util.ArrayList")``)."""

    __slots__ = ()

    def __init__(self, client: AsyncGatunClient, path: str | Any) -> None:
        super().__init__(client, path)


def _class_of(cls: str | JVMNode | AsyncJVMView) -> str:
    return class_name_of(cls._node if isinstance(cls, AsyncJVMView) else cls)
