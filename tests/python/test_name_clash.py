"""``import gatun`` refuses to run beside upstream Gatun's files (issue 17,
item 3): a real second distribution on ``sys.path``, and upstream's files
inside a copy of our package, each imported in a fresh interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import gatun

_PACKAGE = Path(gatun.__file__).resolve().parent
_FIX = "pip uninstall -y gatun gatun-rs && pip install gatun-rs"


def _import_gatun(*path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("GATUN_IGNORE_NAME_CLASH", None)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in path)
    return subprocess.run(
        [sys.executable, "-c", "import gatun"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _fake_upstream(site: Path, files: list[str]) -> None:
    """A distribution named ``gatun`` as pip would leave it: a dist-info
    whose RECORD lists the files it installed."""
    info = site / "gatun-0.2.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gatun\nVersion: 0.2.1\n")
    record = [*files, "gatun-0.2.1.dist-info/METADATA,,", "gatun-0.2.1.dist-info/RECORD,,"]
    (info / "RECORD").write_text("\n".join(f if "," in f else f"{f},," for f in record) + "\n")


def test_upstream_distribution_on_the_path_is_named_with_the_fix(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _fake_upstream(site, ["gatun/__init__.py", "gatun/client.py", "gatun/generated/__init__.py"])
    result = _import_gatun(site, _PACKAGE.parent)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "the distribution 'gatun' 0.2.1 (upstream Gatun" in result.stderr
    assert str(site) in result.stderr
    assert _FIX in result.stderr


def test_a_distribution_named_gatun_without_a_gatun_package_is_no_clash(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _fake_upstream(site, ["something_else/__init__.py"])
    result = _import_gatun(site, _PACKAGE.parent)
    assert result.returncode == 0, result.stderr


def test_upstream_files_inside_our_package_are_named(tmp_path: Path) -> None:
    copy = tmp_path / "site" / "gatun"
    shutil.copytree(_PACKAGE, copy, ignore=shutil.ignore_patterns("jars", "__pycache__"))
    (copy / "generated").mkdir()
    (copy / "generated" / "__init__.py").write_text("")
    result = _import_gatun(copy.parent)
    assert result.returncode != 0
    assert "holds files that gatun-rs does not ship: generated" in result.stderr
    assert _FIX in result.stderr

    # The escape hatch the message names.
    env_ok = subprocess.run(
        [sys.executable, "-c", "import gatun"],
        env={**os.environ, "PYTHONPATH": str(copy.parent), "GATUN_IGNORE_NAME_CLASH": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert env_ok.returncode == 0, env_ok.stderr


def test_python_m_gatun_names_upstream_even_after_it_replaced_our_init(tmp_path: Path) -> None:
    """Upstream installed after gatun-rs overwrites ``gatun/__init__.py``, so
    ``import gatun`` runs upstream's code and cannot check; ``python -m
    gatun`` (our ``__main__``, which upstream does not ship) still does."""
    site = tmp_path / "site"
    copy = site / "gatun"
    shutil.copytree(_PACKAGE, copy, ignore=shutil.ignore_patterns("jars", "__pycache__"))
    (copy / "__init__.py").write_text('"""upstream Gatun 0.2.1"""\n')
    _fake_upstream(site, ["gatun/__init__.py", "gatun/client.py"])
    env = {k: v for k, v in os.environ.items() if k != "GATUN_IGNORE_NAME_CLASH"}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run(
        [sys.executable, "-m", "gatun", "version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "upstream Gatun" in result.stderr
    assert _FIX in result.stderr
