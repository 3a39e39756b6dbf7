"""The suite's shared set-up: helpers importable by name, and markers from what a test does.

Markers (``pytest -m "not slow and not peer"`` is the inner loop; the README's command runs
everything):

* ``peer``: runs NEURON, NEST, Arbor or bmtk in the test to compare with.  Set from the code:
  a test whose body (or a function of its module that it calls) uses a name bound to a peer —
  the ``neuron``/``nest``/``arbor``/``bmtk`` modules or anything imported from the peer helpers
  (``peers.py``, ``peer_models.py``, ``sonata_circuit.py``, ``baaiworm_neuron.py``), or a
  peer's script run in a subprocess (``nrnivmodl``, ``from neuron import``, …);
* ``mpi``: launches ranks with ``mpiexec``; ``gpu``: the CUDA backend (Numba's simulator
  without a GPU); ``viewer``: the viewer or the headless renderer (every test in tests/viz);
* ``slow``: marked by hand on tests that take more than ~5 s with a warm kernel cache.
"""

import ast
import inspect
import os
import re
import sys
from pathlib import Path

import pytest

# tests import their helpers (peers.py, shared_data.py, gpu_env.py) by name
sys.path.insert(0, os.path.dirname(__file__))

PEER_MODULES = {"neuron", "nest", "arbor", "bmtk", "peers", "peer_models", "sonata_circuit",
                "baaiworm_neuron"}
# a peer run in a subprocess: its script named or written out in the test's code
PEER_TEXT = re.compile(r"nrnivmodl|baaiworm_neuron|nest_microcircuit|\b(from|import) "
                       r"(neuron|nest|arbor|bmtk)\b|importorskip\(['\"](neuron|nest|arbor|bmtk)")
USES = {"mpi": re.compile(r"mpiexec|MPIEXEC|launch_script|mpi4py"),
        "gpu": re.compile(r"cuda"),
        "viewer": re.compile(r"\b(LiveView|Viewer|Renderer|render\w*|viewer)\b")}


def _code(node):
    """A function's code without its docstring (words in prose do not mark a test)."""
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    return "\n".join(ast.unparse(statement) for statement in body)


class _ModuleFacts:
    """What one test module binds to peers, the code of its module-level functions, and the
    functions it takes from a sibling test module (``from test_x import f``)."""

    def __init__(self, path):
        tree = ast.parse(path.read_text())
        self.peer_names = set()
        self.functions = {}
        self.borrowed = {}                       # name -> the sibling module's file
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in PEER_MODULES:
                        self.peer_names.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.split(".")[0] in PEER_MODULES:
                self.peer_names.update(alias.asname or alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and \
                    (path.parent / f"{node.module}.py").is_file():
                for alias in node.names:
                    self.borrowed[alias.asname or alias.name] = \
                        (path.parent / f"{node.module}.py", alias.name)
        for node in tree.body:                   # functions, fixtures and constants
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[node.name] = _code(node)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.functions[target.id] = ast.unparse(node.value)

    def uses_peer(self, code, seen=()):
        names = set(re.findall(r"\b\w+\b", code))
        if names & self.peer_names or PEER_TEXT.search(code):
            return True
        for n in names & set(self.borrowed):
            other, name = self.borrowed[n]
            facts = facts_of(other)
            if name in facts.functions and facts.uses_peer(facts.functions[name]):
                return True
        return any(self.uses_peer(self.functions[n], seen + (n,))
                   for n in names & set(self.functions) if n not in seen)


_facts = {}


def facts_of(path):
    if path not in _facts:
        _facts[path] = _ModuleFacts(path)
    return _facts[path]


def pytest_collection_modifyitems(config, items):
    for item in items:
        function = getattr(item, "function", None)
        if function is None:
            continue
        facts = facts_of(Path(item.module.__file__))
        code = facts.functions.get(function.__name__)
        if code is None:                # a method or a generated test: its own source
            code = _code(ast.parse(inspect.getsource(function).strip()).body[0])
        code += " " + " ".join(getattr(item, "fixturenames", ()))
        if facts.uses_peer(code) or "peers" in item.path.parts:
            item.add_marker(pytest.mark.peer)
        for marker, pattern in USES.items():
            if pattern.search(code):
                item.add_marker(getattr(pytest.mark, marker))
        if "viz" in item.path.parts:
            item.add_marker(pytest.mark.viewer)
