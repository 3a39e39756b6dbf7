"""Compiled epochs (neurosim.kernels.epochs) against the Python event path: a point-neuron network
whose kernel calls run many epochs, the events between them queued, ordered and delivered
in compiled code, gives the spikes and traces of the same network run one epoch per call
with the queue in Python -- bit for bit.  The network mixes what the delivery order depends
on: NEST models that take an input a step early (iaf_psc_delta) beside ones that do not,
NEURON's IntFire1 (events at their own times), spike sources off the grid with 0 ms delays,
many equal delivery times, Poisson drives; runs split at odd times and a checkpoint."""

import numpy as np
import pytest

import neurosim as ns
from neurosim.mechanisms import builtin_mechanism

DT = 0.1


def network(seed=11):
    g = np.random.default_rng(seed)
    net = ns.Network(seed=seed)
    alpha = net.add_cells(builtin_mechanism("iaf_psc_alpha"), n=40, I_e=350.0)
    delta = net.add_cells(builtin_mechanism("iaf_psc_delta"), n=30, I_e=340.0,
                          t_ref=3.0)
    intfire = net.add_cells(builtin_mechanism("IntFire1"), n=20, tau=8.0, refrac=4.0)
    cells = np.concatenate([alpha, delta, intfire])
    sources = net.add_poisson(rate=40.0, n=15, stop=400.0)     # times off the grid
    src, tgt, w, d = [], [], [], []
    for _ in range(2500):
        s = int(g.choice(np.concatenate([cells, sources])))
        t = int(g.choice(cells))
        src.append(s)
        tgt.append(t)
        if t in intfire:
            w.append(g.uniform(-0.3, 0.6))
        else:
            w.append(g.uniform(-40.0, 90.0))
        lo = DT if (s not in sources or t in delta) else 0.0
        d.append(max(lo, np.round(g.choice([1.0, 1.0, 1.5, g.uniform(0.0, 4.0)]), 1)))
    net.connect_many(src, tgt, [None] * len(src), w, d)
    net.add_poisson_drive(list(alpha[:10]), rate=800.0, weight=30.0)
    return net, cells


def run(net, cells, compiled, tmp_path=None):
    sim = ns.Simulation(net, dt=DT)
    if not compiled:
        sim._compiled_epochs = lambda end=None: False
    spikes = sim.record_spikes()
    trace = sim.record("V_m", None, cell=int(cells[3]))
    sim.run(37.35)
    sim.run(120.0)
    if tmp_path is not None:
        sim.checkpoint(tmp_path / "half.h5")
    sim.run(300.0)
    assert (sim._epoch_calls > 0) == compiled         # the path taken is the one asked
    return sim, spikes, trace


@pytest.mark.slow
def test_compiled_epochs_give_the_python_paths_spikes_bit_for_bit(tmp_path):
    net, cells = network()
    _, ours, v_ours = run(net, cells, compiled=True, tmp_path=tmp_path)
    _, ref, v_ref = run(net, cells, compiled=False)
    assert len(ref.gids) > 500                          # a network that fires
    np.testing.assert_array_equal(ours.gids, ref.gids)
    np.testing.assert_array_equal(ours.times, ref.times)
    np.testing.assert_array_equal(v_ours.values, v_ref.values)
    # restored halfway, the compiled run ends where the uninterrupted one did
    restored = ns.Simulation.restore(tmp_path / "half.h5")
    again = restored.record_spikes()
    restored.run(300.0)
    late = ref.times > 120.0 + 1e-9
    np.testing.assert_array_equal(again.gids, ref.gids[late])
    np.testing.assert_array_equal(again.times, ref.times[late])


def test_a_spike_burst_grows_the_compiled_queue():
    """Every cell fires in the first step and every spike fans out widely: the pending
    events outgrow the queue's first pool many times over."""
    net = ns.Network(seed=2)
    cells = net.add_cells(builtin_mechanism("iaf_psc_alpha"), n=200, I_e=2000.0,
                          V_init=-55.0)
    net.connect_rule(cells, cells, ns.FixedInDegree(100), weight=1.0, delay=3.0)
    results = []
    for compiled in (True, False):
        sim = ns.Simulation(net, dt=DT)
        if not compiled:
            sim._compiled_epochs = lambda end=None: False
        spikes = sim.record_spikes()
        sim.run(20.0)
        results.append((spikes.gids, spikes.times))
        if compiled:
            assert len(sim._ring[2]) >= 20_000      # a first pool of 1024 events, grown
    assert len(results[1][0]) >= 1000
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("spike_times", ["interpolated"])
def test_compiled_epochs_with_interpolated_spike_times(spike_times):
    net, cells = network(seed=5)
    out = []
    for compiled in (True, False):
        sim = ns.Simulation(net, dt=DT, spike_times=spike_times)
        if not compiled:
            sim._compiled_epochs = lambda end=None: False
        spikes = sim.record_spikes()
        sim.run(150.0)
        out.append((spikes.gids, spikes.times))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
