#!/usr/bin/env python3
"""Fails when a public or protected declaration's Javadoc has no description,
only block tags (``@param``, ``@return``, ...): javadoc 17's ``-Xdoclint:all``
reports a missing comment but not a missing description, and a page of bare
``Returns: the count`` lines says nothing about what a method is for.

    javadoc_descriptions.py FILE.java...   list each such declaration; exit 1 if any
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# A Javadoc comment, then any annotations, then the declaration's head (up to
# its body, initialiser or end).
_COMMENTED = re.compile(
    r"/\*\*(?P<doc>.*?)\*/\s*(?:@\w+(?:\([^)]*\))?\s*)*(?P<decl>[^;{=]*)", re.DOTALL
)


def _description(doc: str) -> str:
    """The comment's text before its first block tag."""
    lines = [re.sub(r"^\s*\*?\s?", "", line) for line in doc.splitlines()]
    text = []
    for line in lines:
        if line.lstrip().startswith("@"):
            break
        text.append(line)
    return " ".join(text).strip()


def missing(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    found = []
    for m in _COMMENTED.finditer(source):
        decl = " ".join(m["decl"].split())
        if re.match(r"(public|protected)\b", decl) and not _description(m["doc"]):
            line = source.count("\n", 0, m.start("decl")) + 1
            found.append(f"{path}:{line}: no description, only tags: {decl}")
    return found


def main(paths: list[str]) -> int:
    found = [problem for p in paths for problem in missing(Path(p))]
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
