"""The package's import graph: no cycles, layers point down, the CLI on top, imports at the top of library modules.

Every `import` / `from ... import` in `rosmo/` is read with `ast`, including
imports inside functions, and resolved to the project module it names.
"""

import ast
import os
from typing import Dict, List, Set, Tuple

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rosmo")
CLI = "rosmo.cli"


def _modules() -> Dict[str, str]:
    mods = {}
    for directory, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(directory, f)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                mods[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return mods


def _imports(module: str, path: str, mods: Dict[str, str]) -> List[Tuple[str, bool]]:
    """(imported project module, at top level?) for every import statement of `module`."""
    tree = ast.parse(open(path).read())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.endswith("__init__.py") else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in mods:
                name = name.rpartition(".")[0]
            if name and name != module and name != "rosmo":
                found.append((name, id(node) in top_level))
    return found


def _graph():
    mods = _modules()
    return mods, {m: _imports(m, p, mods) for m, p in mods.items()}


def _cycle(edges: Dict[str, Set[str]]):
    color, stack = {}, []

    def visit(u):
        color[u] = 1
        stack.append(u)
        for v in sorted(edges[u]):
            if color.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if not color.get(v):
                found = visit(v)
                if found:
                    return found
        stack.pop()
        color[u] = 2
        return None

    for m in sorted(edges):
        if not color.get(m):
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycles():
    _, imports = _graph()
    cycle = _cycle({m: {t for t, _ in targets} for m, targets in imports.items()})
    assert cycle is None, " -> ".join(cycle)


def test_only_the_cli_imports_the_cli():
    _, imports = _graph()
    bad = [(m, t) for m, targets in imports.items() if not m.startswith(CLI) for t, _ in targets if t.startswith(CLI)]
    assert not bad, bad


def test_library_modules_import_the_project_at_the_top():
    """The CLI may import the library lazily (fast --help); library modules import it at the top of the file."""
    _, imports = _graph()
    bad = [(m, t) for m, targets in imports.items() if not m.startswith(CLI) for t, top in targets if not top]
    assert not bad, bad


def test_the_checker_sees_cycles_and_function_level_imports(tmp_path):
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert _cycle(edges) == ["a", "b", "c", "a"]
    probe = tmp_path / "probe.py"
    probe.write_text("import rosmo.y\n\ndef f():\n    from rosmo import x\n")
    assert _imports("rosmo.z", str(probe), {"rosmo.x": "", "rosmo.y": ""}) == [("rosmo.y", True), ("rosmo.x", False)]
