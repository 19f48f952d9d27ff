"""Upstream Gatun's names doing what upstream's did, against a real JVM
(issue 16, item 1): keyword names, gatun.client's re-exports, the Arrow
wrappers, the upstream-only exceptions, and the gaps test_upstream_api.py
found in the sync client."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

import gatun
from gatun import JavaClass, JVMView, java_import

pytestmark = pytest.mark.timeout(120)


# ------------------------------------------------------------ keyword names


def test_upstream_keyword_names_are_accepted(fields_client: gatun.GatunClient) -> None:
    client = fields_client
    sb = client.create_object("java.lang.StringBuilder", "ab")
    assert client.invoke_method(obj_id=sb, method_name="length") == 2
    assert client.invoke_method(sb.object_id, "reverse").toString() == "ba"
    empty = client.invoke_static_method(class_name="java.util.Collections", method_name="emptyList")
    assert empty == []
    obj = client.create_object("gatuntest.Fields", 5)
    assert client.get_field(obj_id=obj, field_name="x") == 5
    client.set_field(obj_id=obj, field_name="x", value=6)
    assert client.get_fields(obj, field_names=["x", "name"]) == [6, "fields"]
    assert client.get_static_field(class_name="gatuntest.Fields", field_name="CONSTANT") == 42
    client.set_static_field(class_name="gatuntest.Fields", field_name="label", value="kw")
    assert client.get_static_field("gatuntest.Fields", "label") == "kw"
    client.set_static_field("gatuntest.Fields", "label", "start")

    proxy = client.register_callback(
        callback_fn=lambda a, b: (a > b) - (a < b), interface_name="java.util.Comparator"
    )
    items = client.jvm.java.util.ArrayList([3, 1, 2])
    client.jvm.java.util.Collections.sort(items, proxy)
    assert list(items) == [1, 2, 3]
    client.unregister_callback(callback_id=proxy.object_id)
    with pytest.raises(gatun.JavaException, match="IllegalStateException"):
        client.jvm.java.util.Collections.sort(items, proxy)


def test_jvm_view_java_class_and_java_import_take_upstreams_arguments(
    client: gatun.GatunClient,
) -> None:
    util = JVMView(client, package_path="java.util")
    assert util.ArrayList().size() == 0
    cls = JavaClass(client, class_name="java.util.ArrayList")
    assert cls().isEmpty() is True
    view = JVMView(client)
    java_import(view, import_path="java.util.concurrent.ConcurrentHashMap")
    assert view.ConcurrentHashMap().isEmpty() is True
    obj = client.jvm.java.util.ArrayList()
    assert obj.client is client
    assert gatun.JavaArray(iterable=[1, 2], element_type="Int").length == 2


# ------------------------------------------------------ gatun.client names


def test_gatun_client_re_exports_upstreams_names() -> None:
    from gatun.client import (  # noqa: F401 - the import is the test
        COMMAND_ZONE_SIZE,
        DEFAULT_CALLBACK_TIMEOUT,
        DEFAULT_SOCKET_TIMEOUT,
        HANDSHAKE_TIMEOUT,
        RESPONSE_ZONE_SIZE,
        ArrowTableView,
        JavaException,
        JavaList,
        PayloadTooLargeError,
        ReentrancyError,
        TypeHint,
    )

    assert JavaException is gatun.JavaException
    assert ArrowTableView is gatun.ArrowTableView
    assert COMMAND_ZONE_SIZE >= 65536
    assert RESPONSE_ZONE_SIZE >= 65536
    assert DEFAULT_CALLBACK_TIMEOUT is None
    assert DEFAULT_SOCKET_TIMEOUT is None
    assert HANDSHAKE_TIMEOUT > 0


def test_launcher_constants_name_the_jar_and_flags_in_use() -> None:
    from gatun.launcher import DEFAULT_JVM_FLAGS, JAR_PATH, find_server_jar

    assert JAR_PATH.is_file()
    if not os.environ.get("GATUN_JAR"):
        assert Path(find_server_jar()) == JAR_PATH
    assert DEFAULT_JVM_FLAGS == (
        "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/java.lang=ALL-UNNAMED",
    )


# ------------------------------------------------------------- exceptions


def test_upstream_exception_constructors() -> None:
    e = gatun.PayloadTooLargeError(100_000, 65_536, "Command")
    assert (e.payload_size, e.max_size, e.zone) == (100_000, 65_536, "Command")
    assert "100,000 bytes exceeds maximum 65,536 bytes" in str(e)
    assert str(gatun.PayloadTooLargeError("arena full: no room")) == "arena full: no room"
    c = gatun.CancelledException(7)
    assert c.request_id == 7
    assert str(c) == "Request 7 was cancelled"
    p = gatun.ProtocolDesyncError("bad size", response_size=0)
    assert p.response_size == 0
    assert isinstance(p, gatun.GatunError)
    s = gatun.StaleArenaError(1, 2)
    assert (s.table_epoch, s.current_epoch) == (1, 2)
    assert isinstance(s, RuntimeError)
    for cls in (gatun.ReentrancyError, gatun.CallbackTimeoutError, gatun.SocketTimeoutError):
        assert issubclass(cls, gatun.GatunError)
        assert "never raise" in (cls.__doc__ or "") or "not raise" in (cls.__doc__ or "")
    assert gatun.DeadConnectionError is gatun.BridgeClosedError


# -------------------------------------------------------- sync client gaps


def test_free_object_sends_the_queued_releases(fresh_client: gatun.GatunClient) -> None:
    client = fresh_client
    kept = client.jvm.java.util.ArrayList()
    dropped = [client.jvm.java.util.ArrayList() for _ in range(5)]
    ids = [o.object_id for o in dropped]
    del dropped
    assert client._native.pending_releases >= 5
    client.free_object(ids[0])
    assert client._native.pending_releases == 0
    assert kept.size() == 0  # a referenced proxy stays valid


def test_cancel_of_a_call_that_is_not_running_is_false(client: gatun.GatunClient) -> None:
    # Upstream acknowledged every cancel with True and stopped nothing; here
    # cancel() stops a running call (tests/python/test_cancel.py) and says
    # False when there is none by that id.
    assert client.cancel(10**12) is False


# ------------------------------------------------------------------ Arrow


def test_get_arrow_data_is_an_arrow_table_view(client: gatun.GatunClient) -> None:
    table = pa.table({"x": [1, 2, 3], "s": ["a", "b", "c"]})
    client.send_arrow_buffers(table, client.get_payload_arena(), {})
    view = client.get_arrow_data()
    assert isinstance(view, gatun.ArrowTableView)
    assert view.table.equals(table)
    assert (view.num_rows, view.num_columns, view.column_names) == (3, 2, ["x", "s"])
    assert view.schema == table.schema
    assert view.to_pydict() == table.to_pydict()
    assert view.to_pylist()[0] == {"x": 1, "s": "a"}
    assert view.column("x").to_pylist() == [1, 2, 3]
    assert pa.table(view).equals(table)  # an Arrow stream too
    client.reset_payload_arena()
    assert view.to_pydict() == table.to_pydict()  # never stale here
    del view


def test_arrow_context_sends_receives_and_is_not_reentrant(client: gatun.GatunClient) -> None:
    table = pa.table({"x": list(range(5))})
    ctx = client.arrow_context()
    assert isinstance(ctx, gatun.ScopedArenaContext)
    with pytest.raises(RuntimeError, match=r"inside `with client\.arrow_context"):
        ctx.send(table)
    with ctx:
        assert ctx.arena is not None
        assert ctx.schema_cache == {}
        assert ctx.send(table) == "Received 5 rows via zero-copy buffers"
        back = ctx.receive()
        with pytest.raises(RuntimeError, match="not reentrant"), ctx:
            pass
    assert back.equals(table)  # still valid after the context
    with pytest.raises(RuntimeError, match="no Arrow data"):
        client.get_arrow_data()
    del back


def test_upstream_arena_internals_say_what_to_use(
    client: gatun.GatunClient, tmp_path: Path
) -> None:
    from gatun.arena import (
        BufferInfo,
        PayloadArena,
        compute_schema_hash,
        copy_arrow_table_to_arena,
        deserialize_schema,
        serialize_schema,
    )

    for call in (
        lambda: PayloadArena(tmp_path / "arena.shm", 1 << 20),
        lambda: PayloadArena.create(tmp_path / "arena.shm", 1 << 20),
        lambda: PayloadArena.from_mmap(None, 0, 10),
        lambda: client.get_payload_arena().allocate(64),
        lambda: client.get_payload_arena().allocate_and_copy(b"x"),
        lambda: copy_arrow_table_to_arena(pa.table({"x": [1]}), client.get_payload_arena()),
    ):
        with pytest.raises(NotImplementedError, match=r"client\.send_arrow"):
            call()
    assert not (tmp_path / "arena.shm").exists()
    schema = pa.schema([("x", pa.int64()), ("s", pa.string())])
    assert deserialize_schema(serialize_schema(schema)) == schema
    h = compute_schema_hash(schema)
    assert h == compute_schema_hash(pa.schema([("x", pa.int64()), ("s", pa.string())]))
    assert h != compute_schema_hash(pa.schema([("x", pa.int32())]))
    assert 0 <= h < 2**64
    # FNV-1a 64 of the empty input is its offset basis; of b"a", a known value.
    from gatun._upstream import _FNV_OFFSET, _FNV_PRIME, _MASK64

    assert ((_FNV_OFFSET ^ ord("a")) * _FNV_PRIME) & _MASK64 == 0xAF63DC4C8601EC8C
    assert BufferInfo(0, 8, None).length == 8


# --------------------------------------------------------------- config


def test_config_takes_upstreams_positional_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gatun.config import GatunConfig, find_pyproject_toml, load_config

    config = GatunConfig("32MB", "/tmp/x.sock", ["-Xmx1g"], 2.0, 9.0)
    assert (config.connect_timeout, config.startup_timeout) == (2.0, 9.0)
    (tmp_path / "pyproject.toml").write_text('[tool.gatun]\nmemory = "48MB"\n')
    (tmp_path / "sub").mkdir()
    assert find_pyproject_toml(start_path=tmp_path / "sub") == tmp_path / "pyproject.toml"
    monkeypatch.delenv("GATUN_MEMORY", raising=False)
    assert load_config(pyproject_path=tmp_path / "pyproject.toml").memory == "48MB"
