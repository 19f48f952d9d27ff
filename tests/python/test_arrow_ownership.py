"""Who owns Arrow data once it crosses, and for how long (ARCHITECTURE §3-4).

What Java receives, it owns: a root Python sent, or a table passed as an
argument, stays valid for as long as any Java reference to it exists, and
its memory comes back when Java closes it or the JVM's collector finds it
unreachable. Returning data to Python never changes the JVM's copy: a root
or vector Java still holds can be read any number of times, each arrival
equal to the last, shared by reference count where it lies in shared memory.
``gatuntest.Keeper`` (tests/python/java) is JVM code that keeps what it gets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import gatun

pytestmark = pytest.mark.jvm


@pytest.fixture(scope="module")
def client(java_helpers: Path) -> Iterator[gatun.GatunClient]:
    own = gatun.connect(classpath=[str(java_helpers)], lanes=4)
    yield own
    own.close()


def _keeper(client: gatun.GatunClient) -> Any:
    return client.jvm.gatuntest.Keeper


def _regions(client: gatun.GatunClient) -> int:
    client.ping()
    return client._native.arena_regions_in_use


def test_reading_a_root_python_sent_twice_gives_the_same_data(client: gatun.GatunClient) -> None:
    table = pa.table({"x": [1, 2, 3], "s": ["a", None, "c"]})
    root = client.send_arrow(table)
    stats = client._native.arrow_stats()
    first = root.getVector(0)
    second = root.getVector(0)
    assert first.equals(pa.array([1, 2, 3]))
    assert second.equals(first)
    assert root.getVector(1).to_pylist() == ["a", None, "c"]
    assert root.getRowCount() == 3
    # Python's own regions came back in place: referenced, not copied.
    after = client._native.arrow_stats()
    assert after["bytes_handed_back"] > stats["bytes_handed_back"]
    assert client.invoke_method(root, "slice", 0, 3).equals(table)
    root.close()


def test_a_root_returned_twice_equals_itself_and_java_keeps_using_it(
    client: gatun.GatunClient,
) -> None:
    keeper = _keeper(client)
    first = keeper.build(1000, 5)
    second = keeper.kept()
    assert first.equals(second)
    assert first.column("x").to_pylist() == list(range(5, 1005))
    # Java's vectors were neither emptied nor closed by the returns.
    assert keeper.keptSum() == sum(range(5, 1005))
    keeper.closeAll()
    # Python's copies outlive Java closing its root (shared by reference count).
    assert first.column("x").to_pylist() == list(range(5, 1005))


def test_a_table_added_to_a_java_list_stays_valid(client: gatun.GatunClient) -> None:
    table = pa.table({"x": [1, 2, 3]})
    items = client.jvm.java.util.ArrayList()
    items.add(table)
    assert items.get(0).equals(table)
    assert items.get(0).equals(table)
    items.clear()


def test_a_root_kept_in_a_static_field_survives_calls_threads_and_gc(
    client: gatun.GatunClient,
) -> None:
    keeper = _keeper(client)
    baseline = _regions(client)
    table = pa.table({"x": pa.array(range(10_000), pa.int64())})
    keeper.keep(client.send_arrow(table))  # the proxy is dropped at once
    client.gc()
    assert keeper.keptSum() == sum(range(10_000))

    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                assert keeper.kept().equals(table)
                assert keeper.keptSum() == sum(range(10_000))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert _regions(client) > baseline  # Java still holds the data
    keeper.forget()  # unreachable now, not closed
    client.gc()
    assert _regions(client) == baseline


def test_memory_comes_back_when_java_closes_or_forgets(client: gatun.GatunClient) -> None:
    keeper = _keeper(client)
    baseline = _regions(client)
    for i in range(5):
        keeper.add(pa.table({"x": [i] * 100}))
    assert keeper.count() == 5
    assert _regions(client) >= baseline + 5
    keeper.closeAll()
    assert _regions(client) == baseline  # closed: back without a collection
    for i in range(5):
        keeper.add(pa.table({"x": [i] * 100}))
    keeper.forget()
    client.gc()
    assert _regions(client) == baseline


def test_a_root_no_java_code_saw_goes_with_its_proxy(client: gatun.GatunClient) -> None:
    baseline = _regions(client)
    root = client.send_arrow(pa.table({"x": [1, 2, 3]}))
    assert root.getVector(0).to_pylist() == [1, 2, 3]  # read by value: still unseen
    assert root.getRowCount() == 3
    del root
    client.ping()
    assert _regions(client) == baseline  # closed when released: no collection needed
    kept = client.send_arrow(pa.table({"x": [1, 2, 3]}))
    vector = client.invoke_method(kept, "getVector", 0, return_object_ref=True)
    del kept  # Java code holds a vector of it: not closed
    client.ping()
    assert _regions(client) == baseline + 1
    assert vector.getValueCount() == 3
    del vector
    client.gc()
    assert _regions(client) == baseline


def test_a_producer_reusing_its_vectors_hands_them_off(client: gatun.GatunClient) -> None:
    keeper = _keeper(client)
    arrivals = [keeper.produce(100, r) for r in range(1, 6)]
    for r, table in enumerate(arrivals, start=1):
        assert table.column("x").to_pylist() == [i * r for i in range(100)]


def test_arrow_arguments_are_not_closed_after_the_call(client: gatun.GatunClient) -> None:
    table = pa.table({"x": [7, 8, 9]})
    same = client.jvm.java.util.Objects.requireNonNull(table)
    assert same.equals(table)
    holder = client.jvm.java.util.concurrent.atomic.AtomicReference(table)
    assert holder.get().equals(table)
    assert holder.get().equals(table)
    holder.set(None)


def _every_path(client: gatun.GatunClient, round_: int, n: int) -> None:
    # A schema new to both sides in every round: definitions race across lanes.
    name = f"x{round_}"
    table = pa.table({name: pa.array(range(n), pa.int64()), "s": [str(i) for i in range(n)]})
    root = client.send_arrow(table)
    assert client.invoke_method(root, "slice", 0, 10).equals(table.slice(0, 10))
    assert root.getVector(0).equals(table.column(0).chunk(0))
    assert root.getVector(0).equals(table.column(0).chunk(0))
    back = client.jvm.java.util.Objects.requireNonNull(table)
    assert back.equals(table)
    built = client.jvm.gatuntest.AllocatorOps.arenaRoot(n)
    assert built.num_rows == n
    reader = client.jvm.gatuntest.StreamOps.same(
        pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    )
    assert reader.read_all().equals(table)
    root.close()


@pytest.mark.parametrize("lanes", [2, 4])
@pytest.mark.timeout(300)
def test_eight_threads_on_every_arrow_path_both_ways(java_helpers: Path, lanes: int) -> None:
    with gatun.connect(classpath=[str(java_helpers)], lanes=lanes) as own:
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def work(worker: int) -> None:
            try:
                for round_ in range(15):
                    barrier.wait(timeout=60)
                    _every_path(own, round_, 50 + worker)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
                barrier.abort()

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=280)
        assert not any(t.is_alive() for t in threads), "a worker hung"
        assert not errors, errors[:3]


def test_a_closed_root_returned_names_the_mismatch(client: gatun.GatunClient) -> None:
    keeper = _keeper(client)
    root = client.send_arrow(pa.table({"x": [1, 2, 3]}))
    keeper.keep(root)
    root.close()
    with pytest.raises(gatun.JavaException, match="was the root closed"):
        keeper.kept()
    keeper.forget()


@pytest.mark.timeout(300)
def test_concurrent_sends_wait_for_arena_space_instead_of_failing() -> None:
    """8 threads sending 10 MB tables through a 64 MB arena: a send that finds
    the arena full of other threads' batches waits for them to be released."""
    import numpy as np

    table = pa.table({"x": np.arange(10 * 2**20 // 8, dtype=np.int64)})
    with gatun.connect(memory="64MB", lanes=2) as own:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(10):
                    root = own.send_arrow(table)
                    assert root.getRowCount() == table.num_rows
                    root.close()
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=280)
        assert not any(t.is_alive() for t in threads), "a sender hung"
        assert not errors, errors[:3]


def test_half_the_arena_and_more_fits_after_a_large_batch() -> None:
    """The shared validity bitmap lives at the top of its segment, so it does
    not split the space that batches of most of the arena need."""
    import numpy as np

    with gatun.connect(memory="64MB") as own:
        for mb in (32, 40, 48):
            root = own.send_arrow(pa.table({"x": np.zeros(mb * 2**20 // 8, dtype=np.int64)}))
            assert root.getRowCount() == mb * 2**20 // 8
            root.close()
            own.ping()
        with pytest.raises(gatun.PayloadTooLargeError, match="largest region the arena can hold"):
            own.send_arrow(pa.table({"x": np.zeros(80 * 2**20 // 8, dtype=np.int64)}))


def test_memory_caps_the_jvms_arena_too() -> None:
    with gatun.connect(memory="96MB") as own:
        args = own.jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
        assert f"-Dgatun.arrow.allocator.maxBytes={96 << 20}" in list(args)
