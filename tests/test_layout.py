"""The package's import graph, read from the source (ast, function-level imports included): no module
reaches back into one that reaches it, and the engine (chaffee_assets.speech) stays free of Dagster and of
the layers above it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "chaffee_assets"
ABOVE_THE_ENGINE = ("dagster", "chaffee_assets.defs", "chaffee_assets.cli", "chaffee_assets.cluster",
                    "chaffee_assets.definitions")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, here: str, is_package: bool) -> set[str]:
    """Every dotted name an import statement in `tree` names, absolute; `from a import b` yields a.b too
    (b may be a module)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: len(here.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """{module: the package's modules it imports} over every .py file under chaffee_assets/."""
    sources = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in sources.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = imported(tree, name, path.name == "__init__.py")
        graph[name] = {t for t in targets if t in sources and t != name}
        graph[name].update(t for t in targets if not t.startswith("chaffee_assets"))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module (Tarjan), as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_from_every_module():
    graph = import_graph()
    assert "chaffee_assets.speech.asr.windowed" in graph
    assert "chaffee_assets.speech.asr.windows" in graph["chaffee_assets.speech.asr.prep"]  # a function-level import
    assert "dagster" in graph["chaffee_assets.definitions"]


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_in_a_circle():
    assert cycles(import_graph()) == []


def test_the_engine_imports_nothing_above_it():
    offending = {name: sorted(t for t in targets if t.split(".")[0] == "dagster" or
                              any(t == a or t.startswith(a + ".") for a in ABOVE_THE_ENGINE))
                 for name, targets in import_graph().items() if name.startswith("chaffee_assets.speech")}
    assert {name: bad for name, bad in offending.items() if bad} == {}
