"""The request action codes, by name: the one table every Python module sends from.

The numbers are the ``Action`` enum of schemas/bridge.fbs, exported by the
native module as ``_native.ACTIONS``; nothing here repeats them by hand.
"""

from __future__ import annotations

from typing import Final

from gatun import _native

#: Every action of the protocol, name -> code.
ACTIONS: Final[dict[str, int]] = dict(_native.ACTIONS)
#: The same, code -> name.
NAMES: Final[dict[int, str]] = {code: name for name, code in ACTIONS.items()}

PING: Final = ACTIONS["Ping"]
CREATE_OBJECT: Final = ACTIONS["CreateObject"]
INVOKE_METHOD: Final = ACTIONS["InvokeMethod"]
INVOKE_STATIC_METHOD: Final = ACTIONS["InvokeStaticMethod"]
GET_FIELD: Final = ACTIONS["GetField"]
SET_FIELD: Final = ACTIONS["SetField"]
GET_STATIC_FIELD: Final = ACTIONS["GetStaticField"]
SET_STATIC_FIELD: Final = ACTIONS["SetStaticField"]
REFLECT: Final = ACTIONS["Reflect"]
IS_INSTANCE_OF: Final = ACTIONS["IsInstanceOf"]
GET_METRICS: Final = ACTIONS["GetMetrics"]
SET_LIMITS: Final = ACTIONS["SetLimits"]
REGISTER_CALLBACK: Final = ACTIONS["RegisterCallback"]
UNREGISTER_CALLBACK: Final = ACTIONS["UnregisterCallback"]

# The ``BatchKind`` of schemas/bridge.fbs (``NativeBatch``'s ``kind``): the
# JVM limit that counts a batch besides ``max_batch_size``.
BATCH_ITEMS: Final = 0
BATCH_METHOD_CALLS: Final = 1  # invoke_methods: max_method_calls
BATCH_CREATE_OBJECTS: Final = 2  # create_objects: max_create_objects
