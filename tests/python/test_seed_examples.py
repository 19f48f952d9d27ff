"""The examples of upstream Gatun's README, kept verbatim.

Only changes: ``print(x)  # value`` became ``assert x == value``, a comment
giving a result got an ``assert`` after it, and a ``client.close()`` was added
where the example left the JVM running. Each example starts its own JVM.
"""

from __future__ import annotations

import pytest


def test_quick_start() -> None:
    from gatun import connect

    # Auto-launch server and connect
    client = connect()

    # Create Java objects via JVM view
    ArrayList = client.jvm.java.util.ArrayList
    my_list = ArrayList()
    my_list.add("hello")
    my_list.add("world")
    assert my_list.size() == 2

    # Call static methods
    result = client.jvm.java.lang.Integer.parseInt("42")  # 42
    assert result == 42
    result = client.jvm.java.lang.Math.max(10, 20)  # 20
    assert result == 20

    # Clean up
    client.close()


def test_java_import_for_shorter_paths() -> None:
    from gatun import connect, java_import

    client = connect()

    # Wildcard import
    java_import(client.jvm, "java.util.*")
    arr = client.jvm.ArrayList()  # instead of client.jvm.java.util.ArrayList()
    arr.add("hello")

    # Single class import
    java_import(client.jvm, "java.lang.StringBuilder")
    sb = client.jvm.StringBuilder("hello")
    assert sb.toString() == "hello"

    client.close()


def test_collections() -> None:
    from gatun import connect, java_import

    client = connect()

    # HashMap
    hm = client.jvm.java.util.HashMap()
    hm.put("key1", "value1")
    hm.put("key2", 42)
    assert hm.get("key1") == "value1"
    assert hm.size() == 2

    # TreeMap (sorted keys)
    tm = client.jvm.java.util.TreeMap()
    tm.put("zebra", 1)
    tm.put("apple", 2)
    tm.put("mango", 3)
    assert tm.firstKey() == "apple"
    assert tm.lastKey() == "zebra"

    # HashSet (no duplicates)
    hs = client.jvm.java.util.HashSet()
    hs.add("a")
    hs.add("b")
    hs.add("a")  # duplicate ignored
    assert hs.size() == 2
    assert hs.contains("a") is True

    # Collections utility methods
    java_import(client.jvm, "java.util.*")
    arr = client.jvm.ArrayList()
    arr.add("banana")
    arr.add("apple")
    arr.add("cherry")
    client.jvm.Collections.sort(arr)  # ["apple", "banana", "cherry"]
    assert list(arr) == ["apple", "banana", "cherry"]
    client.jvm.Collections.reverse(arr)  # ["cherry", "banana", "apple"]
    assert list(arr) == ["cherry", "banana", "apple"]

    # Arrays.asList (returns Python list)
    result = client.jvm.java.util.Arrays.asList("a", "b", "c")  # ['a', 'b', 'c']
    assert result == ["a", "b", "c"]

    client.close()


def test_string_operations() -> None:
    from gatun import connect

    client = connect()

    # StringBuilder
    sb = client.jvm.java.lang.StringBuilder("Hello")
    sb.append(" ")
    sb.append("World!")
    assert sb.toString() == "Hello World!"

    # String static methods
    result = client.jvm.java.lang.String.valueOf(123)  # "123"
    assert result == "123"
    result = client.jvm.java.lang.String.format("Hello %s, you have %d messages", "Alice", 5)
    # "Hello Alice, you have 5 messages"
    assert result == "Hello Alice, you have 5 messages"

    client.close()


def test_math_operations() -> None:
    from gatun import connect

    client = connect()

    Math = client.jvm.java.lang.Math
    assert Math.abs(-42) == 42
    assert Math.min(5, 3) == 3
    assert Math.max(10, 20) == 20
    assert Math.pow(2.0, 10.0) == 1024.0  # (note: use floats for double params)
    assert Math.sqrt(16.0) == 4.0

    client.close()


def test_integer_utilities() -> None:
    from gatun import connect

    client = connect()

    Integer = client.jvm.java.lang.Integer
    assert Integer.parseInt("42") == 42
    assert Integer.valueOf("123") == 123
    assert Integer.toBinaryString(255) == "11111111"
    assert Integer.MAX_VALUE == 2147483647  # (static field)

    client.close()


def test_passing_python_collections() -> None:
    from gatun import connect

    client = connect()

    arr = client.jvm.java.util.ArrayList()
    arr.add([1, 2, 3])  # Converted to Java List
    arr.add({"name": "Alice", "age": 30})  # Converted to Java Map
    assert arr.size() == 2

    client.close()


def test_type_checking_with_is_instance_of() -> None:
    from gatun import connect

    client = connect()

    arr = client.create_object("java.util.ArrayList")
    assert client.is_instance_of(arr, "java.util.List") is True
    assert client.is_instance_of(arr, "java.util.Collection") is True
    assert client.is_instance_of(arr, "java.util.Map") is False

    client.close()


def test_pythonic_java_collections() -> None:
    from gatun import connect

    client = connect()

    arr = client.jvm.java.util.ArrayList()
    arr.add("a")
    arr.add("b")
    arr.add("c")

    # Iterate
    seen = []
    for item in arr:
        seen.append(item)  # "a", "b", "c"
    assert seen == ["a", "b", "c"]

    # Index access
    assert arr[0] == "a"
    assert arr[1] == "b"

    # Length
    assert len(arr) == 3

    # Convert to Python list
    items = list(arr)  # ["a", "b", "c"]
    assert items == ["a", "b", "c"]

    client.close()


def test_batch_api() -> None:
    from gatun import connect

    client = connect()

    arr = client.create_object("java.util.ArrayList")

    # Batch 100 operations in one round-trip (6x faster than individual calls)
    with client.batch() as b:
        for i in range(100):
            b.call(arr, "add", i)
        size_result = b.call(arr, "size")

    assert size_result.get() == 100

    # Mix different operation types
    with client.batch() as b:
        obj = b.create("java.util.HashMap")
        r1 = b.call_static("java.lang.Integer", "parseInt", "42")
        r2 = b.call_static("java.lang.Math", "max", 10, 20)

    assert r1.get() == 42
    assert r2.get() == 20

    # Error handling: continue on error (default) or stop on first error
    with client.batch(stop_on_error=True) as b:
        r1 = b.call(arr, "add", "valid")
        r2 = b.call_static("java.lang.Integer", "parseInt", "invalid")  # Will error
        r3 = b.call(arr, "size")  # Skipped when stop_on_error=True
    assert r1.get() is True
    assert r2.is_error
    assert r3.skipped
    from gatun import BatchSkippedError

    with pytest.raises(BatchSkippedError, match="stop_on_error"):
        r3.get()  # a skipped command has no value (None would read as a Java null)

    client.close()


def test_vectorized_apis() -> None:
    from gatun import connect

    client = connect()

    # invoke_methods - Multiple calls on same object in one round-trip
    arr = client.create_object("java.util.ArrayList")
    results = client.invoke_methods(
        arr,
        [
            ("add", ("a",)),
            ("add", ("b",)),
            ("add", ("c",)),
            ("size", ()),
        ],
    )
    # results = [True, True, True, 3]
    assert results == [True, True, True, 3]

    # create_objects - Create multiple objects in one round-trip
    list1, map1, set1 = client.create_objects(
        [
            ("java.util.ArrayList", ()),
            ("java.util.HashMap", ()),
            ("java.util.HashSet", ()),
        ]
    )
    assert list1.class_name == "java.util.ArrayList"
    assert set1.class_name == "java.util.HashSet"

    client.close()


def test_java_array_for_primitive_arrays() -> None:
    import pyarrow as pa

    from gatun import JavaArray, connect

    client = connect()

    # Primitive arrays from Java are JavaArray instances
    original = pa.array([1, 2, 3], type=pa.int32())
    int_array = client.jvm.java.util.Arrays.copyOf(original, 3)
    assert isinstance(int_array, JavaArray) is True
    assert int_array.element_type == "Int"
    assert list(int_array) == [1, 2, 3]

    # Create typed arrays manually for passing to Java
    int_array = JavaArray([1, 2, 3], element_type="Int")
    str_array = JavaArray(["a", "b"], element_type="String")
    result = client.jvm.java.util.Arrays.toString(int_array)  # "[1, 2, 3]"
    assert result == "[1, 2, 3]"

    client.close()


def test_object_arrays_as_java_object() -> None:
    from gatun import connect

    client = connect()

    # Object arrays from toArray() are JavaObject (not JavaArray)
    arr = client.jvm.java.util.ArrayList()
    arr.add("x")
    arr.add("y")
    java_array = arr.toArray()  # Returns JavaObject

    # Use len() and iteration (not .size() or .length)
    assert len(java_array) == 2
    assert java_array[0] == "x"
    assert list(java_array) == ["x", "y"]

    # Can still pass back to Java methods
    result = client.jvm.java.util.Arrays.toString(java_array)  # "[x, y]"
    assert result == "[x, y]"

    client.close()


def test_low_level_api() -> None:
    from gatun import connect

    client = connect()

    # Create objects
    obj = client.create_object("java.util.ArrayList")
    obj = client.create_object("java.util.ArrayList", 100)  # with capacity

    # Invoke methods
    client.invoke_method(obj.object_id, "add", "item")
    result = client.invoke_static_method("java.lang.Math", "max", 10, 20)
    assert result == 20

    # Access static fields
    max_int = client.get_field(client.jvm.java.lang.Integer, "MAX_VALUE")
    assert max_int == 2147483647

    # Vectorized operations (single round-trip for multiple operations)
    client.invoke_methods(obj, [("add", ("a",)), ("add", ("b",)), ("size", ())])
    client.create_objects([("java.util.ArrayList", ()), ("java.util.HashMap", ())])

    client.close()


def test_exception_handling() -> None:
    from gatun import (
        JavaClassNotFoundException,  # noqa: F401
        JavaException,  # noqa: F401
        JavaIllegalArgumentException,  # noqa: F401
        JavaIndexOutOfBoundsException,  # noqa: F401
        JavaNoSuchMethodException,  # noqa: F401
        JavaNullPointerException,  # noqa: F401
        JavaNumberFormatException,
        JavaSecurityException,  # noqa: F401
        connect,
    )

    client = connect()

    caught = None
    try:
        client.jvm.java.lang.Integer.parseInt("not_a_number")
    except JavaNumberFormatException as e:
        print(f"Parse error: {e}")
        caught = e
    assert caught is not None

    client.close()


def test_python_callbacks() -> None:
    from gatun import connect

    client = connect()

    def compare(a, b):
        return -1 if a < b else (1 if a > b else 0)

    comparator = client.register_callback(compare, "java.util.Comparator")

    arr = client.jvm.java.util.ArrayList()
    arr.add(3)
    arr.add(1)
    arr.add(2)
    client.jvm.java.util.Collections.sort(arr, comparator)
    # arr is now [1, 2, 3]
    assert list(arr) == [1, 2, 3]

    client.close()
