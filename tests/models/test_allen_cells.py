"""Allen perisomatic models built as bmtk's aibs_perisomatic builds them, against NEURON
running the same .mod files (nrnivmodl) on the same cells: three current steps, spike times
within 0.2 ms."""

import json
import os

import numpy as np
import pytest

import neurosim as ns
from neurosim.models.allen import allen_fits, allen_morphologies, perisomatic_cell

from peer_models import neuron_perisomatic_cell
from peers import bmtk_mod_dir, clear, compiled_mod_dir, h, load_swc, run, spike_times

PERI_FITS = [f for f in allen_fits() if "cm" in json.load(open(f))["passive"][0]]
SWCS = allen_morphologies()


def _fits_cell(swc, fit):
    """A fit suits a morphology when it gives cm for every section type the SWC has."""
    types = {s.type_name for s in ns.Morphology.from_swc(swc).sections}
    return types <= {c["section"] for c in json.load(open(fit))["passive"][0]["cm"]}


def _path(paths, prefix):
    return next(p for p in paths if os.path.basename(p).startswith(prefix))


# Every SWC and every perisomatic fit at least once, each pair firing under the protocol
PAIRS = [(_path(SWCS, swc), _path(PERI_FITS, fit)) for swc, fit in [
    ("Nr5a1", "472363762"), ("Rorb", "473863035"), ("Scnn1a", "472363762"),
    ("Pvalb_469628681", "473863510"), ("Pvalb_470522102", "485184849"),
    ("Pvalb_469628681", "472912177"), ("Pvalb_470522102", "473862421")]]

STEPS = [(50.0, 150.0, 0.2), (250.0, 150.0, 0.5), (450.0, 150.0, 1.0)]   # delay, dur, nA
TSTOP = 650.0


@pytest.fixture(scope="module")
def neuron_mechanisms(tmp_path_factory):
    return compiled_mod_dir(bmtk_mod_dir(), str(tmp_path_factory.mktemp("mods")))


def test_every_swc_and_fit_is_covered():
    assert {s for s, _ in PAIRS} == set(SWCS) and len(SWCS) == 5
    assert {f for _, f in PAIRS} == set(PERI_FITS) and len(PERI_FITS) == 6


def test_fit_without_apical_cm_is_refused_on_a_pyramidal_cell():
    def cm_sections(fit):
        return {c["section"] for c in json.load(open(fit))["passive"][0]["cm"]}
    interneuron_fit = next(f for f in PERI_FITS if "apic" not in cm_sections(f))
    pyramid = next(s for s in SWCS if not _fits_cell(s, interneuron_fit))
    with pytest.raises(ns.ParameterError, match="no cm for the apic sections"):
        perisomatic_cell(pyramid, interneuron_fit)


@pytest.mark.parametrize("swc,fit", PAIRS,
                         ids=[f"{os.path.basename(s)[:-6]}-{os.path.basename(f)[:-9]}"
                              for s, f in PAIRS])
def test_allen_perisomatic_spike_times_match_neuron(neuron_mechanisms, swc, fit):
    compare_with_neuron(swc, perisomatic_cell(swc, fit), neuron_perisomatic_cell, fit)


def compare_with_neuron(swc, built, neuron_builder, fit):
    """Three current steps into the soma of ``built = (cell, conditions)`` and of the same
    model built in NEURON by ``neuron_builder``: spike times within 0.2 ms, the whole trace
    within 1 mV, the same number of compartments."""
    cell, cond = built
    for delay, dur, amp in STEPS:
        cell.add_iclamp((0, 0.5), delay=delay, dur=dur, amp=amp)
    sim = ns.Simulation(cell, dt=0.025, celsius=cond["celsius"])
    v = sim.record("v", (0, 0.5))
    sim.run(TSTOP)

    load_swc(swc)              # clears NEURON, reads the SWC with Import3d
    soma, conditions = neuron_builder(h, fit)
    stims = []
    for delay, dur, amp in STEPS:
        stim = h.IClamp(soma(0.5))
        stim.delay, stim.dur, stim.amp = delay, dur, amp
        stims.append(stim)
    t, (theirs,) = run(TSTOP, 0.025, conditions["v_init"], celsius=conditions["celsius"],
                       probes=[soma(0.5)])
    neuron_segments = sum(sec.nseg for sec in h.allsec())
    clear()
    assert sim.n_compartments == neuron_segments
    s_theirs, s_mine = spike_times(t, theirs), spike_times(t, v.values)
    assert len(s_theirs) >= 1, "the protocol should make the cell fire"
    assert len(s_mine) == len(s_theirs)
    assert np.max(np.abs(s_mine - s_theirs)) < 0.2
    assert np.max(np.abs(v.values - theirs)) < 1.0      # the whole trace, spikes included


ALLACTIVE_FITS = [f for f in allen_fits() if "cm" not in json.load(open(f))["passive"][0]]


@pytest.mark.parametrize("swc", [_path(SWCS, "Rorb"), _path(SWCS, "Pvalb_470522102")],
                         ids=lambda p: os.path.basename(p)[:-6])
def test_allen_allactive_spike_times_match_neuron(neuron_mechanisms, swc):
    from neurosim.models.allen import allactive_cell
    from peer_models import neuron_allactive_cell
    assert len(ALLACTIVE_FITS) == 1
    fit = ALLACTIVE_FITS[0]
    compare_with_neuron(swc, allactive_cell(swc, fit), neuron_allactive_cell, fit)
