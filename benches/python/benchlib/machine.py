"""The machine a benchmark ran on: which java, CPU/memory/OS facts, whether
the tree had uncommitted changes, and how much CPU time the hypervisor stole.
Shared so that every suite's table names the machine the same way."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# benches/python/benchlib/machine.py -> the repository root.
REPO = Path(__file__).resolve().parents[3]


def find_java() -> tuple[str, str]:
    """The java executable (resolved) and the libjvm.so next to it."""
    java = None
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        java = str(Path(home, "bin", "java"))
    java = java or shutil.which("java")
    if not java:
        raise SystemExit("no java on PATH and no JAVA_HOME")
    java = os.path.realpath(java)
    jhome = Path(java).parent.parent
    for cand in (
        jhome / "lib" / "server" / "libjvm.so",
        jhome / "jre" / "lib" / "amd64" / "server" / "libjvm.so",
    ):
        if cand.is_file():
            return java, str(cand)
    raise SystemExit(f"no libjvm.so under {jhome}")


def sh(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout + p.stderr).strip()
    except Exception as e:
        return f"unavailable: {e}"


def tree_is_dirty(repo: Path) -> bool:
    """Uncommitted changes to tracked files, apart from the results an earlier
    suite of the same session wrote (they are not code)."""
    git = ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"]
    return bool(sh([*git, "--", ".", ":!benches/results"]))


def lscpu_fields(keys: tuple[str, ...]) -> dict:
    """The named ``lscpu`` fields (empty if lscpu is unavailable); the Arrow
    suite picks its own set of them."""
    info: dict = {}
    for line in sh(["lscpu"]).splitlines():
        k, _, v = line.partition(":")
        if k.strip() in keys:
            info[k.strip()] = v.strip()
    return info


def machine_info(java: str) -> dict:
    info = lscpu_fields(
        ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Hypervisor vendor")
    )
    info["nproc"] = os.cpu_count()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    info["os"] = os_name
    info["kernel"] = platform.release()
    info["python"] = sys.version.split()[0]
    info["java_binary"] = java
    info["java_version"] = sh([java, "-version"]).splitlines()
    pkgs = {}
    for dist in ("gatun-rs", "py4j", "JPype1", "numpy", "matplotlib"):
        try:
            pkgs[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pkgs[dist] = None
    info["packages"] = pkgs
    repo = REPO
    info["git_commit"] = sh(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"])
    info["git_dirty"] = tree_is_dirty(repo)
    info["date_utc"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return info


def cpu_ticks() -> dict | None:
    """The machine's CPU time so far, in clock ticks (``/proc/stat``), or None."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal
    return {"total": sum(fields), "steal": fields[7] if len(fields) > 7 else 0}


def steal_share(start: dict | None, end: dict | None) -> float | None:
    """Share of the CPU time between two ``cpu_ticks()`` that the hypervisor
    gave to other guests: this VM's cores were not running at all."""
    if not start or not end or end["total"] <= start["total"]:
        return None
    return (end["steal"] - start["steal"]) / (end["total"] - start["total"])


def steal_line(share: float | None) -> str:
    if share is None:
        return ""
    return (
        f"CPU time stolen by the hypervisor during the run: {share:.1%} "
        "(other guests on the host; the tails of every peer grow with it)."
    )


def machine_title(m: dict) -> str:
    first = (m.get("java_version") or ["?"])[0]
    parts = first.split('"')
    jv = parts[1] if len(parts) > 2 else first
    return (
        f"{m.get('Model name', '?')}, {m.get('nproc', '?')} cores, {m.get('memory_gib', '?')} GiB, "
        f"{m.get('os', '?')}, Python {m.get('python')}, Java {jv}"
    )
