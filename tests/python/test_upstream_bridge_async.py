"""Upstream's gatun.bridge contract (GatunAdapter) and the async client at
parity with the sync one, against a real JVM (issue 16, item 1)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow as pa
import pytest

import gatun
from gatun import bridge
from gatun.async_client import AsyncGatunClient, AsyncJavaClass, get_default_executor, run_sync
from gatun.bridge_adapters import GatunAdapter

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def adapter(fields_client: gatun.GatunClient) -> GatunAdapter:
    return GatunAdapter(client=fields_client)


# ------------------------------------------------------------------- bridge


def test_adapter_objects_calls_and_fields(adapter: GatunAdapter) -> None:
    assert isinstance(adapter, bridge.BridgeAdapter)
    sb = adapter.new("java.lang.StringBuilder", "hello")
    assert isinstance(sb, bridge.JVMRef)
    adapter.call(sb, "append", " world")
    assert adapter.call(sb, "toString") == "hello world"
    assert adapter.call(sb.object_id, "length") == 11  # a raw id, as upstream allowed
    assert adapter.call_static("java.lang.Integer", "parseInt", "42") == 42
    obj = adapter.new("gatuntest.Fields", 3)
    assert adapter.get_field(obj, "x") == 3
    adapter.set_field(obj, "x", 4)
    assert adapter.call(obj, "getX") == 4
    assert adapter.get_static_field("java.lang.Integer", "MAX_VALUE") == 2**31 - 1
    adapter.set_static_field("gatuntest.Fields", "counter", 8)
    assert adapter.get_static_field("gatuntest.Fields", "counter") == 8
    adapter.set_static_field("gatuntest.Fields", "counter", 7)
    items = adapter.new("java.util.ArrayList")
    assert adapter.is_instance_of(items, "java.util.List")
    assert adapter.is_instance_of(items, "java.util.Collection")
    assert not adapter.is_instance_of(items, "java.util.Map")
    adapter.detach(items)
    adapter.call(items, "add", "kept")
    assert adapter.call(items, "get", 0) == "kept"


def test_adapter_arrays(adapter: GatunAdapter) -> None:
    ints = adapter.new_array("int", 5)
    assert adapter.array_length(ints) == 5
    adapter.array_set(ints, 1, 9)
    assert adapter.array_get(ints, 1) == 9
    strings = adapter.new_array("java.lang.String", 3)
    assert adapter.array_length(strings) == 3
    adapter.array_set(strings, 0, "b")
    adapter.array_set(strings, 1, "a")
    adapter.array_set(strings, 2, "c")
    adapter.call_static("java.util.Arrays", "sort", strings)
    assert [adapter.array_get(strings, i) for i in range(3)] == ["a", "b", "c"]
    with pytest.raises(bridge.JavaIndexOutOfBoundsException):
        adapter.array_get(strings, 3)


def test_adapter_exceptions_are_bridge_and_gatun_classes(adapter: GatunAdapter) -> None:
    with pytest.raises(bridge.JavaClassNotFoundException) as info:
        adapter.new("com.example.NoSuchClass")
    assert isinstance(info.value, gatun.JavaClassNotFoundException)
    assert str(info.value).startswith("java.lang.ClassNotFoundException: ")
    assert "\n" not in str(info.value)
    assert info.value.stack_trace
    with pytest.raises(bridge.JavaNumberFormatException) as nfe:
        adapter.call_static("java.lang.Integer", "parseInt", "x")
    assert isinstance(nfe.value, bridge.JavaIllegalArgumentException)
    with pytest.raises(bridge.JavaException) as other:
        adapter.call(adapter.new("java.util.ArrayList"), "noSuchMethod")
    assert isinstance(other.value, gatun.JavaException)
    assert bridge.JAVA_EXCEPTION_MAP["java.lang.SecurityException"] is bridge.JavaSecurityException


def test_adapter_jvm_view_and_imports(adapter: GatunAdapter) -> None:
    assert isinstance(adapter.jvm, bridge.JVMView)
    assert isinstance(adapter.jvm.java.util, bridge.JVMView)
    assert adapter.jvm.java.lang.Integer.parseInt("7") == 7
    assert adapter.jvm.java.lang.Integer.MAX_VALUE == 2**31 - 1
    adapter.java_import("java.util.*")
    assert adapter.call(adapter.jvm.ArrayList(), "size") == 0
    adapter.java_import("java.lang.StringBuilder")
    assert adapter.call(adapter.jvm.StringBuilder("hi"), "toString") == "hi"


def test_adapter_launches_positionally_and_close_ends_it(test_classes: Path) -> None:
    own = GatunAdapter("32MB", [str(test_classes)])
    try:
        assert own.client.memory == 32 << 20
        assert own.get_static_field("gatuntest.Fields", "CONSTANT") == 42  # classpath honoured
    finally:
        own.close()
    with pytest.raises(gatun.BridgeClosedError):
        own.new("java.util.ArrayList")


# -------------------------------------------------------------------- async


def test_async_client_at_parity(fields_client: gatun.GatunClient) -> None:
    async def main() -> None:
        client = AsyncGatunClient(fields_client)
        obj = await client.create_object("gatuntest.Fields", 1)
        assert obj.object_id == obj.java_object.object_id
        assert await client.get_field(obj, "x") == 1
        await client.set_field(obj_id=obj, field_name="x", value=2)
        assert await client.get_fields(obj, ["x", "name"]) == [2, "fields"]
        await client.set_static_field("gatuntest.Fields", "label", "async")
        assert await client.get_static_field("gatuntest.Fields", "label") == "async"
        await client.set_static_field("gatuntest.Fields", "label", "start")
        items = await client.create_object("java.util.ArrayList")
        assert await client.is_instance_of(items, "java.util.List") is True
        results = await client.invoke_methods(
            items, [("add", ("a",)), ("add", ("b",)), ("size", ())]
        )
        assert results == [True, True, 2]
        made = await client.create_objects([("java.util.ArrayList", ()), ("java.util.HashMap", ())])
        assert [await m.size() for m in made] == [0, 0]
        assert isinstance(await client.get_metrics(), str)
        assert await client.reflect("java.util.ArrayList") == "class"
        await client.free_object(items)
        table = pa.table({"x": [1, 2, 3]})
        assert await client.send_arrow_table(table) == "Received 3 rows"
        async with client.arrow_context() as ctx:
            assert await ctx.send(table) == "Received 3 rows"
        assert (await client.get_arrow_data()).to_pydict() == {"x": [1, 2, 3]}
        assert await client.send_arrow_table_batched(table, 2) == [
            "Received 2 rows",
            "Received 1 rows",
        ]
        await client.reset_payload_arena()
        assert await client.cancel(10**12) is False  # no such call is running
        cls = AsyncJavaClass(client, "java.lang.Integer")
        assert await cls.parseInt("5") == 5
        assert cls.MAX_VALUE == 2**31 - 1
        assert isinstance(client.jvm.java.util.ArrayList, AsyncJavaClass)
        util = gatun.AsyncJVMView(client, "java.util")
        assert await (await util.ArrayList()).size() == 0
        proxy = await client.register_callback(
            callback_fn=lambda a, b: (a > b) - (a < b), interface_name="java.util.Comparator"
        )
        await client.unregister_callback(callback_id=proxy.object_id)

    asyncio.run(main())


def test_run_sync_and_the_default_executor(client: gatun.GatunClient) -> None:
    async def main() -> None:
        items = await run_sync(client.create_object, "java.util.ArrayList")
        await run_sync(items.add, "x")
        assert await run_sync(client.invoke_method, items, "size") == 1
        assert await run_sync(client.invoke_static_method, "java.lang.Math", "max", 1, 2) == 2
        assert await run_sync(sorted, [3, 1], reverse=True) == [3, 1]

    asyncio.run(main())
    assert get_default_executor() is get_default_executor()


def test_async_client_from_a_socket_path(tmp_path: Path) -> None:
    session = gatun.launch_gateway(socket_path=tmp_path / "gatun.sock")
    try:

        async def main() -> None:
            client = AsyncGatunClient(session.socket_path)
            assert await client.connect() is True
            try:
                assert await client.jvm.java.lang.Math.max(1, 9) == 9
            finally:
                await client.close()
            async with AsyncGatunClient(session.socket_path) as second:
                assert await second.ping() is True
            missing = AsyncGatunClient(str(tmp_path / "nobody.sock"))
            assert await missing.connect() is False

        asyncio.run(main())
    finally:
        session.stop()
