"""Java object proxies, the JVM view, fields, errors, batches and releases."""

from __future__ import annotations

import gc
import re
import threading

import pytest

import gatun
from gatun import (
    BatchResult,
    JavaClass,
    JavaClassNotFoundException,
    JavaException,
    JavaIllegalArgumentException,
    JavaIndexOutOfBoundsException,
    JavaList,
    JavaNoSuchFieldException,
    JavaNoSuchMethodException,
    JavaNullPointerException,
    JavaNumberFormatException,
    JavaObject,
    JavaRuntimeException,
    java_import,
)

# -- proxies ----------------------------------------------------------------


def test_repr_str_and_identity(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    assert isinstance(lst, JavaObject)
    assert lst.class_name == "java.util.ArrayList"
    assert re.fullmatch(r"<JavaObject java\.util\.ArrayList id=\d+>", repr(lst))
    lst.add("a")
    assert str(lst) == "[a]"
    assert bool(client.jvm.java.util.ArrayList()) is False  # empty, as a Python list


def test_equality_and_hash_use_java(client: gatun.GatunClient) -> None:
    first = client.jvm.java.util.ArrayList()
    second = client.jvm.java.util.ArrayList()
    assert first.object_id != second.object_id
    assert first == second  # Java equals: both empty
    assert hash(first) == hash(second) == 1  # hashCode of an empty list
    second.add("x")
    assert first != second
    assert first == first
    assert first != "[]"
    assert first in {second: 1, first: 2}


def test_attribute_rules(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    with pytest.raises(AttributeError):
        _ = lst._private
    with pytest.raises(AttributeError):
        _ = lst.__wrapped__
    method = lst.add
    assert method("m") is True
    assert lst.size() == 1


def test_len_iteration_and_negative_indexing(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    for item in ("a", "b", "c"):
        lst.add(item)
    assert len(lst) == 3
    assert list(lst) == ["a", "b", "c"]
    assert lst[-1] == "c"
    assert lst[-3] == "a"
    assert lst[0:2] == ["a", "b"]
    lst[-1] = "z"
    assert lst.get(2) == "z"
    assert "b" in lst
    assert "q" not in lst
    with pytest.raises(IndexError):
        lst[-4]
    with pytest.raises(JavaIndexOutOfBoundsException):
        lst[3]


def test_object_array_indexing(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    lst.add("x")
    lst.add("y")
    arr = lst.toArray()
    assert arr.is_array
    assert len(arr) == 2
    assert arr[-1] == "y"
    arr[-1] = "w"
    assert list(arr) == ["x", "w"]
    assert arr[:] == ["x", "w"]
    assert "w" in arr
    with pytest.raises(IndexError):
        arr[2]


def test_iterating_a_set_and_a_map_view(client: gatun.GatunClient) -> None:
    tree = client.jvm.java.util.TreeSet()
    for item in (3, 1, 2):
        tree.add(item)
    assert list(tree) == [1, 2, 3]
    assert len(tree) == 3
    empty = client.jvm.java.util.HashSet()
    assert list(empty) == []


def test_detach_keeps_object_usable(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    lst.add(1)
    lst.detach()
    assert lst.size() == 1


def test_is_instance_of(client: gatun.GatunClient) -> None:
    lst = client.create_object("java.util.ArrayList")
    assert client.is_instance_of(lst, "java.util.List") is True
    assert client.is_instance_of(lst, client.jvm.java.util.RandomAccess) is True
    assert client.is_instance_of(lst, "java.util.Map") is False


def test_raw_object_id_calls(client: gatun.GatunClient) -> None:
    lst = client.create_object("java.util.ArrayList")
    assert client.invoke_method(lst.object_id, "add", "item") is True
    assert client.invoke_method(lst, "size") == 1


# -- JVM view -----------------------------------------------------------------


def test_jvm_view_navigation(client: gatun.GatunClient) -> None:
    math = client.jvm.java.lang.Math
    assert isinstance(math, JavaClass)
    assert math.path == "java.lang.Math"
    assert math.max(3, 9) == 9
    maximum = math.max  # bound once, called many times
    assert [maximum(i, 5) for i in range(8)] == [5, 5, 5, 5, 5, 5, 6, 7]
    assert abs(math.PI - 3.141592653589793) < 1e-15


def test_lower_case_static_field(client: gatun.GatunClient) -> None:
    out = client.jvm.java.lang.System.out
    assert isinstance(out, JavaObject)
    assert client.is_instance_of(out, "java.io.PrintStream")


def test_static_field_through_class_node(client: gatun.GatunClient) -> None:
    integer = client.jvm.java.lang.Integer
    assert client.get_field(integer, "MAX_VALUE") == 2**31 - 1
    assert client.get_static_field(integer, "MIN_VALUE") == -(2**31)
    assert client.get_static_field("java.lang.Long", "MAX_VALUE") == 2**63 - 1
    assert client.invoke_static_method(integer, "parseInt", "17") == 17


def test_calling_a_field_is_a_type_error(client: gatun.GatunClient) -> None:
    node = gatun.jvm.JavaClass(client, "java.lang.Integer.MAX_VALUE")
    with pytest.raises(TypeError, match="static field"):
        node()


def test_java_import_is_per_view(client: gatun.GatunClient) -> None:
    view = gatun.JVMView(client)
    java_import(view, "java.util.concurrent.*")
    java_import(view, "java.lang.StringBuilder")
    assert view.ConcurrentHashMap().size() == 0
    assert view.StringBuilder("ab").reverse().toString() == "ba"
    counter = view.atomic  # not a class in the imported package: a package path
    assert counter.path == "atomic"


def test_reflect(client: gatun.GatunClient) -> None:
    assert client.reflect("java.util.ArrayList") == "class"
    assert client.reflect("java.lang.Math.max") == "method"
    assert client.reflect("java.lang.Integer.MAX_VALUE") == "field"
    assert client.reflect("java.util.NoSuchThing") == "none"


def test_nested_class(client: gatun.GatunClient) -> None:
    entry = client.jvm.java.util.AbstractMap.SimpleEntry("k", 5)
    assert entry.getKey() == "k"
    assert entry.getValue() == 5


# -- fields -------------------------------------------------------------------


def test_public_instance_fields_of_a_jdk_class(client: gatun.GatunClient) -> None:
    point = client.jvm.java.awt.Point(3, 4)
    assert client.get_field(point, "x") == 3
    client.set_field(point, "y", 10)
    assert point.getY() == 10.0
    assert client.get_fields(point, ["x", "y"]) == [3, 10]


def test_fields_of_a_user_class(fields_client: gatun.GatunClient) -> None:
    c = fields_client
    fields = c.jvm.gatuntest.Fields(5)
    assert c.get_field(fields, "x") == 5
    c.set_field(fields, "x", 9)
    assert fields.getX() == 9
    c.set_field(fields, "name", "renamed")
    assert c.get_fields(fields, ["x", "name"]) == [9, "renamed"]

    cls = c.jvm.gatuntest.Fields
    assert cls.counter == 7
    assert cls.CONSTANT == 42
    try:
        c.set_static_field(cls, "counter", 8)
        assert c.get_static_field("gatuntest.Fields", "counter") == 8
        c.set_field(cls, "label", "changed")
        assert c.get_field(cls, "label") == "changed"
    finally:  # the class is shared by every test of the session's fields_client
        c.set_static_field(cls, "counter", 7)
        c.set_static_field(cls, "label", "start")
    with pytest.raises(JavaException):
        c.set_static_field(cls, "CONSTANT", 1)
    with pytest.raises(JavaNoSuchFieldException):
        c.get_field(fields, "missing")


# -- errors -------------------------------------------------------------------


def test_unknown_class(client: gatun.GatunClient) -> None:
    with pytest.raises(JavaClassNotFoundException) as info:
        client.create_object("com.example.DoesNotExist")
    assert info.value.java_class == "java.lang.ClassNotFoundException"
    with pytest.raises(JavaClassNotFoundException):
        client.jvm.com.example.DoesNotExist()


def test_unknown_method(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    with pytest.raises(JavaNoSuchMethodException):
        lst.noSuchMethod()
    with pytest.raises(JavaNoSuchMethodException):
        client.jvm.java.lang.Math.noSuchStatic(1)
    with pytest.raises(JavaNoSuchMethodException):
        lst.add(1, 2, 3, 4)  # wrong arity


def test_exception_attributes_and_hierarchy(client: gatun.GatunClient) -> None:
    with pytest.raises(JavaNumberFormatException) as info:
        client.jvm.java.lang.Integer.parseInt("nope")
    error = info.value
    assert isinstance(error, JavaIllegalArgumentException)
    assert isinstance(error, JavaRuntimeException)
    assert error.java_class == "java.lang.NumberFormatException"
    assert "nope" in error.message
    assert str(error).startswith(f"java.lang.NumberFormatException: {error.message}\n\tat ")
    assert "parseInt" in error.stack_trace


def test_subclass_of_mapped_exception(client: gatun.GatunClient) -> None:
    with pytest.raises(JavaIndexOutOfBoundsException) as info:
        client.jvm.java.lang.StringBuilder("abc").charAt(10)
    assert info.value.java_class.endswith("IndexOutOfBoundsException")
    with pytest.raises(JavaRuntimeException) as state:
        client.jvm.java.util.ArrayList().iterator().remove()
    assert state.value.java_class == "java.lang.IllegalStateException"


def test_null_pointer(client: gatun.GatunClient) -> None:
    with pytest.raises(JavaNullPointerException):
        client.jvm.java.util.Objects.requireNonNull(None)


def test_released_id_is_an_error_not_null(fresh_client: gatun.GatunClient) -> None:
    lst = fresh_client.jvm.java.util.ArrayList()
    object_id = lst.object_id
    del lst
    gc.collect()
    fresh_client._native.flush_releases()
    with pytest.raises((JavaException, gatun.GatunError)):
        fresh_client.invoke_method(object_id, "size")
    assert fresh_client.ping()


def test_java_exception_factory() -> None:
    make = gatun.exceptions.java_exception
    assert type(make("java.lang.ArrayIndexOutOfBoundsException", "", "")).__name__ == (
        "JavaIndexOutOfBoundsException"
    )
    assert type(make("java.util.UnknownFormatConversionException", "", "")) is (
        JavaIllegalArgumentException
    )
    assert type(make("java.lang.IllegalStateException", "", "")) is JavaRuntimeException
    assert type(make("com.acme.Weird", "m", "t")) is JavaException
    error = make("java.lang.NullPointerException", "", "trace")
    assert str(error) == "java.lang.NullPointerException\ntrace"
    assert str(make("java.lang.NullPointerException", "", "")) == "java.lang.NullPointerException"
    assert error.stack_trace == "trace"


# -- batch and vectorised calls ---------------------------------------------------


def test_batch_mixed_operations(client: gatun.GatunClient) -> None:
    point = client.jvm.java.awt.Point(1, 2)
    with client.batch() as b:
        created = b.create("java.util.ArrayList")
        parsed = b.call_static(client.jvm.java.lang.Integer, "parseInt", "42")
        b.set_field(point, "x", 7)
        field = b.get_field(point, "x")
        static = b.get_field(client.jvm.java.lang.Integer, "MAX_VALUE")
        pending = b.call(point, "getX")
        assert isinstance(pending, BatchResult)
        with pytest.raises(RuntimeError):
            pending.get()
    assert isinstance(created.get(), JavaObject)
    assert parsed.get() == 42
    assert field.get() == 7
    assert static.get() == 2**31 - 1
    assert pending.get() == 7.0


def test_batch_continues_after_error_by_default(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    with client.batch() as b:
        bad = b.call_static("java.lang.Integer", "parseInt", "x")
        b.call(lst, "add", "after")
        size = b.call(lst, "size")
    assert bad.is_error
    with pytest.raises(JavaNumberFormatException):
        bad.get()
    assert size.get() == 1


def test_batch_stop_on_error(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    with client.batch(stop_on_error=True) as b:
        first = b.call(lst, "add", "valid")
        bad = b.call_static("java.lang.Integer", "parseInt", "invalid")
        skipped = b.call(lst, "add", "never")
    assert first.get() is True
    with pytest.raises(JavaNumberFormatException):
        bad.get()
    assert skipped.skipped
    with pytest.raises(gatun.BatchSkippedError, match="item 1 failed"):
        skipped.get()
    assert lst.size() == 1


def test_batch_not_sent_when_block_raises(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    batch = client.batch()
    try:
        with batch as b:
            b.call(lst, "add", 1)
            raise KeyError("abandon")
    except KeyError:
        pass
    assert lst.size() == 0


def test_invoke_methods(client: gatun.GatunClient) -> None:
    lst = client.create_object("java.util.ArrayList")
    results = client.invoke_methods(
        lst, [("add", ("a",)), ("add", ("b",)), ("size", ()), ("subList", (0, 1))]
    )
    assert results == [True, True, 2, ["a"]]
    assert isinstance(results[3], JavaList)
    refs = client.invoke_methods(lst, [("subList", (0, 2)), ("size", ())], [True, False])
    assert isinstance(refs[0], JavaObject)
    assert refs[1] == 2
    with pytest.raises(JavaIndexOutOfBoundsException):
        client.invoke_methods(lst, [("get", (0,)), ("get", (99,))])


def test_create_objects(client: gatun.GatunClient) -> None:
    made = client.create_objects(
        [
            ("java.util.ArrayList", ()),
            ("java.lang.StringBuilder", ("abc",)),
            ("java.util.HashMap", ()),
        ]
    )
    assert [m.class_name for m in made] == [
        "java.util.ArrayList",
        "java.lang.StringBuilder",
        "java.util.HashMap",
    ]
    assert made[1].length() == 3
    with pytest.raises(JavaClassNotFoundException):
        client.create_objects([("java.util.ArrayList", ()), ("no.Such", ())])


# -- releases and concurrency ---------------------------------------------------------


def _current_objects(client: gatun.GatunClient) -> int | None:
    match = re.search(r"\b(?:current_)?objects\s*[=:]\s*(\d+)", client.get_metrics())
    return int(match.group(1)) if match else None


def test_releasing_100k_proxies(fresh_client: gatun.GatunClient) -> None:
    c = fresh_client
    before = _current_objects(c)
    proxies: list[JavaObject] = []
    for _ in range(20):
        proxies += c.create_objects([("java.lang.Object", ())] * 5000)
    assert len({p.object_id for p in proxies}) == 100_000
    peak = _current_objects(c)
    del proxies
    gc.collect()
    assert c._native.pending_releases >= 100_000
    assert c.ping()  # carries the releases
    c._native.flush_releases()
    assert c._native.pending_releases == 0
    assert c.jvm.java.lang.Math.max(1, 2) == 2
    after = _current_objects(c)
    if before is not None and peak is not None and after is not None:
        assert peak >= before + 100_000
        assert after <= before + 10


def test_a_response_too_large_for_the_slot_spills_and_its_ids_stay_owned(
    fresh_client: gatun.GatunClient,
) -> None:
    """An answer of 200,000 object references does not fit the lane slot: it
    spills into the JVM's arena, and every id it registered belongs to a
    proxy Python holds (released when the proxies die)."""
    c = fresh_client
    one = c.jvm.java.lang.Object()
    many = c.invoke_static_method(
        "java.util.Collections", "nCopies", 200_000, one, return_object_ref=True
    )
    before = _current_objects(c)
    got = many.subList(0, 200_000)  # a List answers by value: 200,000 references
    assert len(got) == 200_000
    assert got[0] == one
    assert got[199_999] == one
    assert before is not None
    assert _current_objects(c) == before + 200_000
    del got
    gc.collect()
    c._native.flush_releases()
    assert _current_objects(c) == before
    assert many.size() == 200_000  # the session goes on


def test_threads_share_a_client(client: gatun.GatunClient) -> None:
    errors: list[BaseException] = []
    results: dict[int, list[object]] = {}

    def work(worker: int) -> None:
        try:
            lst = client.jvm.java.util.ArrayList()
            values = []
            for i in range(200):
                assert client.jvm.java.lang.Math.max(i, worker) == max(i, worker)
                lst.add(f"{worker}-{i}")
                values.append(client.invoke_static_method("java.lang.String", "valueOf", i))
            assert lst.size() == 200
            assert lst.get(199) == f"{worker}-199"
            results[worker] = values
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=100)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert all(results[n] == [str(i) for i in range(200)] for n in range(8))


def test_a_batch_larger_than_a_lane_slot_is_split(client):
    """10,000 calls (max_batch_size, which counts the whole batch) with
    200-character strings (~2.5 MB of requests) do not fit a 1 MiB slot and
    go in several round trips."""
    arr = client.create_object("java.util.ArrayList")
    word = "x" * 200
    with client.batch() as b:
        results = [b.call(arr, "add", word) for _ in range(10_000)]
    assert all(r.get() is True for r in results)
    assert arr.size() == 10_000


def test_an_import_changes_what_a_cached_short_name_means(fresh_client):
    """Resolved names are cached on the view; java_import must invalidate them."""
    jvm = fresh_client.jvm
    with pytest.raises(gatun.JavaException):
        jvm.StringBuilder("x")  # no such top-level class, and the node is now cached
    gatun.java_import(jvm, "java.lang.StringBuilder")
    assert str(jvm.StringBuilder("x")) == "x"
    math = jvm.java.lang.Math
    assert jvm.java.lang.Math is math, "navigation resolves each name once"


def test_a_java_exception_str_is_its_java_stack_trace(client: gatun.GatunClient) -> None:
    with pytest.raises(gatun.JavaNumberFormatException) as info:
        client.jvm.java.lang.Integer.parseInt("x")
    text = str(info.value)
    assert text.startswith('java.lang.NumberFormatException: For input string: "x"\n')
    assert "\tat java.base/java.lang.Integer.parseInt" in text
    assert info.value.message == 'For input string: "x"'


def test_an_object_of_another_client_is_refused_not_mistaken(client: gatun.GatunClient) -> None:
    """Object ids are per session: another client's proxy must not be read as
    whatever this session holds under the same id."""
    mine = client.jvm.java.util.ArrayList()
    mine.add("mine")
    with gatun.connect() as other:
        theirs = other.jvm.java.util.ArrayList()
        theirs.add("theirs")
        with pytest.raises(ValueError, match="another gatun client"):
            client.jvm.java.lang.String.valueOf(theirs)
        with pytest.raises(ValueError, match="another gatun client"):
            mine.addAll(theirs)
        with pytest.raises(ValueError, match="another gatun client"):
            client.invoke_method(theirs, "size")
        with pytest.raises(ValueError, match="another gatun client"):
            client.is_instance_of(theirs, "java.util.List")
        # Each still works with its own client.
        assert other.invoke_method(theirs, "size") == 1
    assert list(mine) == ["mine"]


def test_java_import_of_a_non_string_names_the_expected_type(client: gatun.GatunClient) -> None:
    from gatun import java_import

    with pytest.raises(TypeError, match=r"needs the import as a str .* not int"):
        java_import(client.jvm, 123)  # type: ignore[arg-type]
