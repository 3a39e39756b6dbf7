"""neurosim against NEURON run in the same test on the same model, nseg and dt."""

import glob
import os

import numpy as np
import pytest

import neurosim as ns

from peers import (bmtk_dir, build_from_morphology, clear, h, load_swc, relative_rms, run,
                   spike_times)


def test_geometry_matches_neuron_segment_by_segment():
    """Areas and axial resistances of 3D frusta equal NEURON's (so the matrices agree)."""
    rng = np.random.default_rng(3)
    pts = np.cumsum(rng.uniform(0.5, 8.0, size=(9, 3)), axis=0)
    diam = rng.uniform(0.3, 5.0, size=9)
    m = ns.Morphology([ns.Section(0, 3, pts, diam)])
    for nseg in (1, 2, 5, 13):
        clear()
        sec = build_from_morphology(m, nseg, ra=123.0, cm=1.0)[0]
        from neurosim.lowering.geometry import segment_geometry
        area, ri = segment_geometry(m[0], nseg, 123.0)
        np.testing.assert_allclose(area, [seg.area() for seg in sec], rtol=2e-6)
        np.testing.assert_allclose(ri[:nseg], [seg.ri() for seg in sec], rtol=2e-6)


def rallpack2_morphology():
    # Rallpack 2 (Bhalla et al. 1992): binary tree, 10 levels (1023 sections, one compartment
    # each), root 16 µm x 32 µm long; Rall's 3/2 rule with equal electrotonic length per
    # level: each level divides the diameter by 2^(2/3) and the length by 2^(1/3).
    return ns.Morphology.tree(10, length=32.0, diameter=16.0, length_ratio=2 ** (-1 / 3),
                              diameter_ratio=2 ** (-2 / 3))


def test_rallpack2_branched_cable():
    m = rallpack2_morphology()
    assert len(m) == 1023
    leaf = len(m) - 1
    cell = ns.Cell(m, cm=1.0, ra=100.0, v_init=-65.0, discretization=ns.NSeg(1))
    cell.insert("pas", g=1 / 40000, e=-65.0)
    cell.add_iclamp((0, 0.0), delay=0.0, dur=1e9, amp=0.1)
    sim = ns.Simulation(cell, dt=0.05)
    mine = [sim.record("v", (0, 0.0)), sim.record("v", (leaf, 1.0))]
    sim.run(250.0)

    clear()
    secs = build_from_morphology(m, 1, ra=100.0, cm=1.0)
    for s in secs:
        s.insert("pas")
        for seg in s:
            seg.pas.g, seg.pas.e = 1 / 40000, -65.0
    stim = h.IClamp(secs[0](0.0))
    stim.delay, stim.dur, stim.amp = 0.0, 1e9, 0.1
    t, theirs = run(250.0, 0.05, -65.0, probes=[secs[0](0.0), secs[leaf](1.0)])
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a.times, t, atol=1e-9)
        err = np.sqrt(np.mean((a.values - b) ** 2)) / np.max(np.abs(b + 65.0))
        assert err < 1e-3, err
        assert err < 1e-6      # same scheme; NEURON keeps 3D points in float32


@pytest.mark.parametrize("method,secondorder", [("backward_euler", 0), ("crank_nicolson", 1)])
def test_rallpack3_hh_axon(method, secondorder):
    m = ns.Morphology.cable(1000.0, 1.0)
    cell = ns.Cell(m, cm=1.0, ra=100.0, v_init=-65.0, discretization=ns.NSeg(1000))
    cell.insert("hh", gnabar=0.12, gkbar=0.036, gl=1 / 40000, el=-65.0, ena=50.0, ek=-77.0)
    cell.add_iclamp((0, 0.0), delay=0.0, dur=1e9, amp=0.1)
    sim = ns.Simulation(cell, dt=0.05, method=method)
    mine = [sim.record("v", (0, 0.0)), sim.record("v", (0, 1.0))]
    sim.run(250.0)

    clear()
    sec = build_from_morphology(m, 1000, ra=100.0, cm=1.0)[0]
    sec.insert("hh")
    for seg in sec:
        seg.hh.gnabar, seg.hh.gkbar, seg.hh.gl, seg.hh.el = 0.12, 0.036, 1 / 40000, -65.0
        seg.ena, seg.ek = 50.0, -77.0
    stim = h.IClamp(sec(0.0))
    stim.delay, stim.dur, stim.amp = 0.0, 1e9, 0.1
    t, theirs = run(250.0, 0.05, -65.0, probes=[sec(0.0), sec(1.0)], secondorder=secondorder)
    for a, b in zip(mine, theirs):
        assert relative_rms(a.values, b) < 1e-3
        s_mine, s_theirs = spike_times(t, a.values), spike_times(t, b)
        assert len(s_theirs) > 5 and len(s_mine) == len(s_theirs)
        assert np.max(np.abs(s_mine - s_theirs)) < 0.05     # within one dt


ALLEN_SWCS = sorted(glob.glob(os.path.join(bmtk_dir(), "morphologies", "*.swc")))


@pytest.mark.parametrize("swc", ALLEN_SWCS, ids=os.path.basename)
def test_allen_morphology_hh_soma_passive_dendrites(swc):
    """A reconstructed cell read by MorphIO here and by Import3d in NEURON: hh soma, passive
    dendrites, a current step; voltages within 0.1 mV everywhere probed."""
    m = ns.Morphology.from_swc(swc)
    cell = ns.Cell(m, cm=1.0, ra=150.0, v_init=-65.0, discretization=ns.NSeg(3))
    cell.set_discretization(ns.NSeg(1), region="soma")
    cell.insert("pas", region=lambda s: s.type != 1,
                g=3e-5, e=-65.0)
    cell.insert("hh", region="soma", gnabar=0.5, gkbar=0.1, el=-65.0)
    cell.add_iclamp((0, 0.5), delay=5.0, dur=80.0, amp=0.3)
    sim = ns.Simulation(cell, dt=0.025, celsius=20.0)
    probes = [(0, 0.5)] + [(s, 1.0) for s in range(1, len(m), max(1, len(m) // 8))]
    mine = [sim.record("v", p) for p in probes]
    sim.run(100.0)

    secs = load_swc(swc)
    assert len(secs) == len(m)
    for s, sec in zip(m.sections, secs):          # same sections in the same order
        assert sec.n3d() == len(s.points)
        np.testing.assert_allclose([sec.x3d(0), sec.y3d(0), sec.z3d(0)], s.points[0],
                                   atol=1e-3)
        sec.Ra, sec.cm = 150.0, 1.0
        sec.nseg = 1 if s.type == 1 else 3
        if s.type == 1:
            sec.insert("hh")
            sec(0.5).hh.gnabar, sec(0.5).hh.gkbar, sec(0.5).hh.el = 0.5, 0.1, -65.0
        else:
            sec.insert("pas")
            for seg in sec:
                seg.pas.g, seg.pas.e = 3e-5, -65.0
    stim = h.IClamp(secs[0](0.5))
    stim.delay, stim.dur, stim.amp = 5.0, 80.0, 0.3
    t, theirs = run(100.0, 0.025, -65.0, celsius=20.0,
                    probes=[secs[s](x) for s, x in probes])
    for (s, x), a, b in zip(probes, mine, theirs):
        assert np.max(np.abs(a.values - b)) < 0.1, f"section {s}({x})"
    spikes_theirs = spike_times(t, theirs[0])
    assert len(spikes_theirs) >= 2
    np.testing.assert_allclose(spike_times(t, mine[0].values), spikes_theirs, atol=0.025)
    clear()
