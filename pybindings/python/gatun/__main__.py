"""``python -m gatun``: ``version``, ``doctor`` and ``bench`` (see
:mod:`gatun._cli`)."""

from gatun._cli import main

raise SystemExit(main())
