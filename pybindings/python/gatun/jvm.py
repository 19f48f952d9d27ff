"""Package-style navigation of the JVM: ``client.jvm.java.util.ArrayList()``.

Nodes are lazy dotted names. The server's ``Reflect`` action decides what a
name is (class, static method, static field) the first time it matters; the
answer is cached per session (:class:`~gatun._session._Session`), so a name
costs at most one round trip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from gatun import _actions
from gatun._layout import REFLECT_CLASS, REFLECT_FIELD, REFLECT_METHOD, REFLECT_NONE
from gatun.exceptions import BridgeClosedError

if TYPE_CHECKING:
    from gatun.client import GatunClient

__all__ = [
    "JVMNode",
    "JVMView",
    "JavaClass",
    "JavaPackage",
    "JavaStaticMethod",
    "class_name_of",
    "java_import",
]

_INVOKE_STATIC: Final = _actions.INVOKE_STATIC_METHOD


class JavaStaticMethod:
    """A static method of a Java class, callable like a function.

    Binding it once (``parse = jvm.java.lang.Integer.parseInt``) skips the name
    lookup on later calls.
    """

    # The client is kept so that it lives as long as the method does.
    __slots__ = ("_client", "_session", "class_name", "name")

    def __init__(self, client: GatunClient, class_name: str, name: str) -> None:
        self._client = client
        self._session = client._session
        self.class_name = class_name
        self.name = name

    def __call__(self, *args: Any) -> Any:
        # The hot path of a bound call: straight to the native request (what
        # `client.invoke_static_method` does, without its two extra frames,
        # about a microsecond of Python on a slow core).
        session = self._session
        if session.unusable is not None:
            raise BridgeClosedError(session.unusable)
        return session.native.request(_INVOKE_STATIC, 0, self.class_name, self.name, args, False)

    def __repr__(self) -> str:
        return f"<JavaStaticMethod {self.class_name}.{self.name}>"


class JVMNode:
    """A dotted name in the JVM: a package, a class or a member of a class."""

    # A __dict__ holds resolved children as plain attributes: after the first
    # lookup, `jvm.java.lang.Math.max` is ordinary attribute access instead of
    # a failed lookup plus __getattr__ at every level (about 1 us each).
    __slots__ = ("__dict__", "_client", "_path")

    def __init__(self, client: GatunClient, path: str) -> None:
        self._client = client
        self._path = path

    @property
    def path(self) -> str:
        """The full dotted name, e.g. ``"java.util.ArrayList"``."""
        return self._path

    @property
    def class_name(self) -> str:
        """The full dotted name (for use wherever a class name is expected)."""
        return self._path

    def _kind(self) -> str:
        return self._client._session.reflect(self._path)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        # Nodes and static methods are stateless, so each is resolved once and
        # kept as an attribute of its parent (static field values are not).
        child = f"{self._path}.{name}"
        member = _node(self._client, child)
        # Members are only looked up on names that look like classes; package
        # segments extend the path without a round trip.
        if _looks_like_class(self._path) and self._kind() == REFLECT_CLASS:
            kind = self._client._session.reflect(child)
            if kind == REFLECT_FIELD:  # a value: read it every time
                return self._client.get_static_field(self._path, name)
            nested = f"{self._path}${name}"
            if kind == REFLECT_METHOD:
                member = JavaStaticMethod(self._client, self._path, name)
            elif kind == REFLECT_CLASS or (
                kind == REFLECT_NONE
                and name[:1].isupper()
                and self._client._session.reflect(nested) == REFLECT_CLASS
            ):  # a nested class: use its binary name
                member = JavaClass(self._client, nested)
        self.__dict__[name] = member
        return member

    def __call__(self, *args: Any) -> Any:
        kind = self._kind()
        parent, _, name = self._path.rpartition(".")
        if kind == REFLECT_CLASS:
            return self._client.create_object(self._path, *args)
        if kind == REFLECT_METHOD:
            return self._client.invoke_static_method(parent, name, *args)
        if kind == REFLECT_FIELD:
            raise TypeError(f"{self._path} is a static field, not callable")
        # Unknown to Reflect: perform the most plausible operation and let the
        # server report precisely what is missing (class, method, or access).
        if parent and self._client._session.reflect(parent) == REFLECT_CLASS:
            return self._client.invoke_static_method(parent, name, *args)
        return self._client.create_object(self._path, *args)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._path}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JVMNode):
            return NotImplemented
        return self._path == other._path and self._client is other._client

    def __hash__(self) -> int:
        return hash(self._path)

    def __dir__(self) -> list[str]:
        """A package's classes and sub-packages as far as the class path can
        tell (the JDK's modules, jars and directories); a class's static
        members and nested classes."""
        own = ["class_name", "path"]
        try:
            if _looks_like_class(self._path) and self._kind() == REFLECT_CLASS:
                cls = self._client.invoke_static_method("java.lang.Class", "forName", self._path)
                names = self._client.invoke_static_method(_VIEWS, "members", cls, True)
            else:
                names = self._client.invoke_static_method(_VIEWS, "packageContents", self._path)
        except Exception:  # noqa: BLE001 - dir() must not raise for a name the JVM cannot list
            return own
        return sorted(set(own) | {str(n) for n in names})


_VIEWS = "gatun.server.reflect.PythonViews"


class JavaPackage(JVMNode):
    """A node whose name looks like a package (``java.util``)."""

    __slots__ = ()


class JavaClass(JVMNode):
    """A node whose name looks like a class (``java.util.ArrayList``).

    Calling it constructs an instance; attributes are its static members. It
    can be passed wherever the client expects a class (``client.get_field``,
    ``client.invoke_static_method``, ...).
    """

    __slots__ = ()

    def __init__(self, client: GatunClient, class_name: str) -> None:
        super().__init__(client, class_name)


def class_name_of(cls: str | JVMNode) -> str:
    """The class name of a name or a class node (``client.jvm.java.util.ArrayList``)."""
    if isinstance(cls, str):
        return cls
    if isinstance(cls, JVMNode):
        return cls.path
    raise TypeError(f"expected a class name or a class node, not {type(cls).__name__}")


def _looks_like_class(path: str) -> bool:
    last = path.rpartition(".")[2]
    return bool(last) and (last[0].isupper() or "$" in last)


def _node(client: GatunClient, path: str) -> JVMNode:
    return JavaClass(client, path) if _looks_like_class(path) else JavaPackage(client, path)


class JVMView:
    """The root of the JVM namespace for one client, plus its imports.

    >>> client.jvm.java.lang.Math.max(10, 20)   # doctest: +SKIP
    20
    """

    def __init__(self, client: GatunClient, package_path: str = "") -> None:
        """The root view of a client is ``client.jvm``. As upstream's,
        ``JVMView(client, "java.util")`` is a view of one package: its
        attributes are that package's members (imports apply to root views)."""
        self._client = client
        self._package = package_path.strip(".")
        # Short name -> full class name, from single-class imports.
        self._imports: dict[str, str] = {}
        # Packages imported with ".*", in import order.
        self._wildcards: list[str] = []
        # Short name -> full name (or None) resolved through the wildcards.
        self._resolved: dict[str, str | None] = {}

    def __getattr__(self, name: str) -> JVMNode:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._package:
            node = _node(self._client, f"{self._package}.{name}")
            self.__dict__[name] = node
            return node
        full = self._imports.get(name)
        if full is None and self._wildcards:
            full = self._resolve_wildcard(name)
        node = _node(self._client, full or name)
        self.__dict__[name] = node  # until an import changes what `name` means
        return node

    def _forget_roots(self) -> None:
        for name in [n for n in self.__dict__ if not n.startswith("_")]:
            del self.__dict__[name]

    def _resolve_wildcard(self, name: str) -> str | None:
        if name in self._resolved:
            return self._resolved[name]
        found = None
        for package in self._wildcards:
            candidate = f"{package}.{name}"
            if self._client._session.reflect(candidate) == REFLECT_CLASS:
                found = candidate
                break
        self._resolved[name] = found
        return found

    def _import(self, spec: str) -> None:
        spec = spec.strip()
        if spec.endswith(".*"):
            package = spec[:-2]
            if package and package not in self._wildcards:
                self._wildcards.append(package)
                self._resolved.clear()
                self._forget_roots()
        elif "." in spec:
            self._imports[spec.rpartition(".")[2]] = spec
            self._forget_roots()
        else:
            raise ValueError(f"cannot import {spec!r}: expected 'package.Class' or 'package.*'")

    def __repr__(self) -> str:
        return f"<JVMView of {self._client!r}>"


def java_import(jvm_view: JVMView, import_path: str) -> None:
    """Make classes reachable by short name on ``jvm_view``.

    ``"java.util.*"`` imports every class of a package (resolved on first use),
    ``"java.lang.StringBuilder"`` a single class. Imports belong to the view.

    >>> java_import(client.jvm, "java.util.*")   # doctest: +SKIP
    >>> client.jvm.ArrayList()                   # doctest: +SKIP
    <JavaObject java.util.ArrayList id=1>
    """
    if not isinstance(jvm_view, JVMView):
        raise TypeError(f"java_import needs a JVMView (client.jvm), not {type(jvm_view).__name__}")
    if not isinstance(import_path, str):
        raise TypeError(
            "java_import needs the import as a str ('package.Class' or 'package.*'), "
            f"not {type(import_path).__name__}"
        )
    jvm_view._import(import_path)
