"""``python -m gatun``: ``version``, ``doctor`` and ``bench`` (see
:mod:`gatun._cli`)."""

from gatun._cli import main

if __name__ == "__main__":  # importing this module alone runs nothing
    raise SystemExit(main())
