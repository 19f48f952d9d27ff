"""The session with one JVM as the Python layer shares it: :class:`_Session`.

Every :class:`~gatun.GatunClient` owns one. Proxies (objects.py), JVM
navigation (jvm.py), Arrow transfers (arrow.py), argument conversion and the
async client reach the JVM through it, never through the client's private
fields: the native client (which also queues dead proxies' object ids, see
``pending_releases``), whether the session may still be used, the Reflect
cache and the Python callbacks. The process hooks (exit, fork) act on the
live sessions kept here.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from gatun import _actions, _native
from gatun._callbacks import Callbacks
from gatun.exceptions import BridgeClosedError

if TYPE_CHECKING:
    from gatun.objects import JavaObject

__all__ = ["Command", "_Session"]

#: Reflect answers kept per session before the cache is reset.
_REFLECT_CACHE_SIZE: Final = 10_000

#: One command of a batch: (action, target, class_name, name, args,
#: return_object_ref), the target a proxy, an object id or None.
Command = tuple[int, "JavaObject | int | None", "str | None", "str | None", Sequence[Any], bool]

#: The JVM's entry point for Arrow memory (``reclaim``).
_ARROW_BRIDGE: Final = "gatun.server.arrow.ArrowBridge"

_CLOSED: Final = "this GatunClient is closed"
_FORKED: Final = (
    "this GatunClient was inherited through os.fork() and cannot be used in the "
    "child process; call gatun.connect() in the child instead"
)


class _Session:
    """One JVM session: the native client plus the state the Python layer
    keeps about it."""

    __slots__ = ("__weakref__", "_close_lock", "_reflect_cache", "callbacks", "native", "unusable")

    def __init__(self, native: _native.NativeClient) -> None:
        #: The Rust core's client: lanes, arena, object releases.
        self.native = native
        #: Why the session can no longer be used (closed, forked), else None.
        self.unusable: str | None = None
        #: The Python callbacks Java may call.
        self.callbacks = Callbacks(native)
        self._close_lock = threading.Lock()
        self._reflect_cache: dict[str, str] = {}
        _LIVE.add(self)

    @property
    def closed(self) -> bool:
        """Whether no more calls can be made."""
        return self.unusable is not None or self.native.closed

    def check(self) -> None:
        """Raise :class:`~gatun.BridgeClosedError` if the session is unusable."""
        if self.unusable is not None:
            raise BridgeClosedError(self.unusable)

    def request(
        self,
        action: int,
        object_id: int = 0,
        class_name: str | None = None,
        name: str | None = None,
        args: Sequence[Any] = (),
        return_object_ref: bool = False,
    ) -> Any:
        """One request, answered on this thread."""
        if self.unusable is not None:
            raise BridgeClosedError(self.unusable)
        return self.native.request(action, object_id, class_name, name, args, return_object_ref)

    def run_all(self, commands: Iterable[Command], kind: int = _actions.BATCH_ITEMS) -> list[Any]:
        """Run ``commands`` in as few round trips as the lane slot allows;
        return their values in order, or raise the first error. ``kind``
        names the JVM limit that counts them besides ``max_batch_size``."""
        batch = _native.NativeBatch(self.native, True, kind)
        for action, target, class_name, name, args, return_object_ref in commands:
            batch._add(action, target, class_name, name, args, return_object_ref)
        if len(batch):
            self.check()
            batch._run()
        return batch._values()

    def static_calls(self, calls: Iterable[tuple[str, str, Sequence[Any]]]) -> list[Any]:
        """Several static calls ``(class, method, args)`` in one round trip."""
        return self.run_all(
            (_actions.INVOKE_STATIC_METHOD, None, cls, name, args, False)
            for cls, name, args in calls
        )

    def ping(self) -> None:
        """One empty round trip (it brings back the JVM's pending release notices)."""
        self.request(_actions.PING)

    def gc(self, timeout: float) -> int:
        """Run a collection in the JVM, wait (at most ``timeout`` seconds) for
        the Arrow memory of what it found, apply the releases here; return the
        number of allocations given back (see :meth:`GatunClient.gc`)."""
        freed = self.request(
            _actions.INVOKE_STATIC_METHOD,
            0,
            _ARROW_BRIDGE,
            "reclaim",
            (max(0, int(timeout * 1000)),),
        )
        self.ping()  # applies the release notices that came back with the reply
        return int(freed)

    # -- Reflect ------------------------------------------------------------

    def reflect(self, full_name: str) -> str:
        """What ``full_name`` is (``"class"``, ``"method"``, ``"field"``,
        ``"none"``), asked once per name and session."""
        kind = self._reflect_cache.get(full_name)
        if kind is None:
            kind = str(self.request(_actions.REFLECT, 0, full_name))
            self.remember_reflect(full_name, kind)
        return kind

    def cached_reflect(self, full_name: str) -> str | None:
        """The cached Reflect answer for ``full_name``, if any."""
        return self._reflect_cache.get(full_name)

    def remember_reflect(self, full_name: str, kind: str) -> None:
        """Cache a Reflect answer (the async client asks on its own)."""
        if len(self._reflect_cache) >= _REFLECT_CACHE_SIZE:
            self._reflect_cache.clear()
        self._reflect_cache[full_name] = kind

    # -- end ------------------------------------------------------------------

    def close(self, reason: str = _CLOSED) -> None:
        """End the session: stop the JVM, give back lanes and segments, end
        the callback threads. Safe to call more than once. ``reason`` is what
        later calls' :class:`~gatun.BridgeClosedError` says."""
        with self._close_lock:
            if self.unusable is not None:
                return
            self.unusable = reason
        _LIVE.discard(self)
        self.native.close()
        self.callbacks.stop()

    def mark_forked(self) -> None:
        """In the child of a fork: the session memory is the parent's; never
        speak on it nor stop the parent's JVM."""
        self.unusable = _FORKED


# Sessions of this process, for the exit and fork hooks.
_LIVE: weakref.WeakSet[_Session] = weakref.WeakSet()


def live_sessions() -> list[_Session]:
    """The sessions of this process not closed yet."""
    return list(_LIVE)


def _close_all_at_exit() -> None:
    for session in list(_LIVE):
        with contextlib.suppress(Exception):  # the interpreter is exiting
            session.close()


def _after_fork_in_child() -> None:
    for session in list(_LIVE):
        session.mark_forked()
    _LIVE.clear()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
