"""Values crossing the bridge in both directions."""

from __future__ import annotations

import array
import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest

import gatun
from gatun import JavaArray, JavaList, JavaObject, TypeHint


def echo(client: gatun.GatunClient, value: object) -> object:
    """Send ``value`` to Java as an ``Object`` and bring it back."""
    return client.jvm.java.util.Optional.ofNullable(value).orElse(None)


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        0,
        1,
        -1,
        2**31 - 1,
        2**31,
        -(2**31) - 1,
        2**63 - 1,
        -(2**63),
        0.0,
        1.5,
        -2.25e300,
        float("inf"),
        "",
        "hello",
        "héllo wörld",
        "日本語",
        "emoji 🎉 and 𝄞",
        b"",
        b"\x00\x01\xfe\xff",
    ],
    ids=repr,
)
def test_scalar_round_trip(client: gatun.GatunClient, value: object) -> None:
    back = echo(client, value)
    assert back == value
    assert type(back) is type(value)


def test_none_round_trip(client: gatun.GatunClient) -> None:
    assert echo(client, None) is None
    assert client.jvm.java.util.Objects.isNull(None) is True


def test_nan_round_trip(client: gatun.GatunClient) -> None:
    back = echo(client, float("nan"))
    assert isinstance(back, float)
    assert back != back


def test_negative_zero_keeps_its_sign_both_ways(client: gatun.GatunClient) -> None:
    """-0.0 equals the wire field's default, which FlatBuffers would omit."""
    jmath = client.jvm.java.lang.Math
    assert jmath.copySign(1.0, -0.0) == -1.0  # Python -> Java
    back = jmath.min(-0.0, 0.0)  # Java -> Python
    assert back == 0.0
    assert math.copysign(1.0, back) == -1.0
    with client.batch() as b:
        r = b.call_static("java.lang.Math", "min", -0.0, 0.0)
    assert math.copysign(1.0, r.get()) == -1.0


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_int_out_of_range_is_rejected(client: gatun.GatunClient, value: int) -> None:
    with pytest.raises((OverflowError, TypeError)):
        echo(client, value)
    assert client.ping()


def test_int_width_selects_overload(client: gatun.GatunClient) -> None:
    # An int that fits 32 bits is a Java int, otherwise a long.
    assert client.jvm.java.lang.Math.abs(-5) == 5
    assert client.jvm.java.lang.Math.abs(-(2**40)) == 2**40
    boxed = client.invoke_static_method(
        "java.util.Objects", "requireNonNull", 2**40, return_object_ref=True
    )
    assert boxed.getClass().getName() == "java.lang.Long"
    small = client.invoke_static_method(
        "java.util.Objects", "requireNonNull", 7, return_object_ref=True
    )
    assert small.getClass().getName() == "java.lang.Integer"


def test_string_length_in_java_counts_utf16(client: gatun.GatunClient) -> None:
    text = "a🎉"
    sb = client.jvm.java.lang.StringBuilder(text)
    assert sb.length() == 3  # the emoji is a surrogate pair
    assert sb.toString() == text


def test_large_string(client: gatun.GatunClient) -> None:
    text = "xyz" * 100_000
    assert echo(client, text) == text


def test_list_round_trip(client: gatun.GatunClient) -> None:
    value = [1, "two", 3.0, None, True, [4, [5]]]
    back = echo(client, value)
    assert isinstance(back, JavaList)
    assert back == value
    assert back.size() == 6
    assert back.get(1) == "two"
    assert back.contains(3.0)
    assert not back.isEmpty()


def test_tuple_is_sent_as_list(client: gatun.GatunClient) -> None:
    assert echo(client, (1, 2, 3)) == [1, 2, 3]


def test_set_is_sent_as_list(client: gatun.GatunClient) -> None:
    back = echo(client, {3, 1, 2})
    assert sorted(back) == [1, 2, 3]


def test_nested_dict_round_trip(client: gatun.GatunClient) -> None:
    value = {"a": 1, "b": {"c": [1, 2, {"d": None}], "e": "é"}, "f": 2.5}
    back = echo(client, value)
    assert isinstance(back, dict)
    assert back == value


def test_dict_arrives_as_hashmap(client: gatun.GatunClient) -> None:
    arr = client.jvm.java.util.ArrayList()
    arr.add({"k": "v"})
    first = client.invoke_method(arr, "get", 0, return_object_ref=True)
    assert first.getClass().getName() == "java.util.HashMap"
    assert arr.toString() == "[{k=v}]"


_PRIMITIVE_ARRAYS = [
    ("Int", [1, -2, 2**31 - 1, -(2**31)]),
    ("Long", [1, -2, 2**63 - 1, -(2**63)]),
    ("Double", [0.5, -1.25, 1e300]),
    ("Float", [0.5, -1.25, 3.0]),
    ("Bool", [True, False, True]),
    ("Short", [1, -2, 32767, -32768]),
]


@pytest.mark.parametrize(("element_type", "items"), _PRIMITIVE_ARRAYS, ids=lambda v: str(v))
def test_primitive_java_array_round_trip(
    client: gatun.GatunClient, element_type: str, items: list[object]
) -> None:
    back = echo(client, JavaArray(items, element_type=element_type))
    assert isinstance(back, JavaArray)
    assert back.element_type == element_type
    assert list(back) == items
    assert back.length == len(items)
    assert back.size() == len(items)


@pytest.mark.parametrize(
    ("element_type", "items", "expected"),
    [
        ("Int", [1, 2, 3], "[1, 2, 3]"),
        ("Long", [2**40, -1], "[1099511627776, -1]"),
        ("Double", [1.5, 2.0], "[1.5, 2.0]"),
        ("Float", [1.5, 2.0], "[1.5, 2.0]"),
        ("Bool", [True, False], "[true, false]"),
        ("Byte", [1, -1, 127], "[1, -1, 127]"),
        ("Short", [1, -1], "[1, -1]"),
        ("Char", ["a", "é"], "[a, é]"),
        ("String", ["a", None, "c"], "[a, null, c]"),
        ("Object", [1, "b", None], "[1, b, null]"),
    ],
    ids=lambda v: str(v),
)
def test_java_array_reaches_java_with_its_type(
    client: gatun.GatunClient, element_type: str, items: list[object], expected: str
) -> None:
    assert client.jvm.java.util.Arrays.toString(JavaArray(items, element_type)) == expected


def java_string(client: gatun.GatunClient, text: str) -> JavaObject:
    """``text`` as a reference to a Java String (not converted to ``str``)."""
    return client.invoke_static_method("java.lang.String", "valueOf", text, return_object_ref=True)


def test_byte_array_comes_back_as_bytes(client: gatun.GatunClient) -> None:
    back = echo(client, JavaArray([1, -1, 127], element_type="Byte"))
    assert back == b"\x01\xff\x7f"
    assert java_string(client, "hi").getBytes() == b"hi"


def test_char_array_comes_back(client: gatun.GatunClient) -> None:
    chars = java_string(client, "héllo").toCharArray()
    assert list(chars) == list("héllo")


def test_object_array_stays_a_reference(client: gatun.GatunClient) -> None:
    strings = echo(client, JavaArray(["a", "b"], element_type="String"))
    assert isinstance(strings, JavaObject)
    assert strings.class_name == "[Ljava.lang.String;"
    assert list(strings) == ["a", "b"]


def test_char_result_is_one_character_string(client: gatun.GatunClient) -> None:
    assert client.jvm.java.lang.String("abc").charAt(1) == "b"
    assert client.jvm.java.lang.Character.valueOf(TypeHint("é", "char")) == "é"


def test_type_hint_selects_overload(client: gatun.GatunClient) -> None:
    sb = client.jvm.java.lang.StringBuilder()
    sb.append(TypeHint(65, "char"))
    sb.append(65)
    assert sb.toString() == "A65"
    assert client.jvm.java.lang.Character.isLetter(TypeHint("x", "char")) is True
    assert repr(TypeHint(1, "long")) == "TypeHint(1, 'long')"


def test_type_hint_long_boxes_as_long(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    lst.add(TypeHint(5, "java.lang.Long"))
    assert lst.get(0) == 5
    first = client.invoke_method(lst, "get", 0, return_object_ref=True)
    assert first.getClass().getName() == "java.lang.Long"


def test_list_result_as_reference(client: gatun.GatunClient) -> None:
    ref = client.invoke_static_method(
        "java.util.Arrays", "asList", "a", "b", return_object_ref=True
    )
    assert isinstance(ref, JavaObject)
    assert ref.size() == 2
    assert list(ref) == ["a", "b"]


# -- Python-only argument types converted by the client --------------------


def test_pyarrow_primitive_arrays(client: gatun.GatunClient) -> None:
    to_string = client.jvm.java.util.Arrays.toString
    assert to_string(pa.array([1, 2, 3], type=pa.int32())) == "[1, 2, 3]"
    assert to_string(pa.array([1, 2**40], type=pa.int64())) == "[1, 1099511627776]"
    assert to_string(pa.array([0.5, 1.5], type=pa.float64())) == "[0.5, 1.5]"
    assert to_string(pa.array([0.5], type=pa.float32())) == "[0.5]"
    assert to_string(pa.array([True, False])) == "[true, false]"
    assert to_string(pa.array([-1, 5], type=pa.int8())) == "[-1, 5]"
    assert to_string(pa.array([-1, 5], type=pa.int16())) == "[-1, 5]"
    assert to_string(pa.array(["a", None, "é"])) == "[a, null, é]"


def test_pyarrow_slices_and_chunks(client: gatun.GatunClient) -> None:
    to_string = client.jvm.java.util.Arrays.toString
    sliced = pa.array([1, 2, 3, 4, 5], type=pa.int32()).slice(2, 2)
    assert to_string(sliced) == "[3, 4]"
    chunked = pa.chunked_array([[1, 2], [3]], type=pa.int64())
    assert to_string(chunked) == "[1, 2, 3]"


def test_pyarrow_null_in_primitive_array_names_index(client: gatun.GatunClient) -> None:
    with pytest.raises(TypeError, match="index 1"):
        client.jvm.java.util.Arrays.toString(pa.array([1, None, 3], type=pa.int32()))
    assert client.ping()


def test_array_module_arrays(client: gatun.GatunClient) -> None:
    to_string = client.jvm.java.util.Arrays.toString
    assert to_string(array.array("i", [1, 2])) == "[1, 2]"
    assert to_string(array.array("q", [2**40])) == "[1099511627776]"
    assert to_string(array.array("d", [0.5])) == "[0.5]"
    assert to_string(array.array("b", [-1, 1])) == "[-1, 1]"


def test_numpy_scalars(client: gatun.GatunClient) -> None:
    assert client.jvm.java.lang.Math.max(np.int64(3), np.int32(7)) == 7
    assert client.jvm.java.lang.Math.sqrt(np.float64(16.0)) == 4.0
    assert echo(client, np.bool_(True)) is True


def test_datetime_arguments(client: gatun.GatunClient) -> None:
    when = dt.datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=dt.timezone.utc)
    stamp = echo(client, when)
    assert isinstance(stamp, JavaObject)
    assert stamp.getTime() == int(when.timestamp()) * 1000 + 123
    assert stamp.getNanos() == 123_456_000
    day = echo(client, dt.date(2024, 2, 29))
    assert day.toString() == "2024-02-29"
    clock = echo(client, dt.time(23, 59, 58))
    assert clock.toString() == "23:59:58"
    assert client.ping()


def test_unsupported_argument_is_a_type_error(client: gatun.GatunClient) -> None:
    with pytest.raises(TypeError, match="object"):
        echo(client, object())
    assert client.ping()


def test_datetime_arguments_with_a_single_lane() -> None:
    # Top-level dates are converted before the outer request takes its lane.
    with gatun.connect(lanes=1) as single:
        to_string = single.jvm.java.util.Objects.toString
        assert to_string(dt.date(2024, 1, 2)) == "2024-01-02"
        with single.batch() as b:
            stamp = b.call_static("java.util.Objects", "toString", dt.datetime(2024, 1, 2, 3, 4, 5))
        assert stamp.get() == "2024-01-02 03:04:05.0"
