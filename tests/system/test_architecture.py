"""Layering rules of the package, checked on the source.

import-linter (`make test`, contracts in pyproject.toml) checks the layers; these tests check what
it does not: no import cycle at all (function-local and TYPE_CHECKING imports count), no module
importing another module's private names, a root that imports nothing heavy, and module sizes.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

import compose

PACKAGE = Path(compose.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(tree: ast.Module, known: set[str]) -> set[tuple[str, str | None]]:
    """(module, name) of every import anywhere in the tree; `from compose.x import y` where y is
    itself a module gives (compose.x.y, None)."""
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add((sub, None) if sub in known else (node.module, alias.name))
        elif isinstance(node, ast.Import):
            found.update((alias.name, None) for alias in node.names)
    return found


def _graph() -> nx.DiGraph:
    modules = _modules()
    known = set(modules)
    g = nx.DiGraph()
    g.add_nodes_from(known)
    for name, tree in modules.items():
        for target, _ in _imported(tree, known):
            if target in known and target != name:
                g.add_edge(name, target)
    return g


def test_the_package_has_no_import_cycle_counting_local_and_type_checking_imports() -> None:
    cycles = [sorted(c) for c in nx.simple_cycles(_graph())]
    assert cycles == []


def _packages_imported(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """The packages above module `name` that it imports by their own name (`from compose.serve import x`,
    `import compose.serve`, `from . import x`)."""
    above = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)} & known
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = name.split(".")[: len(name.split(".")) - node.level] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])]) if node.level else node.module
            found.add(target or "")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & above


def test_no_module_imports_its_own_package_while_the_package_imports_it() -> None:
    """`from compose.serve import errors` in a module that `compose/serve/__init__.py` imports (even
    through others) runs the package half-initialised: import the module itself instead."""
    modules = _modules()
    known, graph = set(modules), _graph()
    offenders = sorted(f"{name} imports its package {package}, which imports {name} back"
                       for name, tree in modules.items() for package in _packages_imported(name, tree, known)
                       if nx.has_path(graph, package, name))
    assert offenders == []


def test_no_module_imports_another_modules_private_names() -> None:
    modules = _modules()
    known = set(modules)
    offenders = sorted(
        f"{name} imports {target}.{attr}"
        for name, tree in modules.items()
        for target, attr in _imported(tree, known)
        if target.startswith("compose") and attr is not None and attr.startswith("_") and attr != "__version__"
    )
    assert offenders == []


def test_the_planner_declares_the_graph_without_running_or_storing_it() -> None:
    assert not {"compose.runtime", "compose.store", "compose.cli", "compose.training"} & {
        ".".join(n.split(".")[:2]) for n in nx.descendants(_graph(), "compose.plan")}


def test_errors_hold_only_the_hierarchy() -> None:
    assert {m for m, _ in _imported(_modules()["compose.errors"], set())} <= {"__future__", "typing"}


def test_the_shared_types_import_only_the_standard_library() -> None:
    # compose.typing sits in the lowest layer: any module may import it, so it imports nothing of its own
    assert {m for m, _ in _imported(_modules()["compose.typing"], set())} <= {"__future__", "typing"}


def test_every_public_name_is_exported_and_sorted() -> None:
    assert compose.__all__ == sorted(compose.__all__)
    assert all(hasattr(compose, name) for name in compose.__all__)
    assert set(compose.__all__) <= set(dir(compose))


def test_importing_compose_loads_neither_sklearn_scipy_nor_pandas() -> None:
    code = "import sys, compose; print(__import__('json').dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = {m.split(".")[0] for m in json.loads(out)}
    assert loaded & {"sklearn", "scipy", "pandas", "numpy", "joblib", "networkx"} == set()


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_the_cli_answers_help_and_version_without_sklearn(argv: list[str]) -> None:
    code = ("import sys, json; from compose.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(out.stderr.splitlines()[-1])}
    assert loaded & {"sklearn", "scipy", "pandas"} == set()


def test_no_module_grows_past_the_readable_limit() -> None:
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 600} == {}


def test_no_function_runs_over_sixty_lines() -> None:
    """A function is read whole: from its `def` to its last line (docstring and comments count)."""
    long = {f"{p.relative_to(PACKAGE)}:{node.lineno} {node.name}": node.end_lineno - node.lineno + 1
            for p in sorted(PACKAGE.rglob("*.py")) for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > 60}
    assert long == {}

