"""Python callbacks: Java interfaces implemented by Python functions.

Callbacks fired on the JVM thread serving a Python call come back on the same
lane (nested calls reuse it); callbacks from other Java threads use the
callback lanes. Errors, unregistering, batches, Ctrl-C and crashes of either
side are covered here; the seed README examples are in test_seed_examples.py
and test_seed_async_and_adapter.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_lifecycle import call_in_thread, process_gone, run_python, wait_until

import gatun
from gatun import BridgeClosedError, JavaException

pytestmark = pytest.mark.timeout(90)


def compare(a: Any, b: Any) -> int:
    return -1 if a < b else (1 if a > b else 0)


@pytest.fixture(scope="module")
def small() -> Iterator[gatun.GatunClient]:
    """A JVM with ONE call lane and one callback lane: any nested call that
    took a second lane would hang instead of passing."""
    own = gatun.connect(lanes=1, callback_lanes=1)
    yield own
    own.close()


# -- the basics -------------------------------------------------------------------------


def test_comparator_sorts_and_object_methods_stay_in_java(client: gatun.GatunClient) -> None:
    calls: list[tuple[Any, Any]] = []

    def counting(a: Any, b: Any) -> int:
        calls.append((a, b))
        return compare(a, b)

    cmp = client.register_callback(counting, "java.util.Comparator")
    arr = client.jvm.java.util.ArrayList([5, 3, 9, 1])
    client.jvm.java.util.Collections.sort(arr, cmp)
    assert list(arr) == [1, 3, 5, 9]
    assert calls
    assert all(isinstance(a, int) and isinstance(b, int) for a, b in calls)

    calls.clear()
    assert cmp.toString() == f"PythonCallback[{cmp.object_id}]@java.util.Comparator"
    assert isinstance(cmp.hashCode(), int)
    assert cmp.equals(cmp) is True
    assert cmp.equals(arr) is False
    assert calls == [], "toString/hashCode/equals must not reach Python"
    client.unregister_callback(cmp)


def test_default_method_runs_java_not_python(client: gatun.GatunClient) -> None:
    methods: list[str] = []

    class ByLength:
        def compare(self, a: str, b: str) -> int:
            methods.append("compare")
            return len(a) - len(b)

    cmp = client.register_callback(ByLength(), "java.util.Comparator")
    reversed_cmp = cmp.reversed()  # Comparator.reversed() is a default method
    assert methods == []
    words = client.jvm.java.util.ArrayList(["ccc", "a", "bb"])
    client.jvm.java.util.Collections.sort(words, reversed_cmp)
    assert list(words) == ["ccc", "bb", "a"]
    assert set(methods) == {"compare"}
    client.unregister_callback(cmp)


def test_return_values_are_converted_to_the_method_types(client: gatun.GatunClient) -> None:
    evens = client.register_callback(lambda x: x % 2 == 0, "java.util.function.Predicate")
    arr = client.jvm.java.util.ArrayList(list(range(10)))
    assert arr.removeIf(evens) is True  # boolean return
    assert list(arr) == [1, 3, 5, 7, 9]

    seen: list[Any] = []
    consumer = client.register_callback(seen.append, "java.util.function.Consumer")
    arr.forEach(consumer)  # void return
    assert seen == [1, 3, 5, 7, 9]

    to_long = client.register_callback(lambda s: len(s) * 1000, "java.util.function.ToLongFunction")
    assert to_long.applyAsLong("abc") == 3000  # int -> long, unlike upstream's ClassCastException
    for cb in (evens, consumer, to_long):
        client.unregister_callback(cb)


def test_java_objects_cross_as_proxies(client: gatun.GatunClient) -> None:
    def append_bang(sb: Any) -> None:
        assert isinstance(sb, gatun.JavaObject)
        sb.append("!")  # a Java call from inside the callback

    consumer = client.register_callback(append_bang, "java.util.function.Consumer")
    builders = client.jvm.java.util.ArrayList()
    for word in ("a", "b"):
        builders.add(client.jvm.java.lang.StringBuilder(word))
    builders.forEach(consumer)
    assert [b.toString() for b in builders] == ["a!", "b!"]
    client.unregister_callback(consumer)


def test_register_refuses_bad_input(client: gatun.GatunClient) -> None:
    with pytest.raises(TypeError, match="callable"):
        client.register_callback(42, "java.lang.Runnable")  # type: ignore[arg-type]
    with pytest.raises(gatun.JavaIllegalArgumentException, match="not an interface"):
        client.register_callback(print, "java.util.ArrayList")
    with pytest.raises(gatun.JavaClassNotFoundException):
        client.register_callback(print, "no.such.Interface")


# -- nesting on one lane ---------------------------------------------------------


def test_callbacks_call_java_and_nest_on_one_lane(small: gatun.GatunClient) -> None:
    depth = 12
    holder: dict[str, Any] = {}

    def count_down(n: int) -> int:
        # Python -> Java -> Python ... `depth` levels deep, on one lane.
        if n == 0:
            return 0
        return 1 + holder["op"].applyAsInt(n - 1)

    holder["op"] = small.register_callback(count_down, "java.util.function.IntUnaryOperator")
    assert holder["op"].applyAsInt(depth) == depth
    cmp = small.register_callback(
        lambda a, b: small.jvm.java.lang.Integer.compare(a, b), "java.util.Comparator"
    )
    arr = small.jvm.java.util.ArrayList([4, 2, 8, 6])
    small.jvm.java.util.Collections.sort(arr, cmp)
    assert list(arr) == [2, 4, 6, 8]
    assert small.ping()


# -- other Java threads ---------------------------------------------------------


def test_callbacks_from_other_java_threads(small: gatun.GatunClient) -> None:
    threads: list[str] = []
    runnable = small.register_callback(
        lambda: threads.append(threading.current_thread().name), "java.lang.Runnable"
    )
    t = small.jvm.java.lang.Thread(runnable)
    t.start()
    t.join()
    assert len(threads) == 1
    assert threads[0].startswith("gatun-callbacks")

    # A Java thread pool: the Python call waits in Future.get() while a pool
    # thread runs the callback, which itself calls Java.
    pool = small.jvm.java.util.concurrent.Executors.newFixedThreadPool(3)
    try:
        task = small.register_callback(
            lambda: small.jvm.java.lang.Math.max(20, 22) * 2, "java.util.concurrent.Callable"
        )
        futures = [pool.submit(task) for _ in range(6)]
        assert [f.get() for f in futures] == [44] * 6
    finally:
        pool.shutdown()


def test_parallel_stream_runs_callbacks_on_many_threads(client: gatun.GatunClient) -> None:
    names: set[str] = set()

    def double(x: int) -> int:
        names.add(threading.current_thread().name)
        return 2 * x

    op = client.register_callback(double, "java.util.function.IntUnaryOperator")
    stream = client.jvm.java.util.stream.IntStream.range(0, 300).parallel()
    assert stream.map(op).sum() == sum(2 * i for i in range(300))
    assert names  # the calling thread, plus the callback threads if the pool forked
    client.unregister_callback(op)


def test_async_coroutine_callbacks_run_on_the_loop() -> None:
    async def main() -> None:
        async with await gatun.aconnect() as client:
            loop = asyncio.get_running_loop()
            loops: list[asyncio.AbstractEventLoop] = []

            async def slow_compare(a: int, b: int) -> int:
                loops.append(asyncio.get_running_loop())
                await asyncio.sleep(0.001)
                return compare(a, b)

            cmp = await client.register_callback(slow_compare, "java.util.Comparator")
            arr = await client.jvm.java.util.ArrayList()
            for x in (3, 1, 2):
                await arr.add(x)
            await client.jvm.java.util.Collections.sort(arr, cmp)
            assert [await arr.get(i) for i in range(3)] == [1, 2, 3]
            assert loops
            assert all(seen is loop for seen in loops)
            await client.unregister_callback(cmp)

    asyncio.run(main())


# -- errors ------------------------------------------------------------------------------


def test_python_exception_is_thrown_in_java(client: gatun.GatunClient) -> None:
    def fail(a: Any, b: Any) -> int:
        raise ValueError("no order here")

    cmp = client.register_callback(fail, "java.util.Comparator")
    arr = client.jvm.java.util.ArrayList([2, 1])
    with pytest.raises(JavaException) as info:
        client.jvm.java.util.Collections.sort(arr, cmp)
    assert info.value.java_class == "gatun.server.PythonException"
    assert info.value.message == "ValueError: no order here"
    assert "in fail" in info.value.stack_trace  # the Python traceback travels along
    assert client.ping()
    client.unregister_callback(cmp)


def test_wrong_return_type_names_method_and_types(client: gatun.GatunClient) -> None:
    cmp = client.register_callback(lambda a, b: "later", "java.util.Comparator")
    with pytest.raises(JavaException) as info:
        cmp.compare(1, 2)
    assert info.value.java_class == "java.lang.ClassCastException"
    message = info.value.message
    assert "java.util.Comparator.compare(Object, Object)" in message
    assert "must return int" in message
    assert "java.lang.String" in message

    unpassable = client.register_callback(lambda: object(), "java.util.function.Supplier")
    with pytest.raises(JavaException, match="cannot be passed to Java"):
        unpassable.get()
    for cb in (cmp, unpassable):
        client.unregister_callback(cb)


def test_unregistered_callback_fails_in_java(client: gatun.GatunClient) -> None:
    supplier = client.register_callback(lambda: "hi", "java.util.function.Supplier")
    assert supplier.get() == "hi"
    client.unregister_callback(supplier.object_id)
    with pytest.raises(JavaException, match="unregistered") as info:
        supplier.get()
    assert info.value.java_class == "java.lang.IllegalStateException"
    with pytest.raises(gatun.JavaIllegalArgumentException, match="no callback"):
        client.unregister_callback(supplier)


# -- batches ------------------------------------------------------------------------------


def test_batches_that_fire_callbacks_stay_in_step(client: gatun.GatunClient) -> None:
    cmp = client.register_callback(compare, "java.util.Comparator")
    arr = client.jvm.java.util.ArrayList([3, 1, 2])
    with client.batch() as b:
        sorted_ = b.call_static("java.util.Collections", "sort", arr, cmp)
        first = b.call(arr, "get", 0)
        size = b.call(arr, "size")
        direct = b.call(cmp, "compare", 5, 4)
    assert [sorted_.get(), first.get(), size.get(), direct.get()] == [None, 1, 3, 1]

    arr2 = client.jvm.java.util.ArrayList([9, 7, 8])
    results = client.invoke_methods(
        arr2, [("sort", (cmp,)), ("get", (0,)), ("get", (2,)), ("size", ())]
    )
    assert results == [None, 7, 9, 3]
    client.unregister_callback(cmp)


# -- Ctrl-C and crashes --------------------------------------------------------------


def test_ctrl_c_inside_a_callback_stops_the_call_and_the_client_goes_on(
    small: gatun.GatunClient,
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    calls = 0
    slept_through = False

    def interrupting(a: int, b: int) -> int:
        nonlocal calls, slept_through
        calls += 1
        if calls == 3:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(30)  # the KeyboardInterrupt arrives here, cutting the sleep short
            slept_through = True
        return compare(a, b)

    cmp = small.register_callback(interrupting, "java.util.Comparator")
    arr = small.jvm.java.util.ArrayList(list(range(50, 0, -1)))
    # A shell without job control starts background jobs with SIGINT ignored
    # (then Python has no Ctrl-C handler): make Ctrl-C a KeyboardInterrupt.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            small.jvm.java.util.Collections.sort(arr, cmp)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not slept_through, "the interrupt did not reach the callback"
    # The one lane is usable again, and callbacks still work on it.
    assert small.ping()
    small.unregister_callback(cmp)
    ok = small.register_callback(compare, "java.util.Comparator")
    small.jvm.java.util.Collections.sort(arr, ok)
    assert list(arr) == list(range(1, 51))
    small.unregister_callback(ok)


def test_jvm_killed_during_a_callback_fails_promptly(fresh_client: gatun.GatunClient) -> None:
    client = fresh_client

    def kill_jvm(a: int, b: int) -> int:
        os.kill(client.jvm_pid, signal.SIGKILL)
        assert wait_until(lambda: process_gone(client.jvm_pid), 10)
        return client.jvm.java.lang.Integer.compare(a, b)  # the JVM is gone

    cmp = client.register_callback(kill_jvm, "java.util.Comparator")
    arr = client.jvm.java.util.ArrayList([2, 1])
    finished, error, _ = call_in_thread(
        lambda: client.jvm.java.util.Collections.sort(arr, cmp), timeout=20
    )
    assert finished, "a call whose JVM died during a callback hung"
    assert isinstance(error, BridgeClosedError), repr(error)


def test_python_killed_during_a_callback_stops_the_jvm() -> None:
    child = run_python(
        """
        import os, signal, time
        import gatun
        client = gatun.connect()
        print(client.jvm_pid, flush=True)
        def die(a, b):
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)
        cmp = client.register_callback(die, "java.util.Comparator")
        client.jvm.java.util.Collections.sort(client.jvm.java.util.ArrayList([2, 1]), cmp)
        """
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip().isdigit(), child.stderr.read() if child.stderr else line
        jvm_pid = int(line)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert wait_until(lambda: process_gone(jvm_pid), 10), "the JVM hung in a callback"


def test_close_with_callbacks_running_on_java_threads_does_not_hang() -> None:
    client = gatun.connect()
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(time.monotonic())
        time.sleep(0.005)

    runnable = client.register_callback(tick, "java.lang.Runnable")
    timer = client.jvm.java.util.concurrent.Executors.newScheduledThreadPool(2)
    unit = client.jvm.java.util.concurrent.TimeUnit.MILLISECONDS
    timer.scheduleAtFixedRate(runnable, 0, 2, unit)
    assert wait_until(lambda: len(ticks) >= 5, 10)
    finished, error, _ = call_in_thread(client.close, timeout=30)
    assert finished
    assert error is None
    assert all(not t.is_alive() for t in client._session.callbacks.threads)
