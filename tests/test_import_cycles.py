"""The core's imports point one way: no module of the package imports, directly or through others,
a module that imports it back.

What counts as an import (read from the source with ``ast``, not by running it):

- ``import`` / ``from ... import`` statements anywhere in a module: at the top, and inside
  functions, methods and ``if TYPE_CHECKING:`` blocks alike. A lazy import inside a function is how
  a cycle hides (it defers the failure, not the dependency), so it counts.
- A relative import is resolved against the importing module; ``from pkg import name`` is an edge to
  ``pkg.name`` when that is a module of the package, else to ``pkg``.
- Importing ``a.b.c`` runs ``a/b/__init__.py`` first, so it is also an edge to each enclosing
  subpackage (``visionzoo.models`` for ``visionzoo.models._index``), except the packages the
  importer itself sits in (they are initialised before it) and the root ``visionzoo``, initialised
  before any of its modules. An explicit import of a package (``from .. import create_model``) is
  an edge to its ``__init__``, the root's included.
- Not counted: ``importlib.import_module`` with a computed name, by which the registry loads the
  family that defines a name (a plugin load keyed by data: the family imports the registry, never
  the other way by name), and imports of other packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "visionzoo"  # read, never imported


def _module_names(root: Path) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _with_parents(name: str, importer: str, modules: dict[str, Path]) -> set[str]:
    """``name`` (when it is a module of the package) and the enclosing subpackages importing it
    runs: those not already running around ``importer``, and never the root facade."""
    out = {name} if name in modules else set()
    parts = name.split(".")
    for i in range(2, len(parts)):
        prefix = ".".join(parts[:i])
        if prefix in modules and not importer.startswith(prefix + "."):
            out.add(prefix)
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` under the rules in the module docstring."""
    package = root.name
    modules = _module_names(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                if target == package or target.startswith(package + "."):
                    edges |= _with_parents(target, name, modules)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One shortest cycle through each strongly connected group of modules, as a path
    ``[a, b, ..., a]``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for group in groups:
        start = min(group)
        # breadth-first from start back to start, inside the group: the shortest cycle through it
        paths = {start: [start]}
        frontier = [start]
        found = None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & group):
                    if w == start:
                        found = [*paths[v], start]
                        break
                    if w not in paths:
                        paths[w] = [*paths[v], w]
                        nxt.append(w)
                if found:
                    break
            frontier = nxt
        cycles.append(found or sorted(group))
    return sorted(cycles)


def test_the_graph_reads_lazy_relative_and_package_imports(tmp_path: Path) -> None:
    """The reader sees what the rules say, on a package laid out here (a checker that misses
    edges cannot fail)."""
    files = {
        "__init__.py": "from .a import f\n",
        "a.py": "import os\nfrom . import b\n\ndef f():\n    from .sub.c import g\n    return g\n",
        "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import f\n",
        "d.py": "from .sub import c, h\nimport pkg.b\nfrom . import VALUE\n",
        "sub/__init__.py": "from ..b import *\nh = 1\n",
        "sub/c.py": "from . import h\nfrom .. import a\n",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    graph = import_graph(tmp_path / "pkg")
    assert graph["pkg.a"] == {"pkg.b", "pkg.sub", "pkg.sub.c"}  # lazy; sub/__init__ runs first
    assert graph["pkg.b"] == {"pkg.a"}  # under TYPE_CHECKING too
    assert graph["pkg.d"] == {"pkg.sub", "pkg.sub.c", "pkg.b", "pkg"}  # the root: named explicitly
    assert graph["pkg.sub.c"] == {"pkg.sub", "pkg.a"}  # its own package: explicit only
    assert graph["pkg.sub"] == {"pkg.b"} and graph["pkg"] == {"pkg.a"}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.a"]]
    # and on the package itself, a few arrows it is known to have
    real = import_graph()
    assert "visionzoo.pretrained" in real["visionzoo.hub.sources"]
    assert "visionzoo.save" in real["visionzoo.hub"]
    assert (
        "visionzoo.builder" in real["visionzoo.registry"]
        and "visionzoo.registry" in real["visionzoo.factory"]
    )


def test_find_cycles_names_the_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "e2", "e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_the_package() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles (each import counts, lazy ones too):\n" + "\n".join(
        " -> ".join(c) for c in cycles
    )
