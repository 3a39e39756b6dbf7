"""The code's shape: each stage folder of neurosim imports only from the stages before it,
never from neurosim.io, neurosim.viz or neurosim.models (an AST scan of every import,
function-level ones included).  The application layer (cli.py, the package's ``__init__``)
may import everything."""

import ast
from pathlib import Path

NEUROSIM = Path(__file__).resolve().parents[1] / "neurosim"
# the stages in order; errors and validate (the top-level modules) come before all of them.
# Mechanisms come before the description: a cell checks what is painted on it against the
# mechanism at once (as NEURON's insert does), and a network's cell may be a mechanism.
STAGES = ["mechanisms", "description", "lowering", "kernels", "backends", "run"]
APPLICATION = {"neurosim", "neurosim.cli", "neurosim.__main__"}
OUTSIDE = {"io", "viz", "models"}

# Imports that still cross the order, each with why; the list only shrinks (a listed import
# that is gone fails too, so that it is struck off here).
KNOWN = {
    ("neurosim.description.cell", "neurosim.io.hoc"):
        "Cell.from_hoc reads a hoc template: io's reader to be registered with, not imported",
    ("neurosim.description.morphology", "neurosim.io.morphology"):
        "Morphology.from_swc/from_file read through MorphIO in io",
    ("neurosim.mechanisms.base", "neurosim.kernels.codegen"):
        "Mechanism.source() prints the kernel a mechanism generates",
    ("neurosim.mechanisms.functions", "neurosim.kernels"):
        "Mechanism.function() compiles the mechanism's helpers to call them from Python",
    ("neurosim.run.simulation", "neurosim.io.stream"):
        "Simulation.stream_to writes SONATA reports: to become a sink protocol io implements",
}


def module_name(path):
    parts = path.relative_to(NEUROSIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path, name):
    """(target module, line) of every import in the file, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base == "neurosim":      # from neurosim import x: each x is the target
                for alias in node.names:
                    yield f"neurosim.{alias.name}", node.lineno
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
    found = crossings()
    new = {k: v for k, v in found.items() if k not in KNOWN}
    assert not new, "imports of a later stage or of io/viz/models: " + ", ".join(
        f"{where} {a} -> {b}" for (a, b), where in new.items())
    gone = set(KNOWN) - set(found)
    assert not gone, f"no longer imported, strike them off KNOWN: {sorted(gone)}"


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
