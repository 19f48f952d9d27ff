"""Runs at interpreter start (``gatun_rs_guard.pth``, installed beside it):
when upstream Gatun was installed *after* gatun-rs, its ``gatun/__init__.py``
replaced ours, so our own check (``gatun._clash``) never runs and upstream's
code would run under our name. Then ``import gatun`` raises the clash error.

Cheap on purpose, since every interpreter of this environment runs it: one
read of the first bytes of ``gatun/__init__.py``; nothing else when that file
is ours.
"""

from __future__ import annotations

import os
import sys

#: The line our ``gatun/__init__.py`` carries near its top.
MARKER = b"gatun-rs package marker"


def _ours(init: str) -> bool | None:
    """Whether ``init`` is our ``__init__.py``; None when there is none."""
    try:
        with open(init, "rb") as f:
            return MARKER in f.read(4096)
    except OSError:
        return None


class _Refuse:
    """A meta path finder that refuses ``gatun`` with the reason."""

    def __init__(self, message: str) -> None:
        self.message = message

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "gatun" and os.environ.get("GATUN_IGNORE_NAME_CLASH") != "1":
            raise ImportError(self.message, name="gatun")


def install() -> None:
    """Adds the refusal to ``sys.meta_path`` when our package was overwritten."""
    package = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gatun")
    ours = _ours(os.path.join(package, "__init__.py"))
    if ours is False:
        message = (
            "another distribution (upstream Gatun, 'pip install gatun') was installed over "
            f"it and replaced {package}/__init__.py, so its code would run under gatun-rs's "
            "name. Both use the package name 'gatun'; keep only gatun-rs: "
            "`pip uninstall -y gatun gatun-rs && pip install gatun-rs`"
        )
    elif ours is None and os.path.isdir(package):
        message = (
            f"{package}/__init__.py is gone (uninstalling another distribution that shared "
            "the package name 'gatun', such as upstream Gatun, removes it): reinstall "
            "gatun-rs with `pip install --force-reinstall gatun-rs`"
        )
    else:
        return
    sys.meta_path.insert(
        0,
        _Refuse(
            f"cannot import gatun (gatun-rs): {message} "
            "(or set GATUN_IGNORE_NAME_CLASH=1 to import anyway)"
        ),
    )


install()
