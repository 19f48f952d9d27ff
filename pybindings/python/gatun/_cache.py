"""gatun's cache directory, as the native launcher finds it: class-data
sharing archives (``bridge/src/class_archive.rs``) and the JVM's crash
reports live there, never in the user's working directory."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "class_archive_dir", "crash_report_dir", "crash_report_option"]


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


def _usable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def _private_temp_dir() -> Path | None:
    """``<tmp>/gatun-rs-<uid>``, made ``0700`` and checked to be ours and a
    real directory (the temporary directory is shared: another user could
    have made the name first, or a symlink)."""
    directory = Path(tempfile.gettempdir()) / f"gatun-rs-{os.getuid()}"
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(directory)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return directory


def crash_report_dir() -> tuple[Path | None, bool]:
    """``(directory, is_fallback)``: where a crashing JVM's report goes, the
    cache directory, else (when it cannot be made or written, e.g.
    ``XDG_CACHE_HOME`` is a file) a private directory under the system
    temporary directory; ``None`` if neither is usable."""
    directory = cache_dir()
    if _usable(directory):
        return directory, False
    return _private_temp_dir(), True


def crash_report_option() -> list[str]:
    """``-XX:ErrorFile=<dir>/hs_err_pid%p.log`` with the directory of
    :func:`crash_report_dir`, so a crashing JVM's report never lands in the
    working directory (HotSpot's default); nothing only if no directory is
    usable at all."""
    directory, _ = crash_report_dir()
    if directory is None:
        return []
    return [f"-XX:ErrorFile={directory / 'hs_err_pid%p.log'}"]
