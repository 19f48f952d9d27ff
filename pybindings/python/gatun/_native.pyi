"""Type stubs for ``gatun._native``, the Rust core (crate ``gatun-py``).

The Python layer (``gatun.client`` and friends) is the public API; this module
is its engine: launching the JVM, the shared-memory lanes, and the conversion of
values between Python and the wire format (``schemas/bridge.fbs``).
"""

from collections.abc import Callable, Sequence
from typing import Any, Final

#: Protocol version spoken by this build (``ProtocolVersion.Current``).
PROTOCOL_VERSION: Final[int]
#: Action name -> wire number, generated from ``schemas/bridge.fbs``.
ACTIONS: Final[dict[str, int]]
#: Java array element type name ("Int", "Long", ...) -> wire number.
ELEMENT_TYPES: Final[dict[str, int]]
#: Name of the one column made from a nameless producer (a pyarrow ``Array``).
DEFAULT_COLUMN: Final[str]

def rust_allocations() -> int:
    """Rust heap allocations made so far by the calling thread (Python objects
    are not counted): the tests check that a call adds none."""

def find_java(
    java: str | None = None, *, source: str | None = None, timeout: float = 10.0
) -> tuple[str, int]:
    """``(executable, major version)`` of the Java a launch would run: ``java``
    if given (a path, a command on ``PATH`` or a JDK home; ``source`` says where
    it was named, default "the java argument"), else ``$JAVA_HOME/bin/java``,
    else ``java`` on ``PATH``. A ``java`` asked its version gets ``timeout``
    seconds. Raises ``gatun.JavaNotFoundError`` saying what is missing, too
    old, or did not answer."""

def record_batches(data: Any) -> Any:
    """Any Arrow producer (``__arrow_c_array__`` / ``__arrow_c_stream__``) as a
    stream of record batches (an object with ``__arrow_c_stream__``), read as
    the consumer asks: a struct type's fields are the columns; any other type
    is one column named after the producer's field, or :data:`DEFAULT_COLUMN`.
    A struct array with null rows is refused when read (it has no columns)."""

class ObjectRef:
    """Base of :class:`gatun.JavaObject`: one reference into the JVM session.

    When the last Python reference dies, the id is queued for release and sent
    with the session's next request (many ids per message); nothing blocks and
    no I/O happens in the destructor.
    """

    def __new__(cls, native: NativeClient, object_id: int, class_name: str) -> ObjectRef: ...
    @property
    def object_id(self) -> int: ...
    @property
    def class_name(self) -> str: ...
    def _detach(self) -> None:
        """Never release this object from Python (it lives until the session ends)."""
    def _in_session(self, native: NativeClient) -> bool:
        """Whether this object lives in ``native``'s session (ids are per session)."""

class ArenaBuffer:
    """A writable region of the payload arena (buffer protocol)."""

    def __len__(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def address(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

class CallNeedsThread(Exception):
    """Raised by :meth:`NativeClient.begin` when converting an argument needs a
    blocking Java call (a ``datetime``, a ``Decimal``, an Arrow table): run
    the call on a worker thread instead."""

class PendingCall:
    """A call in flight on a lane lent to an asyncio event loop (made by
    :meth:`NativeClient.begin`). Nothing here blocks: watch :meth:`fileno`
    with ``loop.add_reader`` and :meth:`poll` when it is readable. Dropping
    it abandons the call (as :meth:`abandon`)."""

    def fileno(self) -> int:
        """The lane socket: readable when Java rang (or the JVM is gone)."""
    @property
    def lane(self) -> int:
        """Index of the lane."""
    @property
    def nested(self) -> bool:
        """True for a call made by a coroutine callback on its call's lane."""
    def poll(self) -> int:
        """``gatun._layout.POLL_NOT_YET`` (0): not yet (wait until
        :meth:`fileno` is readable; poll once right after
        :meth:`NativeClient.begin` too). ``POLL_ANSWER`` (1): the answer
        arrived and the lane was given back; :meth:`result` decodes it.
        ``POLL_CALLBACK`` (2): a callback call arrived; :meth:`callback_call`,
        then :meth:`reply` or :meth:`reply_error`, then poll again. Raises
        ``gatun.BridgeClosedError`` once the JVM is gone."""
    def result(self) -> Any:
        """The answer's value; a Java exception is raised as by :meth:`NativeClient.request`."""
    def callback_call(self) -> tuple[int, str, str, tuple[Any, ...]]:
        """``(callback_id, method, interface, args)`` of the callback call that arrived."""
    def call_held(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """``fn(*args)`` with the lane held by this thread: blocking calls made
        by ``fn`` go back on this lane (a synchronous callback's calls)."""
    def reply(self, value: Any) -> None:
        """Answer the callback call with ``value``; then poll again."""
    def reply_error(self, error: BaseException) -> bool:
        """Answer the callback call with ``error`` (thrown in Java as
        ``gatun.server.PythonException``). True when ``error`` is not an
        ``Exception`` (``CancelledError``, ``KeyboardInterrupt``): the call is
        then abandoned and the caller re-raises ``error``."""
    def begin_nested(
        self,
        action: int,
        object_id: int = 0,
        class_name: str | None = None,
        name: str | None = None,
        args: Sequence[Any] | None = None,
        return_object_ref: bool = False,
    ) -> PendingCall:
        """Start a call on this lane while a coroutine runs the callback call
        that arrived here (the Java thread waiting for the callback serves
        it). One at a time, answered before :meth:`reply`."""
    def abandon(self) -> None:
        """Stop waiting: a request in flight is cancelled and its late answer
        dropped by the lane; the lane goes back to the pool. Idempotent."""

class NativeBatch:
    """Commands queued for one round trip, or for as few as the lane slot
    allows when they do not fit one; the base of :class:`gatun.BatchContext`.

    Each command is encoded into FlatBuffers when it is queued (its arguments
    converted then, through the client's hooks; a command of scalars shaped
    like a recent one is a copy of it with the values written in); the batch
    keeps only the proxies whose ids the commands carry, until they are sent.
    Replies are decoded into one store in the batch, which
    :class:`BatchResult` handles read.
    """

    def __new__(
        cls, native: NativeClient, stop_on_error: bool = False, kind: int = 0
    ) -> NativeBatch:
        """``kind``: the JVM limit counting the batch besides ``max_batch_size``
        (0 none, 1 ``max_method_calls``, 2 ``max_create_objects``)."""
    def call(self, obj: ObjectRef | int, method_name: str, /, *args: Any) -> BatchResult:
        """Queue ``obj.method_name(*args)``; ``obj`` is a proxy or an object id."""
    def _add(
        self,
        action_number: int,
        target: ObjectRef | int | None = None,
        class_name: str | None = None,
        name: str | None = None,
        args: Sequence[Any] | None = None,
        return_object_ref: bool = False,
    ) -> BatchResult:
        """Queue any command (``action_number`` from :data:`ACTIONS`):
        ``target`` for instance actions, ``class_name`` for static ones.
        ``gatun.GatunError`` once the batch has run;
        ``gatun.PayloadTooLargeError`` for a command no message can hold."""
    def _run(self) -> None:
        """Send the commands (once; later calls do nothing), split by size
        into as few requests as fit the lane slot; the rest of a request whose
        replies would outgrow the slot goes again. Raises what a round trip
        raised; replies that came back before stay readable. With
        ``stop_on_error`` the commands after the first failure are skipped."""
    def _results(self) -> list[BatchResult]:
        """A handle on every command's result, in the order queued."""
    def _drop_spare(self) -> None:
        """Let go of the handle kept for reuse, for a batch that will not be
        sent (it and the batch refer to each other until then)."""
    def _values(self) -> list[Any]:
        """Every command's value in order once run; raises the first error."""
    @property
    def ran(self) -> bool:
        """Whether sending the batch was attempted."""
    @property
    def stop_on_error(self) -> bool:
        """Whether commands after a failed one are skipped."""
    def __len__(self) -> int: ...

class BatchResult:
    """The future result of one command of a :class:`NativeBatch`: a handle
    (the batch and a position) on the batch's store of replies. Handles are
    not tracked by Python's cyclic GC (``gc.is_tracked(result)`` is False)."""

    @property
    def done(self) -> bool:
        """Whether the batch has run."""
    @property
    def skipped(self) -> bool:
        """True when the command was not run because an earlier one failed."""
    @property
    def is_error(self) -> bool:
        """Whether the command failed."""
    @property
    def exception(self) -> BaseException | None:
        """The command's exception, if it failed."""
    def get(self) -> Any:
        """The command's value; raises its exception if it failed,
        ``RuntimeError`` before the batch has run, and
        :class:`gatun.BatchSkippedError` (saying why) if it was skipped."""

class NativeClient:
    """A connected session with a JVM launched by :meth:`launch`."""

    @staticmethod
    def launch(
        jar: str,
        *,
        java: str | None = None,
        java_source: str | None = None,
        classpath: Sequence[str] = (),
        jvm_options: Sequence[str] = (),
        lanes: int = 4,
        slot_size: int = 1 << 20,
        startup_timeout: float = 30.0,
        arena_memory: int | None = None,
        doorbell: str = "adaptive",
        callback_lanes: int = 2,
        verify_utf8: bool = False,
    ) -> NativeClient:
        """Find Java 17+ (``java``, then ``JAVA_HOME``, then ``PATH``), start the
        server jar, connect every lane and complete the handshake.

        Raises ``gatun.JavaNotFoundError`` if no suitable Java exists (the
        message says what was found and what is needed) and
        ``gatun.BridgeStartupError`` if the JVM fails or does not become ready
        within ``startup_timeout`` seconds (the message includes its stderr).
        ``verify_utf8`` checks string columns from the JVM for UTF-8 on arrival.
        """
    @staticmethod
    def attach(
        socket_path: str,
        token: str,
        *,
        lanes: int = 4,
        slot_size: int = 1 << 20,
        timeout: float = 30.0,
        arena_memory: int | None = None,
        doorbell: str = "adaptive",
        callback_lanes: int = 2,
        verify_utf8: bool = False,
    ) -> NativeClient:
        """Connect every lane to a server another JVM hosts
        (``GatunServer.startHosted``), handing this process's segments over as
        files in a private ``/dev/shm`` directory. ``token`` is 32 hex digits.
        Raises ``ValueError`` for a malformed token and
        ``gatun.BridgeStartupError`` when nothing listens at ``socket_path``."""
    @property
    def attached(self) -> bool:
        """Whether this client attached to a hosted server."""
    def output_reader(self) -> JvmOutputReader | None:
        """A reader of the launched JVM's stdout and stderr (``None`` when
        attached); it keeps the output alive, not the session."""

    def set_factories(
        self,
        make_object: Callable[[int, str], ObjectRef],
        make_list: Callable[[list[Any]], Any],
        make_array: Callable[[list[Any], str], Any],
        convert_argument: Callable[[Any], Any],
        is_java_array: Callable[[Any], tuple[str, Sequence[Any]] | None],
        make_reader: Callable[[ObjectRef, Any], Any] | None = None,
    ) -> None:
        """Hooks used while converting values (``make_reader`` turns a Java
        ``ArrowReader`` and its pyarrow schema into a ``RecordBatchReader``).

        - ``make_object(object_id, class_name)`` builds the proxy for a returned reference;
        - ``make_list(items)`` wraps a returned ``java.util.List`` (e.g. ``JavaList``);
        - ``make_array(items, element_type)`` wraps a returned primitive array (``JavaArray``);
        - ``convert_argument(value)`` is called for an argument of a type the core does not
          know (e.g. ``pyarrow.Array``, ``datetime``); it returns a value the core knows
          or raises ``TypeError``;
        - ``is_java_array(value)`` returns ``(element_type, items)`` for a ``JavaArray``
          argument, else ``None``.

        ``TypeHint`` arguments are recognised by their ``value`` and ``java_type``
        attributes together with the class name ``TypeHint``.
        """

    def set_callback_dispatcher(
        self, dispatch: Callable[[int, str, str, tuple[Any, ...]], Any]
    ) -> None:
        """The function that runs Python callbacks (set once):
        ``dispatch(callback_id, method, interface, args)`` returns the value
        for Java or raises (Java then throws ``gatun.server.PythonException``).
        A ``KeyboardInterrupt`` or ``SystemExit`` also abandons the Python call
        the callback belongs to and is raised from it."""

    def serve_callbacks(self, index: int) -> None:
        """Serve callback lane ``index`` on this thread (GIL released while
        idle) until the session ends: run each callback Java fires there and
        send the reply. One thread per lane of :attr:`callback_lanes`."""

    @property
    def callback_lanes(self) -> list[int]:
        """Indices of the lanes carrying callbacks fired on Java threads that
        serve no Python call."""

    def request(
        self,
        action: int,
        object_id: int = 0,
        class_name: str | None = None,
        name: str | None = None,
        args: Sequence[Any] = (),
        return_object_ref: bool = False,
    ) -> Any:
        """One round trip. Java exceptions are raised as ``gatun.JavaException``
        subclasses; a dead JVM raises ``gatun.BridgeClosedError``. Callbacks Java
        fires meanwhile run on this thread; calls they make reuse its lane."""

    def begin(
        self,
        action: int,
        object_id: int = 0,
        class_name: str | None = None,
        name: str | None = None,
        args: Sequence[Any] | None = None,
        return_object_ref: bool = False,
    ) -> PendingCall | None:
        """The event-loop form of :meth:`request`: lend a free lane to the
        caller's event loop without blocking (Java then rings for every
        answer), send the request, and return the call to poll. ``None`` when
        no lane can be lent now (the loop keeps one lane for blocking calls
        when there are several). Raises :class:`CallNeedsThread` when an
        argument needs a blocking Java call to convert."""

    def send_arrow(self, data: Any) -> ObjectRef:
        """Send every record batch of an Arrow producer (anything with
        ``__arrow_c_stream__`` or ``__arrow_c_array__``) through the payload
        arena, one copy each (none for data built in the arena); returns a
        reference to a Java ``VectorSchemaRoot`` for one batch, or to one
        ``BridgeArrowReader`` holding them all for several batches or
        dictionary-encoded columns. A type Arrow Java cannot load is refused
        before any data moves."""

    def stream_batch(self, batch: Any, reader: int, end: bool) -> Any:
        """Send one record batch into a Java ``BridgeArrowReader``: ``reader``
        0 opens a new one (its reference is returned),
        ``gatun._layout.PULLING_READER`` (-1) is the reader whose pull
        callback is running on this call's Java thread, else the reader's
        object id; ``end`` marks the stream's last batch."""

    def arena_allocate(self, nbytes: int) -> ArenaBuffer:
        """A writable buffer in the payload arena: Arrow data built on it
        crosses to the JVM without a copy."""

    def arrow_stats(self) -> dict[str, int]:
        """Counters of the Arrow plane: ``batches``, ``bytes_copied`` and
        ``bytes_in_place`` of the send path; ``jvm_regions_held``,
        ``jvm_releases_sent``, ``bytes_copied_out`` (JVM data copied on
        arrival because the JVM's arena was above its high-water mark) and
        ``bytes_handed_back`` (data Python had sent that the JVM returned,
        referenced in Python's own arena without a copy) of the receive
        path."""

    @property
    def arena_bytes_in_use(self) -> int:
        """Bytes of the Python-owned payload arena held by live regions."""

    @property
    def arena_regions_in_use(self) -> int:
        """Live regions of the Python-owned payload arena."""

    def flush_releases(self) -> int:
        """Send queued releases now; returns how many ids were sent."""

    def running_calls(self) -> list[tuple[int, int, str, str, float]]:
        """The blocking calls in flight, oldest first: ``(request_id,
        thread ident, action name, target, started as time.time())``."""

    def cancel(self, request_id: int) -> bool:
        """Cancel blocking call ``request_id``: True if it was in flight and
        not cancelled yet (it then raises ``CancelledException``)."""

    def next_request_id(self) -> int:
        """A fresh request id from the counter the blocking calls use."""

    @property
    def pending_releases(self) -> int: ...
    @property
    def jvm_pid(self) -> int: ...
    def _lane_worker_tids(self) -> list[int | None]:
        """Each call lane's JVM worker thread id, checked to be a thread of
        the JVM (``None``: not known); the thread a waiter moves off a core
        the two share."""
    @property
    def closed(self) -> bool: ...
    @property
    def lanes(self) -> int: ...
    def jvm_stderr(self) -> str:
        """The last 64 KiB the JVM wrote to stderr (for diagnostics)."""
    def close(self, timeout: float = 5.0) -> None:
        """End the session and stop the JVM (SIGKILL after ``timeout``). Idempotent."""

class JvmOutputReader:
    """The launched JVM's stdout and stderr, for the forwarding thread."""

    def next(self, timeout: float = 0.5) -> tuple[int, bytes] | int | None:
        """The next chunk, waiting up to ``timeout`` seconds without the GIL:
        ``(1, data)`` for stdout, ``(2, data)`` for stderr, ``0`` if nothing
        came, ``None`` once both streams have ended."""
    @property
    def dropped(self) -> int:
        """Bytes dropped because they were not read in time (4 MiB are kept)."""

class NativeGateway:
    """A JVM hosting a server for many clients (``gatun.launch_gateway``)."""

    @staticmethod
    def launch(
        jar: str,
        socket_path: str,
        connection_file: str,
        *,
        java: str | None = None,
        java_source: str | None = None,
        classpath: Sequence[str] = (),
        jvm_options: Sequence[str] = (),
        startup_timeout: float = 30.0,
    ) -> NativeGateway:
        """Start the JVM; return once it has written ``connection_file``."""
    @property
    def pid(self) -> int:
        """The JVM's pid."""
    @property
    def running(self) -> bool:
        """Whether the JVM still runs."""
    def output_reader(self) -> JvmOutputReader:
        """A reader of the JVM's stdout and stderr."""
    def stop(self, timeout: float = 2.0) -> None:
        """Stop the JVM: stdin closed (it exits), killed after ``timeout`` s."""
