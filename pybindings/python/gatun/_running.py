"""Calls in flight and their request ids: what ``client.running_calls()``
returns and ``client.cancel(request_id)`` names.

Every blocking call gets a request id (per client, from 1) once it holds a
lane; the async client numbers the calls its event loop waits for from the
same counter. Cancelling one stops its wait (within about 100 ms, when the
wait next checks for signals), sends the JVM a cancel, which interrupts the
Java thread running it (a batch skips the items it has not run), and the call
raises :class:`~gatun.CancelledException` in its own thread or task.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["RunningCall", "running_calls_from"]


@dataclass(frozen=True)
class RunningCall:
    """A call in flight, as :meth:`gatun.GatunClient.running_calls` lists it."""

    #: The id :meth:`~gatun.GatunClient.cancel` takes.
    request_id: int
    #: ``threading.get_ident()`` of the thread waiting for it.
    thread_id: int
    #: The protocol action: ``"InvokeMethod"``, ``"InvokeStaticMethod"``,
    #: ``"CreateObject"``, ``"Batch"``, ...
    action: str
    #: What it acts on: ``"java.lang.Thread.sleep"``, ``"#12.add"`` (object
    #: id 12), ``"20 items"`` (a batch).
    target: str
    #: When it started, as ``time.time()``.
    started: float

    @property
    def thread(self) -> threading.Thread | None:
        """The waiting thread, if it is a :mod:`threading` thread still alive."""
        for thread in threading.enumerate():
            if thread.ident == self.thread_id:
                return thread
        return None


def running_calls_from(rows: list[tuple[int, int, str, str, float]]) -> list[RunningCall]:
    """The native registry's ``(id, thread, action, target, started)`` rows."""
    return [RunningCall(*row) for row in rows]
