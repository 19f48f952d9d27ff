"""``BridgeAdapter``: the small, backend-neutral surface PySpark-style code uses.

>>> from gatun.bridge_adapters import GatunAdapter      # doctest: +SKIP
>>> bridge = GatunAdapter(memory="256MB")               # doctest: +SKIP
>>> bridge.call_static("java.lang.Math", "max", 10, 20) # doctest: +SKIP
20
"""

from __future__ import annotations

import abc
from typing import Any

from gatun.client import GatunClient
from gatun.launcher import connect

__all__ = ["BridgeAdapter", "GatunAdapter"]


class BridgeAdapter(abc.ABC):
    """What a JVM bridge offers to code that should not care which one it is."""

    @abc.abstractmethod
    def new(self, class_name: str, *args: Any) -> Any:
        """``new class_name(*args)``."""

    @abc.abstractmethod
    def call(self, obj: Any, method: str, *args: Any) -> Any:
        """``obj.method(*args)``."""

    @abc.abstractmethod
    def call_static(self, class_name: str, method: str, *args: Any) -> Any:
        """``class_name.method(*args)``."""

    @abc.abstractmethod
    def new_array(self, element_class: str, length: int) -> Any:
        """A Java array ``new element_class[length]``, kept in the JVM."""

    @abc.abstractmethod
    def array_get(self, array: Any, index: int) -> Any:
        """``array[index]``."""

    @abc.abstractmethod
    def array_set(self, array: Any, index: int, value: Any) -> None:
        """``array[index] = value``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the bridge."""


class GatunAdapter(BridgeAdapter):
    """:class:`BridgeAdapter` over a gatun session (launches its own JVM)."""

    def __init__(self, client: GatunClient | None = None, **connect_args: Any) -> None:
        #: The underlying client.
        self.client = client if client is not None else connect(**connect_args)

    def new(self, class_name: str, *args: Any) -> Any:
        return self.client.create_object(class_name, *args)

    def call(self, obj: Any, method: str, *args: Any) -> Any:
        return self.client.invoke_method(obj, method, *args)

    def call_static(self, class_name: str, method: str, *args: Any) -> Any:
        return self.client.invoke_static_method(class_name, method, *args)

    def new_array(self, element_class: str, length: int) -> Any:
        cls = self.client.invoke_static_method(
            "java.lang.Class", "forName", element_class, return_object_ref=True
        )
        return self.client.invoke_static_method(
            "java.lang.reflect.Array", "newInstance", cls, length, return_object_ref=True
        )

    def array_get(self, array: Any, index: int) -> Any:
        return self.client.invoke_static_method("java.lang.reflect.Array", "get", array, index)

    def array_set(self, array: Any, index: int, value: Any) -> None:
        self.client.invoke_static_method("java.lang.reflect.Array", "set", array, index, value)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> GatunAdapter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
