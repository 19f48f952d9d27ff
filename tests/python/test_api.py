"""The public surface, configuration and pure-Python pieces (no JVM needed)."""

from __future__ import annotations

import ast
import inspect
import pickle
from pathlib import Path

import pytest

import gatun
from gatun import _native
from gatun.config import GatunConfig, load_config, parse_memory

UPSTREAM_EXPORTS = {
    "GatunClient",
    "JavaObject",
    "JavaArray",
    "JVMView",
    "JavaClass",
    "java_import",
    "BatchContext",
    "BatchResult",
    "TypeHint",
    "connect",
    "PROTOCOL_VERSION",
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
    "ProtocolDesyncError",
    "DeadConnectionError",
    "PayloadTooLargeError",
    "StaleArenaError",
    "UnsupportedArrowTypeError",
    "GatunConfig",
    "get_config",
    "load_config",
    "reset_config",
}


def test_exports() -> None:
    missing = UPSTREAM_EXPORTS - set(gatun.__all__)
    assert not missing
    for name in gatun.__all__:
        assert hasattr(gatun, name), name
    assert isinstance(gatun.__version__, str)
    assert gatun.PROTOCOL_VERSION == _native.PROTOCOL_VERSION
    assert (Path(gatun.__file__).parent / "py.typed").is_file()


def _stub_names() -> set[str]:
    stub = Path(gatun.__file__).parent / "_native.pyi"
    tree = ast.parse(stub.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            for member in node.body:
                if isinstance(member, ast.FunctionDef):
                    names.add(f"{node.name}.{member.name}")
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
    return names


def test_every_native_object_has_a_stub() -> None:
    stubs = _stub_names()
    missing = []
    for name, value in vars(_native).items():
        if name.startswith("__"):
            continue
        if name not in stubs and not name.startswith("_"):
            missing.append(name)
        if inspect.isclass(value):
            for member in vars(value):
                if member.startswith("__"):
                    continue
                if f"{name}.{member}" not in stubs:
                    missing.append(f"{name}.{member}")
    assert not missing, f"in gatun._native but not in _native.pyi: {missing}"


def test_actions_cover_the_client() -> None:
    needed = {
        "Ping",
        "CreateObject",
        "InvokeMethod",
        "InvokeStaticMethod",
        "GetField",
        "SetField",
        "GetStaticField",
        "SetStaticField",
        "Reflect",
        "IsInstanceOf",
        "Batch",
        "GetMetrics",
    }
    assert needed <= set(_native.ACTIONS)


def test_exception_hierarchy() -> None:
    assert issubclass(gatun.BridgeClosedError, gatun.GatunError)
    assert issubclass(gatun.JavaNotFoundError, gatun.BridgeStartupError)
    assert gatun.ProtocolDesyncError is gatun.ProtocolError
    assert issubclass(gatun.UnsupportedArrowTypeError, TypeError)
    assert issubclass(gatun.StaleArenaError, RuntimeError)
    assert issubclass(gatun.JavaNumberFormatException, gatun.JavaIllegalArgumentException)
    assert issubclass(gatun.JavaIndexOutOfBoundsException, IndexError)
    assert not issubclass(gatun.JavaException, gatun.GatunError)


def test_java_exception_pickles() -> None:
    error = gatun.exceptions.java_exception("java.lang.NumberFormatException", "bad", "at x")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is gatun.JavaNumberFormatException
    assert (again.java_class, again.message, again.stack_trace) == (
        "java.lang.NumberFormatException",
        "bad",
        "at x",
    )
    assert str(again) == "java.lang.NumberFormatException: bad\nat x"


def test_java_array_and_list() -> None:
    arr = gatun.JavaArray([1, 2, 3], element_type="Int")
    assert arr.length == arr.size() == 3
    assert arr == [1, 2, 3]
    assert repr(arr) == "JavaArray([1, 2, 3], element_type='Int')"
    assert gatun.JavaArray([True], "Boolean").element_type == "Bool"
    assert gatun.JavaArray().element_type == "Object"
    with pytest.raises(ValueError, match="element_type"):
        gatun.JavaArray([1], element_type="Integer")
    lst = gatun.JavaList(["a"])
    assert lst.size() == 1
    assert not lst.isEmpty()
    assert lst.get(0) == "a"
    assert lst.contains("a")


def test_type_hint() -> None:
    hint = gatun.TypeHint(5, "long")
    assert (hint.value, hint.java_type) == (5, "long")
    assert hint == gatun.TypeHint(5, "long")
    with pytest.raises(AttributeError):
        hint.other = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64MB", 64 << 20),
        ("1.5GB", 3 << 29),
        ("512KB", 512 << 10),
        ("16mb", 16 << 20),
        ("1GiB", 1 << 30),
        ("100", 100),
        (4096, 4096),
    ],
)
def test_parse_memory(text: str | int, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["", "lots", "12XB", "-5MB", 0, "0MB"])
def test_parse_memory_rejects(text: str | int) -> None:
    with pytest.raises(ValueError, match="memory"):
        parse_memory(text)


_CONFIG_VARS = (
    "GATUN_MEMORY",
    "GATUN_STARTUP_TIMEOUT",
    "GATUN_JVM_OPTIONS",
    "GATUN_TRACE",
    "GATUN_LOG_LEVEL",
    "GATUN_SOCKET_PATH",
    "GATUN_DEBUG",
    "GATUN_VERIFY_UTF8",
)


def test_config_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _CONFIG_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config == GatunConfig()
    assert config.startup_timeout == 30.0


def test_config_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in _CONFIG_VARS:
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.gatun]\nmemory = "64MB"\nstartup_timeout = 12\n'
        'jvm_flags = ["-Xmx256m"]\nlog_level = "INFO"\nverify_utf8 = true\n'
    )
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)  # found by walking up
    config = load_config()
    assert config.memory_bytes == 64 << 20
    assert config.startup_timeout == 12.0
    assert config.jvm_flags == ["-Xmx256m"]
    assert config.log_level == "INFO"
    assert config.verify_utf8 is True

    monkeypatch.setenv("GATUN_MEMORY", "1GB")
    monkeypatch.setenv("GATUN_STARTUP_TIMEOUT", "7.5")
    monkeypatch.setenv("GATUN_JVM_OPTIONS", "-Xss1m -Dx='a b'")
    monkeypatch.setenv("GATUN_TRACE", "true")
    monkeypatch.setenv("GATUN_LOG_LEVEL", "FINE")
    monkeypatch.setenv("GATUN_VERIFY_UTF8", "0")
    config = load_config()
    assert config.memory_bytes == 1 << 30
    assert config.startup_timeout == 7.5
    assert config.jvm_flags == ["-Xss1m", "-Dx=a b"]
    assert config.trace is True
    assert config.log_level == "FINE"
    assert config.verify_utf8 is False


def test_get_config_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    gatun.reset_config()
    try:
        monkeypatch.setenv("GATUN_MEMORY", "2MB")
        first = gatun.get_config()
        monkeypatch.setenv("GATUN_MEMORY", "3MB")
        assert gatun.get_config() is first
        gatun.reset_config()
        assert gatun.get_config().memory_bytes == 3 << 20
    finally:
        gatun.reset_config()


def test_missing_jar_is_a_startup_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATUN_JAR", str(tmp_path / "nope.jar"))
    with pytest.raises(gatun.BridgeStartupError, match="GATUN_JAR"):
        gatun.connect()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lanes": 0}, "lanes must be an integer of at least 1, not 0"),
        ({"lanes": -1}, "lanes must be an integer of at least 1"),
        ({"lanes": "4"}, "lanes must be an integer"),
        ({"callback_lanes": -1}, "callback_lanes must be an integer of at least 0"),
        ({"lanes": 63}, r"lanes \(63\) \+ callback_lanes \(2\) must be at most 64"),
    ],
)
def test_bad_lane_counts_are_refused_by_name(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gatun.connect(**kwargs)  # type: ignore[arg-type]


def test_a_broken_pyproject_is_named_and_ignored(tmp_path: Path) -> None:
    from gatun.config import load_config

    broken = tmp_path / "pyproject.toml"
    broken.write_text("[tool.gatun\nmemory = ")
    with pytest.warns(UserWarning, match="not valid TOML") as warned:
        config = load_config(broken)
    assert config.memory == load_config(tmp_path / "absent.toml").memory
    assert "settings are ignored" in str(warned[0].message)


def test_a_bad_setting_is_named_with_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gatun.config import load_config

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.gatun]\nlanes = "x"\n')
    with pytest.raises(
        ValueError,
        match=r"\[tool.gatun\] lanes in .*pyproject.toml must be an "
        r"integer, got 'x'",
    ):
        load_config(pyproject)
    monkeypatch.setenv("GATUN_STARTUP_TIMEOUT", "abc")
    with pytest.raises(
        ValueError, match="GATUN_STARTUP_TIMEOUT must be a number of seconds, got 'abc'"
    ):
        load_config(tmp_path / "absent.toml")


def test_unknown_pyproject_keys_are_named_not_fatal(tmp_path: Path) -> None:
    from gatun.config import load_config

    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.gatun]\nlanes = 3\nmemroy = '2MB'\n")
    with pytest.warns(UserWarning, match=r"unknown key\(s\) in \[tool.gatun\].*: memroy \("):
        config = load_config(pyproject)
    assert config.lanes == 3


@pytest.mark.parametrize("name", ["jvm_options", "extra_jvm_flags"])
def test_jvm_options_as_one_string_is_a_type_error(name: str) -> None:
    # A str is a sequence: it used to become one option per character.
    with pytest.raises(TypeError, match=f"{name} takes a list of strings, one option each"):
        gatun.connect(**{name: "-Xmx1g"})  # type: ignore[arg-type]


def test_a_missing_bundled_jar_says_how_to_get_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gatun import _launch_support

    monkeypatch.delenv("GATUN_JAR", raising=False)
    installed = tmp_path / "site-packages" / "gatun" / "jars" / "gatun-server.jar"
    monkeypatch.setattr(_launch_support, "JAR_PATH", installed)
    with pytest.raises(gatun.BridgeStartupError, match="reinstall it with `pip install") as e:
        _launch_support.find_server_jar()
    assert "mvn" not in str(e.value)
    checkout = tmp_path / "repo"
    (checkout / "java").mkdir(parents=True)
    (checkout / "java" / "pom.xml").write_text("<project/>")
    jar = checkout / "pybindings" / "python" / "gatun" / "jars" / "gatun-server.jar"
    monkeypatch.setattr(_launch_support, "JAR_PATH", jar)
    with pytest.raises(gatun.BridgeStartupError, match="Build it with `scripts/build`"):
        _launch_support.find_server_jar()
