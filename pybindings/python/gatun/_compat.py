"""Upstream Gatun's calls, kept so code written for it runs unchanged: the
:class:`UpstreamCalls` mixin of :class:`~gatun.GatunClient` (``send_arrow_table``,
``get_arrow_data``, ``invoke_methods``, ...), :class:`ArrowContext` and
:func:`estimate_arrow_size`. Each is a thin wrapper over the native paths;
none needs an epoch or a reset to stay correct.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from gatun import _actions
from gatun import arrow as _arrow
from gatun._convert import single_batch
from gatun._running import RunningCall, running_calls_from
from gatun._upstream import estimate_arrow_size
from gatun.arena import PayloadArena
from gatun.jvm import JVMNode, class_name_of

if TYPE_CHECKING:
    from gatun._session import _Session
    from gatun.client import GatunClient
    from gatun.objects import JavaObject

__all__ = ["ArrowContext", "UpstreamCalls", "arrow_context", "estimate_arrow_size"]

_VECTOR_SCHEMA_ROOT = "org.apache.arrow.vector.VectorSchemaRoot"


class UpstreamCalls:
    """Upstream Gatun's calls on :class:`~gatun.GatunClient` (a mixin)."""

    #: The root(s) of the last upstream-style send (``send_arrow_table``).
    _current_root: Any = None

    if TYPE_CHECKING:
        _session: _Session

        @property
        def closed(self) -> bool: ...

        def send_arrow(self, data: Any, *, cast_views: bool = False) -> Any: ...

        def invoke_static_method(
            self,
            cls: str | JVMNode,
            method_name: str,
            *args: Any,
            return_object_ref: bool = False,
        ) -> Any: ...

    # -- several requests in one round trip ------------------------------------

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
        return self._session.run_all(
            (
                (_actions.INVOKE_METHOD, obj, None, name, args, bool(flag))
                for (name, args), flag in zip(calls, flags, strict=True)
            ),
            _actions.BATCH_METHOD_CALLS,
        )

    def create_objects(self, specs: Sequence[tuple[str | JVMNode, Sequence[Any]]]) -> list[Any]:
        """Construct several objects in one round trip; ``specs`` is a list of
        ``(class_name, args_tuple)``. The first failure is raised."""
        return self._session.run_all(
            (
                (_actions.CREATE_OBJECT, None, class_name_of(cls), None, args, False)
                for cls, args in specs
            ),
            _actions.BATCH_CREATE_OBJECTS,
        )

    def get_fields(self, obj: JavaObject | int, field_names: Sequence[str]) -> list[Any]:
        """Read several instance fields of ``obj`` in one round trip."""
        return self._session.run_all(
            (_actions.GET_FIELD, obj, None, n, (), False) for n in field_names
        )

    # -- Arrow ---------------------------------------------------------------------

    def send_arrow_table(self, table: Any) -> str:
        """Upstream-compatible: send ``table``; returns ``"Received N rows"``.

        The JVM keeps the data as the client's current root (see
        :meth:`get_arrow_data`) until the next send or :meth:`reset_payload_arena`.
        """
        # As upstream: a table's chunks are combined into one batch.
        batch = single_batch(table)
        self._replace_current_root(self.send_arrow(batch))
        return f"Received {batch.num_rows} rows"

    def send_arrow_table_batched(self, table: Any, batch_size: int | None = None) -> list[str]:
        """Upstream-compatible: send ``table`` in batches of ``batch_size`` rows."""
        batches = table.to_batches(max_chunksize=batch_size) if batch_size else table.to_batches()
        return [self.send_arrow_table(batch) for batch in batches]

    def get_payload_arena(self) -> PayloadArena:
        """Upstream-compatible view of the payload arena."""
        return PayloadArena(self)  # type: ignore[arg-type]

    def send_arrow_buffers(
        self, table: Any, arena: PayloadArena | None = None, schema_cache: Any = None
    ) -> str:
        """Upstream-compatible zero-copy send; ``arena`` and ``schema_cache`` are
        accepted and unused (schemas are registered once per session anyway)."""
        batch = single_batch(table)
        self._replace_current_root(self.send_arrow(batch))
        return f"Received {batch.num_rows} rows via zero-copy buffers"

    def reset_payload_arena(self) -> None:
        """Upstream-compatible: release the current root. Nothing else needs a
        reset: regions are freed as soon as neither side references them."""
        self._replace_current_root(None)

    def get_arrow_data(self) -> Any:
        """The data of the last :meth:`send_arrow_table` / :meth:`send_arrow_buffers`,
        read back from the JVM: an :class:`~gatun.ArrowTableView` (a pyarrow
        ``Table`` in ``.table``, whose methods the view forwards)."""
        from gatun._upstream import ArrowTableView

        root = self._current_root
        if root is None:
            raise RuntimeError("no Arrow data has been sent yet (send_arrow_table first)")
        if root.class_name != _VECTOR_SCHEMA_ROOT:
            raise NotImplementedError(
                f"the last send crossed as a {root.class_name} (dictionary columns, or a "
                "batch over 512 MiB), which cannot be read back without consuming it"
            )
        # Returned by value, the root itself crosses (its buffers are Python's own
        # regions, referenced in place); the JVM's root is left as it was.
        table = self.invoke_static_method("java.util.Objects", "requireNonNull", root)
        return ArrowTableView(table, 0, self)

    def arrow_context(self) -> Any:
        """Upstream's scope (:class:`~gatun.ScopedArenaContext`): ``send``
        tables, ``receive`` the last one back; released on exit. See
        :class:`ArrowContext` for a scope that hands back the Java roots."""
        from gatun._upstream import ScopedArenaContext

        return ScopedArenaContext(self)

    def free_object(self, object_id: int | JavaObject) -> None:
        """Upstream's explicit release. Here an object is released when its
        last Python reference goes (the ids ride on the session's next
        request); this sends the releases queued so far now. A proxy still
        referenced stays valid: its id is owned by the proxy, not by callers."""
        self._session.native.flush_releases()

    @property
    def entry_point(self) -> JavaObject | None:
        """The entry point object of the server (Py4J's ``gateway.entry_point``):
        the one a hosting JVM passed to ``GatunServer.startHosted(entryPoint)``,
        or the one a launched server made from ``connect(entry_point=...)``.
        ``None`` when the server has none. One round trip per access: keep it
        in a variable to call it often.

        >>> app = client.entry_point                   # doctest: +SKIP
        >>> app.run(request)                           # doctest: +SKIP
        """
        return self.invoke_static_method(  # type: ignore[no-any-return]
            "gatun.server.GatunServer", "currentEntryPoint", return_object_ref=True
        )

    def running_calls(self) -> list[RunningCall]:
        """The blocking calls in flight on this client, oldest first, from
        any thread: each with the ``request_id`` :meth:`cancel` takes, the
        waiting thread, the action, its target and when it started.

        >>> [c.target for c in client.running_calls()]  # doctest: +SKIP
        ['java.lang.Thread.sleep']
        """
        return running_calls_from(self._session.native.running_calls())

    def cancel(self, request_id: int) -> bool:
        """Cancel call ``request_id`` (see :meth:`running_calls`), from any
        thread or from asyncio.

        Returns True if the call was in flight and is now being cancelled: its
        wait stops (within about 100 ms), the JVM interrupts the thread
        running it (a batch skips the items it has not run yet) and the call
        raises :class:`~gatun.CancelledException` (``"Request N was
        cancelled"``) in its own thread. False if no such call is running
        (it finished, or was cancelled already). A call that ignores Java
        interrupts keeps running in the JVM, but its caller stops waiting.
        """
        if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id < 0:
            raise TypeError(f"cancel(): request_id must be a non-negative int, got {request_id!r}")
        return bool(self._session.native.cancel(request_id))

    def _replace_current_root(self, root: Any) -> Any:
        old, self._current_root = self._current_root, root
        if old is not None and not self.closed:
            old.close()
        return root


class ArrowContext:
    """Sends tables and closes their Java roots when the context ends.

    >>> with client.arrow_context() as ctx:          # doctest: +SKIP
    ...     root = ctx.send(table)
    ...     client.jvm.my.Job.process(root)
    """

    def __init__(self, client: GatunClient) -> None:
        self._client = client
        self._roots: list[JavaObject] = []

    def send(self, data: Any) -> JavaObject:
        """Send ``data`` (as :meth:`GatunClient.send_arrow`); closed on exit."""
        root = _arrow.send(self._client, data)
        self._roots.append(root)
        return root

    def close(self) -> None:
        """Close every root sent through this context (frees the arena)."""
        roots, self._roots = self._roots, []
        if not self._client.closed:
            for root in roots:
                root.close()

    def __enter__(self) -> ArrowContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def arrow_context(client: GatunClient) -> Iterator[ArrowContext]:
    """Upstream's ``arrow_context()``: see :class:`ArrowContext`."""
    ctx = ArrowContext(client)
    try:
        yield ctx
    finally:
        ctx.close()
