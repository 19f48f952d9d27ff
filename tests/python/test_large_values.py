"""Values larger than a lane slot cross through the payload arena (a spilled
request or response, SHM_LAYOUT.md "Spill") instead of failing; the autouse
fixture checks that every spilled region is released after each test."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pytest

import gatun
from gatun import GatunClient, PayloadTooLargeError

pytestmark = pytest.mark.timeout(300)

MB = 1 << 20


def _java_regions(client: GatunClient) -> int | None:
    """Regions of the JVM's arena still live (Arrow data or spilled replies);
    None from a server that does not report them."""
    match = re.search(r"\barena_regions\s*:\s*(\d+)", client.get_metrics())
    return int(match.group(1)) if match else None


@pytest.fixture
def c(client: GatunClient) -> Iterator[GatunClient]:
    """The shared client; each test also leaves the JVM's arena as it found it
    (a spilled reply is released by Python once decoded)."""
    before = _java_regions(client)
    yield client
    client.ping()  # carries Python's release notices
    after = _java_regions(client)
    if before is not None and after is not None:
        assert after <= before, f"JVM arena regions before {before}, after {after}"


def test_a_100mb_str_goes_in_and_a_100mb_string_comes_out(c: GatunClient) -> None:
    text = "a" * (100 * MB - 3) + "xyz"
    assert c.jvm.java.lang.String.valueOf(text).endswith("axyz")  # in and out
    assert c.jvm.java.lang.String(text).length() == 100 * MB
    out = c.jvm.java.lang.String("ab").repeat(50 * MB)
    assert isinstance(out, str)
    assert len(out) == 100 * MB
    assert out[:4] == "abab"
    assert out[-2:] == "ab"


def test_non_ascii_text_larger_than_a_slot_keeps_every_character(c: GatunClient) -> None:
    text = "é€𝄞" * (1 * MB)  # 9 MiB of UTF-8, 4 Mi UTF-16 units
    back = c.jvm.java.lang.String.valueOf(text)
    assert back == text


def test_64mb_bytes_go_in_and_come_out(c: GatunClient) -> None:
    data = bytes(range(256)) * (64 * MB // 256)
    arrays = c.jvm.java.util.Arrays
    assert c.jvm.java.lang.reflect.Array.getLength(data) == 64 * MB
    back = arrays.copyOf(data, 64 * MB)
    assert isinstance(back, bytes)
    assert back == data


def test_a_10m_element_list_argument_and_a_10m_element_collection_result(
    c: GatunClient,
) -> None:
    n = 10_000_000
    lst = c.jvm.java.util.ArrayList(list(range(n)))
    assert lst.size() == n
    assert lst.get(n - 1) == n - 1
    back = lst.subList(0, n)  # a List answers by value: 10M values
    assert len(back) == n
    assert back[0] == 0
    assert back[n // 2] == n // 2
    assert back[n - 1] == n - 1
    del back
    lst.clear()


def test_a_numpy_int64_array_argument_and_a_java_long_array_result(c: GatunClient) -> None:
    n = 10_000_000
    values = np.arange(n, dtype=np.int64) * 3 - 7
    arrays = c.jvm.java.util.Arrays
    assert arrays.stream(values).sum() == int(values.sum())
    back = arrays.copyOf(values, n)  # long[] of 80 MB
    assert len(back) == n
    assert np.array_equal(np.asarray(list(back), dtype=np.int64), values)


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32", "float64", "bool"])
def test_numpy_arrays_of_other_types_larger_than_a_slot(c: GatunClient, dtype: str) -> None:
    n = 2_000_000  # at least 2 MB: more than the 1 MiB slot
    values = (np.arange(n) % 100).astype(dtype)
    back = c.jvm.java.util.Arrays.copyOf(values, n)
    assert np.array_equal(np.asarray(list(back), dtype=dtype), values)


def test_large_values_inside_a_batch(c: GatunClient) -> None:
    text = "q" * (20 * MB)
    data = b"\x01\x02" * (10 * MB)
    lst = c.jvm.java.util.ArrayList()
    with c.batch() as b:
        small = b.call_static("java.lang.Math", "max", 1, 2)
        echoed = b.call_static("java.lang.String", "valueOf", text)  # spilled both ways
        added = b.call(lst, "add", data)
        copied = b.call_static("java.util.Arrays", "copyOf", data, len(data))
        after = b.call_static("java.lang.Math", "max", 3, 4)
    assert small.get() == 2
    assert echoed.get() == text
    assert added.get() is True
    assert copied.get() == data
    assert after.get() == 4
    assert c.jvm.java.lang.reflect.Array.getLength(lst.get(0)) == len(data)
    lst.clear()


def test_a_value_larger_than_the_arena_is_refused_with_the_sizes() -> None:
    own = gatun.connect(memory=32 * MB)
    try:
        with pytest.raises(
            PayloadTooLargeError, match=r"request of 100000\d{3} bytes.*payload arena"
        ):
            own.jvm.java.lang.reflect.Array.getLength(b"z" * 100_000_000)
        assert own.jvm.java.lang.Math.max(1, 2) == 2  # the session goes on
        assert own._native.arena_regions_in_use == 0
    finally:
        own.close()


def test_a_callback_takes_and_returns_values_larger_than_a_slot(c: GatunClient) -> None:
    """Java's call of the callback spills into the JVM's arena and the
    callback's reply into Python's."""
    text = "c" * (5 * MB)
    seen: list[int] = []

    def shout(s: str) -> str:
        seen.append(len(s))
        return s + "!" * MB

    fn = c.register_callback(shout, "java.util.function.Function")
    try:
        out = c.jvm.java.util.Optional.of(text).map(fn).get()
    finally:
        c.unregister_callback(fn)
    assert seen == [5 * MB]
    assert len(out) == 6 * MB
    assert out.startswith("ccc")
    assert out.endswith("!!!")
