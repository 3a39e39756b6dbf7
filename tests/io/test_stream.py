"""Recordings streamed to HDF5 epoch by epoch: the same samples as in memory, memory bounded."""

import h5py
import numpy as np

import neurosim as ns
from neurosim.io.traces import read_traces
from neurosim.models.ring import ring_network


def run_ring(path=None):
    net, gids = ring_network(6, extra=2, depth=2, branch_nseg=3)
    sim = ns.Simulation(net)
    v = sim.record("v", (0, 0.5), cell=[int(g) for g in gids[:3]])
    i = sim.record("i", "syn", cell=int(gids[1]), interval=0.1)
    spikes = sim.record_spikes()
    if path is not None:
        sim.stream_to(path)
    sim.run(40.0)
    held = [len(t._values) for t in v + [i]]          # what memory holds after the run
    late = sim.record("v", (1, 0.5), cell=int(gids[2]))   # a probe added mid-run
    sim.run(60.0)
    return sim, v + [i, late], spikes, held


def test_streamed_recordings_equal_the_in_memory_ones(tmp_path):
    path = tmp_path / "run.h5"
    _, mem_traces, mem_spikes, _ = run_ring()
    sim, traces, spikes, held = run_ring(path)
    assert held == [0, 0, 0, 0]                         # nothing kept in memory
    assert len(spikes.times) > 3
    np.testing.assert_array_equal(spikes.times, mem_spikes.times)
    np.testing.assert_array_equal(spikes.gids, mem_spikes.gids)
    for a, b in zip(traces, mem_traces):
        np.testing.assert_array_equal(a.times, b.times)
        np.testing.assert_array_equal(a.values, b.values)
    with h5py.File(path, "r") as f:                     # readable while the run is open
        assert f["spikes/0/times"].shape[0] == len(spikes.times)
    sim.close()
    on_disk = read_traces(path)
    assert len(on_disk) == 5
    by_var = {(attrs["variable"], attrs["cell"], attrs["location"]): (t, d)
              for t, d, attrs in on_disk.values()}
    late = traces[-1]
    t, d = by_var[("v", late.cell, str(late.location))]
    np.testing.assert_array_equal(d, mem_traces[-1].values)
    assert t[0] == 40.0 and t[-1] == 60.0
