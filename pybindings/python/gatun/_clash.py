"""Refuses to import when upstream Gatun shares our package name.

Upstream's distribution ``gatun`` installs a ``gatun/`` package too: over
ours (its files mixed into our directory) or beside it (whichever comes first
on ``sys.path`` wins). Either way imports would fail later with errors that
name neither cause, so ``import gatun`` stops at once and says how to fix it.
Cheap on purpose: one metadata lookup by name (absent in the common case) and
two ``stat`` calls, never a scan of every installed distribution.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

__all__ = ["check_name_clash"]

#: Upstream's PyPI distribution, which also installs ``gatun/``.
_UPSTREAM = "gatun"

#: Files upstream's wheel puts in ``gatun/`` and ours never ships.
_UPSTREAM_ONLY = ("generated", "jars/gatun-server-all.jar")

_FIX = "pip uninstall -y gatun gatun-rs && pip install gatun-rs"

#: Set to 1 to import anyway (at your own risk).
_OVERRIDE = "GATUN_IGNORE_NAME_CLASH"


def check_name_clash(package_dir: Path) -> None:
    """Raise ``ImportError`` if another distribution's files share the
    ``gatun`` package with ours (``package_dir`` is our package directory)."""
    if os.environ.get(_OVERRIDE) == "1":
        return
    found = []
    try:
        upstream = distribution(_UPSTREAM)
    except PackageNotFoundError:
        upstream = None
    if upstream is not None and any(
        str(f).replace("\\", "/").startswith("gatun/") for f in upstream.files or ()
    ):
        where = upstream.locate_file("")
        found.append(
            f"the distribution {_UPSTREAM!r} {upstream.version} (upstream Gatun, "
            f"installed in {where}) also installs a 'gatun' package"
        )
    strays = [name for name in _UPSTREAM_ONLY if (package_dir / name).exists()]
    if strays:
        found.append(
            f"{package_dir} holds files that gatun-rs does not ship: {', '.join(strays)} "
            "(upstream Gatun was installed over it)"
        )
    if found:
        raise ImportError(
            "cannot import gatun (gatun-rs): "
            + "; ".join(found)
            + f". Both use the package name 'gatun'; keep only gatun-rs: `{_FIX}` "
            f"(or set {_OVERRIDE}=1 to import anyway)"
        )
