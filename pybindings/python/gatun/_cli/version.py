"""``python -m gatun version``: what is installed, for bug reports."""

from __future__ import annotations

import platform
import sys
import zipfile

__all__ = ["jar_problem", "jar_version", "run_version"]

#: The class every gatun-rs server jar has (upstream's jar has others).
_SERVER_CLASS = "gatun/server/GatunServer.class"


def jar_version(path: str) -> str:
    """The ``Implementation-Version`` in a jar's manifest, or ``unknown``."""
    try:
        with zipfile.ZipFile(path) as jar:
            manifest = jar.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        return f"unreadable ({e})"
    for line in manifest.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Implementation-Version":
            return value.strip()
    return "unknown"


def jar_problem(path: str) -> str | None:
    """Why ``path`` is not a gatun-rs server jar (not a zip, or without the
    server's main class), or ``None`` if it is one."""
    try:
        with zipfile.ZipFile(path) as jar:
            names = set(jar.namelist())
    except (OSError, zipfile.BadZipFile) as e:
        return f"{path} is not a jar ({e})"
    if _SERVER_CLASS not in names:
        return (
            f"{path} is not a gatun-rs server jar: it has no {_SERVER_CLASS} (upstream "
            "Gatun's jar, or another one?)"
        )
    return None


def run_version() -> int:
    """Print one ``name: value`` line per component; exit code 0, or 1 when
    the server jar is missing or not one (so scripts can check an install)."""
    import pyarrow

    import gatun
    from gatun import _native
    from gatun._launch_support import find_server_jar
    from gatun.exceptions import BridgeStartupError

    jar_ok = False
    try:
        jar = find_server_jar()
        problem = jar_problem(jar)
        jar_line = f"{jar} (version {jar_version(jar)})" if problem is None else problem
        jar_ok = problem is None
    except BridgeStartupError as e:
        jar_line = f"not found: {e}"
    rows = [
        ("gatun-rs", gatun.__version__),
        ("native module", f"{_native.__file__} (protocol {_native.PROTOCOL_VERSION})"),
        ("server jar", jar_line),
        ("Python", f"{platform.python_version()} ({sys.executable})"),
        ("pyarrow", pyarrow.__version__),
    ]
    for name, value in rows:
        print(f"{name}: {value}")
    return 0 if jar_ok else 1
