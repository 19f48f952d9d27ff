"""The asyncio client's event-loop lanes (ARCHITECTURE §5, issue 4).

A call borrows a lane, keeps Python's waiting flag raised so Java rings for
every answer, and waits for the socket with ``add_reader``: the loop's thread
never blocks or spins. Covered against a real JVM: the loop stays free, results
under concurrency, cancellation, Java exceptions, callbacks (sync and coroutine)
arriving instead of the answer, a JVM killed mid-call, and no CPU while idle.
No test asserts a duration; waits that could hang have timeouts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from test_idle import cpu_seconds

import gatun
from gatun import BridgeClosedError, JavaException, JavaNumberFormatException
from gatun.async_client import AsyncGatunClient

pytestmark = pytest.mark.timeout(120)

T = TypeVar("T")

#: Generous bound for waits that must end (a hang fails instead of blocking the suite).
DEADLINE = 30.0


@pytest.fixture(scope="module")
def classpath(java_helpers: Path) -> list[str]:
    return [str(java_helpers)]


def run(
    classpath: list[str], body: Callable[[AsyncGatunClient], Awaitable[T]], **options: Any
) -> T:
    """``body(client)`` on a fresh event loop with its own JVM."""

    async def main() -> T:
        async with await gatun.aconnect(classpath=classpath, **options) as client:
            return await asyncio.wait_for(body(client), DEADLINE)

    return asyncio.run(main())


def slow(client: AsyncGatunClient) -> Any:
    """``gatuntest.Slow.echoAfter(value, millis)``: returns its value late, even
    when cancelled."""
    return client.jvm.gatuntest.Slow.echoAfter


# -- the loop stays free ------------------------------------------------------------------


def test_a_ticker_keeps_ticking_while_a_slow_call_waits(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> tuple[int, int]:
        echo = slow(client)
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        before = client.calls_on_loop
        ticking = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        ticks_at_start = ticks
        assert await echo("done", 400) == "done"
        ticks_during = ticks - ticks_at_start
        stop.set()
        await ticking
        return ticks_during, client.calls_on_loop - before

    ticks_during, on_loop = run(classpath, body)
    assert on_loop == 1, "the call did not wait through the event loop"
    # A blocked loop would run the ticker at most once during the call.
    assert ticks_during >= 5


def test_the_loop_thread_uses_no_cpu_while_a_call_waits(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> tuple[float, int]:
        echo = slow(client)
        await echo("warm", 0)
        before_loop = client.calls_on_loop
        cpu_before = time.thread_time()
        await echo("done", 1000)
        return time.thread_time() - cpu_before, client.calls_on_loop - before_loop

    cpu, on_loop = run(classpath, body)
    assert on_loop == 1
    # Spinning (or polling in a loop) for the second would use most of it.
    assert cpu < 0.2, f"the loop's thread used {cpu:.3f} s of CPU during a 1 s wait"


# -- results --------------------------------------------------------------------------------


def test_200_gathered_calls_on_two_lanes_all_get_their_answer(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> tuple[list[Any], list[Any], AsyncGatunClient]:
        math = client.jvm.java.lang.Math
        integer = client.jvm.java.lang.Integer
        calls: list[Awaitable[Any]] = []
        expected: list[Any] = []
        for i in range(200):
            if i % 3 == 0:
                calls.append(integer.toString(i))
                expected.append(str(i))
            elif i % 3 == 1:
                calls.append(math.max(i, 100))
                expected.append(max(i, 100))
            else:
                calls.append(slow(client)(f"s{i}", 1))
                expected.append(f"s{i}")
        return list(await asyncio.gather(*calls)), expected, client

    results, expected, client = run(classpath, body, lanes=2)
    assert results == expected
    assert client.calls_on_loop > 0


def test_object_methods_static_fields_and_arguments(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        items = await client.create_object("java.util.ArrayList")
        for word in ("b", "a", "c"):
            assert await items.add(word) is True
        assert await items.size() == 3
        await client.jvm.java.util.Collections.sort(items)
        assert await items.toString() == "[a, b, c]"
        assert await client.get_static_field("java.lang.Integer", "MAX_VALUE") == 2**31 - 1
        assert await client.invoke_static_method("java.lang.Math", "abs", -5) == 5
        assert await client.invoke_method(items, "get", 0) == "a"

    run(classpath, body)


def test_arguments_that_need_java_to_convert_run_on_a_thread(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        before = client.calls_on_threads
        text = await client.invoke_static_method(
            "java.lang.String", "valueOf", decimal.Decimal("1.25")
        )
        assert text == "1.25"
        assert client.calls_on_threads == before + 1
        date = await client.invoke_static_method(
            "java.lang.String", "valueOf", dt.date(2024, 2, 29)
        )
        assert date == "2024-02-29"

    run(classpath, body)


# -- errors -----------------------------------------------------------------------------------


def test_a_java_exception_arrives_as_the_sync_clients_class(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        before = client.calls_on_loop
        with pytest.raises(JavaNumberFormatException) as caught:
            await client.jvm.java.lang.Integer.parseInt("x")
        assert client.calls_on_loop == before + 1
        with pytest.raises(JavaException) as sync_error:
            client.sync.jvm.java.lang.Integer.parseInt("x")
        assert type(caught.value) is type(sync_error.value)
        assert caught.value.message == sync_error.value.message
        assert await client.jvm.java.lang.Integer.parseInt("12") == 12  # the lane goes on

    run(classpath, body)


def test_a_killed_jvm_fails_awaiting_calls_promptly(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        echo = slow(client)
        calls = [asyncio.ensure_future(echo(f"never{i}", 60_000)) for i in range(2)]
        await asyncio.sleep(0.3)
        assert client.calls_on_loop >= 1
        os.kill(client.sync.jvm_pid, signal.SIGKILL)
        # A hang would end in wait_for's timeout, well before the 60 s calls.
        done = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 20)
        assert all(isinstance(e, BridgeClosedError) for e in done), done
        with pytest.raises(BridgeClosedError):
            await client.ping()

    run(classpath, body, lanes=3)


def test_a_blocking_call_that_would_deadlock_the_loop_raises(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        call = asyncio.ensure_future(slow(client)("late", 300))
        await asyncio.sleep(0.05)
        assert client.calls_on_loop == 1
        # The loop's own call holds the only lane: waiting for it here would
        # never end, since only this (blocked) loop can finish that call.
        with pytest.raises(gatun.ReentrancyError, match="event loop"):
            client.sync.ping()
        assert await call == "late"
        assert client.sync.ping()

    run(classpath, body, lanes=1)


# -- cancellation ---------------------------------------------------------------------------


def test_a_cancelled_call_drops_its_late_answer(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        echo = slow(client)
        for round_ in range(3):
            call = asyncio.ensure_future(echo(f"stale{round_}", 200))
            await asyncio.sleep(0.05)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            # One lane: the next calls run after the stale answer, which must
            # not be taken for theirs.
            assert await echo(f"fresh{round_}", 0) == f"fresh{round_}"
            assert await client.jvm.java.lang.Math.max(round_, 7) == 7
        assert await client.ping()

    run(classpath, body, lanes=1)


def test_cancelling_many_calls_keeps_every_lane_in_step(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        echo = slow(client)
        calls = [asyncio.ensure_future(echo(f"x{i}", 20 * (i % 5))) for i in range(40)]
        await asyncio.sleep(0.03)
        for call in calls[::2]:
            call.cancel()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        for i, outcome in enumerate(outcomes):
            assert outcome == f"x{i}" or isinstance(outcome, asyncio.CancelledError), outcome
        results = await asyncio.gather(*(echo(f"y{i}", 0) for i in range(40)))
        assert results == [f"y{i}" for i in range(40)]

    run(classpath, body, lanes=3)


# -- callbacks --------------------------------------------------------------------------------


def compare(a: Any, b: Any) -> int:
    return -1 if a < b else (1 if a > b else 0)


def test_a_sync_callback_runs_on_the_loop_and_calls_java_on_its_lane(
    classpath: list[str],
) -> None:
    async def body(client: AsyncGatunClient) -> None:
        loop_thread = asyncio.get_running_loop()
        seen: list[bool] = []

        def java_compare(a: int, b: int) -> int:
            seen.append(asyncio.get_running_loop() is loop_thread)
            # A blocking call from the callback: only the held lane exists.
            return int(client.sync.jvm.java.lang.Integer.compare(a, b))

        cmp = await client.register_callback(java_compare, "java.util.Comparator")
        items = await client.create_object("java.util.ArrayList", [5, 3, 9, 1, 7])
        before = client.calls_on_loop
        await client.jvm.java.util.Collections.sort(items, cmp)
        assert client.calls_on_loop == before + 1
        assert await items.toString() == "[1, 3, 5, 7, 9]"
        assert seen
        assert all(seen)

    run(classpath, body, lanes=1, callback_lanes=1)


def test_a_coroutine_callback_awaits_java_calls_on_its_lane(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        loop = asyncio.get_running_loop()
        loops: list[asyncio.AbstractEventLoop] = []

        async def java_compare(a: int, b: int) -> int:
            loops.append(asyncio.get_running_loop())
            await asyncio.sleep(0)
            # Two awaited calls, concurrently: they share the one lane in turn.
            first, second = await asyncio.gather(
                client.jvm.java.lang.Integer.compare(a, b),
                client.jvm.java.lang.Integer.compare(b, a),
            )
            assert first == -second
            return int(first)

        cmp = await client.register_callback(java_compare, "java.util.Comparator")
        items = await client.create_object("java.util.ArrayList", [4, 2, 8, 6])
        await client.jvm.java.util.Collections.sort(items, cmp)
        assert await items.toString() == "[2, 4, 6, 8]"
        assert loops
        assert all(seen is loop for seen in loops)

    run(classpath, body, lanes=1, callback_lanes=1)


def test_a_callback_error_is_thrown_in_java_and_the_lane_goes_on(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        async def broken(a: int, b: int) -> int:
            raise ValueError("no order today")

        cmp = await client.register_callback(broken, "java.util.Comparator")
        items = await client.create_object("java.util.ArrayList", [2, 1])
        with pytest.raises(JavaException, match="ValueError: no order today"):
            await client.jvm.java.util.Collections.sort(items, cmp)
        assert await client.jvm.java.lang.Math.max(1, 2) == 2

    run(classpath, body, lanes=1, callback_lanes=1)


def test_cancelling_a_call_while_its_coroutine_callback_runs(classpath: list[str]) -> None:
    async def body(client: AsyncGatunClient) -> None:
        started = asyncio.Event()
        cancelled: list[bool] = []

        async def stuck(a: int, b: int) -> int:
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise
            return 0

        cmp = await client.register_callback(stuck, "java.util.Comparator")
        items = await client.create_object("java.util.ArrayList", [3, 1, 2])
        sort = asyncio.ensure_future(client.jvm.java.util.Collections.sort(items, cmp))
        await asyncio.wait_for(started.wait(), DEADLINE)
        sort.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sort
        assert cancelled == [True]
        # One lane: it is usable again, answers in step.
        assert await slow(client)("after", 0) == "after"
        assert await client.jvm.java.lang.Math.max(5, 6) == 6

    run(classpath, body, lanes=1, callback_lanes=1)


# -- idle -------------------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs /proc")
def test_no_cpu_while_idle_after_loop_calls(classpath: list[str]) -> None:
    idle = 3.0

    async def body(client: AsyncGatunClient) -> tuple[float, float]:
        math = client.jvm.java.lang.Math
        for i in range(500):
            assert await math.abs(-i) == i
        # The Arrow warm-up after connect is start-up work, not idling.
        assert client.sync.jvm.gatun.server.arrow.ArrowWarmup.awaitFinished(30_000)
        await asyncio.sleep(0.5)  # the JVM's spin window ends
        jvm_pid = client.sync.jvm_pid
        jvm_before, py_before = cpu_seconds(jvm_pid), cpu_seconds(os.getpid())
        await asyncio.sleep(idle)
        return cpu_seconds(jvm_pid) - jvm_before, cpu_seconds(os.getpid()) - py_before

    jvm_used, py_used = run(classpath, body)
    assert jvm_used / idle < 0.02, f"JVM used {jvm_used:.3f} s in {idle} s idle"
    assert py_used / idle < 0.02, f"Python used {py_used:.3f} s in {idle} s idle"


def test_a_cancelled_call_gives_back_its_late_spilled_answer(classpath: list[str]) -> None:
    """The late answer (3 MiB, larger than the slot) lies in a region of the
    JVM's arena; dropped unread, it is released all the same."""

    async def body(client: AsyncGatunClient) -> None:
        live = client.jvm.gatun.server.arrow.RegionLedger.liveRegionsInJvm
        echo = slow(client)
        before = await live()
        sent_before = client._session.native.arrow_stats()["jvm_releases_sent"]
        call = asyncio.ensure_future(echo("s" * (3 << 20), 300))
        # Loop turns, not time: the task sends its request in its first steps
        # (one turn before it registers the lane's socket); cancelled after
        # that, the JVM answers late whether or not it saw the cancel.
        for _ in range(5):
            await asyncio.sleep(0)
        assert not call.done()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await echo("fresh", 0) == "fresh"  # settles the stale answer
        assert await client.ping()  # carries its release
        assert await live() == before
        sent = client._session.native.arrow_stats()["jvm_releases_sent"]
        assert sent > sent_before, "the late answer was spilled, and released"

    run(classpath, body, lanes=1)
