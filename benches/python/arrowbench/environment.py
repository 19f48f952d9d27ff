"""Before the Arrow suite runs: the java every peer uses, the Java helper
compiled against gatun-server.jar, and the facts about the machine."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

from benchlib.machine import cpu_ticks, lscpu_fields, tree_is_dirty

from arrowbench.config import JAR, JAVA_SRC, ROOT


def find_java() -> tuple[str, str]:
    java = None
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        java = str(Path(home, "bin", "java"))
    java = os.path.realpath(java or shutil.which("java") or "")
    if not java:
        raise SystemExit("no java")
    libjvm = Path(java).parent.parent / "lib" / "server" / "libjvm.so"
    if not libjvm.is_file():
        raise SystemExit(f"no {libjvm}")
    return java, str(libjvm)


def compile_helper(java: str) -> str:
    """javac gatunbench/Make.java against gatun-server.jar into a temp dir."""
    javac = str(Path(java).parent / "javac")
    out = tempfile.mkdtemp(prefix="gatun-bench-arrow-")
    src = [str(p) for p in JAVA_SRC.rglob("*.java")]
    subprocess.run([javac, "-nowarn", "-cp", str(JAR), "-d", out, *src], check=True)
    return out


def machine(java: str) -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version()}
    info.update(
        lscpu_fields(
            ("Model name", "CPU(s)", "Hypervisor vendor", "Thread(s) per core", "L3 cache")
        )
    )
    info["cores"] = os.cpu_count()
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        info["memory_gib"] = round(kb / 2**20, 1)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        info["os"] = platform.freedesktop_os_release().get("PRETTY_NAME")
    v = subprocess.run([java, "-version"], capture_output=True, text=True).stderr.splitlines()
    info["java"] = v[0] if v else "?"
    info["java_path"] = java
    for pkg in ("pyarrow", "numpy"):
        info[pkg] = metadata.version(pkg)
    try:
        info["commit"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        info["dirty"] = tree_is_dirty(ROOT)
    except OSError:
        pass
    info["loadavg_start"] = os.getloadavg()
    info["cpu_ticks_start"] = cpu_ticks()
    return info
