"""The scripts' own checks: scripts/wheels' handling of dist/ (a full build
starts from an empty dist/, ``--smoke`` replaces only the wheels: an sdist
from an earlier full build stays; the script's own ``clean_dist`` function
runs, not a copy), and scripts/docs on a clone where gatun was not built."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from _dist import REPO


def _clean_dist(smoke: int, dist: Path) -> None:
    script = (REPO / "scripts" / "wheels").read_text()
    match = re.search(r"^clean_dist\(\) \{\n.*?^\}\n", script, re.S | re.M)
    assert match, "scripts/wheels has no clean_dist function"
    subprocess.run(
        ["bash", "-euc", f'{match.group(0)}\nclean_dist "$1" "$2"', "-", str(smoke), str(dist)],
        check=True,
    )


def _fill(dist: Path) -> None:
    dist.mkdir(exist_ok=True)
    for name in (
        "gatun_rs-0.1.0.tar.gz",
        "gatun_rs-0.1.0-cp310-cp310-manylinux_2_17_x86_64.whl",
        "gatun_rs-0.1.0-cp310-cp310-manylinux_2_17_x86_64.whl.auditwheel.txt",
        "BUILD_INFO",
    ):
        (dist / name).write_text("x")


def test_smoke_mode_keeps_the_sdist_and_replaces_the_wheels(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _fill(dist)
    _clean_dist(1, dist)
    assert sorted(p.name for p in dist.iterdir()) == ["gatun_rs-0.1.0.tar.gz"]


def test_a_full_build_starts_from_an_empty_dist(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _fill(dist)
    _clean_dist(0, dist)
    assert list(dist.iterdir()) == []


def test_docs_without_a_built_gatun_says_to_run_the_build_first(tmp_path: Path) -> None:
    repo = tmp_path / "clone"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "docs", repo / "scripts" / "docs")
    python = repo / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    # A .venv made by scripts/bootstrap alone: pdoc, but no gatun.
    python.write_text(
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'gatun'\" >&2\nexit 1\n"
    )
    python.chmod(0o755)
    result = subprocess.run(
        ["bash", str(repo / "scripts" / "docs")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "run scripts/build first" in result.stderr, result.stderr
    assert "No module named 'gatun'" in result.stderr
