"""The backend-neutral bridge contract of upstream Gatun (``gatun.bridge``):
:class:`BridgeAdapter`, :class:`JVMRef`, :class:`JVMView` and the exceptions
an adapter raises. :class:`gatun.bridge_adapters.GatunAdapter` implements it.

The exception classes here are upstream's own hierarchy for adapter code
(``str()`` is ``"java_class: message"``), and each is **also** a subclass of
the matching :mod:`gatun.exceptions` class, so ``except
gatun.JavaSecurityException`` and ``except gatun.bridge.JavaSecurityException``
both catch what an adapter raises.
"""

from __future__ import annotations

import abc
from typing import Any, Protocol, runtime_checkable

from gatun import exceptions as _exc
from gatun import jvm as _jvm

__all__ = [
    "JAVA_EXCEPTION_MAP",
    "BridgeAdapter",
    "JVMRef",
    "JVMView",
    "JavaClassNotFoundException",
    "JavaException",
    "JavaIllegalArgumentException",
    "JavaIndexOutOfBoundsException",
    "JavaNoSuchFieldException",
    "JavaNoSuchMethodException",
    "JavaNullPointerException",
    "JavaNumberFormatException",
    "JavaSecurityException",
    "convert_exception",
]


@runtime_checkable
class JVMRef(Protocol):
    """An opaque reference to a JVM object: anything with an ``object_id``
    (a :class:`gatun.JavaObject` is one)."""

    @property
    def object_id(self) -> int:
        """The object's id in its session."""
        ...


class JVMView(abc.ABC):
    """Package-style navigation of the JVM (``bridge.jvm.java.util.ArrayList()``).

    gatun's own views (``client.jvm`` and the nodes it returns) are registered
    as implementations.
    """

    @abc.abstractmethod
    def __getattr__(self, name: str) -> Any:
        """A sub-package, a class, or a static member."""

    @abc.abstractmethod
    def __call__(self, *args: Any) -> Any:
        """Construct the class (or call the static method) this view names."""


JVMView.register(_jvm.JVMView)
JVMView.register(_jvm.JVMNode)


class BridgeAdapter(abc.ABC):
    """What a JVM bridge offers to code that should not care which one it is."""

    @abc.abstractmethod
    def new(self, class_name: str, *args: Any) -> Any:
        """``new class_name(*args)``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the bridge; later calls fail."""

    @abc.abstractmethod
    def detach(self, ref: Any) -> None:
        """Never release ``ref`` from Python (it lives as long as its session)."""

    @abc.abstractmethod
    def call(self, ref: Any, method: str, *args: Any) -> Any:
        """``ref.method(*args)``."""

    @abc.abstractmethod
    def call_static(self, class_name: str, method: str, *args: Any) -> Any:
        """``class_name.method(*args)``."""

    @abc.abstractmethod
    def get_field(self, ref: Any, name: str) -> Any:
        """``ref.name``."""

    @abc.abstractmethod
    def set_field(self, ref: Any, name: str, value: Any) -> None:
        """``ref.name = value``."""

    @abc.abstractmethod
    def get_static_field(self, class_name: str, name: str) -> Any:
        """``class_name.name``."""

    @abc.abstractmethod
    def set_static_field(self, class_name: str, name: str, value: Any) -> None:
        """``class_name.name = value``."""

    @abc.abstractmethod
    def is_instance_of(self, ref: Any, class_name: str) -> bool:
        """``ref instanceof class_name`` (interfaces too)."""

    @abc.abstractmethod
    def new_array(self, element_class: str, length: int) -> Any:
        """A Java array ``new element_class[length]``, kept in the JVM
        (``element_class`` may be a primitive: ``"int"``, ``"long"``, ...)."""

    @abc.abstractmethod
    def array_get(self, array_ref: Any, index: int) -> Any:
        """``array_ref[index]``."""

    @abc.abstractmethod
    def array_set(self, array_ref: Any, index: int, value: Any) -> None:
        """``array_ref[index] = value``."""

    @abc.abstractmethod
    def array_length(self, array_ref: Any) -> int:
        """``array_ref.length``."""

    @property
    @abc.abstractmethod
    def jvm(self) -> Any:
        """A :class:`JVMView` of the root package."""

    @abc.abstractmethod
    def java_import(self, package: str) -> None:
        """Make ``package.*`` (or one ``package.Class``) reachable by short name on :attr:`jvm`."""


class JavaException(_exc.JavaException):
    """A Java exception raised through a :class:`BridgeAdapter`;
    ``str()`` is ``"java_class: message"`` (``stack_trace`` has the trace)."""

    def __str__(self) -> str:
        return f"{self.java_class}: {self.message}"


class JavaSecurityException(JavaException, _exc.JavaSecurityException):
    """``java.lang.SecurityException`` (the class policy refused a class or member)."""


class JavaIllegalArgumentException(JavaException, _exc.JavaIllegalArgumentException):
    """``java.lang.IllegalArgumentException``."""


class JavaNumberFormatException(JavaIllegalArgumentException, _exc.JavaNumberFormatException):
    """``java.lang.NumberFormatException``."""


class JavaNoSuchMethodException(JavaException, _exc.JavaNoSuchMethodException):
    """``java.lang.NoSuchMethodException``."""


class JavaNoSuchFieldException(JavaException, _exc.JavaNoSuchFieldException):
    """``java.lang.NoSuchFieldException``."""


class JavaClassNotFoundException(JavaException, _exc.JavaClassNotFoundException):
    """``java.lang.ClassNotFoundException``."""


class JavaNullPointerException(JavaException, _exc.JavaNullPointerException):
    """``java.lang.NullPointerException``."""


class JavaIndexOutOfBoundsException(JavaException, _exc.JavaIndexOutOfBoundsException):
    """``IndexOutOfBoundsException`` and its array/string variants."""


#: Java class name -> the bridge exception raised for it (upstream's table).
JAVA_EXCEPTION_MAP: dict[str, type[JavaException]] = {
    "java.lang.SecurityException": JavaSecurityException,
    "java.lang.IllegalArgumentException": JavaIllegalArgumentException,
    "java.lang.NumberFormatException": JavaNumberFormatException,
    "java.lang.NoSuchMethodException": JavaNoSuchMethodException,
    "java.lang.NoSuchFieldException": JavaNoSuchFieldException,
    "java.lang.ClassNotFoundException": JavaClassNotFoundException,
    "java.lang.NullPointerException": JavaNullPointerException,
    "java.lang.IndexOutOfBoundsException": JavaIndexOutOfBoundsException,
    "java.lang.ArrayIndexOutOfBoundsException": JavaIndexOutOfBoundsException,
    "java.lang.StringIndexOutOfBoundsException": JavaIndexOutOfBoundsException,
}

# Most specific first: a subclass of a mapped Java exception (gatun places
# it under the closest Python class) gets the matching bridge class.
_BY_GATUN_CLASS: tuple[tuple[type[_exc.JavaException], type[JavaException]], ...] = (
    (_exc.JavaNumberFormatException, JavaNumberFormatException),
    (_exc.JavaIndexOutOfBoundsException, JavaIndexOutOfBoundsException),
    (_exc.JavaSecurityException, JavaSecurityException),
    (_exc.JavaIllegalArgumentException, JavaIllegalArgumentException),
    (_exc.JavaNullPointerException, JavaNullPointerException),
    (_exc.JavaNoSuchMethodException, JavaNoSuchMethodException),
    (_exc.JavaNoSuchFieldException, JavaNoSuchFieldException),
    (_exc.JavaClassNotFoundException, JavaClassNotFoundException),
)


def convert_exception(exc: _exc.JavaException) -> JavaException:
    """The bridge exception for a gatun :class:`~gatun.JavaException`."""
    if isinstance(exc, JavaException):
        return exc
    cls = JAVA_EXCEPTION_MAP.get(exc.java_class)
    if cls is None:
        cls = next((b for g, b in _BY_GATUN_CLASS if isinstance(exc, g)), JavaException)
    return cls(exc.java_class, exc.message, exc.stack_trace)
