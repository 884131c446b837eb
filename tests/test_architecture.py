"""The package's import graph: no cycles, layers point down, the CLI on top, imports at the top of library modules.

Every `import` / `from ... import` in `rosmo/` is read with `ast`, including
imports inside functions, and resolved to the project module it names. A
module's package is the name after `rosmo.` (`rosmo.deploy.loop` -> `deploy`,
`rosmo.errors` -> `errors`); `LAYERS` orders the packages.
"""

import ast
import os

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rosmo")
CLI = "rosmo.cli"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),  # the command line: parses flags, formats errors, calls one job
    ("cluster", "report"),  # jobs over sweeps: launch them on SLURM, report their runs
    ("deploy", "evaluator", "sweep"),  # jobs: deployment loop, checkpoint evaluator, grids of runs
    ("ope",),  # off-policy estimates of a checkpoint from its dataset
    ("training",),  # one run: learner, loop, checkpoints, run logging, workdir
    ("configs",),  # configs by name or file, overrides, validation
    ("suites",),  # bsuite, atari, mujoco: configs, data source, env, evaluation
    ("evaluation",),  # evaluation loops over an agent's actor and an env
    ("agents",),  # losses and acting rules; the agent registry
    ("data",),  # RLDS reading and writing, windows, dataset makers
    ("behaviour", "envs"),  # the online DQN that makes BSuite data; environments
    ("networks", "ops"),  # networks; pure maths (targets, value transform, MCTS)
    # base utilities
    ("errors", "figures", "jsonio", "owner", "registry", "rl_libs", "signals", "statistics", "tf_cpu"),
)
"""The packages of `rosmo/`, top layer first. A package imports only packages of lower layers; packages of one
layer do not import each other."""


def _modules(root: str = ROOT) -> dict[str, str]:
    mods = {}
    for directory, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(directory, f)
                rel = os.path.relpath(path, os.path.dirname(root))[:-3].replace(os.sep, ".")
                mods[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return mods


def _imports(module: str, path: str, mods: dict[str, str]) -> list[tuple[str, bool]]:
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


def _graph(root: str = ROOT):
    mods = _modules(root)
    return mods, {m: _imports(m, p, mods) for m, p in mods.items()}


def _package(module: str) -> str:
    """ "rosmo.deploy.loop" -> "deploy"; "rosmo" -> "" (the package's own __init__)."""
    return module.split(".")[1] if "." in module else ""


def layer_violations(imports: dict[str, list[tuple[str, bool]]], layers=LAYERS) -> list[str]:
    """One line per import that does not point to a lower layer, naming both modules and both layers."""
    index = {package: i for i, layer in enumerate(layers) for package in layer}
    name = {package: f"layer {i} ({', '.join(layer)})" for i, layer in enumerate(layers) for package in layer}
    found = []
    for module, targets in sorted(imports.items()):
        package = _package(module)
        if not package:
            continue
        if package not in index:
            found.append(f"{module}: package {package!r} is in no layer of LAYERS")
            continue
        names = {t for t, _ in targets}
        for target in sorted(t for t in names if not any(n.startswith(t + ".") for n in names)):  # most specific
            other = _package(target)
            if not other or other == package:
                continue
            if other not in index:
                found.append(f"{module} imports {target}: package {other!r} is in no layer of LAYERS")
            elif index[other] < index[package]:
                found.append(f"{module} in {name[package]} imports {target} in {name[other]}: an upward import")
            elif index[other] == index[package]:
                found.append(
                    f"{module} in {name[package]} imports {target} in {name[other]}: "
                    "packages of one layer do not import each other"
                )
    return sorted(set(found))


def _cycle(edges: dict[str, set[str]]):
    color, stack = {}, []

    def visit(u):
        color[u] = 1
        stack.append(u)
        for v in sorted(edges[u]):
            if color.get(v) == 1:
                return stack[stack.index(v) :] + [v]
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


def test_packages_import_only_lower_layers():
    _, imports = _graph()
    bad = layer_violations(imports)
    assert not bad, "\n".join(bad)


def test_every_package_is_in_one_layer():
    packages = [p for layer in LAYERS for p in layer]
    assert len(packages) == len(set(packages)), packages
    present = {_package(m) for m in _modules()} - {""}
    assert present <= set(packages), sorted(present - set(packages))


def test_the_layer_checker_reports_a_planted_upward_import(tmp_path):
    """A synthetic tree: ops imports training inside a function, envs imports data; the checker names both."""
    root = tmp_path / "rosmo"
    for rel, text in {
        "__init__.py": "",
        "ops/__init__.py": "",
        "ops/maths.py": "import numpy\n\n\ndef f():\n    from rosmo.training import loop\n    return loop\n",
        "training/__init__.py": "",
        "training/loop.py": "from rosmo.ops import maths\n",
        "envs/__init__.py": "",
        "envs/env.py": "import rosmo.data.rlds\n",
        "data/__init__.py": "",
        "data/rlds.py": "from rosmo.envs import env\n",
        "errors.py": "",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    _, imports = _graph(str(root))
    bad = layer_violations(imports)
    ops, training = f"layer {len(LAYERS) - 2} (networks, ops)", f"layer {LAYERS.index(('training',))} (training)"
    assert f"rosmo.ops.maths in {ops} imports rosmo.training.loop in {training}: an upward import" in bad
    assert any(
        line.startswith("rosmo.envs.env in layer") and "imports rosmo.data.rlds in layer" in line for line in bad
    )
    assert len(bad) == 2, bad

    (root / "ops/maths.py").write_text("import numpy\n")
    (root / "envs/env.py").write_text("")
    assert layer_violations(_graph(str(root))[1]) == []
    (root / "data/rlds.py").write_text("")
    (root / "envs/env.py").write_text("from rosmo.data import rlds\n")  # one layer, sideways: reported
    layers = LAYERS[:-3] + (("data", "envs"),) + LAYERS[-2:]
    bad = layer_violations(_graph(str(root))[1], layers)
    assert bad == [
        f"rosmo.envs.env in layer {len(layers) - 3} (data, envs) imports rosmo.data.rlds in layer "
        f"{len(layers) - 3} (data, envs): packages of one layer do not import each other"
    ], bad


def test_only_the_cli_imports_the_cli():
    _, imports = _graph()
    bad = [(m, t) for m, targets in imports.items() if not m.startswith(CLI) for t, _ in targets if t.startswith(CLI)]
    assert not bad, bad


DEFERRED_IMPORTS = {
    ("rosmo.suites", "rosmo.data"): "the suites load the data modules (TensorFlow, TFDS: about 5 CPU-seconds) only in "
    "the methods that read or write datasets, so evaluating a checkpoint (`rosmo evaluate`) and `rosmo sweep` do not",
    ("rosmo.evaluator.watch", "rosmo.ope.job"): "the off-policy estimators read the run's dataset (TensorFlow, "
    "TFDS: about 7 CPU-seconds at start-up); an evaluator job without --ope never loads them",
    ("rosmo.report.build", "rosmo.report.plots"): "the plotting libraries (matplotlib, seaborn, scipy: several "
    "CPU-seconds) load only when a report draws its plots, not for `rosmo report --no-plots`",
}
"""(importer package, imported package): function-level imports a library module may make, and why."""


def _deferred(module: str, target: str) -> bool:
    return any(module.startswith(a) and target.startswith(b) for a, b in DEFERRED_IMPORTS)


def test_library_modules_import_the_project_at_the_top():
    """The CLI may import the library lazily (fast --help); library modules import it at the top of the file, but
    for the DEFERRED_IMPORTS."""
    _, imports = _graph()
    bad = [
        (m, t)
        for m, targets in imports.items()
        if not m.startswith(CLI)
        for t, top in targets
        if not top and not _deferred(m, t)
    ]
    assert not bad, bad


def test_the_checker_sees_cycles_and_function_level_imports(tmp_path):
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert _cycle(edges) == ["a", "b", "c", "a"]
    probe = tmp_path / "probe.py"
    probe.write_text("import rosmo.y\n\ndef f():\n    from rosmo import x\n")
    assert _imports("rosmo.z", str(probe), {"rosmo.x": "", "rosmo.y": ""}) == [("rosmo.y", True), ("rosmo.x", False)]
