"""The seed README's "Async Client" and "BridgeAdapter" examples, verbatim
(prints turned into asserts), plus concurrency of the async client."""

from __future__ import annotations

import asyncio

import pytest


def test_async_client_example() -> None:
    from gatun import aconnect

    async def main():
        client = await aconnect()

        # All operations are async
        arr = await client.jvm.java.util.ArrayList()
        await arr.add("hello")
        await arr.add("world")
        size = await arr.size()  # 2
        assert size == 2

        # Static methods
        result = await client.jvm.java.lang.Integer.parseInt("42")  # 42
        assert result == 42

        await client.close()

    asyncio.run(main())


def test_async_callbacks_example() -> None:
    # Verbatim, so the README's import order stays.
    from gatun import aconnect  # noqa: I001
    import asyncio

    async def main():
        client = await aconnect()

        async def async_compare(a, b):
            await asyncio.sleep(0.01)  # Simulate async work
            return -1 if a < b else (1 if a > b else 0)

        comparator = await client.register_callback(async_compare, "java.util.Comparator")
        # Not in the README: show that the comparator works, then close.
        arr = await client.jvm.java.util.ArrayList()
        for x in (3, 1, 2):
            await arr.add(x)
        await client.jvm.java.util.Collections.sort(arr, comparator)
        assert [await arr.get(i) for i in range(3)] == [1, 2, 3]
        await client.close()

    asyncio.run(main())


def test_async_calls_run_concurrently_and_fields_and_errors_work() -> None:
    import gatun

    async def main() -> None:
        async with await gatun.aconnect() as client:
            math = client.jvm.java.lang.Math
            results = await asyncio.gather(*(math.max(i, 50) for i in range(100)))
            assert results == [max(i, 50) for i in range(100)]
            assert client.jvm.java.lang.Integer.MAX_VALUE == 2**31 - 1
            with pytest.raises(gatun.JavaNumberFormatException):
                await client.jvm.java.lang.Integer.parseInt("x")
            sb = await client.jvm.java.lang.StringBuilder("a")
            await sb.append(sb)  # an async proxy passed back as an argument
            assert await sb.toString() == "aa"

    asyncio.run(main())


def test_bridge_adapter_example() -> None:
    from gatun.bridge_adapters import GatunAdapter

    # Create bridge (launches JVM)
    bridge = GatunAdapter(memory="256MB")

    # Use bridge API
    obj = bridge.new("java.util.ArrayList")
    bridge.call(obj, "add", "hello")
    result = bridge.call_static("java.lang.Math", "max", 10, 20)
    assert result == 20

    # Array operations
    arr = bridge.new_array("java.lang.String", 3)
    bridge.array_set(arr, 0, "hello")
    assert bridge.array_get(arr, 0) == "hello"  # "hello"

    bridge.close()
