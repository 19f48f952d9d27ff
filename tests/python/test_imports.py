"""The package's import graph: every module imports on its own, and no module
imports another that (directly or not) imports it back. Imports under
``if TYPE_CHECKING:`` are left out: they never run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import gatun

PACKAGE = Path(gatun.__file__).resolve().parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST) -> set[str]:
    """The gatun modules ``node`` imports at run time (at any depth, so an
    import deferred into a function counts too)."""
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                found |= _imported(other)
            continue
        if isinstance(child, ast.Import):
            for alias in child.names:
                parts = alias.name.split(".")
                if parts[0] == "gatun" and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            parts = child.module.split(".")
            if parts[0] != "gatun":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from gatun import module
                found |= {a.name for a in child.names if a.name in MODULES}
        found |= _imported(child)
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name in MODULES:
        tree = ast.parse((PACKAGE / f"{name}.py").read_text(), filename=f"{name}.py")
        graph[name] = _imported(tree) & set(MODULES) - {name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a path back to its start), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_the_package_has_no_import_cycle() -> None:
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"client": {"objects"}, "objects": {"jvm"}, "jvm": {"client"}}
    assert _cycle(graph) == ["client", "objects", "jvm", "client"]
    assert _cycle({"client": {"objects"}, "objects": set()}) is None


def test_a_deferred_import_counts() -> None:
    tree = ast.parse("def f():\n    from gatun import arrow\n")
    assert _imported(tree) == {"arrow"}
    typing_only = ast.parse("if TYPE_CHECKING:\n    from gatun.client import GatunClient\n")
    assert _imported(typing_only) == set()


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone(module: str) -> None:
    """In a fresh interpreter, so no other test has imported anything first."""
    done = subprocess.run(
        [sys.executable, "-c", f"import gatun.{module}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PACKAGE.parent,
    )
    assert done.returncode == 0, done.stderr
