"""scripts/wheels' handling of dist/: a full build starts from an empty
dist/, ``--smoke`` replaces only the wheels (an sdist from an earlier full
build stays). Runs the script's own ``clean_dist`` function, not a copy."""

from __future__ import annotations

import re
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
