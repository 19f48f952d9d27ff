"""Python-side values of the bridge: proxies for Java objects and the wrappers
for Java arrays, lists and overload hints.

A :class:`JavaObject` is a native :class:`gatun._native.ObjectRef` plus the
client that owns it; its id is released by the native core when the last
Python reference dies. Proxies reach the session through the client's
:class:`~gatun._session._Session`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

from gatun import _actions, _native
from gatun import arrow as _arrow
from gatun.exceptions import BridgeClosedError, JavaNoSuchMethodException

if TYPE_CHECKING:
    from gatun.client import GatunClient

__all__ = ["ELEMENT_TYPES", "JavaArray", "JavaList", "JavaObject", "TypeHint", "object_id_of"]

#: Element types a :class:`JavaArray` can have: the native core's table, whose
#: ``"Boolean"`` is only an accepted spelling of ``"Bool"``.
ELEMENT_TYPES: Final[frozenset[str]] = frozenset(_native.ELEMENT_TYPES) - {"Boolean"}

_ARRAY_CLASS: Final = "java.lang.reflect.Array"
_INVOKE: Final = _actions.INVOKE_METHOD


def object_id_of(obj: JavaObject | int, native: Any = None) -> int:
    """The object id of a proxy, or ``obj`` itself when it is already an id.
    With ``native`` (a session), a proxy of another session is refused: its id
    names another object, or none, there."""
    if isinstance(obj, _native.ObjectRef):
        if native is not None and not obj._in_session(native):
            raise ValueError(
                f"a Java object of another gatun client was passed to this one ({obj.class_name} "
                f"#{obj.object_id} of that client's session): objects live in the session "
                "that made them"
            )
        return obj.object_id
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj
    raise TypeError(f"expected a JavaObject or an object id, not {type(obj).__name__}")


class _BoundJavaMethod:
    """``obj.name`` before it is called: a Java instance method bound to ``obj``."""

    __slots__ = ("_name", "_obj")

    def __init__(self, obj: JavaObject, name: str) -> None:
        self._obj = obj
        self._name = name

    def __call__(self, *args: Any) -> Any:
        # Straight to the native request, as `client.invoke_method` would.
        obj = self._obj
        session = obj._client._session
        if session.unusable is not None:
            raise BridgeClosedError(session.unusable)
        return session.native.request(_INVOKE, obj.object_id, None, self._name, args, False)

    def __repr__(self) -> str:
        return f"<Java method {self._name} of {self._obj!r}>"


class JavaObject(_native.ObjectRef):
    """A reference to an object living in the JVM.

    Attribute access calls Java methods (``obj.add("x")``); ``str()`` is
    ``toString()``, ``==`` is ``equals()`` and ``hash()`` is ``hashCode()``.
    As with Py4J, Java collections behave like their Python kin: a ``Map``
    as a mapping (``m[k]``, ``m[k] = v``, ``del m[k]``, ``k in m``,
    ``len``, iteration over keys, ``keys()``, ``items()``, ``dict(m)``), a
    ``List`` or an array as a sequence (indexing with negative indices,
    slices, ``len``, ``in``), a ``Set`` or other ``Collection`` as a
    collection, an ``Iterator`` or ``Enumeration`` as an iterator.
    ``dir(obj)`` lists the Java members.

    >>> lst = client.jvm.java.util.ArrayList()   # doctest: +SKIP
    >>> lst.add("a"); lst[-1]                    # doctest: +SKIP
    'a'
    >>> m = client.jvm.java.util.HashMap(); m["k"] = 1; dict(m)   # doctest: +SKIP
    {'k': 1}
    """

    __slots__ = ("_client",)
    _client: GatunClient

    def __new__(cls, client: GatunClient, object_id: int, class_name: str) -> JavaObject:
        self = super().__new__(cls, client._session.native, object_id, class_name)
        self._client = client
        return self  # type: ignore[return-value]

    # -- method calls -----------------------------------------------------

    def __getattr__(self, name: str) -> _BoundJavaMethod:
        if name.startswith("_"):
            raise AttributeError(name)
        return _BoundJavaMethod(self, name)

    def _kind(self) -> str:
        """The Python protocol this object follows (``"map"``, ``"list"``,
        ``"set"``, ``"iterator"``, ``"collection"``, ``"iterable"``,
        ``"object"``, or ``"array"``), asked once per class and client."""
        if self.is_array:
            return "array"
        kinds = self._client._kinds
        kind = kinds.get(self.class_name)
        if kind is None:
            kind = str(self._client.invoke_static_method(_VIEWS, "kindOf", self))
            kinds[self.class_name] = kind
        return kind

    def __dir__(self) -> list[str]:
        names = self._client.invoke_static_method(
            _VIEWS, "members", self._client.invoke_method(self, "getClass"), False
        )
        return sorted(set(super().__dir__()) | {str(n) for n in names})

    def keys(self) -> Any:
        """A ``Map``'s keys (a list, in the map's order); on any other object,
        the Java method ``keys()``."""
        if self._kind() == "map":
            return list(self._client.invoke_static_method(_VIEWS, "keys", self))
        return self._client.invoke_method(self, "keys")

    def items(self) -> Any:
        """A ``Map``'s ``(key, value)`` pairs (a list, in the map's order); on
        any other object, the Java method ``items()``."""
        if self._kind() == "map":
            flat = list(self._client.invoke_static_method(_VIEWS, "items", self))
            return list(zip(flat[0::2], flat[1::2], strict=True))
        return self._client.invoke_method(self, "items")

    def __next__(self) -> Any:
        """The next element of a Java ``Iterator`` or ``Enumeration``."""
        if self._kind() != "iterator":
            raise TypeError(f"{self.class_name} is not an Iterator")
        step = self._client.invoke_static_method(_VIEWS, "next", self)
        if not step[0]:
            raise StopIteration
        return step[1]

    def detach(self) -> None:
        """Never release this object from Python; it lives until the session ends."""
        self._detach()

    @property
    def client(self) -> GatunClient:
        """The client this object belongs to (upstream's attribute; it hides
        a Java method named ``client()``, which ``invoke_method`` still reaches)."""
        return self._client

    @property
    def is_array(self) -> bool:
        """Whether this is a Java array (``Object[]``, ``String[]``, ...)."""
        return self.class_name.startswith("[")

    # -- Arrow producer ---------------------------------------------------

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """A proxy of a ``VectorSchemaRoot``, ``FieldVector`` or ``ArrowReader``
        is an Arrow stream (``pa.table(root)``, ``polars.from_arrow(root)``,
        DuckDB): the data crosses by value, as if a Java method returned it
        (a reader is read as pyarrow asks, and closed when dropped). Any other
        object raises ``JavaIllegalArgumentException``."""
        return _arrow.java_stream(self._client, self).__arrow_c_stream__(requested_schema)

    def __arrow_c_array__(self, requested_schema: object | None = None) -> tuple[object, object]:
        """A proxy of a ``FieldVector`` is an Arrow array, one of a
        ``VectorSchemaRoot`` a struct array of its columns (``pa.array(vector)``,
        ``pa.record_batch(root)``); a reader is a stream only
        (``JavaIllegalArgumentException``, the reader left unread)."""
        return _arrow.java_array(self._client, self).__arrow_c_array__(requested_schema)

    # -- Python protocols -------------------------------------------------

    def __str__(self) -> str:
        return str(self._client.invoke_method(self, "toString"))

    def __repr__(self) -> str:
        return f"<JavaObject {self.class_name} id={self.object_id}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JavaObject):
            return NotImplemented
        if other.object_id == self.object_id:
            return True
        return bool(self._client.invoke_method(self, "equals", other))

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return int(self._client.invoke_method(self, "hashCode"))

    def __bool__(self) -> bool:
        # As Python's containers and Py4J's collections: an empty one is false.
        if not self._client.closed and self._kind() in (
            "map",
            "list",
            "set",
            "collection",
            "array",
        ):
            return len(self) != 0
        return True

    def __len__(self) -> int:
        if self.is_array:
            return int(self._client.invoke_static_method(_ARRAY_CLASS, "getLength", self))
        try:
            return int(self._client.invoke_method(self, "size"))
        except JavaNoSuchMethodException:
            # TypeError, as for any Python object without a length; list()
            # then falls back to plain iteration.
            raise TypeError(f"{self.class_name} has no size() and is not an array") from None

    def __iter__(self) -> Iterator[Any]:
        kind = self._kind()
        if kind == "array":
            return iter(self._array_items(range(len(self))))
        if kind == "map":
            return iter(self.keys())
        if kind == "iterator":
            return self  # type: ignore[return-value]
        return self._iterate()

    def _iterate(self) -> Iterator[Any]:
        iterator = self._client.invoke_method(self, "iterator", return_object_ref=True)
        while iterator.hasNext():
            yield iterator.next()

    def _array_items(self, indices: range) -> list[Any]:
        """Elements at ``indices`` in one round trip."""
        calls = [(_ARRAY_CLASS, "get", (self, i)) for i in indices]
        return self._client._session.static_calls(calls)

    def __contains__(self, item: object) -> bool:
        kind = self._kind()
        if kind == "array":
            return any(element == item for element in self)
        if kind == "map":
            return bool(self._client.invoke_method(self, "containsKey", item))
        return bool(self._client.invoke_method(self, "contains", item))

    def _normalise_index(self, index: int) -> int:
        if index < 0:
            index += len(self)
            if index < 0:
                raise IndexError(f"index {index - len(self)} out of range for {self!r}")
        return index

    def __getitem__(self, index: Any) -> Any:
        if self._kind() == "map":
            value = self._client.invoke_method(self, "get", index)
            if value is None and not self._client.invoke_method(self, "containsKey", index):
                raise KeyError(index)
            return value
        if isinstance(index, slice):
            indices = range(*index.indices(len(self)))
            if self.is_array:
                return self._array_items(indices)
            return [self._client.invoke_method(self, "get", i) for i in indices]
        position = self._normalise_index(int(index))
        if self.is_array:
            return self._client.invoke_static_method(_ARRAY_CLASS, "get", self, position)
        return self._client.invoke_method(self, "get", position)

    def __setitem__(self, index: Any, value: Any) -> None:
        if self._kind() == "map":
            self._client.invoke_method(self, "put", index, value)
            return
        position = self._normalise_index(int(index))
        if self.is_array:
            self._client.invoke_static_method(_ARRAY_CLASS, "set", self, position, value)
        else:
            self._client.invoke_method(self, "set", position, value)

    def __delitem__(self, key: Any) -> None:
        kind = self._kind()
        if kind == "list":
            # An int picks List.remove(int index), as Py4J's ``del lst[i]``.
            self._client.invoke_method(self, "remove", self._normalise_index(int(key)))
            return
        if kind != "map":
            raise TypeError(f"{self.class_name} does not support item deletion; call its remove()")
        if not self._client.invoke_method(self, "containsKey", key):
            raise KeyError(key)
        self._client.invoke_method(self, "remove", key)


_VIEWS = "gatun.server.reflect.PythonViews"


class JavaArray(list):  # type: ignore[type-arg]
    """A Java array carried by value: a Python list plus its element type.

    Returned for primitive Java arrays (``int[]`` -> ``element_type="Int"``)
    and passed to Java as a real array of that type.

    >>> JavaArray([1, 2, 3], element_type="Int").length
    3
    """

    element_type: str

    def __init__(self, iterable: Iterable[Any] = (), element_type: str = "Object") -> None:
        if element_type == "Boolean":
            element_type = "Bool"
        if element_type not in ELEMENT_TYPES:
            expected = ", ".join(sorted(ELEMENT_TYPES))
            raise ValueError(f"unknown element_type {element_type!r}; expected one of {expected}")
        super().__init__(iterable)
        self.element_type = element_type

    @property
    def length(self) -> int:
        """Number of elements, like Java's ``array.length``."""
        return len(self)

    def size(self) -> int:
        """Number of elements."""
        return len(self)

    def __repr__(self) -> str:
        return f"JavaArray({list.__repr__(self)}, element_type={self.element_type!r})"


class JavaList(list):  # type: ignore[type-arg]
    """A ``java.util.List`` result copied into Python, with the common Java
    accessors kept for code written against Java."""

    def size(self) -> int:
        """Number of elements."""
        return len(self)

    def isEmpty(self) -> bool:
        """Whether the list has no elements."""
        return not self

    def get(self, index: int) -> Any:
        """Element at ``index``."""
        return self[index]

    def contains(self, item: object) -> bool:
        """Whether ``item`` is an element."""
        return item in self


class TypeHint:
    """A value with the Java type to use for overload resolution.

    >>> TypeHint(5, "long")
    TypeHint(5, 'long')
    """

    __slots__ = ("java_type", "value")

    def __init__(self, value: Any, java_type: str) -> None:
        self.value = value
        self.java_type = java_type

    def __repr__(self) -> str:
        return f"TypeHint({self.value!r}, {self.java_type!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TypeHint):
            return NotImplemented
        return (self.value, self.java_type) == (other.value, other.java_type)

    def __hash__(self) -> int:
        return hash((TypeHint, self.java_type))
