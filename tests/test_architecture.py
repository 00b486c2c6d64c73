"""The folder tree is the architecture: these tests keep the import graph honest.

Every ``import`` in ``grader`` and ``solutions`` (at module level or inside a function) is an
edge. The graph must have no cycle, the student side of the sandbox must not reach the
references, the suites or the engine, and the references must never import the grader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("grader", "solutions")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules that ``name`` imports (``from a import b`` counts ``a.b`` when that
    is a module, else ``a``); imports of other projects are left out."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports_of(name, path, known) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in edges.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_the_graph_is_read_correctly():
    edges = graph()
    assert "grader.sandbox.codec" in edges["grader.sandbox.worker"]
    assert "solutions" in edges["grader.suites.semi_hard_negatives"]
    assert "grader.engine.model" in edges["grader.engine.run"]


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# The zygote is trusted, but every worker forked from it starts with its memory: it too loads nothing secret.
STUDENT_SIDE = ("grader.sandbox.worker", "grader.sandbox.codec", "grader.sandbox.scale", "grader.sandbox.confine",
                "grader.sandbox.zygote")


@pytest.mark.parametrize("module", STUDENT_SIDE)
def test_the_student_side_of_the_sandbox_reaches_nothing_secret(module):
    """Whatever the worker loads, directly or through another module, stays in the sandbox."""
    edges = graph()
    assert module in edges
    outside = sorted(m for m in reachable(edges, module) if not m.startswith("grader.sandbox") and m != "grader")
    assert outside == [], f"{module} reaches {outside}"


def test_the_references_never_import_the_grader():
    edges = graph()
    bad = sorted((m, t) for m, ts in edges.items() if m.startswith("solutions") for t in ts if t.startswith("grader"))
    assert bad == []


def test_the_graded_contract_does_not_import_the_lesson_experiments():
    edges = graph()
    contract = [m for m in edges if m.startswith("solutions") and not m.startswith("solutions.experiments")]
    bad = sorted((m, t) for m in contract for t in edges[m] if t.startswith("solutions.experiments"))
    assert bad == []


def test_every_package_says_what_it_is_for():
    for name, path in modules().items():
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text()))
            assert doc and len(doc) > 40, f"{name} has no docstring saying its job"
