"""The architecture of docs/architecture.md holds: layers, no cycle, no private reach-ins.

The layers are declared once, in pyproject.toml (``[tool.importlinter]``); these tests run
that contract and check what a contract cannot: every module sits in a layer, no cycle
exists anywhere (lazy imports inside functions included), no module imports another
module's ``_``-prefixed names, and no code cites a design file the repository does not
carry.
"""

from __future__ import annotations

import ast
import os
import tomllib
from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")
importlinter_cli = pytest.importorskip("importlinter.cli")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "linkrisk"


def contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    return contract["layers"]


def module_names() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join(parts))
    return names


def test_the_layers_contract_is_kept():
    # lint-imports reads pyproject.toml from the working directory
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        code = importlinter_cli.lint_imports(no_cache=True, no_logo=True)
    finally:
        os.chdir(cwd)
    assert code == 0, "an import crosses the layers of pyproject.toml [tool.importlinter]; run lint-imports"


def test_every_module_sits_in_a_layer():
    """A new module must be placed in the contract, or the contract says nothing about it."""
    placed = {"linkrisk." + name.strip() for layer in contract_layers() for name in layer.split("|")}
    top = {m for m in module_names() if m.count(".") == 1} - {"linkrisk"}
    # subpackages are placed as a whole (linkrisk.engine holds base, duckdb, spark ...)
    top |= {".".join(m.split(".")[:2]) for m in module_names() if m.count(".") >= 2}
    missing = sorted(top - placed)
    assert not missing, f"modules in no layer of pyproject.toml [tool.importlinter]: {missing}"


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan 1972)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for m in sorted(edges):
        if m not in index:
            visit(m)
    return found


def test_cycle_finder_on_a_hand_made_graph():
    # a -> b -> c -> a is one cycle; d -> a hangs off it; e stands alone
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_including_imports_inside_functions():
    graph = grimp.build_graph("linkrisk", exclude_type_checking_imports=True)
    edges = {m: graph.find_modules_directly_imported_by(m) - {m} for m in graph.modules}
    assert cycles(edges) == []


def private_imports(source: str, module: str) -> list[str]:
    """``from linkrisk.x import _name`` of another module, and ``import linkrisk._x``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("linkrisk"):
            target = node.module
            if any(part.startswith("_") for part in target.split(".")):
                found.append(target)
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__") and target != module:
                    found.append(f"{target}.{alias.name}")
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names
                      if a.name.startswith("linkrisk") and any(p.startswith("_") for p in a.name.split("."))]
    return found


def test_private_import_finder_finds_one():
    assert private_imports("def f():\n    from linkrisk.normalise import _ric_check_of\n", "linkrisk.attack") \
        == ["linkrisk.normalise._ric_check_of"]
    assert private_imports("from linkrisk import __version__\n", "linkrisk.result") == []


def test_no_module_imports_another_modules_private_names():
    found = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        hits = private_imports(path.read_text(encoding="utf-8"), module)
        if hits:
            found[module] = hits
    assert found == {}


def test_no_code_or_doc_cites_a_design_file_the_repository_lacks():
    cited = []
    for folder in ("linkrisk", "tests", "docs", "benchmarks", "notebooks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".toml", ".ipynb", ".html") and path.name != "test_architecture.py":
                if "DESIGN.md" in path.read_text(encoding="utf-8", errors="replace"):
                    cited.append(str(path.relative_to(ROOT)))
    assert cited == [], "cite docs/ (method.md, security.md ...) instead"
