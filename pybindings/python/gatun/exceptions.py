"""Exceptions raised by gatun.

Two families: :class:`GatunError` for failures of the bridge itself (the JVM is
gone, start-up failed, the protocol broke) and :class:`JavaException` for
exceptions thrown by Java code. The native core builds the latter through
:func:`java_exception`, which picks the closest Python class for a Java class.
"""

from __future__ import annotations

import re

__all__ = [
    "BatchSkippedError",
    "BridgeClosedError",
    "BridgeStartupError",
    "CallbackTimeoutError",
    "CancelledException",
    "DeadConnectionError",
    "GatunError",
    "JavaClassNotFoundException",
    "JavaException",
    "JavaIllegalArgumentException",
    "JavaIndexOutOfBoundsException",
    "JavaNoSuchFieldException",
    "JavaNoSuchMethodException",
    "JavaNotFoundError",
    "JavaNullPointerException",
    "JavaNumberFormatException",
    "JavaRuntimeException",
    "JavaSecurityException",
    "LimitExceededError",
    "PayloadTooLargeError",
    "ProtocolDesyncError",
    "ProtocolError",
    "ReentrancyError",
    "SocketTimeoutError",
    "StaleArenaError",
    "UnsupportedArrowTypeError",
    "java_exception",
]


# --------------------------------------------------------------- bridge errors


class GatunError(Exception):
    """Base class of every failure of the bridge itself (not of Java code)."""


class BridgeClosedError(GatunError):
    """The session is over: the client was closed, the JVM died, or the client
    was inherited through ``os.fork()``."""


class BatchSkippedError(GatunError):
    """``BatchResult.get()`` of a command that was not run: an earlier one
    failed in a ``stop_on_error`` batch, or the batch stopped (Ctrl-C, a
    failed round trip). The message says which. A skipped command has no
    value; ``execute()``'s list still holds ``None`` for it, as upstream's."""


class BridgeStartupError(GatunError):
    """The JVM could not be started or did not complete the handshake."""


class JavaNotFoundError(BridgeStartupError):
    """No suitable Java runtime (17 or newer) was found."""


class ProtocolError(GatunError):
    """The two sides disagreed about the wire protocol (upstream's
    :data:`ProtocolDesyncError`). ``response_size`` is the offending size
    when one was involved."""

    def __init__(self, message: str = "protocol error", response_size: int | None = None) -> None:
        super().__init__(message)
        self.response_size = response_size


class PayloadTooLargeError(GatunError):
    """A request or response does not fit in the space available for it.

    Upstream's form, ``PayloadTooLargeError(payload_size, max_size, zone)``,
    builds its message from the sizes; the bridge itself raises it with a
    message (``PayloadTooLargeError("...")``). ``payload_size``, ``max_size``
    and ``zone`` are ``None`` when not known.
    """

    def __init__(
        self,
        payload_size: int | str | None = None,
        max_size: int | None = None,
        zone: str | None = None,
    ) -> None:
        if isinstance(payload_size, str):
            message, payload_size = payload_size, None
        elif payload_size is None:
            message = f"{zone or 'payload'} too large"
        else:
            limit = f"maximum {max_size:,} bytes" if max_size is not None else "the limit"
            message = (
                f"{zone or 'Payload'} payload too large: {payload_size:,} bytes exceeds {limit}"
            )
        super().__init__(message)
        self.payload_size = payload_size
        self.max_size = max_size
        self.zone = zone


class CancelledException(GatunError):
    """A request was cancelled before it completed (upstream's name).

    ``CancelledException(request_id)`` as upstream's; a message may be given
    instead of (or beside) the id.
    """

    def __init__(self, request_id: int | str | None = None, message: str | None = None) -> None:
        if isinstance(request_id, str):
            message, request_id = request_id, None
        if message is None:
            message = (
                f"Request {request_id} was cancelled"
                if request_id is not None
                else "request cancelled"
            )
        super().__init__(message)
        self.request_id = request_id


class StaleArenaError(GatunError, RuntimeError):
    """Arrow data refers to an arena generation that no longer exists.

    Kept for upstream compatibility: **gatun-rs never raises it**. Upstream
    reused one shared-memory zone and bumped an epoch on every reset, so old
    tables could point at overwritten bytes; here a region is freed only when
    neither side references it, so received data never goes stale.
    """

    def __init__(self, table_epoch: int | str = 0, current_epoch: int = 0) -> None:
        if isinstance(table_epoch, str):
            super().__init__(table_epoch)
            table_epoch = 0
        else:
            super().__init__(
                f"Arrow table from epoch {table_epoch} is stale (current epoch: {current_epoch})"
            )
        self.table_epoch = table_epoch
        self.current_epoch = current_epoch


class UnsupportedArrowTypeError(GatunError, TypeError):
    """An Arrow type that cannot cross the bridge."""


class ReentrancyError(GatunError):
    """Upstream raised this for a Java call made from inside a callback.

    gatun-rs does not raise it for that: a callback may call Java here (the
    nested call goes on the lane of the call that fired the callback, and the
    JVM thread waiting for the callback serves it). It raises it for the one
    call that would deadlock: a blocking call while every lane is held by
    calls awaiting on this thread's event loop; the message says what to do
    instead.
    """


class CallbackTimeoutError(GatunError):
    """Upstream raised this when a callback ran past its timeout.

    Kept for upstream compatibility: **gatun-rs never raises it**. Callbacks
    have no time limit here (``callback_timeout`` is accepted and unused): a
    slow callback keeps its Java caller waiting, as a slow Java method would.
    """


class SocketTimeoutError(GatunError):
    """Upstream raised this when a reply took longer than ``socket_timeout``
    (30 s by default, which killed long Spark jobs).

    Kept for upstream compatibility: **gatun-rs never raises it**. Calls have
    no time limit; a JVM that dies is detected at once instead and raises
    :class:`BridgeClosedError` (upstream's :data:`DeadConnectionError`).
    """


#: Upstream name of :class:`BridgeClosedError`.
DeadConnectionError = BridgeClosedError
#: Upstream name of :class:`ProtocolError`.
ProtocolDesyncError = ProtocolError


# ------------------------------------------------------------- Java exceptions


class JavaException(Exception):
    """An exception thrown by Java code.

    ``java_class`` is the fully qualified Java class name, ``message`` the
    exception's message (may be empty) and ``stack_trace`` the Java stack trace
    including its "Caused by" chain. ``str()`` is the whole Java stack trace,
    as upstream Gatun's is (``"Class: message"`` when there is none), so a
    traceback shows where in Java it failed; ``message`` alone is the text.
    """

    def __init__(self, java_class: str, message: str = "", stack_trace: str = "") -> None:
        super().__init__(java_class, message, stack_trace)
        self.java_class = java_class
        self.message = message
        self.stack_trace = stack_trace

    def __str__(self) -> str:
        header = f"{self.java_class}: {self.message}" if self.message else self.java_class
        trace = self.stack_trace.rstrip()
        if not trace:
            return header
        return trace if trace.startswith(header) else f"{header}\n{trace}"


class JavaRuntimeException(JavaException):
    """``java.lang.RuntimeException`` and unmapped subclasses of it."""


class JavaSecurityException(JavaRuntimeException):
    """``java.lang.SecurityException``."""


class LimitExceededError(JavaRuntimeException):
    """A request went beyond one of the session's resource limits (README
    "Limits"); the session stays usable, except after its idle timeout.

    ``str()`` is the message, which starts as upstream Gatun's ("Object limit
    exceeded: ...", "Batch too large: ...") and says which limit to raise and
    where: the JVM's ``-Dgatun.limits.*`` property, or this session's own
    ``limits=`` when that set it lower. A :class:`JavaRuntimeException`, as
    the error was before it had a class of its own.
    """

    def __str__(self) -> str:
        return self.message


class JavaIllegalArgumentException(JavaRuntimeException):
    """``java.lang.IllegalArgumentException`` and its subclasses."""


class JavaNumberFormatException(JavaIllegalArgumentException):
    """``java.lang.NumberFormatException``."""


class JavaNullPointerException(JavaRuntimeException):
    """``java.lang.NullPointerException``."""


class JavaIndexOutOfBoundsException(JavaRuntimeException, IndexError):
    """``IndexOutOfBoundsException`` and its array/string variants.

    Also an :class:`IndexError`, so Python indexing idioms keep working.
    """


class JavaNoSuchMethodException(JavaException):
    """``java.lang.NoSuchMethodException``: no method or constructor matched."""


class JavaNoSuchFieldException(JavaException):
    """``java.lang.NoSuchFieldException``."""


class JavaClassNotFoundException(JavaException):
    """``java.lang.ClassNotFoundException``."""


_MAPPED: dict[str, type[JavaException]] = {
    "java.lang.RuntimeException": JavaRuntimeException,
    "java.lang.SecurityException": JavaSecurityException,
    "gatun.server.limits.LimitExceededException": LimitExceededError,
    # The idle timeout is one of the limits, and its message starts as upstream's too.
    "gatun.server.limits.SessionQuota$SessionIdleException": LimitExceededError,
    "java.lang.IllegalArgumentException": JavaIllegalArgumentException,
    "java.lang.NumberFormatException": JavaNumberFormatException,
    "java.lang.NullPointerException": JavaNullPointerException,
    "java.lang.IndexOutOfBoundsException": JavaIndexOutOfBoundsException,
    "java.lang.NoSuchMethodException": JavaNoSuchMethodException,
    "java.lang.NoSuchFieldException": JavaNoSuchFieldException,
    "java.lang.ClassNotFoundException": JavaClassNotFoundException,
}

# Superclass of well-known JDK exceptions, enough to place a subclass of a
# mapped exception under the closest Python class. Anything absent here and
# from _MAPPED is a plain JavaException.
_JAVA_PARENT: dict[str, str] = {
    "java.lang.ArrayIndexOutOfBoundsException": "java.lang.IndexOutOfBoundsException",
    "java.lang.StringIndexOutOfBoundsException": "java.lang.IndexOutOfBoundsException",
    "java.lang.IndexOutOfBoundsException": "java.lang.RuntimeException",
    "java.lang.NumberFormatException": "java.lang.IllegalArgumentException",
    "java.util.IllegalFormatException": "java.lang.IllegalArgumentException",
    "java.util.DuplicateFormatFlagsException": "java.util.IllegalFormatException",
    "java.util.FormatFlagsConversionMismatchException": "java.util.IllegalFormatException",
    "java.util.IllegalFormatCodePointException": "java.util.IllegalFormatException",
    "java.util.IllegalFormatConversionException": "java.util.IllegalFormatException",
    "java.util.IllegalFormatFlagsException": "java.util.IllegalFormatException",
    "java.util.IllegalFormatPrecisionException": "java.util.IllegalFormatException",
    "java.util.IllegalFormatWidthException": "java.util.IllegalFormatException",
    "java.util.MissingFormatArgumentException": "java.util.IllegalFormatException",
    "java.util.MissingFormatWidthException": "java.util.IllegalFormatException",
    "java.util.UnknownFormatConversionException": "java.util.IllegalFormatException",
    "java.util.UnknownFormatFlagsException": "java.util.IllegalFormatException",
    "java.util.regex.PatternSyntaxException": "java.lang.IllegalArgumentException",
    "java.nio.charset.IllegalCharsetNameException": "java.lang.IllegalArgumentException",
    "java.nio.charset.UnsupportedCharsetException": "java.lang.IllegalArgumentException",
    "java.security.InvalidParameterException": "java.lang.IllegalArgumentException",
    "java.lang.IllegalThreadStateException": "java.lang.IllegalArgumentException",
    "java.lang.IllegalArgumentException": "java.lang.RuntimeException",
    "java.security.AccessControlException": "java.lang.SecurityException",
    "java.lang.SecurityException": "java.lang.RuntimeException",
    "java.lang.NullPointerException": "java.lang.RuntimeException",
    "java.lang.ArithmeticException": "java.lang.RuntimeException",
    "java.lang.ArrayStoreException": "java.lang.RuntimeException",
    "java.lang.ClassCastException": "java.lang.RuntimeException",
    "java.lang.EnumConstantNotPresentException": "java.lang.RuntimeException",
    "java.lang.IllegalCallerException": "java.lang.RuntimeException",
    "java.lang.IllegalMonitorStateException": "java.lang.RuntimeException",
    "java.lang.IllegalStateException": "java.lang.RuntimeException",
    "java.lang.NegativeArraySizeException": "java.lang.RuntimeException",
    "java.lang.TypeNotPresentException": "java.lang.RuntimeException",
    "java.lang.UnsupportedOperationException": "java.lang.RuntimeException",
    "java.lang.reflect.UndeclaredThrowableException": "java.lang.RuntimeException",
    "java.lang.invoke.WrongMethodTypeException": "java.lang.RuntimeException",
    "java.io.UncheckedIOException": "java.lang.RuntimeException",
    "java.nio.BufferOverflowException": "java.lang.RuntimeException",
    "java.nio.BufferUnderflowException": "java.lang.RuntimeException",
    "java.nio.ReadOnlyBufferException": "java.lang.UnsupportedOperationException",
    "java.time.DateTimeException": "java.lang.RuntimeException",
    "java.time.format.DateTimeParseException": "java.time.DateTimeException",
    "java.time.temporal.UnsupportedTemporalTypeException": "java.time.DateTimeException",
    "java.util.ConcurrentModificationException": "java.lang.RuntimeException",
    "java.util.EmptyStackException": "java.lang.RuntimeException",
    "java.util.MissingResourceException": "java.lang.RuntimeException",
    "java.util.NoSuchElementException": "java.lang.RuntimeException",
    "java.util.InputMismatchException": "java.util.NoSuchElementException",
    "java.util.concurrent.CancellationException": "java.lang.IllegalStateException",
    "java.util.concurrent.CompletionException": "java.lang.RuntimeException",
    "java.util.concurrent.RejectedExecutionException": "java.lang.RuntimeException",
    # The server's resource limits (README "Limits").
    "gatun.server.limits.LimitExceededException": "java.lang.IllegalStateException",
    "gatun.server.limits.SessionQuota$SessionIdleException": "java.lang.IllegalStateException",
}


def _python_class_for(java_class: str) -> type[JavaException]:
    name: str | None = java_class
    seen: set[str] = set()
    while name is not None and name not in seen:
        mapped = _MAPPED.get(name)
        if mapped is not None:
            return mapped
        seen.add(name)
        name = _JAVA_PARENT.get(name)
    return JavaException


def java_exception(
    java_class: str, message: str, stack_trace: str
) -> JavaException | CancelledException:
    """Build the Python exception for a Java exception of class ``java_class``.

    The exact class name is looked up first, then its known superclasses, so
    ``ArrayIndexOutOfBoundsException`` becomes
    :class:`JavaIndexOutOfBoundsException` and ``IllegalStateException``
    becomes :class:`JavaRuntimeException`. Unknown classes give
    :class:`JavaException`. An ``InterruptedException`` whose message is
    ``"Request N was cancelled"`` is :class:`CancelledException` ``(N)``, as
    upstream maps it.

    >>> type(java_exception("java.lang.NumberFormatException", "x", "")).__name__
    'JavaNumberFormatException'
    """
    if java_class == "java.lang.InterruptedException":
        cancelled = _CANCELLED_MESSAGE.match(message or "")
        if cancelled is not None:  # upstream's mapping (1.14)
            return CancelledException(int(cancelled.group(1)))
    return _python_class_for(java_class)(java_class, message, stack_trace)


# What Java code throws (as upstream's server does) for a cancelled request.
_CANCELLED_MESSAGE = re.compile(r"Request (\d+) was cancelled")
