"""The asyncio client: the same session, with awaitable calls.

>>> client = await aconnect()                          # doctest: +SKIP
>>> arr = await client.jvm.java.util.ArrayList()       # doctest: +SKIP
>>> await arr.add("hello")                             # doctest: +SKIP
True

Each call runs on a small thread pool while the event loop stays free: the
native wait releases the GIL, so calls from several tasks proceed on their own
lanes at once. (ARCHITECTURE §5 plans lanes whose socket is registered with
the event loop instead; this layer keeps the API while that is built.)
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gatun.client import GatunClient
from gatun.launcher import connect
from gatun.objects import JavaObject

__all__ = ["AsyncGatunClient", "AsyncJavaObject", "AsyncJVMView", "aconnect"]


def _wrap(client: AsyncGatunClient, value: Any) -> Any:
    return AsyncJavaObject(client, value) if isinstance(value, JavaObject) else value


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

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args: Any) -> Any:
            return await self._client._run(self._client.sync.invoke_method, self._obj, name, *args)

        return call

    async def __aenter__(self) -> AsyncJavaObject:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._obj = None  # type: ignore[assignment]  # releases the Java object

    def __repr__(self) -> str:
        return f"<AsyncJavaObject {self._obj!r}>"


class AsyncJVMView:
    """``client.jvm`` for the async client: navigation is synchronous (names are
    resolved once and cached); calling a class or static method is awaited."""

    __slots__ = ("_client", "_node")

    def __init__(self, client: AsyncGatunClient, node: Any) -> None:
        self._client = client
        self._node = node

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        child = getattr(self._node, name)  # a static field is read here
        return AsyncJVMView(self._client, child) if callable(child) else _wrap(self._client, child)

    async def __call__(self, *args: Any) -> Any:
        return await self._client._run(self._node, *args)


class AsyncGatunClient:
    """An asyncio face of :class:`gatun.GatunClient`; made by :func:`aconnect`."""

    def __init__(self, sync: GatunClient, workers: int | None = None) -> None:
        #: The synchronous client underneath.
        self.sync = sync
        self._pool = ThreadPoolExecutor(
            max_workers=workers or sync._native.lanes, thread_name_prefix="gatun-async"
        )

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        unwrapped = [a.java_object if isinstance(a, AsyncJavaObject) else a for a in args]
        value = await loop.run_in_executor(self._pool, functools.partial(fn, *unwrapped))
        return _wrap(self, value)

    @property
    def jvm(self) -> AsyncJVMView:
        """Package navigation, as ``client.jvm`` of the sync client."""
        return AsyncJVMView(self, self.sync.jvm)

    async def create_object(self, class_name: str, *args: Any) -> Any:
        """``new class_name(*args)``."""
        return await self._run(self.sync.create_object, class_name, *args)

    async def invoke_static_method(self, cls: str, name: str, *args: Any) -> Any:
        """``cls.name(*args)``."""
        return await self._run(self.sync.invoke_static_method, cls, name, *args)

    async def get_static_field(self, cls: str, name: str) -> Any:
        """``cls.name``."""
        return await self._run(self.sync.get_static_field, cls, name)

    async def send_arrow(self, data: Any) -> Any:
        """Arrow data to the JVM (see :meth:`gatun.GatunClient.send_arrow`)."""
        return await self._run(self.sync.send_arrow, data)

    async def register_callback(self, fn: Any, interface_name: str) -> AsyncJavaObject:
        """Implement a Java interface with ``fn`` (see
        :meth:`gatun.GatunClient.register_callback`); a coroutine function is
        awaited on this event loop each time Java calls it."""
        loop = asyncio.get_running_loop()
        register = functools.partial(self.sync.register_callback, loop=loop)
        return await self._run(register, fn, interface_name)  # type: ignore[no-any-return]

    async def unregister_callback(self, callback: Any) -> None:
        """Forget a callback (its proxy or id)."""
        await self._run(self.sync.unregister_callback, callback)

    async def ping(self) -> bool:
        """One empty round trip."""
        return await self._run(self.sync.ping)

    async def close(self) -> None:
        """Stop the JVM and the worker threads."""
        await asyncio.get_running_loop().run_in_executor(None, self.sync.close)
        self._pool.shutdown(wait=False)

    async def __aenter__(self) -> AsyncGatunClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def aconnect(*args: Any, **kwargs: Any) -> AsyncGatunClient:
    """Start a JVM without blocking the event loop; arguments as :func:`gatun.connect`."""
    loop = asyncio.get_running_loop()
    sync = await loop.run_in_executor(None, functools.partial(connect, *args, **kwargs))
    return AsyncGatunClient(sync)
