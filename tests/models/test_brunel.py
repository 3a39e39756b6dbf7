"""A Brunel-style balanced network of LIF neurons (NEST's iaf_psc_exp): 800 excitatory and
200 inhibitory neurons, fixed in-degrees 80 and 20, inhibition g = 5, independent Poisson
drive.  The same network (our connections and input trains handed to NEST) in NEST: mean rate
and ISI CV within 10 % (in fact equal, as the integration and event timing are NEST's)."""

import numpy as np
import pytest

import neurosim as ns

NE, NI, CE, CI = 800, 200, 80, 20
W, G, DELAY, RATE_EXT, T, SKIP = 20.0, 5.0, 1.5, 5500.0, 600.0, 100.0


def brunel():
    net = ns.Network(seed=5)
    exc = net.add_cells(ns.models.LIF(tau_m=20.0, t_ref=2.0), n=NE)
    inh = net.add_cells(ns.models.LIF(tau_m=20.0, t_ref=2.0), n=NI)
    cells = np.concatenate([exc, inh])
    net.connect_rule(exc, cells, ns.FixedInDegree(CE), weight=W, delay=DELAY)
    net.connect_rule(inh, cells, ns.FixedInDegree(CI), weight=-G * W, delay=DELAY)
    drive = []
    for c in cells:
        (s,) = net.add_poisson(rate=RATE_EXT, n=1, stop=T, targets=[int(c)], weight=W,
                               delay=DELAY)
        t = np.round(net.spike_sources[int(s)], 1)     # NEST's generators: on the grid, > 0
        net.play(s, np.unique(t[t > 0]))
        drive.append(int(s))
    return net, cells, drive


def rate_and_cv(gids, times, population):
    rates, cvs = [], []
    for g in population:
        t = times[(gids == g) & (times > SKIP)]
        rates.append(len(t) / ((T - SKIP) / 1000.0))
        if len(t) > 3:
            isi = np.diff(t)
            cvs.append(isi.std() / isi.mean())
    return np.mean(rates), np.mean(cvs)


def test_brunel_network_rate_and_cv_match_nest():
    nest = pytest.importorskip("nest", reason="nest-simulator is a dev dependency")
    net, cells, drive = brunel()
    sim = ns.Simulation(net, dt=0.1)
    spikes = sim.record_spikes(cells)
    sim.run(T)
    ours = rate_and_cv(spikes.gids, spikes.times, cells)

    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.resolution = 0.1
    pop = nest.Create("iaf_psc_exp", NE + NI, params={"tau_m": 20.0, "t_ref": 2.0})
    gens = nest.Create("spike_generator", len(drive))
    for k, s in enumerate(drive):
        gens[k].set(spike_times=net.spike_sources[s])
    node = {int(c): int(pop[i].global_id) for i, c in enumerate(cells)}
    node.update({s: int(gens[k].global_id) for k, s in enumerate(drive)})
    src, tgt, _, weights, delays = net.connections()
    nest.Connect(np.array([node[int(s)] for s in src]), np.array([node[int(t)] for t in tgt]),
                 "one_to_one", syn_spec={"weight": np.array([w[0] for w in weights]),
                                         "delay": delays})
    recorder = nest.Create("spike_recorder")
    nest.Connect(pop, recorder)
    nest.Simulate(T)
    events = recorder.get("events")
    first = int(pop[0].global_id)
    theirs = rate_and_cv(np.array(events["senders"]) - first, np.array(events["times"]),
                         np.arange(NE + NI))
    assert 1.0 < ours[0] < 50.0 and 0.2 < ours[1]          # asynchronous, irregular firing
    assert ours[0] == pytest.approx(theirs[0], rel=0.1)
    assert ours[1] == pytest.approx(theirs[1], rel=0.1)
