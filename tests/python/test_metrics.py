"""``get_metrics()`` (issue 16): real counts that move by exactly the calls
made, latency percentiles that are not upstream's first-bucket answer,
objects, Arrow bytes each way, callbacks; the text report and its dict form."""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

import gatun

pytestmark = [pytest.mark.timeout(120), pytest.mark.jvm]


@pytest.fixture(scope="module")
def own() -> Iterator[gatun.GatunClient]:
    """A private JVM: no other test's requests in its counts."""
    client = gatun.connect()
    yield client
    client.close()


def _metrics(client: gatun.GatunClient) -> dict[str, dict[str, Any]]:
    return client.get_metrics(as_dict=True)  # type: ignore[no-any-return]


def _action(m: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    return m["actions"].get(name, {"count": 0, "errors": 0})  # type: ignore[no-any-return]


def _buffer_bytes(data: pa.Table | pa.RecordBatch) -> int:
    columns = data.columns
    arrays = [c for col in columns for c in getattr(col, "chunks", [col])]
    return sum(b.size for a in arrays for b in a.buffers() if b is not None)


def test_report_keeps_upstreams_layout(own: gatun.GatunClient) -> None:
    text = own.get_metrics()
    assert text.startswith("=== Gatun Server Metrics ===\nGlobal:\n  total_requests: ")
    for key in (
        "total_errors",
        "requests_per_sec",
        "current_sessions",
        "current_objects",
        "peak_objects",
        "total_rows",
        "total_bytes_copied",
        "total_invocations",
    ):
        assert re.search(rf"^  {key}: [\d.]+$", text, re.M), key
    as_dict = own.get_metrics(as_dict=True)
    assert set(as_dict) == {"global", "arrow", "callbacks", "actions", "session"}
    assert as_dict["global"]["current_sessions"] == 1
    assert as_dict["actions"]["GetMetrics"]["count"] >= 1


def test_counts_move_by_exactly_the_calls_made(own: gatun.GatunClient) -> None:
    math = own.jvm.java.lang.Math
    assert math.max(1, 2) == 2  # warm: JVM-view lookups are made once
    before = _metrics(own)
    for i in range(7):
        math.max(i, 3)
    with pytest.raises(gatun.JavaException):
        own.jvm.java.lang.Integer.parseInt("not a number")
    after = _metrics(own)
    calls = _action(after, "InvokeStaticMethod")["count"]
    assert calls - _action(before, "InvokeStaticMethod")["count"] == 8
    errors = _action(after, "InvokeStaticMethod")["errors"]
    assert errors - _action(before, "InvokeStaticMethod")["errors"] == 1
    # 8 calls, (parseInt's first Reflect of Integer, if any) and the second GetMetrics.
    reflects = _action(after, "Reflect")["count"] - _action(before, "Reflect")["count"]
    assert after["global"]["total_requests"] - before["global"]["total_requests"] == 9 + reflects
    assert after["global"]["total_errors"] - before["global"]["total_errors"] == 1


def test_batch_items_count_individually(own: gatun.GatunClient) -> None:
    before = _metrics(own)
    with own.batch() as b:
        for i in range(4):
            b.call_static("java.lang.Math", "abs", -i)
    after = _metrics(own)
    assert _action(after, "Batch")["count"] - _action(before, "Batch")["count"] == 1
    assert after["global"]["batch_items"] - before["global"]["batch_items"] == 4
    static = _action(after, "InvokeStaticMethod")["count"]
    assert static - _action(before, "InvokeStaticMethod")["count"] == 4


def test_percentiles_are_real(own: gatun.GatunClient) -> None:
    # Upstream rounded the rank down: a 34 ms call reported p50 = 10 us.
    thread = own.jvm.java.lang.Thread
    for _ in range(3):
        thread.sleep(30)
    own.jvm.java.lang.System.getProperty("java.version")  # InvokeStaticMethod too, fast
    m = _action(_metrics(own), "InvokeStaticMethod")
    assert 0 < m["p50_us"] <= m["p90_us"] <= m["p99_us"]
    assert m["p99_us"] >= 30_000  # a sleep of 30 ms takes at least that
    create = own.jvm.java.util.ArrayList()
    m = _action(_metrics(own), "CreateObject")
    assert m["count"] >= 1
    assert m["p50_us"] > 0
    del create


def test_objects_current_and_peak(own: gatun.GatunClient) -> None:
    gc.collect()
    own.ping()
    before = _metrics(own)
    held = [own.jvm.java.util.ArrayList() for _ in range(6)]
    during = _metrics(own)
    assert during["global"]["current_objects"] - before["global"]["current_objects"] == 6
    assert during["session"]["current_objects"] - before["session"]["current_objects"] == 6
    assert during["session"]["peak_objects"] >= during["session"]["current_objects"]
    assert during["global"]["peak_objects"] >= during["global"]["current_objects"]
    del held
    gc.collect()
    own.ping()  # carries the releases
    after = _metrics(own)
    assert after["global"]["current_objects"] == before["global"]["current_objects"]
    assert after["session"]["current_objects"] == before["session"]["current_objects"]
    assert after["session"]["peak_objects"] == during["session"]["peak_objects"]


def test_arrow_bytes_each_way(own: gatun.GatunClient) -> None:
    # Nulls in every column: both sides then carry every validity bitmap
    # (pyarrow drops an all-valid one Java sends).
    values = [None if i % 10 == 0 else i for i in range(1000)]
    table = pa.table({"x": pa.array(values, pa.int64()), "s": [v and str(v) for v in values]})
    before = _metrics(own)["arrow"]
    sent = own.send_arrow(table)
    middle = _metrics(own)["arrow"]
    assert middle["python_to_java_bytes"] - before["python_to_java_bytes"] == _buffer_bytes(table)
    assert middle["python_to_java_batches"] - before["python_to_java_batches"] == 1
    assert middle["python_to_java_rows"] - before["python_to_java_rows"] == 1000
    back = own.invoke_method(sent, "slice", 0, 1000)
    sent.close()
    after = _metrics(own)["arrow"]
    received = _buffer_bytes(back)
    del back
    assert after["java_to_python_bytes"] - middle["java_to_python_bytes"] == received
    assert after["java_to_python_batches"] - middle["java_to_python_batches"] == 1
    assert after["java_to_python_rows"] - middle["java_to_python_rows"] == 1000
    assert after["total_rows"] - before["total_rows"] == 2000


def test_callbacks_counted(own: gatun.GatunClient) -> None:
    calls = 0

    def compare(a: int, b: int) -> int:
        nonlocal calls
        calls += 1
        return (a > b) - (a < b)

    def broken(_a: int, _b: int) -> int:
        raise RuntimeError("no")

    before = _metrics(own)["callbacks"]
    cmp = own.register_callback(compare, "java.util.Comparator")
    bad = own.register_callback(broken, "java.util.Comparator")
    items = own.jvm.java.util.ArrayList([5, 3, 9, 1, 7])
    own.jvm.java.util.Collections.sort(items, cmp)
    with pytest.raises(Exception, match="no"):
        own.jvm.java.util.Collections.sort(items, bad)
    after = _metrics(own)["callbacks"]
    assert calls > 0
    assert after["total_invocations"] - before["total_invocations"] == calls + 1
    assert after["total_errors"] - before["total_errors"] == 1
    own.unregister_callback(cmp)
    own.unregister_callback(bad)


def test_async_client_metrics(own: gatun.GatunClient) -> None:
    async def run() -> None:
        client = gatun.AsyncGatunClient(own)
        text = await client.get_metrics()
        assert text.startswith("=== Gatun Server Metrics ===")
        as_dict = await client.get_metrics(as_dict=True)
        assert as_dict["actions"]["GetMetrics"]["count"] >= 2

    asyncio.run(run())
