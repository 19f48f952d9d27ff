"""Resource limits (issue 16): upstream's ``-Dgatun.limits.*`` and
``connect(limits=...)``, each enforced by the JVM with upstream's message,
the session usable afterwards (except after its idle timeout)."""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

import gatun
from gatun._limits import LIMIT_NAMES

pytestmark = [pytest.mark.timeout(120), pytest.mark.jvm]

_LIMITS = {
    "max_objects": 40,
    "max_string_length": 100,
    "max_list_entries": 10,
    "max_nesting_depth": 3,
    "max_batch_size": 8,
    "max_method_calls": 5,
    "max_create_objects": 4,
    "max_arrow_bytes": 1 << 20,
}


@pytest.fixture(scope="module")
def limited() -> Iterator[gatun.GatunClient]:
    """A JVM whose one session lowered every limit but the idle timeout."""
    client = gatun.connect(limits=_LIMITS)
    yield client
    client.close()


def _live_objects(client: gatun.GatunClient) -> int:
    gc.collect()
    client.ping()  # carries the releases of collected proxies
    return int(client.get_metrics(as_dict=True)["session"]["current_objects"])


def _still_usable(client: gatun.GatunClient) -> None:
    assert client.jvm.java.lang.Math.max(2, 3) == 3


def test_object_limit(limited: gatun.GatunClient) -> None:
    base = _live_objects(limited)
    held = [limited.jvm.java.util.ArrayList() for _ in range(40 - base)]
    with pytest.raises(gatun.LimitExceededError) as e:
        limited.jvm.java.util.ArrayList()
    # The message starts as upstream's, not with the Java class name.
    assert str(e.value).startswith("Object limit exceeded: session has 40 objects (max: 40)")
    assert e.value.java_class == "gatun.server.limits.LimitExceededException"
    # The session's own limits= set the cap: the JVM property cannot help.
    assert "this session's limits= set max_objects to 40" in str(e.value)
    assert "-Dgatun.limits" not in str(e.value)
    assert isinstance(e.value, gatun.JavaRuntimeException)  # an IllegalStateException in Java
    del held
    assert _live_objects(limited) == base
    assert limited.jvm.java.util.ArrayList() is not None


def test_string_limit(limited: gatun.GatunClient) -> None:
    string = limited.jvm.java.lang.String
    assert string.valueOf("x" * 100) == "x" * 100
    with pytest.raises(gatun.JavaException, match=r"String too long: 101 characters \(max: 100\)"):
        string.valueOf("x" * 101)
    # Characters, not bytes: 100 two-byte characters fit.
    assert string.valueOf("é" * 100) == "é" * 100
    _still_usable(limited)


def test_collection_limit(limited: gatun.GatunClient) -> None:
    collections = limited.jvm.java.util.Collections
    assert collections.max(list(range(10))) == 9
    too_large = r"Collection too large: 11 entries \(max: 10\)"
    with pytest.raises(gatun.JavaException, match=too_large) as e:
        collections.max(list(range(11)))
    assert "max_list_entries" in str(e.value)
    with pytest.raises(gatun.JavaException, match="Collection too large"):
        limited.jvm.java.util.HashMap({str(i): i for i in range(11)})
    _still_usable(limited)


def test_nesting_limit(limited: gatun.GatunClient) -> None:
    objects = limited.jvm.java.util.Objects
    assert objects.toString([[[1]]]) == "[[[1]]]"
    with pytest.raises(gatun.JavaException, match="Nesting too deep") as e:
        objects.toString([[[[1]]]])
    assert "max_nesting_depth" in str(e.value)
    _still_usable(limited)


def test_batch_limits(limited: gatun.GatunClient) -> None:
    b = limited.batch()
    for i in range(9):
        b.call_static("java.lang.Math", "abs", -i)
    with pytest.raises(gatun.JavaException, match=r"Batch too large: 9 items \(max: 8\)"):
        b.execute()
    # batch() is bounded by max_batch_size only: 8 instance calls pass
    # max_method_calls (5), which is invoke_methods' limit.
    lst = limited.jvm.java.util.ArrayList()
    with limited.batch() as b:
        added = [b.call(lst, "add", i) for i in range(8)]
    assert [r.get() for r in added] == [True] * 8
    sb = limited.jvm.java.lang.StringBuilder()
    assert limited.invoke_methods(sb, [("append", ("a",))] * 4 + [("length", ())])[-1] == 4
    too_many = r"Batch too large: 6 method calls \(max: 5\)"
    with pytest.raises(gatun.JavaException, match=too_many) as e:
        limited.invoke_methods(sb, [("append", ("b",))] * 6)
    assert "max_method_calls" in str(e.value)
    assert sb.length() == 4  # the refused batch ran none of its calls
    too_many = r"Batch too large: 5 objects to create \(max: 4\)"
    with pytest.raises(gatun.JavaException, match=too_many):
        limited.create_objects([("java.util.ArrayList", ())] * 5)
    assert len(limited.create_objects([("java.util.ArrayList", ())] * 4)) == 4
    _still_usable(limited)


def test_a_batch_is_counted_whole_across_the_requests_it_is_split_into() -> None:
    # Batches of 15,000 and 20,001 instance calls do not fit one 1 MiB lane
    # slot: the client sends each as several requests, each under the limits.
    flags = ["-Dgatun.limits.max_batch_size=20000", "-Dgatun.limits.max_method_calls=20000"]
    client = gatun.connect(extra_jvm_flags=flags, limits={"max_method_calls": 10_000})
    try:
        lst = client.jvm.java.util.ArrayList()
        with client.batch() as b:
            for i in range(15_000):
                b.call(lst, "add", i)
        assert lst.size() == 15_000  # max_method_calls is not batch()'s limit
        lst.clear()
        b = client.batch()
        for i in range(20_001):
            b.call(lst, "add", i)
        with pytest.raises(gatun.LimitExceededError) as e:
            b.execute()
        assert str(e.value).startswith("Batch too large: 20001 items (max: 20000)")
        assert "-Dgatun.limits.max_batch_size=N" in str(e.value)
        assert lst.size() == 0  # a refused batch runs none of its items
        # invoke_methods counts the user's calls against max_method_calls.
        with pytest.raises(gatun.LimitExceededError) as e:
            client.invoke_methods(lst, [("add", (i,)) for i in range(12_000)])
        assert str(e.value).startswith("Batch too large: 12000 method calls (max: 10000)")
        assert "this session's limits= set max_method_calls to 10000" in str(e.value)
        assert lst.size() == 0
        assert len(client.invoke_methods(lst, [("add", (i,)) for i in range(10_000)])) == 10_000
    finally:
        client.close()


def _table(nbytes: int, chunks: int = 1) -> pa.Table:
    rows = nbytes // 8 // chunks
    return pa.Table.from_batches(
        [pa.record_batch({"x": pa.array(range(rows), pa.int64())})] * chunks
    )


def test_arrow_limit_on_batches_and_streams(limited: gatun.GatunClient) -> None:
    with pytest.raises(gatun.JavaException, match="Arrow buffer limit exceeded") as e:
        limited.send_arrow(_table(2 << 20))
    assert "max_arrow_bytes" in str(e.value)
    # A stream (ArrowStream) counts too: the reader holds its first chunk
    # while the second arrives.
    with pytest.raises(gatun.JavaException, match="Arrow buffer limit exceeded"):
        limited.send_arrow(_table(1400 << 10, chunks=2))
    # What the JVM let go of is given back: a small table fits again and again.
    for _ in range(3):
        root = limited.send_arrow(_table(600 << 10))
        assert root.getRowCount() == (600 << 10) // 8
        del root
        gc.collect()
        limited.ping()
    _still_usable(limited)


def test_unknown_limit_is_named_before_anything_starts() -> None:
    with pytest.raises(ValueError, match="max_thingies") as e:
        gatun.connect(limits={"max_thingies": 1})
    for name in LIMIT_NAMES:
        assert name in str(e.value)
    with pytest.raises(TypeError, match="max_objects"):
        gatun.connect(limits={"max_objects": "10"})


def test_jvm_flags_set_limits_and_a_session_only_lowers_them() -> None:
    with pytest.raises(ValueError, match="may only lower"):
        gatun.connect(extra_jvm_flags=["-Dgatun.limits.max_objects=3"], limits={"max_objects": 4})
    client = gatun.connect(extra_jvm_flags=["-Dgatun.limits.max_objects=3"])
    try:
        held = [client.jvm.java.util.ArrayList() for _ in range(3)]
        with pytest.raises(
            gatun.LimitExceededError, match=r"session has 3 objects \(max: 3\)"
        ) as e:
            client.jvm.java.util.ArrayList()
        # The server set this one: raising the JVM property is the fix.
        assert "raise it with -Dgatun.limits.max_objects=N" in str(e.value)
        del held
    finally:
        client.close()


def test_gateway_limits_and_attached_sessions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gateway = gatun.launch_gateway(socket_path=str(tmp_path / "g.sock"), limits={"max_objects": 3})
    try:
        with pytest.raises(ValueError, match="max_objects=5 would raise"):
            gateway.connect(limits={"max_objects": 5})
        lowered = gateway.connect(limits={"max_objects": 1})
        plain = gateway.connect()
        try:
            first = lowered.jvm.java.util.ArrayList()
            with pytest.raises(gatun.JavaException, match=r"\(max: 1\)"):
                lowered.jvm.java.util.ArrayList()
            # The other session keeps the gateway's limit.
            held = [plain.jvm.java.util.ArrayList() for _ in range(3)]
            with pytest.raises(gatun.JavaException, match=r"\(max: 3\)"):
                plain.jvm.java.util.ArrayList()
            del first, held
        finally:
            lowered.close()
            plain.close()
    finally:
        gateway.stop()


def _wait_for(what: str, check, deadline: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_idle_timeout_closes_the_session(tmp_path) -> None:  # type: ignore[no-untyped-def]
    gateway = gatun.launch_gateway(socket_path=str(tmp_path / "g.sock"))
    try:
        watcher = gateway.connect()
        idle = gateway.connect(limits={"session_idle_timeout_ms": 300})
        try:
            held = [idle.jvm.java.util.ArrayList() for _ in range(5)]
            assert watcher.get_metrics(as_dict=True)["global"]["current_objects"] == 5

            # Without another request from it, the server expires the idle
            # session and releases its objects.
            def released() -> bool:
                m = watcher.get_metrics(as_dict=True)["global"]
                return m["sessions_idled_out"] == 1 and m["current_objects"] == 0

            _wait_for("the idle session's objects to be released", released)
            with pytest.raises(gatun.JavaException, match="idle timeout of 300 ms") as e:
                idle.jvm.java.lang.Math.max(1, 2)
            assert "session_idle_timeout_ms" in str(e.value)
            # Then the session is gone: a clear error, not a hang, and the
            # same reason every time (the JVM is still running).
            for _ in range(2):
                with pytest.raises(gatun.BridgeClosedError, match="session expired"):
                    idle.jvm.java.lang.Math.max(1, 2)
            assert idle.closed
            assert watcher.jvm.java.lang.Math.max(1, 2) == 2
            _wait_for(
                "the session to end",
                lambda: watcher.get_metrics(as_dict=True)["global"]["current_sessions"] == 1,
            )
            del held
        finally:
            idle.close()
            watcher.close()
    finally:
        gateway.stop()


def test_an_idled_out_private_jvm_is_closed_and_stops() -> None:
    client = gatun.connect(limits={"session_idle_timeout_ms": 200})
    try:
        pid = client.jvm_pid
        time.sleep(0.5)  # longer than the idle timeout: the next call is refused
        with pytest.raises(gatun.LimitExceededError, match="idle timeout of 200 ms") as e:
            client.jvm.java.lang.Math.max(1, 2)
        assert str(e.value).startswith("Session closed: it was idle for more than")
        for _ in range(2):
            with pytest.raises(gatun.BridgeClosedError, match="session expired") as e:
                client.jvm.java.lang.Math.max(1, 2)
            assert "exited or was killed" not in str(e.value)
        assert client.closed
        # Nothing can use the JVM any more: it stops.
        _wait_for("the private JVM to exit", lambda: not _alive(pid))
    finally:
        client.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


def test_busy_session_does_not_idle_out() -> None:
    client = gatun.connect(limits={"session_idle_timeout_ms": 1000})
    try:
        # Calls closer together than the timeout keep the session alive for
        # several timeouts; a call that runs longer than it is not idleness.
        end = time.monotonic() + 2.5
        while time.monotonic() < end:
            assert client.jvm.java.lang.Math.max(1, 2) == 2
            time.sleep(0.1)
        client.jvm.java.lang.Thread.sleep(1500)
        assert client.jvm.java.lang.Math.max(1, 2) == 2
        assert re.search(r"sessions_idled_out: 0\b", client.get_metrics())
    finally:
        client.close()
