"""PEP 517 build backend of gatun-rs: maturin's, with the server jar built first.

A gatun wheel carries the Java server at ``gatun/jars/gatun-server.jar``. When
the tree being built has the Java sources (``java/pom.xml``: an sdist carries
them, and the repository's ``pybindings/`` sees them through its ``java``
symlink) and Maven is on PATH, the jar is rebuilt from them, so an sdist
installs the server that matches its sources. Without Maven, the prebuilt jar
that every sdist carries is used. ``GATUN_BUILD_JAR=0`` skips Maven even when
it is there; ``GATUN_BUILD_JAR=1`` makes a missing Maven an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import maturin
from maturin import (
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_wheel",
]

_JAR = Path("python/gatun/jars/gatun-server.jar")


def _log(message: str) -> None:
    print(f"gatun build: {message}", file=sys.stderr, flush=True)


def _ensure_jar() -> None:
    """Builds the jar with Maven when the sources and Maven are here, else checks for one."""
    choice = os.environ.get("GATUN_BUILD_JAR", "auto")
    if choice not in ("0", "1", "auto"):
        raise RuntimeError(f"GATUN_BUILD_JAR must be 0, 1 or unset, not {choice!r}")
    pom = Path("java/pom.xml")
    mvn = shutil.which("mvn")
    if choice == "1" and not (pom.is_file() and mvn):
        missing = "java/pom.xml" if not pom.is_file() else "mvn on PATH"
        raise RuntimeError(f"GATUN_BUILD_JAR=1 but there is no {missing}")
    if choice != "0" and pom.is_file() and mvn:
        _log("building the server jar with Maven (java/pom.xml, tests skipped)")
        # The tests need a JVM test harness and minutes; the repository's CI runs them.
        cmd = [mvn, "-q", "-B", "-f", str(pom), "-Dmaven.test.skip=true", "package"]
        subprocess.run(cmd, check=True)
        _JAR.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile("java/target/gatun-server.jar", _JAR)
        return
    if not _JAR.is_file():
        raise RuntimeError(
            f"no server jar at {_JAR} and no way to build it "
            "(needs java/pom.xml and Maven on PATH); install a wheel, or install Maven"
        )
    reason = "GATUN_BUILD_JAR=0" if choice == "0" else "no Maven on PATH or no Java sources"
    _log(f"using the prebuilt server jar ({reason})")


def build_wheel(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """PEP 517 hook: the jar (see module doc), then maturin's wheel, without
    debug info (as scripts/wheels's ``wheel`` profile: an sdist install would
    otherwise carry a 94 MB extension instead of 12 MB)."""
    _ensure_jar()
    os.environ.setdefault("CARGO_PROFILE_RELEASE_DEBUG", "false")
    os.environ.setdefault("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
    return maturin.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """PEP 660 hook: the jar (see module doc), then maturin's editable wheel."""
    _ensure_jar()
    return maturin.build_editable(wheel_directory, config_settings, metadata_directory)


def build_sdist(sdist_directory: str, config_settings: Mapping[str, Any] | None = None) -> str:
    """PEP 517 hook: the jar (so the sdist carries a prebuilt one), then maturin's sdist."""
    _ensure_jar()
    return maturin.build_sdist(sdist_directory, config_settings)
