"""NEST point neurons in networks give NEST's numbers: a network built in PyNEST and in
neurosim (off-grid spike-generator times, recurrent connections, one delay), and SONATA's
300_pointneurons run by PointNet (bmtk + NEST) and by neurosim on the same files."""

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

import neurosim as ns
from neurosim.events import nest_stamps

from shared_data import shared

nest = pytest.importorskip("nest", reason="nest-simulator is a dev dependency")


def test_nest_stamps_are_the_end_of_the_step():
    t = np.array([0.004, 0.01, 17.35, 17.353, 17.3599999, 2.0, 1e-7])
    np.testing.assert_array_equal(np.round(nest_stamps(t, 0.01) / 0.01),
                                  [1, 1, 1735, 1736, 1736, 200, 1])


def _network(seed=3, n=40, n_in=20, t_stop=200.0):
    rng = np.random.default_rng(seed)
    params = [{"C_m": float(rng.uniform(50, 250)), "tau_m": float(rng.uniform(10, 45)),
               "t_ref": 3.0, "E_L": -75.0, "V_th": -50.0, "V_reset": -60.0,
               "tau_syn_ex": 2.0, "tau_syn_in": 2.0} for _ in range(n)]
    trains = [np.sort(rng.uniform(1.0, t_stop - 5, 60)).round(4) for _ in range(n_in)]
    conns = [(int(s), int(t), float(w)) for s, t, w in
             zip(rng.integers(0, n + n_in, 600), rng.integers(0, n, 600),
                 rng.choice([150.0, 220.0, -300.0], 600))]
    return params, trains, conns


def test_network_matches_pynest():
    """Spikes identical and V_m to 1e-9 mV: generator times off the grid land at the end of
    their step; a 2 ms delay is 200 steps."""
    dt, t_stop = 0.01, 200.0
    params, trains, conns = _network()
    n, n_in = len(params), len(trains)
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.resolution = dt
    cells = nest.Create("iaf_psc_alpha", n, params=params)
    gens = nest.Create("spike_generator", n_in, params=[
        {"spike_times": t.tolist(), "precise_times": True} for t in trains])
    every = list(cells) + list(gens)
    for s, t, w in conns:
        nest.Connect(every[s], cells[t], syn_spec={"weight": w, "delay": 2.0})
    rec = nest.Create("spike_recorder")
    nest.Connect(cells, rec)
    meter = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": dt})
    nest.Connect(meter, cells[:5])
    nest.Simulate(t_stop)
    ev = rec.get("events")
    ref = sorted(zip(np.round(ev["times"] / dt).astype(int), ev["senders"] - 1))
    assert len(ref) > 100

    net = ns.Network()
    gids = [int(net.add_cells(ns.models.point_neuron("iaf_psc_alpha", **p))[0])
            for p in params]
    srcs = [int(net.add_spike_source(t)) for t in trains]
    every = gids + srcs
    for s, t, w in conns:
        net.connect(every[s], gids[t], weight=w, delay=2.0)
    sim = ns.Simulation(net, dt=dt)
    spikes = sim.record_spikes(gids)
    traces = [sim.record("V_m", None, cell=g) for g in gids[:5]]
    sim.run(t_stop)
    pos = {g: i for i, g in enumerate(gids)}
    mine = sorted(zip(np.round(spikes.times / dt).astype(int), [pos[int(g)] for g in spikes.gids]))
    assert mine == ref
    mm = meter.get("events")
    for k, tr in enumerate(traces):
        sel = mm["senders"] == cells[k].global_id
        t_nest, v_nest = mm["times"][sel], mm["V_m"][sel]
        v = tr.values[np.searchsorted(tr.times, t_nest - 1e-9)]
        np.testing.assert_allclose(v, v_nest, rtol=0, atol=1e-9)
