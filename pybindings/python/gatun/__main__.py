"""``python -m gatun``: ``version``, ``doctor`` and ``bench`` (see
:mod:`gatun._cli`)."""

from pathlib import Path

# Upstream Gatun installed after gatun-rs replaces our ``__init__.py`` (so
# ``import gatun`` cannot check), but not this module: check here first.
from gatun._clash import check_name_clash

check_name_clash(Path(__file__).resolve().parent)

from gatun._cli import main  # noqa: E402 - after the check, which must run first

if __name__ == "__main__":  # importing this module alone runs nothing
    raise SystemExit(main())
