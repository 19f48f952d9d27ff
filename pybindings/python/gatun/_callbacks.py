"""Python callbacks: the functions Java calls through a registered proxy.

One :class:`Callbacks` registry per session, shared by the sync client and the
async client: it maps callback ids to ``(function, event loop)``, picks the
method to run for a Java call, and owns the threads serving the callback lanes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
import types
from collections.abc import Awaitable, Callable
from typing import Any, Final

from gatun import _native

__all__ = ["Callbacks", "check_callback", "wait_for"]

# Plain callables: called for every abstract method of the interface. Any other
# object is asked for an attribute named like the Java method first.
_FUNCTION_TYPES: Final = (
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.BuiltinMethodType,
)

#: How long closing a session waits for each callback thread to end.
_THREAD_JOIN_TIMEOUT: Final = 2.0


def check_callback(fn: object) -> None:
    """Refuse what can never implement an interface (a number, a string...)."""
    if not callable(fn) and type(fn).__module__ == "builtins":
        raise TypeError(
            "register_callback needs a callable, or an object with methods named like the "
            f"interface's, not {type(fn).__name__}"
        )


async def awaited(awaitable: Awaitable[Any]) -> Any:
    """``await awaitable`` as a coroutine (what ``asyncio.run`` and tasks need)."""
    return await awaitable


def wait_for(awaitable: Awaitable[Any], loop: asyncio.AbstractEventLoop | None) -> Any:
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
            return asyncio.run_coroutine_threadsafe(awaited(awaitable), loop).result()
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gatun-callback") as pool:
        return pool.submit(asyncio.run, awaited(awaitable)).result()


class Callbacks:
    """The Python callbacks of one session: callback id -> (function, loop for
    its coroutines), and the threads serving the callback lanes."""

    __slots__ = ("_entries", "_lock", "_native", "threads")

    def __init__(self, native: _native.NativeClient) -> None:
        self._native = native
        self._entries: dict[int, tuple[Callable[..., Any], asyncio.AbstractEventLoop | None]] = {}
        self._lock = threading.Lock()
        #: One daemon thread per callback lane, started with the first callback.
        self.threads: list[threading.Thread] = []

    def adopt(
        self, callback_id: int, fn: Callable[..., Any], loop: asyncio.AbstractEventLoop | None
    ) -> None:
        """Route Java's calls of the proxy ``callback_id`` (just registered) to ``fn``."""
        self._entries[callback_id] = (fn, loop)
        self._start_threads()

    def forget(self, callback_id: int) -> None:
        """Stop routing calls to ``callback_id`` (no error if it is unknown)."""
        self._entries.pop(callback_id, None)

    def target(
        self, callback_id: int, method: str, interface: str
    ) -> tuple[Callable[..., Any], asyncio.AbstractEventLoop | None]:
        """The function to call for Java's call of ``interface.method`` on
        callback ``callback_id``, and the loop its coroutines belong to."""
        entry = self._entries.get(callback_id)
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

    def dispatch(self, callback_id: int, method: str, interface: str, args: tuple[Any, ...]) -> Any:
        """Run one callback call from Java (called by the native core)."""
        target, loop = self.target(callback_id, method, interface)
        result = target(*args)
        if inspect.isawaitable(result):
            result = wait_for(result, loop)
        return result

    def _start_threads(self) -> None:
        """Start one daemon thread per callback lane (once): they run callbacks
        that Java fires on threads which are not serving a Python call."""
        with self._lock:
            if self.threads:
                return
            for index in self._native.callback_lanes:
                thread = threading.Thread(
                    target=self._native.serve_callbacks,
                    args=(index,),
                    name=f"gatun-callbacks-lane{index}",
                    daemon=True,
                )
                thread.start()
                self.threads.append(thread)

    def stop(self) -> None:
        """After the session closed: wait briefly for the callback threads (they
        end with the session) so none is left inside the interpreter when it
        exits, and forget every callback."""
        current = threading.current_thread()
        for thread in self.threads:
            if thread is not current:
                thread.join(timeout=_THREAD_JOIN_TIMEOUT)
        self._entries.clear()
