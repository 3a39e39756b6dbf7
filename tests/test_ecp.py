"""Extracellular potential: membrane currents (i_membrane_) against NEURON, the line-source
transfer resistances against a hand-worked case, the ECP of a small SONATA circuit against
bmtk's extracellular module (BioNet run in a subprocess on the same cells)."""

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import neurosim as ns
from neurosim.extracellular import line_source, rotation_xyz
from shared_data import SONATA_EXAMPLES, shared


def test_line_source_hand_worked():
    # one segment from (0,0,0) to (0,10,0) µm, sigma 0.3 S/m: 1/(4 pi sigma) = 0.26526 mV µm/nA
    k = 1 / (4 * math.pi * 0.3)
    p0, p1 = np.array([[0.0, 0.0, 0.0]]), np.array([[0.0, 10.0, 0.0]])
    # on the axis, 5 µm beyond the end (15 µm from the centre... the centre is at y = 5):
    # r_ll = 15, up = 20, low = 10, r_T = 0 -> ln(40/20)/10
    on_axis = line_source([[0.0, 20.0, 0.0]], p0, p1)
    assert on_axis[0, 0] == pytest.approx(k * math.log(2.0) / 10, rel=1e-12)
    # off the axis, beside the centre at 4 µm: r_ll = 0, up = 5, low = -5, r_T = 4
    # -> ln((5 + sqrt 41)/(-5 + sqrt 41))/10
    beside = line_source([[4.0, 5.0, 0.0]], p0, p1)
    s41 = math.sqrt(41.0)
    assert beside[0, 0] == pytest.approx(k * math.log((5 + s41) / (s41 - 5)) / 10, rel=1e-12)
    # far away it is a point source: 1/(4 pi sigma r)
    far = line_source([[3000.0, 5.0, 4000.0]], p0, p1)
    assert far[0, 0] == pytest.approx(k / 5000.0, rel=1e-5)
    # minimum distance: the perpendicular distance is raised to it near the segment
    close = line_source([[0.5, 5.0, 0.0]], p0, p1, minimum_distance=2.0)
    assert close[0, 0] == pytest.approx(line_source([[2.0, 5.0, 0.0]], p0, p1)[0, 0])


def test_rotation_is_bmtks():
    # bmtk's rotation_matrix([0,0,1], pi/2): counterclockwise, x goes to y
    rz = rotation_xyz([0.0, 0.0, math.pi / 2])
    np.testing.assert_allclose(rz @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    try:
        from bmtk.simulator.bionet.morphology import rotation_matrix
    except ImportError:       # bmtk (NEURON) not installed: the hand-worked case stands
        return
    ang = [0.3, -1.2, 2.5]
    ref = rotation_matrix([1, 0, 0], ang[0]) @ rotation_matrix([0, 1, 0], ang[1]) @ \
        rotation_matrix([0, 0, 1], ang[2])
    np.testing.assert_allclose(rotation_xyz(ang), ref, atol=1e-12)


def hh_ball_and_stick():
    cell = ns.Cell(ns.Morphology.ball_and_stick(), cm=1.0, ra=100.0, v_init=-65.0,
                   discretization=ns.NSeg(5))
    cell.insert("pas", region="dend", g=1e-4, e=-65.0)
    cell.insert("hh", region="soma")
    cell.add_iclamp((0, 0.5), delay=2.0, dur=30.0, amp=0.3)
    return cell


def test_membrane_current_matches_neuron():
    from peers import build_from_morphology, clear, h, run
    cell = hh_ball_and_stick()
    sim = ns.Simulation(cell, dt=0.025, celsius=16.0)
    mine = [sim.record("i_membrane_", loc) for loc in ((0, 0.5), (1, 0.1), (1, 0.9))]
    sim.run(30.0)
    clear()
    secs = build_from_morphology(cell.morphology, 5, ra=100.0, cm=1.0)
    secs[0].insert("hh")
    secs[1].insert("pas")
    for seg in secs[1]:
        seg.pas.g, seg.pas.e = 1e-4, -65.0
    stim = h.IClamp(secs[0](0.5))
    stim.delay, stim.dur, stim.amp = 2.0, 30.0, 0.3
    h.cvode.use_fast_imem(1)
    recs = [h.Vector().record(secs[s](x)._ref_i_membrane_) for s, x in
            ((0, 0.5), (1, 0.1), (1, 0.9))]
    run(30.0, 0.025, -65.0, celsius=16.0)
    h.cvode.use_fast_imem(0)
    for trace, rec in zip(mine, recs):
        ref = np.array(rec)
        # the first sample (t = 0) is not a step's current
        np.testing.assert_allclose(trace.values[1:], ref[1:], atol=2e-3 * np.abs(ref).max())
    clear()


def test_membrane_currents_add_up_to_the_stimulus():
    cell = hh_ball_and_stick()
    sim = ns.Simulation(cell, dt=0.025, celsius=16.0)
    sim.record_ecp([[0.0, 50.0, 0.0]])          # turns the currents on everywhere
    sim.run(10.0)
    assert abs(sim.backend.imem.sum() - 0.3) < 1e-9
