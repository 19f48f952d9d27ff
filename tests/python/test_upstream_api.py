"""Every public name of upstream Gatun 0.2.1 exists here with a compatible
signature (upstream's parameter names accepted, positional order kept).

The list below is upstream's public API as /work/shared/reference/upstream-gatun.md
§1 describes it (``gatun.__all__``, the public names of its modules, and the
methods of its classes), written as the parameter lists upstream declares.
:data:`DIFFERENT` names the few left deliberately different, each with the
reason. The JVM-backed behaviour of these names is tested in
``test_upstream_behaviour.py``; this file needs no JVM.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

import gatun

# (module, dotted name, upstream parameter list or None for a non-callable
# name: a constant, an attribute or a property). A name in a module that is
# also in gatun.__all__ must be the same object in both places.
_SIG = str | None

_ALL: dict[str, _SIG] = {
    # Sync client
    "GatunClient": "socket_path=None, callback_timeout=None, socket_timeout=None, "
    "handshake_timeout=None",
    "JavaObject": "client, object_id",
    "JavaArray": "iterable=(), element_type='Object'",
    "JVMView": "client, package_path=''",
    "JavaClass": "client, class_name",
    "java_import": "jvm_view, import_path",
    "BatchContext": "client, stop_on_error=False",
    "BatchResult": "batch, index",
    "TypeHint": "value, java_type",
    # Async client
    "AsyncGatunClient": "socket_path=None, callback_timeout=None, socket_timeout=None, "
    "handshake_timeout=None",
    "AsyncJavaObject": "client, object_id",
    "AsyncJVMView": "client, path=''",
    "AsyncJavaClass": "client, path",
    "run_sync": "func, *args, executor=None, **kwargs",
    # Launch and connect
    "launch_gateway": "memory=None, socket_path=None, classpath=None, trace=False, "
    "log_level=None, debug=False, extra_jvm_flags=None",
    "GatunSession": "process, socket_path, memory_bytes",
    "connect": "memory=None, socket_path=None, classpath=None, trace=False, log_level=None, "
    "debug=False, extra_jvm_flags=None",
    "aconnect": "memory=None, socket_path=None, classpath=None, trace=False, log_level=None, "
    "debug=False, extra_jvm_flags=None",
    "PROTOCOL_VERSION": None,
    # Exceptions
    "JavaException": "java_class, message, stack_trace",
    "JavaSecurityException": "java_class, message, stack_trace",
    "JavaIllegalArgumentException": "java_class, message, stack_trace",
    "JavaNoSuchMethodException": "java_class, message, stack_trace",
    "JavaNoSuchFieldException": "java_class, message, stack_trace",
    "JavaClassNotFoundException": "java_class, message, stack_trace",
    "JavaNullPointerException": "java_class, message, stack_trace",
    "JavaIndexOutOfBoundsException": "java_class, message, stack_trace",
    "JavaNumberFormatException": "java_class, message, stack_trace",
    "JavaRuntimeException": "java_class, message, stack_trace",
    "CancelledException": "request_id",
    "ReentrancyError": "*args",
    "CallbackTimeoutError": "*args",
    "ProtocolDesyncError": "message, response_size=None",
    "SocketTimeoutError": "*args",
    "DeadConnectionError": "*args",
    "PayloadTooLargeError": "payload_size, max_size, zone",
    "StaleArenaError": "table_epoch, current_epoch",
    "UnsupportedArrowTypeError": "*args",
    # Config
    "GatunConfig": "memory='16MB', socket_path=None, jvm_flags=None, connect_timeout=5.0, "
    "startup_timeout=5.0",
    "get_config": "",
    "load_config": "pyproject_path=None",
    "reset_config": "",
    # Arrow
    "PayloadArena": "path, size",
    "ArrowTableView": "table, epoch, client",
    "ScopedArenaContext": "client",
    "AsyncScopedArenaContext": "client",
    "estimate_arrow_size": "table",
}

_MODULES: dict[str, dict[str, _SIG]] = {
    "gatun.client": {
        **{
            name: _ALL[name]
            for name in [
                "GatunClient",
                "JavaObject",
                "JavaArray",
                "JVMView",
                "JavaClass",
                "java_import",
                "PROTOCOL_VERSION",
                "PayloadTooLargeError",
                "JavaException",
                "JavaSecurityException",
                "JavaIllegalArgumentException",
                "JavaNoSuchMethodException",
                "JavaNoSuchFieldException",
                "JavaClassNotFoundException",
                "JavaNullPointerException",
                "JavaIndexOutOfBoundsException",
                "JavaNumberFormatException",
                "JavaRuntimeException",
                "CancelledException",
                "ReentrancyError",
                "CallbackTimeoutError",
                "ProtocolDesyncError",
                "SocketTimeoutError",
                "DeadConnectionError",
                "StaleArenaError",
                "ArrowTableView",
                "BatchContext",
                "BatchResult",
                "TypeHint",
            ]
        },
        "JavaList": None,
        "COMMAND_ZONE_SIZE": None,
        "RESPONSE_ZONE_SIZE": None,
        "DEFAULT_CALLBACK_TIMEOUT": None,
        "DEFAULT_SOCKET_TIMEOUT": None,
        "HANDSHAKE_TIMEOUT": None,
    },
    "gatun.arena": {
        "PayloadArena": _ALL["PayloadArena"],
        "UnsupportedArrowTypeError": _ALL["UnsupportedArrowTypeError"],
        "ScopedArenaContext": _ALL["ScopedArenaContext"],
        "AsyncScopedArenaContext": _ALL["AsyncScopedArenaContext"],
        "estimate_arrow_size": _ALL["estimate_arrow_size"],
        "BufferInfo": "offset, length, buffer",
        "copy_arrow_table_to_arena": "table, arena",
        "compute_schema_hash": "schema",
        "serialize_schema": "schema",
        "deserialize_schema": "schema_bytes",
    },
    "gatun.async_client": {
        name: _ALL[name]
        for name in [
            "AsyncGatunClient",
            "AsyncJavaObject",
            "AsyncJVMView",
            "AsyncJavaClass",
            "run_sync",
        ]
    }
    | {"get_default_executor": ""},
    "gatun.config": {
        name: _ALL[name] for name in ["GatunConfig", "get_config", "load_config", "reset_config"]
    }
    | {"find_pyproject_toml": "start_path=None"},
    "gatun.launcher": {
        "launch_gateway": _ALL["launch_gateway"],
        "GatunSession": _ALL["GatunSession"],
        "JAR_PATH": None,
        "DEFAULT_JVM_FLAGS": None,
    },
    "gatun.bridge": {
        "BridgeAdapter": None,
        "JVMRef": None,
        "JVMView": None,
        "JAVA_EXCEPTION_MAP": None,
        **{
            name: "java_class, message, stack_trace"
            for name in [
                "JavaException",
                "JavaSecurityException",
                "JavaIllegalArgumentException",
                "JavaNoSuchMethodException",
                "JavaNoSuchFieldException",
                "JavaClassNotFoundException",
                "JavaNullPointerException",
                "JavaIndexOutOfBoundsException",
                "JavaNumberFormatException",
            ]
        },
    },
    "gatun.bridge_adapters": {"GatunAdapter": "memory='64MB', classpath=None"},
}

_ADAPTER_METHODS: dict[str, _SIG] = {
    "new": "class_name, *args",
    "close": "",
    "detach": "ref",
    "call": "ref, method, *args",
    "call_static": "class_name, method, *args",
    "get_field": "ref, name",
    "set_field": "ref, name, value",
    "get_static_field": "class_name, name",
    "set_static_field": "class_name, name, value",
    "is_instance_of": "ref, class_name",
    "new_array": "element_class, length",
    "array_get": "array_ref, index",
    "array_set": "array_ref, index, value",
    "array_length": "array_ref",
    "jvm": None,
    "java_import": "package",
}

# (module, class) -> method or attribute -> upstream parameters (without self).
_METHODS: dict[tuple[str, str], dict[str, _SIG]] = {
    ("gatun", "GatunClient"): {
        "connect": "",
        "close": "",
        "jvm": None,
        "create_object": "class_name, *args",
        "invoke_method": "obj_id, method_name, *args",
        "invoke_static_method": "class_name, method_name, *args, return_object_ref=False",
        "get_field": "obj_id, field_name",
        "set_field": "obj_id, field_name, value",
        "get_static_field": "class_name, field_name",
        "set_static_field": "class_name, field_name, value",
        "reflect": "full_name",
        "is_instance_of": "obj, class_name",
        "ping": "",
        "get_metrics": "",
        "get_fields": "obj, field_names",
        "invoke_methods": "obj, calls, return_object_refs=False",
        "create_objects": "specs",
        "register_callback": "callback_fn, interface_name",
        "unregister_callback": "callback_id",
        "free_object": "object_id",
        "batch": "stop_on_error=False",
        "send_arrow_table": "table",
        "send_arrow_table_batched": "table, batch_size=None",
        "get_payload_arena": "",
        "send_arrow_buffers": "table, arena, schema_cache=None",
        "reset_payload_arena": "",
        "get_arrow_data": "",
        "arrow_context": "",
        "cancel": "request_id",
        "__enter__": "",
        "__exit__": "_exc_type, _exc_val, _exc_tb",
    },
    ("gatun", "JavaObject"): {
        "detach": "",
        "object_id": None,
        "client": None,
        "__str__": "",
        "__eq__": "other",
        "__hash__": "",
        "__len__": "",
        "__bool__": "",
        "__iter__": "",
        "__getitem__": "index",
        "__setitem__": "index, value",
    },
    ("gatun", "AsyncGatunClient"): {
        "connect": "",
        "close": "",
        "jvm": None,
        "create_object": "class_name, *args",
        "invoke_method": "obj_id, method_name, *args",
        "invoke_static_method": "class_name, method_name, *args",
        "get_field": "obj_id, field_name",
        "set_field": "obj_id, field_name, value",
        "is_instance_of": "obj, class_name",
        "ping": "",
        "get_metrics": "",
        "get_fields": "obj, field_names",
        "invoke_methods": "obj, calls, return_object_refs=False",
        "create_objects": "specs",
        "register_callback": "callback_fn, interface_name",
        "unregister_callback": "callback_id",
        "free_object": "object_id",
        "send_arrow_table": "table",
        "arrow_context": "",
        "__aenter__": "",
        "__aexit__": "exc_type, exc_val, exc_tb",
    },
    ("gatun", "AsyncJavaObject"): {
        "object_id": None,
        "__aenter__": "",
        "__aexit__": "exc_type, exc_val, exc_tb",
    },
    ("gatun", "BatchContext"): {
        "create": "class_name, *args",
        "call": "obj, method_name, *args",
        "call_static": "class_name, method_name, *args",
        "get_field": "obj, field_name",
        "set_field": "obj, field_name, value",
        "execute": "",
        "__enter__": "",
        "__exit__": "exc_type, exc_val, exc_tb",
    },
    ("gatun", "BatchResult"): {"get": "", "is_error": None},
    ("gatun", "PayloadArena"): {
        "allocate": "size, alignment=None",
        "allocate_and_copy": "data",
        "reset": "",
        "bytes_used": "",
        "bytes_available": "",
        "close": "",
        "create": "path, size",
        "from_mmap": "mmap_obj, base_offset, size",
        "__enter__": "",
        "__exit__": "exc_type, exc_val, exc_tb",
    },
    ("gatun", "ArrowTableView"): {
        "table": None,
        "to_pandas": "**kwargs",
        "to_pydict": "",
        "to_pylist": "",
        "num_rows": None,
        "num_columns": None,
        "schema": None,
        "column_names": None,
        "column": "name",
    },
    ("gatun", "ScopedArenaContext"): {
        "send": "table",
        "receive": "",
        "arena": None,
        "schema_cache": None,
        "__enter__": "",
        "__exit__": "exc_type, exc_val, exc_tb",
    },
    ("gatun", "AsyncScopedArenaContext"): {
        "send": "table",
        "__aenter__": "",
        "__aexit__": "exc_type, exc_val, exc_tb",
    },
    ("gatun.bridge", "BridgeAdapter"): _ADAPTER_METHODS,
    ("gatun.bridge_adapters", "GatunAdapter"): _ADAPTER_METHODS,
}

#: Names kept deliberately different, with the reason. Each still exists;
#: only its signature (or, where said, its behaviour) differs.
DIFFERENT: dict[str, str] = {
    "gatun.JavaObject": (
        "a proxy is made by the bridge from a call's result, never from a raw id: the "
        "native core owns each id exactly once, and wrapping an id again would release it "
        "twice (upstream's JavaObject(client, id) had the same double free)"
    ),
    "gatun.client.JavaObject": "see gatun.JavaObject",
    "gatun.AsyncJavaObject": (
        "wraps the synchronous proxy of a result (AsyncJavaObject(client, java_object)), "
        "for the reason given for gatun.JavaObject; .object_id is there"
    ),
    "gatun.async_client.AsyncJavaObject": "see gatun.AsyncJavaObject",
    "gatun.BatchResult": (
        "a native handle on the batch's store of replies, made only by BatchContext; "
        "get() and is_error behave as upstream's"
    ),
    "gatun.client.BatchResult": "see gatun.BatchResult",
}


def _params(text: str) -> inspect.Signature:
    scope: dict[str, Any] = {}
    exec(f"def f({text}): pass", scope)
    return inspect.signature(scope["f"])


def _ours(obj: Any) -> inspect.Signature:
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        own = [c for c in obj.__mro__ if c.__module__ != "builtins"]
        if not any("__init__" in vars(c) or "__new__" in vars(c) for c in own):
            return _params("*args, **kwargs")  # an exception class taking anything
    sig = inspect.signature(obj)
    params = list(sig.parameters.values())
    if params and params[0].name in ("self", "cls") and not inspect.isclass(obj):
        params = params[1:]
    return sig.replace(parameters=params)


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def incompatibility(upstream: inspect.Signature, ours: inspect.Signature) -> str | None:
    """Why a call written against ``upstream`` could fail against ``ours``
    (None when every such call binds the same way)."""
    up = list(upstream.parameters.values())
    mine = list(ours.parameters.values())
    kinds = {p.kind for p in mine}
    var_pos = inspect.Parameter.VAR_POSITIONAL in kinds
    var_kw = inspect.Parameter.VAR_KEYWORD in kinds
    if var_pos and var_kw and all(p.kind not in _POSITIONAL for p in mine):
        return None  # (*args, **kwargs) takes anything
    up_pos = [p for p in up if p.kind in _POSITIONAL]
    my_pos = [p for p in mine if p.kind in _POSITIONAL]
    for i, p in enumerate(up_pos):
        if i >= len(my_pos):
            if var_pos and not any(q.name == p.name for q in mine) and not var_kw:
                return f"parameter {p.name!r} cannot be passed by keyword"
            if not var_pos:
                return f"no positional parameter {i} ({p.name!r})"
            continue
        if my_pos[i].name != p.name:
            return f"positional parameter {i} is {my_pos[i].name!r}, upstream's {p.name!r}"
        if my_pos[i].kind is inspect.Parameter.POSITIONAL_ONLY:
            return f"{p.name!r} is positional-only"
        if (
            p.default is not inspect.Parameter.empty
            and my_pos[i].default is inspect.Parameter.empty
        ):
            return f"{p.name!r} has no default"
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in up):
        if not var_pos:
            return "no *args"
        if len(my_pos) > len(up_pos):
            return "extra positional parameters before *args"
    for p in mine[len(up_pos) :] if not var_pos else []:
        if p.kind in _POSITIONAL and p.default is inspect.Parameter.empty:
            return f"extra required parameter {p.name!r}"
    for p in mine:
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty:
            return f"extra required keyword {p.name!r}"
    for p in up:
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            match = [q for q in mine if q.name == p.name and q.kind not in _POSITIONAL[:1]]
            if not match and not var_kw:
                return f"keyword {p.name!r} not accepted"
        if p.kind is inspect.Parameter.VAR_KEYWORD and not var_kw:
            return "no **kwargs"
    return None


def _entries() -> list[tuple[str, Any, _SIG]]:
    """(qualified name, the object or a zero-argument lookup, upstream params)."""
    out: list[tuple[str, Any, _SIG]] = []
    for name, sig in _ALL.items():
        out.append((f"gatun.{name}", ("gatun", name), sig))
    for module, names in _MODULES.items():
        for name, sig in names.items():
            out.append((f"{module}.{name}", (module, name), sig))
    for (module, cls), members in _METHODS.items():
        for member, sig in members.items():
            out.append((f"{module}.{cls}.{member}", (module, cls, member), sig))
    return out


def _lookup(path: tuple[str, ...]) -> Any:
    module = importlib.import_module(path[0])
    obj = getattr(module, path[1])
    if len(path) == 3:
        # Static lookup: JavaObject.__getattr__ answers any name at run time.
        obj = inspect.getattr_static(obj, path[2])
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
    return obj


def check(name: str, path: tuple[str, ...], sig: _SIG) -> str | None:
    """What is wrong with ``name`` (None when it is there and compatible)."""
    try:
        obj = _lookup(path)
    except (ImportError, AttributeError) as e:
        return f"missing ({e})"
    reexport = len(path) == 2 and path[0] not in ("gatun", "gatun.bridge") and path[1] in _ALL
    if reexport and obj is not getattr(gatun, path[1]):
        return f"not the same object as gatun.{path[1]}"
    if sig is None:
        return None
    if isinstance(obj, property):
        return "a property where upstream has a method"
    target = obj.fget if isinstance(obj, property) else obj
    try:
        ours = _ours(target)
    except (TypeError, ValueError) as e:
        return f"no signature ({e})"
    if len(path) == 3:
        # Methods are looked up unbound: drop self.
        params = list(ours.parameters.values())
        if params and params[0].name == "self":
            ours = ours.replace(parameters=params[1:])
    upstream = _params(sig)
    if path[-1].startswith("__") and path[-1].endswith("__"):
        # Python calls protocol methods positionally: only the arity counts.
        upstream, ours = _positional_only(upstream), _positional_only(ours)
    return incompatibility(upstream, ours)


def _positional_only(sig: inspect.Signature) -> inspect.Signature:
    params = [
        p.replace(name=f"p{i}") if p.kind in _POSITIONAL else p
        for i, p in enumerate(sig.parameters.values())
    ]
    return sig.replace(parameters=params)


def test_every_upstream_name_is_here_with_a_compatible_signature() -> None:
    entries = _entries()
    problems: dict[str, str] = {}
    covered = 0
    for name, path, sig in entries:
        why = check(name, path, sig)
        if why is None:
            covered += 1
        elif name not in DIFFERENT:
            problems[name] = why
    different = [n for n in DIFFERENT if check(n, _path_of(n, entries), _sig_of(n, entries))]
    print(
        f"\nupstream names: {len(entries)}; compatible: {covered}; "
        f"deliberately different: {len(different)}"
    )
    assert not problems, "\n".join(f"{n}: {why}" for n, why in sorted(problems.items()))
    assert covered + len(different) == len(entries)


def _path_of(name: str, entries: list[tuple[str, Any, _SIG]]) -> Any:
    return next(p for n, p, _ in entries if n == name)


def _sig_of(name: str, entries: list[tuple[str, Any, _SIG]]) -> _SIG:
    return next(s for n, _, s in entries if n == name)


def test_deliberate_differences_still_exist() -> None:
    entries = _entries()
    for name in DIFFERENT:
        _lookup(_path_of(name, entries))  # raises if the name is gone


@pytest.mark.parametrize(
    ("upstream", "ours", "compatible"),
    [
        ("a, b", "a, b, c=1", True),
        ("a, b", "a, c", False),
        ("a, *args", "a, b=1, *args", False),
        ("a, *args, flag=False", "a, *args, flag=False, extra=None", True),
        ("a", "a, *, must", False),
        ("a=None", "a", False),
        ("*args", "*args, **kwargs", True),
    ],
)
def test_the_checker_tells_compatible_from_not(upstream: str, ours: str, compatible: bool) -> None:
    assert (incompatibility(_params(upstream), _params(ours)) is None) is compatible
