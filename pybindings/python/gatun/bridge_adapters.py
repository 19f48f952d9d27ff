"""``GatunAdapter``: the :class:`~gatun.bridge.BridgeAdapter` contract over a
gatun session, as upstream's ``gatun.bridge_adapters``.

>>> from gatun.bridge_adapters import GatunAdapter      # doctest: +SKIP
>>> bridge = GatunAdapter(memory="256MB")               # doctest: +SKIP
>>> bridge.call_static("java.lang.Math", "max", 10, 20) # doctest: +SKIP
20
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gatun import exceptions as _exc
from gatun.bridge import BridgeAdapter, JVMRef, convert_exception
from gatun.client import GatunClient
from gatun.jvm import JVMView, java_import
from gatun.launcher import connect
from gatun.objects import JavaObject

__all__ = ["BridgeAdapter", "GatunAdapter", "JVMRef"]

_F = TypeVar("_F", bound=Callable[..., Any])

_ARRAY = "java.lang.reflect.Array"

# Primitive element types: their Class objects are the wrappers' TYPE fields.
_PRIMITIVE_CLASSES = {
    "int": "java.lang.Integer",
    "long": "java.lang.Long",
    "double": "java.lang.Double",
    "float": "java.lang.Float",
    "boolean": "java.lang.Boolean",
    "byte": "java.lang.Byte",
    "short": "java.lang.Short",
    "char": "java.lang.Character",
}


def _bridged(method: _F) -> _F:
    """Raise Java exceptions as :mod:`gatun.bridge`'s classes (which are
    also the matching :mod:`gatun.exceptions` classes)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except _exc.JavaException as e:
            raise convert_exception(e) from None

    return wrapper  # type: ignore[return-value]


class GatunAdapter(BridgeAdapter):
    """:class:`~gatun.bridge.BridgeAdapter` over a gatun session.

    ``GatunAdapter(memory, classpath)`` launches its own JVM (``classpath``
    is honoured, unlike upstream's); ``GatunAdapter(client=c)`` wraps an
    existing client; other keywords go to :func:`gatun.connect`.
    :meth:`close` closes the client, which stops a JVM the adapter launched.
    """

    def __init__(
        self,
        memory: str | int | None = "64MB",
        classpath: str | Sequence[str] | None = None,
        *,
        client: GatunClient | None = None,
        **connect_args: Any,
    ) -> None:
        if client is not None:
            #: The underlying client.
            self.client = client
        else:
            self.client = connect(memory=memory, classpath=classpath, **connect_args)

    @property
    def _client(self) -> GatunClient:
        """Upstream's attribute name for :attr:`client`."""
        return self.client

    # -- objects and calls --------------------------------------------------

    @_bridged
    def new(self, class_name: str, *args: Any) -> Any:
        return self.client.create_object(class_name, *args)

    def close(self) -> None:
        self.client.close()

    def detach(self, ref: Any) -> None:
        if isinstance(ref, JavaObject):
            ref.detach()

    @_bridged
    def call(self, ref: Any, method: str, *args: Any) -> Any:
        return self.client.invoke_method(ref, method, *args)

    @_bridged
    def call_static(self, class_name: str, method: str, *args: Any) -> Any:
        return self.client.invoke_static_method(class_name, method, *args)

    # -- fields -------------------------------------------------------------------

    @_bridged
    def get_field(self, ref: Any, name: str) -> Any:
        return self.client.get_field(ref, name)

    @_bridged
    def set_field(self, ref: Any, name: str, value: Any) -> None:
        self.client.set_field(ref, name, value)

    @_bridged
    def get_static_field(self, class_name: str, name: str) -> Any:
        return self.client.get_static_field(class_name, name)

    @_bridged
    def set_static_field(self, class_name: str, name: str, value: Any) -> None:
        self.client.set_static_field(class_name, name, value)

    @_bridged
    def is_instance_of(self, ref: Any, class_name: str) -> bool:
        return self.client.is_instance_of(ref, class_name)

    # -- arrays -------------------------------------------------------------------

    @_bridged
    def new_array(self, element_class: str, length: int) -> Any:
        wrapper = _PRIMITIVE_CLASSES.get(element_class)
        if wrapper is not None:
            cls = self.client.get_static_field(wrapper, "TYPE")
        else:
            cls = self.client.invoke_static_method(
                "java.lang.Class", "forName", element_class, return_object_ref=True
            )
        return self.client.invoke_static_method(
            _ARRAY, "newInstance", cls, length, return_object_ref=True
        )

    @_bridged
    def array_get(self, array_ref: Any, index: int) -> Any:
        return self.client.invoke_static_method(_ARRAY, "get", array_ref, index)

    @_bridged
    def array_set(self, array_ref: Any, index: int, value: Any) -> None:
        self.client.invoke_static_method(_ARRAY, "set", array_ref, index, value)

    @_bridged
    def array_length(self, array_ref: Any) -> int:
        return int(self.client.invoke_static_method(_ARRAY, "getLength", array_ref))

    # -- navigation ---------------------------------------------------------------

    @property
    def jvm(self) -> JVMView:
        """The client's :class:`gatun.JVMView` (an implementation of
        :class:`gatun.bridge.JVMView`)."""
        return self.client.jvm

    def java_import(self, package: str) -> None:
        java_import(self.client.jvm, package)

    def __enter__(self) -> GatunAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
