"""``python -m gatun version``: what is installed, for bug reports."""

from __future__ import annotations

import platform
import sys
import zipfile

__all__ = ["jar_version", "run_version"]


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


def run_version() -> int:
    """Print one ``name: value`` line per component; exit code 0."""
    import pyarrow

    import gatun
    from gatun import _native
    from gatun._launch_support import find_server_jar
    from gatun.exceptions import BridgeStartupError

    try:
        jar = find_server_jar()
        jar_line = f"{jar} (version {jar_version(jar)})"
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
    return 0
