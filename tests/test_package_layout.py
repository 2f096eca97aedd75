"""The sweep and table packages: every module says what it owns (a docstring), and no module
imports in a circle. Cycles are looked for on the import graph read from the sources (ast, the
imports at module level: those inside functions run once every module is loaded), which costs
milliseconds; each module is also imported alone, as a user's first import would."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("simulator.sweep", "simulator.table")


def modules(package: str) -> dict[str, Path]:
    folder = ROOT / package.replace(".", "/")
    return {f"{package}.{p.stem}" if p.stem != "__init__" else package: p for p in sorted(folder.glob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """Modules of the same package that `name` imports at module level (what can form a cycle)."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    out = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{base}.{node.module}" if node.module else base
            out.add(target)
            out.update(f"{target}.{a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith(package + ".") and m != name}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_has_a_docstring(package):
    for name, path in modules(package).items():
        assert ast.get_docstring(ast.parse(path.read_text())), f"{name} has no module docstring"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    mods = modules(package)
    graph = {name: imported(name, path) & set(mods) for name, path in mods.items()}
    state: dict[str, int] = {}

    def visit(node, trail):
        if state.get(node) == 1:
            raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(node):] + [node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, trail + [node])
        state[node] = 2

    for name in graph:
        visit(name, [])


def test_each_module_imports_alone():
    names = [n for p in PACKAGES for n in modules(p)]
    script = ("import importlib, sys\nfor name in sys.argv[1:]:\n"
              "    for m in [m for m in sys.modules if m.startswith('simulator')]:\n        del sys.modules[m]\n"
              "    importlib.import_module(name)\n")
    proc = subprocess.run([sys.executable, "-c", script, *names], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
