"""Java collections behave like their Python kin, as Py4J's do (issue 16,
item 2), and dir() lists what the JVM can tell."""

from __future__ import annotations

import pytest

import gatun


def test_a_map_is_a_mapping(client: gatun.GatunClient) -> None:
    m = client.jvm.java.util.LinkedHashMap()
    m["a"] = 1
    m["b"] = [1, 2]
    m[3] = "three"
    assert m["a"] == 1
    assert m[3] == "three"
    assert len(m) == 3
    assert "a" in m
    assert 3 in m
    assert "z" not in m
    assert list(m) == ["a", "b", 3]
    assert m.keys() == ["a", "b", 3]
    assert m.items() == [("a", 1), ("b", [1, 2]), (3, "three")]
    assert dict(m) == {"a": 1, "b": [1, 2], 3: "three"}
    del m["a"]
    assert "a" not in m
    assert len(m) == 2
    with pytest.raises(KeyError):
        m["missing"]
    with pytest.raises(KeyError):
        del m["missing"]
    m["n"] = None  # a key mapped to null is there
    assert m["n"] is None
    assert "n" in m
    assert m.get("b") == [1, 2]  # Java's own methods still answer
    assert m.size() == 3


def test_a_list_is_a_sequence(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList([10, 20, 30, 40])
    assert lst[0] == 10
    assert lst[-1] == 40
    assert lst[1:3] == [20, 30]
    assert lst[::-2] == [40, 20]
    assert len(lst) == 4
    assert 30 in lst
    assert 50 not in lst
    lst[-1] = 41
    assert list(lst) == [10, 20, 30, 41]
    with pytest.raises(IndexError):
        lst[-5]


def test_sets_and_iterators(client: gatun.GatunClient) -> None:
    s = client.jvm.java.util.TreeSet()
    for x in (3, 1, 2):
        s.add(x)
    assert len(s) == 3
    assert 2 in s
    assert 5 not in s
    assert list(s) == [1, 2, 3]
    assert set(s) == {1, 2, 3}
    it = client.jvm.java.util.ArrayList(["x", "y"]).iterator()
    assert next(it) == "x"
    assert list(it) == ["y"]
    with pytest.raises(StopIteration):
        next(it)
    enumeration = client.jvm.java.util.Collections.enumeration(client.jvm.java.util.ArrayList([5]))
    assert list(enumeration) == [5]
    with pytest.raises(TypeError, match="not an Iterator"):
        next(client.jvm.java.util.ArrayList())


def test_dir_lists_java_members_and_package_contents(client: gatun.GatunClient) -> None:
    lst = client.jvm.java.util.ArrayList()
    assert {"add", "size", "subList"} <= set(dir(lst))
    assert {"ArrayList", "HashMap", "concurrent", "function"} <= set(dir(client.jvm.java.util))
    assert {"max", "PI"} <= set(dir(client.jvm.java.lang.Math))
    assert "Entry" in dir(client.jvm.java.util.Map)
    # Classes of the bridge's own jar come from the class path.
    assert "ArrowBridge" in dir(client.jvm.gatun.server.arrow)


def test_an_empty_java_collection_is_false_as_in_python(client: gatun.GatunClient) -> None:
    jvm = client.jvm
    empty_list, full_list = jvm.java.util.ArrayList(), jvm.java.util.ArrayList()
    full_list.add(1)
    empty_map, empty_set = jvm.java.util.HashMap(), jvm.java.util.HashSet()
    assert not empty_list
    assert full_list
    assert not empty_map
    assert not empty_set
    # Any other object is true, whatever it holds.
    assert jvm.java.lang.StringBuilder()


def test_del_removes_a_list_item_by_index(client: gatun.GatunClient) -> None:
    numbers = client.jvm.java.util.ArrayList()
    for n in (10, 20, 30):
        numbers.add(n)
    del numbers[1]
    assert list(numbers) == [10, 30]
    del numbers[-1]
    assert list(numbers) == [10]
    with pytest.raises(IndexError):
        del numbers[5]
