"""The shape of the house: no import cycles inside ``symdyn/``, small modules, short
functions (see ARCHITECTURE.md). Read from the source with ``ast``, so imports inside
functions and under ``TYPE_CHECKING`` count as much as top-level ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symdyn"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (anywhere in its source)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, is_package, node) if node.level else node.module or ""
                # `from .pkg import sub` imports the submodule; `from .pkg import name`
                # takes a name from the package's __init__
                subs = [f"{target}.{a.name}" for a in node.names
                        if f"{target}.{a.name}" in modules]
                whole = target in modules and len(subs) < len(node.names)
                targets = subs + ([target] if whole or target not in modules else [])
            for t in targets:
                while t and t not in modules:  # `import symdyn.x.y` -> the deepest module
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or ``None``."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state and (found := visit(t)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles(tmp_path):
    """Negative control: a package whose modules import each other (one of them only for
    typing, inside a function) is caught."""
    pkg = tmp_path / "symdyn"
    (pkg / "rules").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .derive import derive\n")
    (pkg / "derive.py").write_text("from .rules import Rule\n\ndef derive():\n    pass\n")
    (pkg / "rules" / "__init__.py").write_text("from ._base import Rule\n")
    (pkg / "rules" / "_base.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..derive import x\n"
        "class Rule:\n    pass\n")
    graph = import_graph(pkg)
    assert graph["symdyn.rules._base"] == {"symdyn.derive"}
    assert set(find_cycle(graph)) == {"symdyn.derive", "symdyn.rules", "symdyn.rules._base"}
    (pkg / "rules" / "_base.py").write_text("class Rule:\n    pass\n")
    assert find_cycle(import_graph(pkg)) is None


def test_rules_depend_on_nothing_above_them():
    graph = import_graph()
    allowed = {"symdyn.errors", "symdyn.spec"}
    for m in (m for m in graph if m.startswith("symdyn.rules")):
        assert graph[m] <= allowed | {x for x in graph if x.startswith("symdyn.rules")}, m


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_and_function_sizes(name):
    path = _modules()[name]
    source = path.read_text()
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.name}: {lines} lines; split it by job"
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_package_list_names_every_package():
    """pyproject.toml lists the packages by hand (the proofs are mapped into the package);
    a new subpackage must be added there or an installed symdyn would miss it."""
    import tomllib

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(PACKAGE.parent).parts)
             for p in PACKAGE.rglob("__init__.py")}
    assert set(config["packages"]) == found | {"symdyn._proofs"}
    assert config["package-dir"] == {"symdyn._proofs": "proofs"}
