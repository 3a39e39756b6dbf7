"""Fuzzing the readers: random mutations of real files (an SWC, NMODL files, a SONATA
example's config and HDF5 tables).  Every outcome is success or a NeurosimError that says
what is wrong, never another exception type and never a hang (a deadline per example)."""

import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurosim as ns
from neurosim.errors import NeurosimError
from tests.shared_data import SONATA_EXAMPLES, shared

SWC = """\
# id type x y z r parent
1 1 0 0 0 5 -1
2 3 0 5 0 1 1
3 3 0 20 0 1 2
4 3 5 30 0 0.5 3
5 3 -5 30 0 0.5 3
6 2 0 -5 0 0.5 1
7 2 0 -30 0 0.4 6
"""
TOKENS = ["-1", "0", "1e308", "nan", "inf", "-", "(", ")", "{", "}", "=", ":", "'", "\n",
          "\x00", "é", "9" * 40, "STATE", "PARAMETER", "NEURON", "SUFFIX", "$A", "${",
          "\"", ",", "[", "]", "true", "null"]


def mutate(text, data):
    """A random edit of ``text``: delete, insert, replace, duplicate or swap lines."""
    kind = data.draw(st.sampled_from(["delete", "insert", "replace", "duplicate", "swap"]))
    n = len(text)
    at = data.draw(st.integers(0, max(n - 1, 0)))
    if kind == "delete":
        return text[:at] + text[at + data.draw(st.integers(1, 20)):]
    if kind in ("insert", "replace"):
        token = data.draw(st.sampled_from(TOKENS) | st.text(max_size=8))
        skip = data.draw(st.integers(1, 6)) if kind == "replace" else 0
        return text[:at] + token + text[at + skip:]
    lines = text.splitlines(keepends=True)
    i = data.draw(st.integers(0, len(lines) - 1))
    if kind == "duplicate":
        return "".join(lines[:i + 1] + lines[i:])
    j = data.draw(st.integers(0, len(lines) - 1))
    lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


FUZZ = settings(max_examples=40, deadline=5000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(data=st.data())
def test_swc_reader(tmp_path, data):
    path = tmp_path / "cell.swc"
    text = SWC
    for _ in range(data.draw(st.integers(1, 3))):
        text = mutate(text, data)
    path.write_text(text, errors="surrogateescape")
    try:
        ns.Morphology.from_swc(path)
    except NeurosimError:
        pass


MOD_FILES = ["hh2.mod", "kca.mod", "km.mod", "ar.mod"]


@FUZZ
@given(data=st.data())
def test_nmodl_reader(data):
    from neurosim.mechanisms.nmodl.compiler import compile_text
    name = data.draw(st.sampled_from(MOD_FILES))
    text = shared("nmodl-corpus", "hnn-core", name).read_text()
    for _ in range(data.draw(st.integers(1, 3))):
        text = mutate(text, data)
    try:
        compile_text(text, f"<fuzzed {name}>")
    except NeurosimError:
        pass


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    for name in ("300_intfire", "shared_components"):
        shutil.copytree(SONATA_EXAMPLES / name, folder / name)
    # a first run compiles the circuit's kernels, outside every example's deadline (a cold
    # cache takes longer than the deadline on a busy machine)
    from neurosim.io.sonata import SonataRun
    SonataRun(folder / "300_intfire" / "config.json", tstop=1.0, output_dir=folder / "warm")
    return folder / "300_intfire"


@settings(max_examples=25, deadline=10000, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_sonata_config_reader(example, data):
    from neurosim.io.sonata import SonataRun
    original = (example / "simulation_config.json").read_text()
    text = original
    for _ in range(data.draw(st.integers(1, 3))):
        text = mutate(text, data)
    (example / "fuzzed.json").write_text(text, errors="surrogateescape")
    try:
        SonataRun(example / "fuzzed.json", tstop=1.0, output_dir=example / "fuzz_out")
    except NeurosimError:
        pass


@settings(max_examples=25, deadline=10000, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_sonata_tables_reader(example, data):
    """Byte damage in an edges file, or a CSV types table edited."""
    from neurosim.io.sonata import SonataRun
    edges = example / "network" / "v1_v1_edges.h5"
    types = example / "network" / "v1_v1_edge_types.csv"
    saved = edges.read_bytes(), types.read_text()
    try:
        if data.draw(st.booleans()):
            raw = bytearray(saved[0])
            at = data.draw(st.integers(0, len(raw) - 64))
            for k in range(at, at + data.draw(st.integers(1, 64))):
                raw[k] = data.draw(st.integers(0, 255))
            edges.write_bytes(bytes(raw))
        else:
            types.write_text(mutate(saved[1], data))
        try:
            SonataRun(example / "config.json", tstop=1.0, output_dir=example / "fuzz_out")
        except NeurosimError:
            pass
    finally:
        edges.write_bytes(saved[0])
        types.write_text(saved[1])


def test_the_mutations_do_reach_the_readers():
    """The fuzzers above are not vacuous: the unmutated files load, and an obviously broken
    one is refused with a NeurosimError."""
    import tempfile
    from pathlib import Path

    from neurosim.mechanisms.nmodl.compiler import compile_text
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "cell.swc"
        path.write_text(SWC)
        assert len(ns.Morphology.from_swc(path)) == 5
        path.write_text(SWC.replace("0.5 3", "-0.5 3"))
        with pytest.raises(NeurosimError):
            ns.Morphology.from_swc(path)
    for name in MOD_FILES:
        text = shared("nmodl-corpus", "hnn-core", name).read_text()
        assert compile_text(text, name).name
        with pytest.raises(NeurosimError):
            compile_text(text.replace("NEURON {", "NEURON {{"), name)
    assert np.isfinite(json.loads(
        (SONATA_EXAMPLES / "300_intfire" / "simulation_config.json").read_text())
        ["run"]["tstop"])
