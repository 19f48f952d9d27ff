"""gatun's cache directory, as the native launcher finds it: class-data
sharing archives (``bridge/src/class_archive.rs``) and the JVM's crash
reports live there, never in the user's working directory."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "class_archive_dir", "crash_report_option"]


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gatun-rs``, else ``~/.cache/gatun-rs``."""
    base = _env_path("XDG_CACHE_HOME") or Path.home() / ".cache"
    return base / "gatun-rs"


def class_archive_dir() -> Path:
    """Where the launcher keeps class-data sharing archives: ``$GATUN_CDS_DIR``,
    else ``<cache_dir>/cds`` (the same order as the native launcher)."""
    return _env_path("GATUN_CDS_DIR") or cache_dir() / "cds"


def crash_report_option() -> list[str]:
    """``-XX:ErrorFile=<cache_dir>/hs_err_pid%p.log``, so a crashing JVM's
    report lands in the cache directory; nothing if that directory cannot be
    made (HotSpot then falls back to its working directory)."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return []
    return [f"-XX:ErrorFile={directory / 'hs_err_pid%p.log'}"]
