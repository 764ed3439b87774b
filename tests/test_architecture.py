"""Layering rules of the package, checked on the source (as an import-linter contract would)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import compose

PACKAGE = Path(compose.__file__).parent


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("forbidden", ["compose.runtime", "compose.store", "compose.cli", "compose.training"])
def test_the_planner_declares_the_graph_without_running_or_storing_it(forbidden: str) -> None:
    assert forbidden not in _imports("planner")


@pytest.mark.parametrize("module", ["schema", "errors", "_yaml"])
def test_the_schema_layer_does_not_reach_into_execution(module: str) -> None:
    assert not {"compose.runtime", "compose.store", "compose.training", "compose.cli"} & _imports(module)


def test_errors_hold_only_the_hierarchy() -> None:
    assert _imports("errors") <= {"__future__", "typing"}


def test_every_public_name_is_exported_and_sorted() -> None:
    assert compose.__all__ == sorted(compose.__all__)
    assert all(hasattr(compose, name) for name in compose.__all__)


def test_no_module_grows_past_the_readable_limit() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 600} == {}
