"""The server inside a PySpark driver, and objects between its two gateways.

:func:`attach` loads the server jar into the driver's context class loader
through PySpark's py4j gateway (unless ``spark.jars`` already brought it),
starts a hosted server with a socket path and token chosen here, and
attaches a client. One server and client per ``SparkContext`` (every session
of it shares them); ``SparkContext.stop()`` — which ``spark.stop()`` calls —
is wrapped on the instance so the client and server end first.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import warnings
from typing import TYPE_CHECKING, Any

from gatun.exceptions import BridgeClosedError

if TYPE_CHECKING:
    from gatun.client import GatunClient
    from gatun.objects import JavaObject

__all__ = ["attach", "check_classic", "gatun_session", "to_gatun", "to_py4j"]

_SERVER_CLASS = "gatun.server.GatunServer"
_HANDOFF = "gatun.spark.Handoff"


class _Attachment:
    """A hosted server in one driver JVM and the client attached to it."""

    def __init__(self, client: GatunClient, server: Any, directory: str) -> None:
        self.client = client
        self.server = server  # py4j proxy of gatun.server.GatunServer
        self.directory = directory
        #: Gatun proxies of the driver's Java SparkSessions, by py4j object id.
        self.sessions: dict[str, JavaObject] = {}

    def close(self, reason: str | None = None) -> None:
        """Close the client, stop the server, remove the socket's directory.
        ``reason``: what the client's later calls say (default: it is closed)."""
        self.sessions.clear()
        try:
            if reason is not None:
                self.client._session.close(reason)
            self.client.close()
        finally:
            try:
                self.server.close()
            finally:
                shutil.rmtree(self.directory, ignore_errors=True)


_lock = threading.RLock()
#: One attachment per SparkContext (keyed by the Python object's id; the
#: entry goes when that context stops).
_attachments: dict[int, _Attachment] = {}


def check_classic(spark: Any) -> None:
    """A ``TypeError`` unless ``spark`` is a classic (py4j) ``SparkSession``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:  # pragma: no cover - pyspark is a test requirement
        raise ImportError("gatun.spark needs pyspark (pip install pyspark)") from e
    if not isinstance(spark, SparkSession):
        raise TypeError(f"expected a pyspark.sql.SparkSession, not {type(spark).__name__}")
    if getattr(spark, "_jvm", None) is None or not hasattr(spark, "_sc"):
        raise TypeError(
            "this SparkSession has no py4j gateway (Spark Connect?): gatun.spark needs a "
            "classic session whose driver JVM it can reach (spark._jvm)"
        )


def _driver_unreachable(e: BaseException) -> BridgeClosedError:
    return BridgeClosedError(
        f"the Spark driver JVM does not answer through py4j ({type(e).__name__}: {e}); "
        "was it stopped or killed? Start a new SparkSession"
    )


def _through_py4j(call: Any) -> Any:
    """``call()``, with py4j's errors for a driver that is gone (refused
    connections, a dead gateway) turned into :class:`BridgeClosedError`."""
    from py4j.protocol import Py4JError, Py4JJavaError, Py4JNetworkError

    try:
        return call()
    except Py4JJavaError:
        raise  # the driver answered: a Java exception of its own
    except (Py4JNetworkError, ConnectionError) as e:
        raise _driver_unreachable(e) from e
    except Py4JError as e:
        if "while calling" in str(e) or "Answer from Java side is empty" in str(e):
            raise _driver_unreachable(e) from e
        raise


def attach(spark: Any, *, lanes: int | None = None, memory: str | int | None = None) -> GatunClient:
    """The gatun client attached to a server inside ``spark``'s driver JVM.

    The first call loads the server jar into the driver (unless ``spark.jars``
    or ``--jars`` already did), starts the server and attaches; later calls
    return the same client while it is open (``lanes`` and ``memory`` apply
    when a client is made). The server, and the client, end with
    ``spark.stop()``; closing the client ends only its own session (the next
    call attaches a new one), never Spark.
    """
    check_classic(spark)
    return _through_py4j(lambda: _attach(spark, lanes, memory))


def _attach(spark: Any, lanes: int | None, memory: str | int | None) -> GatunClient:
    sc = spark._sc
    with _lock:
        current = _attachments.get(id(sc))
        if current is not None and not current.client.closed:
            if lanes is not None or memory is not None:
                warnings.warn(
                    "gatun.spark.attach: this SparkContext already has an open client, "
                    "returned as it is (lanes= and memory= apply when a client is made; "
                    "close it first to change them)",
                    stacklevel=3,
                )
            return current.client
        if current is not None:  # the user closed the client: a new session, same server
            current.client = _attach_client(current.server, lanes, memory)
            current.sessions.clear()
            return current.client
        if sc._jsc is None:
            raise BridgeClosedError("this SparkSession's SparkContext is stopped")
        attachment = _start(sc, lanes, memory)
        _attachments[id(sc)] = attachment
        _wrap_stop(sc)
        return attachment.client


def _start(sc: Any, lanes: int | None, memory: str | int | None) -> _Attachment:
    jvm = sc._jvm
    _load_jar(jvm)
    directory = tempfile.mkdtemp(prefix="gatun-spark-")  # 0700, ours alone
    try:
        socket_path = os.path.join(directory, "s")
        token = secrets.token_hex(16)
        server = _start_hosted(jvm, socket_path, token)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    try:
        client = _attach_client(server, lanes, memory)
    except BaseException:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return _Attachment(client, server, directory)


def _start_hosted(jvm: Any, socket_path: str, token: str) -> Any:
    """A server hosted by the driver JVM, listening at ``socket_path``."""
    return jvm.gatun.server.GatunServer.startHosted(socket_path, token)


def _attach_client(server: Any, lanes: int | None, memory: str | int | None) -> GatunClient:
    import gatun

    options: dict[str, Any] = {}
    if lanes is not None:
        options["lanes"] = lanes
    if memory is not None:
        options["memory"] = memory
    return gatun.attach(str(server.socketPath().toString()), str(server.tokenHex()), **options)


def _load_jar(jvm: Any) -> None:
    """Make the server's classes loadable in the driver: they are when the
    user gave the jar to Spark; else the jar joins the context class loader
    (Spark's ``MutableURLClassLoader``, whose ``addURL`` is public; local-mode
    task threads use it too, so tasks see the same classes)."""
    from py4j.protocol import Py4JError

    from gatun.launcher import find_server_jar

    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    if _loads(jvm, loader):
        return
    jar = find_server_jar()
    try:
        loader.addURL(jvm.java.io.File(jar).toURI().toURL())
    except (Py4JError, AttributeError) as e:
        raise RuntimeError(
            "the driver's context class loader cannot take the gatun server jar "
            f"({e}); start Spark with --jars {jar} (or the spark.jars setting)"
        ) from None
    if not _loads(jvm, loader):  # pragma: no cover - the jar was just added
        raise RuntimeError(f"{_SERVER_CLASS} does not load after adding {jar} to the driver")


def _loads(jvm: Any, loader: Any) -> bool:
    from py4j.protocol import Py4JJavaError

    try:
        jvm.java.lang.Class.forName(_SERVER_CLASS, False, loader)
        return True
    except Py4JJavaError:
        return False


def _wrap_stop(sc: Any) -> None:
    """Close the attachment when this context stops (``spark.stop()`` calls
    ``sc.stop()``): the instance's ``stop`` is replaced once."""
    original = sc.stop

    def stop() -> None:
        with _lock:
            attachment = _attachments.pop(id(sc), None)
        try:
            if attachment is not None:
                attachment.close(
                    "this GatunClient is closed: its SparkSession was stopped (spark.stop()); "
                    "start a new SparkSession and read again"
                )
        finally:
            original()

    stop.__doc__ = original.__doc__
    stop.__wrapped__ = original  # type: ignore[attr-defined]
    sc.stop = stop


def attachment_of(spark: Any) -> _Attachment:
    """The open attachment of ``spark``'s context (attaching if needed)."""
    attach(spark)
    return _attachments[id(spark._sc)]


def gatun_session(spark: Any) -> JavaObject:
    """``spark``'s Java ``SparkSession`` as a gatun proxy (cached)."""
    attachment = attachment_of(spark)
    key = spark._jsparkSession._target_id
    found = attachment.sessions.get(key)
    if found is None:
        found = to_gatun(attachment.client, spark._jsparkSession)
        attachment.sessions[key] = found
    return found


def to_gatun(client: GatunClient, obj: Any) -> JavaObject:
    """The object a py4j ``JavaObject`` refers to, as a gatun ``JavaObject``
    of ``client`` (the same Java object, handed over by
    ``gatun.spark.Handoff``; both gateways must live in the same JVM)."""
    from py4j.java_gateway import JavaClass
    from py4j.java_gateway import JavaObject as Py4jObject

    if not isinstance(obj, Py4jObject):
        raise TypeError(f"expected a py4j JavaObject, not {type(obj).__name__}")
    key = _through_py4j(lambda: JavaClass(_HANDOFF, obj._gateway_client).put(obj))
    return client.jvm.gatun.spark.Handoff.take(key)


def to_py4j(spark: Any, obj: JavaObject) -> Any:
    """The object a gatun ``JavaObject`` refers to, as a py4j ``JavaObject``
    of ``spark``'s gateway (both must reach the same JVM)."""
    from gatun.objects import JavaObject as GatunObject

    check_classic(spark)
    if not isinstance(obj, GatunObject):
        raise TypeError(f"expected a gatun JavaObject, not {type(obj).__name__}")
    key = obj._client.jvm.gatun.spark.Handoff.put(obj)
    return _through_py4j(lambda: getattr(spark._jvm, _HANDOFF).take(key))
