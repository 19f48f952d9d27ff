"""client.batch(): commands encoded as queued, results read through handles,
per-command errors, stop_on_error, and batches split over several requests."""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import re
from collections.abc import Iterator

import pytest

from gatun import (
    BatchContext,
    BatchResult,
    BatchSkippedError,
    GatunError,
    JavaIndexOutOfBoundsException,
    JavaList,
    JavaNumberFormatException,
    JavaObject,
    _native,
)
from gatun.client import GatunClient
from gatun.launcher import find_server_jar

#: A lane slot small enough that a few hundred commands fill one.
SMALL_SLOT = 16 * 1024


@pytest.fixture(scope="module")
def small_slots() -> Iterator[GatunClient]:
    """A client whose requests and replies hold 16 KiB at most."""
    native = _native.NativeClient.launch(find_server_jar(), lanes=2, slot_size=SMALL_SLOT)
    client = GatunClient(native)
    yield client
    client.close()


def _current_objects(client: GatunClient) -> int:
    match = re.search(r"\bcurrent_objects\s*:\s*(\d+)", client.get_metrics())
    assert match, client.get_metrics()
    return int(match.group(1))


# -- results --------------------------------------------------------------------


def test_results_are_read_through_their_handles(client: GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    with client.batch() as b:
        added = b.call(lst, "add", "a")
        b.call(lst, "add", "b")
        size = b.call(lst, "size")
        first = b.call(lst, "get", 0)
        sub = b.call(lst, "subList", 0, 2)
        half = b.call_static("java.lang.Math", "scalb", 1.0, -1)
        nothing = b.call(lst, "ensureCapacity", 10)
        made = b.create("java.util.HashMap")
        by_id = b.call(lst.object_id, "isEmpty")
        assert len(b) == 9
        assert not added.done
        assert repr(added) == "<BatchResult pending>"
    assert [added.get(), size.get(), first.get(), half.get(), nothing.get(), by_id.get()] == [
        True,
        2,
        "a",
        0.5,
        None,
        False,
    ]
    assert isinstance(sub.get(), JavaList)
    assert sub.get() == ["a", "b"]
    assert isinstance(made.get(), JavaObject)
    assert made.get().class_name == "java.util.HashMap"
    assert added.done
    assert not added.skipped
    assert not added.is_error
    assert added.exception is None
    assert repr(size) == "<BatchResult value=2>"


def test_execute_returns_the_results_in_order_and_runs_once(client: GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    b = client.batch()
    queued = [b.call(lst, "add", i) for i in range(5)]
    results = b.execute()
    assert all(isinstance(r, BatchResult) for r in results)
    assert [r.get() for r in results] == [q.get() for q in queued] == [True] * 5
    assert [r.get() for r in b.execute()] == [True] * 5
    assert lst.size() == 5
    assert client.batch().execute() == []


def test_a_result_before_the_run_raises_and_a_run_batch_refuses_commands(
    client: GatunClient,
) -> None:
    with client.batch() as b:
        pending = b.call_static("java.lang.Math", "max", 1, 2)
        with pytest.raises(RuntimeError, match="has not run"):
            pending.get()
    assert pending.get() == 2
    with pytest.raises(GatunError, match="already run"):
        b.call_static("java.lang.Math", "max", 1, 2)
    assert len(b) == 1


def test_handles_are_not_tracked_by_the_cyclic_gc(client: GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    with client.batch() as b:
        queued = [b.call(lst, "add", i) for i in range(100)]
    assert not any(gc.is_tracked(r) for r in queued)
    assert not any(gc.is_tracked(r) for r in b.execute())
    survivor = queued[-1]
    del b, queued
    gc.collect()
    assert survivor.get() is True  # the handle keeps its batch's replies


def test_a_dropped_handle_is_reused_and_kept_ones_are_not(client: GatunClient) -> None:
    with client.batch() as b:
        first = b.call_static("java.lang.Math", "max", 1, 2)
        b.call_static("java.lang.Math", "max", 3, 4)  # dropped at once
        dropped = id(b.call_static("java.lang.Math", "max", 5, 6))
        again = b.call_static("java.lang.Math", "max", 7, 8)
        last = b.call_static("java.lang.Math", "max", 9, 10)
    assert id(again) == dropped  # the handle nobody held became the next one
    assert [first.get(), again.get(), last.get()] == [2, 8, 10]
    assert [r.get() for r in b.execute()] == [2, 4, 6, 8, 10]
    assert not any(gc.is_tracked(r) for r in (first, again, last))


class _MarkedBatch(BatchContext):
    __slots__ = ()


def _marked_batches() -> int:
    return sum(type(o) is _MarkedBatch for o in gc.get_objects())


def test_a_batch_that_is_not_sent_is_freed(client: GatunClient) -> None:
    # The batch and its spare handle refer to each other until it is sent.
    gc.collect()

    def fail_in_a_batch() -> None:
        with _MarkedBatch(client) as b:
            b.call_static("java.lang.Math", "max", 1, 2)
            raise LookupError("the with-block failed")

    gc.disable()
    try:
        with pytest.raises(LookupError, match="with-block failed"):
            fail_in_a_batch()
        assert _marked_batches() == 0  # the failed block broke the cycle: no collector needed
    finally:
        gc.enable()
    b = _MarkedBatch(client)
    b.call_static("java.lang.Math", "max", 1, 2)
    del b
    gc.collect()
    assert _marked_batches() == 0  # never sent nor left: the collector frees both


def test_a_bad_target_or_name_is_refused_when_queued(client: GatunClient) -> None:
    b = client.batch()
    with pytest.raises(TypeError, match="JavaObject or an object id"):
        b.call("not an object", "size")
    with pytest.raises(TypeError, match="JavaObject or an object id"):
        b.call(True, "size")
    with pytest.raises(TypeError):
        b.call(client.jvm.java.util.ArrayList(), 5)
    with pytest.raises(TypeError, match="cannot pass"):
        b.call_static("java.util.Objects", "toString", object())
    assert len(b) == 0
    assert b.execute() == []


# -- errors -----------------------------------------------------------------------


def test_each_command_has_its_own_error(client: GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    with client.batch() as b:
        bad = b.call_static("java.lang.Integer", "parseInt", "x")
        added = b.call(lst, "add", 1)
        missing = b.call(lst, "get", 5)
    assert bad.is_error
    assert isinstance(bad.exception, JavaNumberFormatException)
    with pytest.raises(JavaNumberFormatException):
        bad.get()
    assert added.get() is True
    assert isinstance(missing.exception, JavaIndexOutOfBoundsException)
    assert repr(missing).startswith("<BatchResult error=")


def test_stop_on_error_skips_every_later_command_even_in_later_requests(
    small_slots: GatunClient,
) -> None:
    lst = small_slots.jvm.java.util.ArrayList()
    with small_slots.batch(stop_on_error=True) as b:
        before = [b.call(lst, "add", i) for i in range(1000)]
        bad = b.call(lst, "get", 10_000)
        after = [b.call(lst, "add", i) for i in range(3000)]
    assert all(r.get() is True for r in before)
    assert bad.is_error
    assert not bad.skipped
    assert all(r.skipped and r.done for r in after)
    assert all(not r.is_error and r.exception is None for r in after)
    # A skipped command has no value: None would read as a Java null.
    with pytest.raises(BatchSkippedError) as e:
        after[5].get()
    assert str(e.value) == (
        "batch item 1006 was skipped (not run): item 1000 failed and the batch "
        "was made with stop_on_error=True"
    )
    assert repr(after[0]) == "<BatchResult skipped>"
    assert lst.size() == 1000


# -- splitting ----------------------------------------------------------------------


def test_a_batch_larger_than_a_slot_is_split_and_runs_in_order(small_slots: GatunClient) -> None:
    lst = small_slots.jvm.java.util.ArrayList()
    with small_slots.batch() as b:
        added = [b.call(lst, "add", i) for i in range(9_000)]
        got = [b.call(lst, "get", i) for i in range(0, 9_000, 997)]
        size = b.call(lst, "size")
    assert all(r.get() is True for r in added)
    assert [r.get() for r in got] == list(range(0, 9_000, 997))
    assert size.get() == 9_000


def test_large_arguments_split_a_batch_too(client: GatunClient) -> None:
    sb = client.jvm.java.lang.StringBuilder()
    chunk = "y" * 300_000  # about a third of the default 1 MiB slot
    with client.batch() as b:
        for _ in range(10):
            b.call(sb, "append", chunk)
        length = b.call(sb, "length")
    assert length.get() == 3_000_000


def test_replies_larger_than_a_slot_come_back_over_several_requests(
    small_slots: GatunClient,
) -> None:
    """Small commands with large replies: the JVM stops before its replies
    outgrow the slot and the rest is sent again."""
    lst = small_slots.jvm.java.util.ArrayList()
    text = "r" * 1000
    lst.add(text)
    with small_slots.batch() as b:
        got = [b.call(lst, "get", 0) for _ in range(200)]  # ~200 KB of replies
        added = [b.call(lst, "add", i) for i in range(50)]
        made = [b.create("java.lang.StringBuilder", "s") for _ in range(50)]
    assert all(r.get() == text for r in got)
    assert all(r.get() is True for r in added)
    assert all(str(r.get()) == "s" for r in made)
    assert lst.size() == 51


def test_a_command_larger_than_a_slot_goes_in_a_request_of_its_own(
    small_slots: GatunClient,
) -> None:
    """It is sent alone and spills into the arena (a command no message can
    hold, over 1 GiB, is refused when queued with PayloadTooLargeError)."""
    lst = small_slots.jvm.java.util.ArrayList()
    b = small_slots.batch()
    kept = b.call(lst, "add", "fits")
    large = b.call(lst, "add", "z" * SMALL_SLOT * 4)
    last = b.call(lst, "size")
    assert len(b) == 3
    b.execute()
    assert kept.get() is True
    assert large.get() is True
    assert last.get() == 2
    assert len(lst.get(1)) == SMALL_SLOT * 4


def test_the_vectorised_helpers_split_too(small_slots: GatunClient) -> None:
    objects = small_slots.create_objects(
        [("java.lang.StringBuilder", (str(i),)) for i in range(3000)]
    )
    assert len(objects) == 3000
    assert str(objects[2999]) == "2999"
    lst = small_slots.jvm.java.util.ArrayList()
    assert small_slots.invoke_methods(lst, [("add", (i,)) for i in range(3000)]) == [True] * 3000
    assert small_slots.invoke_methods(lst, [("get", (2999,)), ("size", ())]) == [2999, 3000]
    with pytest.raises(JavaIndexOutOfBoundsException):
        small_slots.invoke_methods(lst, [("size", ()), ("get", (5000,)), ("clear", ())])
    assert lst.size() == 3000


# -- objects and their ids ---------------------------------------------------------


def test_objects_made_by_a_batch_are_usable_and_released_when_dropped(
    fresh_client: GatunClient,
) -> None:
    c = fresh_client
    c.ping()
    before = _current_objects(c)
    with c.batch() as b:
        made = [b.create("java.lang.StringBuilder", str(i)) for i in range(500)]
    builders = [r.get() for r in made]
    assert all(isinstance(sb, JavaObject) for sb in builders)
    assert str(builders[123]) == "123"
    assert _current_objects(c) >= before + 500
    del made, builders, b
    gc.collect()
    c.ping()  # carries the releases
    assert _current_objects(c) <= before


def test_a_batch_keeps_the_objects_its_commands_name_until_it_has_run(
    client: GatunClient,
) -> None:
    lst = client.jvm.java.util.ArrayList()
    with client.batch() as b:
        # Only the batch holds these proxies once queued.
        temporary = b.call(client.jvm.java.util.ArrayList(), "add", 1)
        b.call(lst, "add", client.jvm.java.util.ArrayList([7]))
        b.call(lst, "add", decimal.Decimal("1.25"))  # a BigDecimal made when queued
        gc.collect()
        client.ping()  # any release would ride this request
        first = b.call(lst, "get", 0)
        second = b.call(lst, "get", 1)
    assert temporary.get() is True
    assert first.get() == [7]
    assert str(second.get()) == "1.25"


def test_scalar_arguments_mean_what_they_mean_in_a_single_call(client: GatunClient) -> None:
    """Commands of scalars are copied from a recent one of the same shape and
    have their values written in; they must still pick the same overloads."""
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    calls = [
        ("java.lang.String", "valueOf", (True,)),
        ("java.lang.String", "valueOf", (False,)),
        ("java.lang.String", "valueOf", (0,)),
        ("java.lang.String", "valueOf", (2**40,)),
        ("java.lang.String", "valueOf", (-(2**63),)),
        ("java.lang.String", "valueOf", (2.5,)),
        ("java.lang.String", "valueOf", (0.0,)),
        ("java.lang.String", "valueOf", (Level.HIGH,)),
        ("java.util.Objects", "toString", (None,)),
        ("java.util.Objects", "toString", (None, "dflt")),
        ("java.lang.Math", "max", (1, 2)),
        ("java.lang.Math", "max", (1.5, 2)),
        ("java.lang.Math", "max", (7, 2)),
        ("java.lang.Math", "max", (1, 2.5)),
        ("java.lang.Long", "compare", (5, 5)),
        ("java.lang.Boolean", "logicalXor", (True, False)),
        ("java.util.Objects", "hash", (1, 2.0, None, True, 5)),  # more than 4: built in full
    ]
    with client.batch() as b:
        queued = [b.call_static(cls, name, *args) for cls, name, args in calls]
    for (cls, name, args), result in zip(calls, queued, strict=True):
        assert result.get() == client.invoke_static_method(cls, name, *args), (name, args)
    with pytest.raises(OverflowError):
        client.batch().call_static("java.lang.String", "valueOf", 2**63)


def test_arguments_are_converted_when_queued(client: GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    args = [1, 2]
    with client.batch() as b:
        b.call(lst, "add", args)
        args.append(3)  # the command was encoded already
        stamp = b.call_static("java.util.Objects", "toString", dt.date(2024, 1, 2))
        first = b.call(lst, "get", 0)
    assert first.get() == [1, 2]
    assert stamp.get() == "2024-01-02"
