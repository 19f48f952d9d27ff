"""What the packaging tests share: the repository, dist/, and whether dist/ was
built (by scripts/wheels) from the tree as it is now."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
SMOKE = Path(__file__).resolve().parent / "smoke_installed.py"


def run_smoke(python: Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs smoke_installed.py with an installed gatun's ``python``: a JVM,
    a call, an Arrow round trip; asserts it succeeded."""
    run = subprocess.run(
        [str(python), str(SMOKE)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"smoke run failed:\n{run.stdout}\n{run.stderr}"
    assert "ok Arrow round trip" in run.stdout, run.stdout
    return run


def tree_state() -> str:
    """The commit, and a digest of uncommitted changes to tracked files.

    scripts/wheels writes the same into dist/BUILD_INFO (``state=...``)."""
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    diff = subprocess.run(
        ["git", "-C", str(REPO), "diff", "HEAD", "--", ".", ":(exclude)dist"],
        capture_output=True,
        check=True,
    ).stdout
    return f"{head}-{hashlib.sha256(diff).hexdigest()[:16]}"


def built_state() -> str | None:
    """The tree state dist/ was built from, or None when scripts/wheels has not run."""
    info = DIST / "BUILD_INFO"
    if not info.is_file():
        return None
    for line in info.read_text().splitlines():
        if line.startswith("state="):
            return line.removeprefix("state=")
    return None
