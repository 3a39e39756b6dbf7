"""The code's shape: each stage folder of neurosim imports only from the stages before it,
never from neurosim.io, neurosim.viz or neurosim.models (an AST scan of every import,
function-level ones included).  The application layer (cli.py, the package's ``__init__``)
may import everything."""

import ast
from pathlib import Path

NEUROSIM = Path(__file__).resolve().parents[1] / "neurosim"
# the stages in order; errors, validate and providers (the top-level modules) come before
# all of them.
# Mechanisms come before the description: a cell checks what is painted on it against the
# mechanism at once (as NEURON's insert does), and a network's cell may be a mechanism.
STAGES = ["mechanisms", "description", "lowering", "kernels", "backends", "run"]
APPLICATION = {"neurosim", "neurosim.cli", "neurosim.__main__"}
OUTSIDE = {"io", "viz", "models"}


def module_name(path):
    parts = path.relative_to(NEUROSIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path, name, tree=None):
    """(target module, line) of every import in the file (or in ``tree``, a part of it),
    relative ones resolved; ``from package import x`` names each x."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree or ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base == "neurosim" or not node.module:   # each x is the target
                for alias in node.names:
                    yield f"{base}.{alias.name}", node.lineno
            else:
                yield base, node.lineno


def rank(name):
    """The stage of a module as an index into STAGES (-1: a top-level module), or the name of
    an outside package."""
    parts = name.split(".")
    if len(parts) < 2:
        return None
    if parts[1] in OUTSIDE:
        return parts[1]
    return STAGES.index(parts[1]) if parts[1] in STAGES else -1


def crossings():
    found = {}
    for path in sorted(NEUROSIM.rglob("*.py")):
        name = module_name(path)
        if name in APPLICATION:
            continue
        own = rank(name)
        for target, line in imported(path, name):
            if not target.startswith("neurosim."):
                continue
            theirs = rank(target)
            if isinstance(theirs, str) or theirs > own:
                key = (name, ".".join(target.split(".")[:3]) if theirs in OUTSIDE
                       else target)
                found.setdefault(key, f"{path.relative_to(NEUROSIM.parent)}:{line}")
    return found


def test_every_stage_imports_only_earlier_stages():
    """What a stage needs of io or of a later stage it asks ``neurosim.providers`` for."""
    found = crossings()
    assert not found, "imports of a later stage or of io/viz/models: " + ", ".join(
        f"{where} {a} -> {b}" for (a, b), where in found.items())


def test_the_scan_sees_a_crossing(tmp_path, monkeypatch):
    """The scan itself: a lowering module importing the run stage is found."""
    fake = tmp_path / "neurosim" / "lowering"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("def f():\n    from ..run import simulation\n")
    monkeypatch.setattr(__import__(__name__), "NEUROSIM", tmp_path / "neurosim")
    assert crossings() == {("neurosim.lowering.bad", "neurosim.run"):
                           "neurosim/lowering/bad.py:2"}


def test_lowering_never_sees_a_simulation():
    """No function of the lowering stage takes the Simulation (it is handed the model, the
    tables and the indices it needs)."""
    found = []
    for path in sorted((NEUROSIM / "lowering").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in node.args.args + node.args.kwonlyargs]
                if {"sim", "simulation"} & set(names):
                    found.append(f"{path.name}:{node.lineno} {node.name}")
    assert not found, found


def test_io_imports_neither_models_nor_viz():
    """neurosim.io (io/) reads and writes files for every stage; only the SONATA runner
    (io/sonata/simulation.py, an application layer like the CLI) may reach the viewer or the
    model library."""
    io = NEUROSIM.parent / "io"
    runner = io / "sonata" / "simulation.py"
    found = []
    for path in sorted(io.rglob("*.py")):
        if path == runner:
            continue
        name = "neurosim.io." + ".".join(path.relative_to(io).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        for target, line in imported(path, name):
            if target.split(".")[:2] in (["neurosim", "models"], ["neurosim", "viz"]):
                found.append(f"{path.relative_to(io.parent)}:{line} -> {target}")
    assert not found, found


def oversized(root, module_lines=600, function_lines=80):
    """Modules over ``module_lines`` lines and functions over ``function_lines`` (decorators
    excluded) in the package at ``root``, as 'path:line name (n lines)'."""
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        where = path.relative_to(root.parent)
        if source.count("\n") > module_lines:
            found.append(f"{where} ({source.count(chr(10))} lines)")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > function_lines:
                    found.append(f"{where}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_module_over_600_lines_and_no_function_over_80():
    """Generated templates are text files (kernels/templates/), not Python, so the rule
    holds for every .py file of the package, io, viz and models included."""
    found = [line for folder in ("neurosim", "io", "viz", "models")
             for line in oversized(NEUROSIM.parent / folder)]
    assert not found, found


def test_the_size_check_sees_a_long_function(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "long.py").write_text("def f():\n" + "    x = 1\n" * 80 + "    return x\n")
    assert oversized(package) == ["pkg/long.py:1 f (82 lines)"]


# Function-level imports of neurosim's own modules inside the stages and io, each with why:
# only modules of an optional dependency (CUDA, the viewer) load late; none hides a cycle.
LATE_IMPORTS = {
    ("neurosim.backends", "neurosim.backends.cuda.backend"): "optional: numba.cuda, CuPy",
    ("neurosim.backends.cuda.backend", "neurosim.backends.cuda"): "optional: numba.cuda",
    ("neurosim.backends.cuda.backend", "neurosim.backends.cuda.dhs_kernel"): "optional",
    ("neurosim.backends.cuda.backend", "neurosim.kernels.codegen_cuda"): "optional",
    ("neurosim.backends.cuda.backend", "neurosim.backends.cuda.graph"): "optional",
    ("neurosim.io.sonata.simulation", "neurosim.viz.live"): "optional: the viewer (glfw)",
}


def late_imports():
    found = {}
    for folder in ("neurosim", "io"):
        root = NEUROSIM.parent / folder
        for path in sorted(root.rglob("*.py")):
            name = module_name(path) if folder == "neurosim" else "neurosim.io." + ".".join(
                path.relative_to(root).with_suffix("").parts)
            name = name.removesuffix(".__init__")
            if name in APPLICATION:
                continue
            for function in ast.walk(ast.parse(path.read_text())):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                body = ast.Module(body=function.body, type_ignores=[])
                for target, line in imported(path, name, body):
                    if target.startswith("neurosim"):
                        found.setdefault((name, target), f"{path.name}:{line}")
    return found


def test_no_late_import_hides_a_cycle():
    found = late_imports()
    new = {k: v for k, v in found.items() if k not in LATE_IMPORTS}
    assert not new, "function-level imports (move them to the top, or say why): " + \
        ", ".join(f"{where} {a} -> {b}" for (a, b), where in new.items())
    gone = set(LATE_IMPORTS) - set(found)
    assert not gone, f"no longer imported late, strike them off LATE_IMPORTS: {sorted(gone)}"
