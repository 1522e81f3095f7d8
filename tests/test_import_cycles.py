"""No import circles between the project's modules, counting every import the code can make.

The graph is built from the source (``ast``), not by importing: a module-level import, an import inside
a function (deferred), one under ``if TYPE_CHECKING:`` and ``importlib.import_module("...")`` with a
literal name all count. An edge goes to the most specific project module named (``from a.b import c``
is ``a.b.c`` when that is a module, else ``a.b``), and to the packages Python initialises on the way
(``a.b``'s ``__init__``) unless the importer is inside them: a package re-exporting its own submodules
is not a circle, but a module that reaches into a package whose ``__init__`` imports it back is. A
failure prints each circle as a path of ``module:line (kind)`` steps.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("collector", "agent", "contract", "detectors", "simulator")


@dataclass(frozen=True)
class Edge:
    target: str
    line: int
    kind: str  # "top", "deferred", "type-checking" or "import_module"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, kind: str) -> Iterator[tuple[ast.AST, str]]:
    """Every node with how an import there is made: at module level, in a function, under TYPE_CHECKING."""
    for child in ast.iter_child_nodes(node):
        here = kind
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and kind == "top":
            here = "deferred"
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            yield child, kind
            for sub in child.body:
                yield sub, "type-checking"
                yield from _walk(sub, "type-checking")
            for sub in child.orelse:
                yield sub, kind
                yield from _walk(sub, kind)
            continue
        yield child, here
        yield from _walk(child, here)


def _edges(name: str, path: Path, modules: dict[str, Path]) -> list[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node, kind in _walk(tree, "top"):
        targets: list[str | None] = []
        if isinstance(node, ast.Import):
            targets = [_resolve(a.name, modules) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            mod = ".".join([*base, *([node.module] if node.module else [])])
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else _resolve(mod, modules)
                       for a in node.names]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if called in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                targets, kind = [_resolve(node.args[0].value, modules)], "import_module"
        for target in targets:
            if target is None or target == name:
                continue
            out.append(Edge(target, getattr(node, "lineno", 0), kind))
            for parent in _parents(target):  # importing a.b.c first runs a.b's __init__, from outside a.b
                if parent in modules and not (name + ".").startswith(parent + "."):
                    out.append(Edge(parent, getattr(node, "lineno", 0), f"{kind}, package"))
    return out


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def import_graph() -> dict[str, list[Edge]]:
    modules = _modules()
    return {name: _edges(name, path, modules) for name, path in modules.items()}


def _components(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                nxt = step.target
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    out.append(sorted(group))
    return out


def _circle(graph: dict[str, list[Edge]], group: list[str]) -> str:
    """One concrete circle through the component, as ``a:12 (deferred) -> b:3 (top) -> a``."""
    members = set(group)
    start = group[0]
    seen = {start: [start]}
    path_edges: dict[str, list[tuple[str, Edge]]] = {start: []}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to the start
        nxt_frontier = []
        for node in frontier:
            for edge in graph[node]:
                if edge.target not in members:
                    continue
                steps = [*path_edges[node], (node, edge)]
                if edge.target == start:
                    return " -> ".join(f"{src}:{e.line} ({e.kind})" for src, e in steps) + f" -> {start}"
                if edge.target not in seen:
                    seen[edge.target] = [*seen[node], edge.target]
                    path_edges[edge.target] = steps
                    nxt_frontier.append(edge.target)
        frontier = nxt_frontier
    return " <-> ".join(group)


def test_the_graph_sees_every_kind_of_import() -> None:
    """The scan itself: it finds the project's modules and each kind of import (else it proves nothing)."""
    graph = import_graph()
    assert {"collector.service", "agent.cli", "contract.wire", "detectors.rollup"} <= set(graph)
    targets = {e.target for e in graph["collector.service"]}
    assert {"collector.alerts.service", "collector.ingest", "collector.storage.notify"} <= targets
    kinds = {e.kind for edges in graph.values() for e in edges}
    assert {"top", "deferred", "type-checking", "top, package"} <= kinds, kinds
    into_alerts = {(e.target, e.kind) for e in graph["collector.service"]}
    assert ("collector.alerts", "top, package") in into_alerts, "collector.alerts.x runs collector.alerts first"
    assert all(e.target != "collector.alerts" for e in graph["collector.alerts.service"]), "its own package"


def test_a_circle_is_found_and_printed() -> None:
    graph = {"a": [Edge("b", 3, "top")], "b": [Edge("c", 7, "type-checking")], "c": [Edge("a", 9, "deferred")],
             "d": [Edge("a", 1, "top")]}
    groups = _components(graph)
    assert groups == [["a", "b", "c"]]
    assert _circle(graph, groups[0]) == "a:3 (top) -> b:7 (type-checking) -> c:9 (deferred) -> a"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles(package: str) -> None:
    graph = import_graph()
    circles = [_circle(graph, g) for g in _components(graph) if any(m.split(".")[0] == package for m in g)]
    assert not circles, "import circles:\n" + "\n".join(circles)
