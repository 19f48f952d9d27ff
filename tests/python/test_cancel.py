"""Cancellation (issue 16): request ids, ``client.running_calls()``,
``client.cancel(request_id)`` from another thread or from asyncio, and Ctrl-C
during a batch skipping the items not yet run.

The Java side (tests/python/java/gatuntest/Blocking.java) blocks until it is
interrupted, so nothing here depends on timing: a test waits until the call is
observably running (listed by ``running_calls()``) and the client has one lane,
so the next call waits out the cancelled one and then reads what Java did.
"""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import gatun
from gatun import CancelledException, GatunClient, RunningCall
from gatun.async_client import AsyncGatunClient

pytestmark = pytest.mark.timeout(120)

#: Generous bound for waits that must end (a hang fails instead of blocking the suite).
DEADLINE = 30.0

_UNTIL_INTERRUPTED = "gatuntest.Blocking.untilInterrupted"


@pytest.fixture(scope="module")
def one_lane(java_helpers: Path) -> Iterator[GatunClient]:
    """One call lane: a call after a cancelled one waits for its late answer,
    so what Java counted is final when it is read."""
    own = gatun.connect(classpath=[str(java_helpers)], lanes=1)
    yield own
    own.close()


@pytest.fixture
def blocking(one_lane: GatunClient) -> object:
    helper = one_lane.jvm.gatuntest.Blocking
    helper.reset()
    return helper


def _wait_for_call(calls: Callable[[], list[RunningCall]], action: str, target: str) -> RunningCall:
    """The call listed with ``action`` on ``target``, once it is."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        for call in calls():
            if call.action == action and call.target == target:
                return call
        time.sleep(0.005)  # polling an observable state, with a deadline
    pytest.fail(f"no running {action} on {target!r} within {DEADLINE} s: {calls()}")


def _in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    raised: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - the test inspects what the call raised
            raised.append(exc)

    thread = threading.Thread(target=run, name="blocked-caller", daemon=True)
    thread.start()
    return thread, raised


def test_running_calls_shows_a_call_and_cancel_interrupts_it(
    one_lane: GatunClient, blocking: object
) -> None:
    before = time.time()
    thread, raised = _in_thread(lambda: blocking.untilInterrupted())
    call = _wait_for_call(one_lane.running_calls, "InvokeStaticMethod", _UNTIL_INTERRUPTED)
    assert call.thread_id == thread.ident
    assert call.thread is thread
    assert before <= call.started <= time.time()

    assert one_lane.cancel(call.request_id) is True
    thread.join(DEADLINE)
    assert not thread.is_alive(), "the cancelled call still waits"
    assert len(raised) == 1, raised
    assert isinstance(raised[0], CancelledException), raised
    assert raised[0].request_id == call.request_id
    assert str(raised[0]) == f"Request {call.request_id} was cancelled"
    assert one_lane.cancel(call.request_id) is False  # no longer running
    # The Java thread was interrupted (read after the late answer came back).
    assert blocking.interrupted() == 1
    assert all(c.request_id != call.request_id for c in one_lane.running_calls())


def test_java_code_that_swallows_the_interrupt_still_sees_the_cancel(
    one_lane: GatunClient, blocking: object
) -> None:
    thread, raised = _in_thread(lambda: blocking.untilCancelledIgnoringInterrupts())
    call = _wait_for_call(
        one_lane.running_calls,
        "InvokeStaticMethod",
        "gatuntest.Blocking.untilCancelledIgnoringInterrupts",
    )
    assert one_lane.cancel(call.request_id)
    thread.join(DEADLINE)
    assert isinstance(raised[0], CancelledException)
    assert blocking.interrupted() == 1  # GatunServer.isCancelled() ended its loop


def test_cancel_of_no_running_call_is_false_and_bad_ids_are_refused(
    one_lane: GatunClient,
) -> None:
    assert one_lane.running_calls() == []
    assert one_lane.cancel(10**12) is False
    with pytest.raises(TypeError, match="request_id"):
        one_lane.cancel(-1)
    with pytest.raises(TypeError, match="request_id"):
        one_lane.cancel("1")  # type: ignore[arg-type]


def test_ctrl_c_during_a_batch_skips_the_items_not_yet_run(
    one_lane: GatunClient, blocking: object
) -> None:
    def interrupt_once_running() -> None:
        _wait_for_call(one_lane.running_calls, "Batch", "21 items")
        _thread.interrupt_main()  # Ctrl-C, as the signal handler sees it

    timer = threading.Thread(target=interrupt_once_running, daemon=True)
    batch = one_lane.batch()
    batch.call_static("gatuntest.Blocking", "untilInterrupted")
    for _ in range(20):
        batch.call_static("gatuntest.Blocking", "step", 200)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        batch.execute()
    timer.join(DEADLINE)
    # The next call waits for the batch's late answer: every item has been
    # run or skipped by now, and none of the 20 steps ran.
    assert blocking.steps() == 0
    assert one_lane.running_calls() == []


def test_cancel_by_id_stops_a_batch_from_another_thread(
    one_lane: GatunClient, blocking: object
) -> None:
    batch = one_lane.batch()
    batch.call_static("gatuntest.Blocking", "untilInterrupted")
    for _ in range(5):
        batch.call_static("gatuntest.Blocking", "step", 200)
    thread, raised = _in_thread(batch.execute)
    call = _wait_for_call(one_lane.running_calls, "Batch", "6 items")
    assert one_lane.cancel(call.request_id)
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert isinstance(raised[0], CancelledException)
    assert blocking.steps() == 0


def test_upstream_interrupted_exception_maps_to_cancelled(
    one_lane: GatunClient, blocking: object
) -> None:
    with pytest.raises(CancelledException, match="Request 7 was cancelled") as info:
        blocking.throwCancelled(7)
    assert info.value.request_id == 7


def test_async_client_cancels_its_own_calls_by_id(one_lane: GatunClient, blocking: object) -> None:
    async def scenario() -> None:
        aclient = AsyncGatunClient(one_lane)
        helper = aclient.jvm.gatuntest.Blocking
        task = asyncio.ensure_future(helper.untilInterrupted())
        deadline = time.monotonic() + DEADLINE
        found: list[RunningCall] = []
        while not found:
            if time.monotonic() > deadline:
                pytest.fail(f"the async call never showed up: {aclient.running_calls()}")
            await asyncio.sleep(0.005)  # let the task send its call
            found = [c for c in aclient.running_calls() if c.target == _UNTIL_INTERRUPTED]
        (call,) = found
        assert call.thread_id == threading.get_ident()  # the loop's thread
        assert await aclient.cancel(call.request_id) is True
        assert await aclient.cancel(call.request_id) is False
        with pytest.raises(CancelledException) as info:
            await asyncio.wait_for(task, DEADLINE)
        assert info.value.request_id == call.request_id
        assert aclient.running_calls() == []

    asyncio.run(scenario())
    assert blocking.interrupted() == 1
