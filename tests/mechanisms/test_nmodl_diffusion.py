"""LONGITUDINAL_DIFFUSION against NEURON: the use cases' heat equations
(nmodl-usecases/longitudinal_diffusion: a step profile of a STATE X diffusing with a rate and
COMPARTMENT volume given as a constant, a GLOBAL, a thread variable, FUNCTIONs of the
segment's position x, or per element of an array state whose elements also react in a FROM
loop), as their test_heat_eqn.py runs them for 1 ms, on a branched cell: a
root of 49 segments (L 100 µm), a child at its 1-end and one at its middle node (x = 0.5 is
a node with 49 segments: NEURON's h.distance, from which x is set, measures a child from the
node it hangs on, neurosim's path distance from the nominal x)."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import neurosim as ns
from neurosim.mechanisms.nmodl.syntax import NmodlError

from shared_data import NMODL_CORPUS

NAMES = ["heat_eqn_scalar", "heat_eqn_global", "heat_eqn_function", "heat_eqn_thread_vars",
         "heat_eqn_array"]
SIZE = {"heat_eqn_array": 4}       # X[4], mu[4], vol[4]: X[k] diffuses with mu[k]
TREE = ([-1, 0, 0], [100.0, 60.0, 40.0], [500.0, 300.0, 200.0], [1.0, 1.0, 0.5], [49, 6, 4])
DT, TSTOP = 0.025, 1.0
FOLDER = NMODL_CORPUS / "nmodl-usecases" / "longitudinal_diffusion"

NEURON_SCRIPT = """
import sys, json
from neuron import h
import neuron
neuron.load_mechanisms(sys.argv[1])
h.load_file("stdrun.hoc")
parents, lengths, diams, parent_x, nseg = %(tree)r
keep, out = [], {}
for name in %(names)r:
    secs = []
    for i, p in enumerate(parents):
        s = h.Section(name=name + str(i))
        s.L, s.diam, s.nseg = lengths[i], diams[i], nseg[i]
        if p >= 0:
            s.connect(secs[p](parent_x[i]), 0)
        secs.append(s)
    recs = []
    for s in secs:
        s.insert(name)
        for seg in s:
            getattr(seg, name).x = h.distance(secs[0](0), seg) / 100.0
            mech = getattr(seg, name)
            if name == "heat_eqn_array":
                recs += [h.Vector().record(mech._ref_X[k]) for k in range(4)]
            else:
                recs.append(h.Vector().record(mech._ref_X))
    keep.append((name, secs, recs))
h.dt = %(dt)r
h.steps_per_ms = 1.0 / h.dt
h.finitialize(-65.0)
h.continuerun(%(tstop)r)
for name, secs, recs in keep:
    out[name] = [list(r) for r in recs]
json.dump(out, open(sys.argv[2], "w"))
"""


def segments(nseg):
    return (0.5 + np.arange(nseg)) / nseg


@pytest.fixture(scope="module")
def neuron_traces(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ldifus")
    build = tmp / "nrnmech"
    build.mkdir()
    for name in NAMES:
        shutil.copy(FOLDER / f"{name}.mod", build)
    out = subprocess.run(["nrnivmodl"], cwd=build, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    script = tmp / "run.py"
    script.write_text(NEURON_SCRIPT % {"tree": TREE, "names": NAMES, "dt": DT, "tstop": TSTOP})
    out = subprocess.run([sys.executable, str(script), str(build), str(tmp / "out.json")],
                         capture_output=True, text=True, cwd=tmp)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return {k: np.array(v) for k, v in json.loads((tmp / "out.json").read_text()).items()}


def test_heat_equations_diffuse_as_in_neuron(neuron_traces):
    parents, lengths, diams, parent_x, nseg = TREE
    morph = ns.Morphology.from_sections(parents, lengths, diams, parent_x=parent_x)
    net = ns.Network()
    for name in NAMES:
        cell = ns.Cell(morph, v_init=-65.0)
        for s, n in enumerate(nseg):
            cell.set_discretization(ns.NSeg(n), region=[s])
        cell.insert(ns.Mechanism.from_nmodl(os.fspath(FOLDER / f"{name}.mod")),
                    x=lambda d: d / 100.0)
        net.add_cells(cell)
    sim = ns.Simulation(net, dt=DT)
    recs = {name: [sim.record(f"{name}.X" if name not in SIZE else f"{name}.X[{k}]", (s, x),
                              cell=c)
                   for s, n in enumerate(nseg) for x in segments(n)
                   for k in range(SIZE.get(name, 1))]
            for c, name in enumerate(NAMES)}
    sim.run(TSTOP)
    for name in NAMES:
        ours = np.array([r.values for r in recs[name]])
        theirs = neuron_traces[name][:, :ours.shape[1]]
        assert ours.shape == theirs.shape, name
        # the step profile spreads: into the children too
        assert np.max(np.abs(theirs[:, -1] - theirs[:, 0])) > 0.4, name
        assert np.max(np.abs(theirs[-4 * SIZE.get(name, 1):, -1] -
                             theirs[-4 * SIZE.get(name, 1):, 0])) > 1e-3, name
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12, err_msg=name)


def test_diffusion_refusals_name_the_statement():
    text = (FOLDER / "heat_eqn_scalar.mod").read_text()
    with pytest.raises(NmodlError, match=r"h\.mod:\d+:\d+: LONGITUDINAL_DIFFUSION in a "
                                         "mechanism with AFTER"):
        ns.Mechanism.from_nmodl_text(text + "\nAFTER SOLVE { x = 1 }\n", "h.mod")
    with pytest.raises(NmodlError, match=r"h\.mod:\d+:\d+: LONGITUDINAL_DIFFUSION of Y: not a "):
        ns.Mechanism.from_nmodl_text(text.replace("LONGITUDINAL_DIFFUSION mu {X}",
                                                  "LONGITUDINAL_DIFFUSION mu {Y}"), "h.mod")
