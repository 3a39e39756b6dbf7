"""Connection rules, random weights and Poisson inputs: counter-based, split-independent."""

import numpy as np
import pytest

import neurosim as ns


def tiny_cell():
    cell = ns.Cell(ns.Morphology.cable(10.0, 10.0, type="soma"))
    cell.insert("pas", g=1e-4, e=-65.0)
    cell.add_synapse((0, 0.5), "ExpSyn", label="syn")
    cell.add_detector((0, 0.5))
    return cell


def net_with(n, seed=7):
    net = ns.Network(seed=seed)
    return net, net.add_cells(tiny_cell(), n=n)


def edges(net):
    src, tgt, _, weights, delay = net.connections()
    return src, tgt, np.array([w[0] for w in weights]), delay


def test_fixed_in_degree_gives_exactly_k_distinct_sources_without_autapses():
    net, gids = net_with(50)
    made = net.connect_rule(gids, gids, ns.FixedInDegree(10), synapse="syn", weight=0.001)
    src, tgt, _, _ = edges(net)
    assert made == 500
    for g in gids:
        mine = src[tgt == g]
        assert len(mine) == 10 and len(set(mine)) == 10 and g not in mine


def test_fixed_probability_and_all_to_all():
    net, gids = net_with(120)
    made = net.connect_rule(gids, gids, ns.FixedProbability(0.1), synapse="syn", weight=0.0)
    expected = 120 * 119 * 0.1
    assert abs(made - expected) < 4 * np.sqrt(expected * 0.9)      # a 4-sigma band
    net2, g2 = net_with(6)
    assert net2.connect_rule(g2, g2, ns.AllToAll(), synapse="syn", weight=0.0) == 30
    with pytest.raises(ns.ParameterError):
        ns.FixedProbability(1.5)


def test_connections_do_not_depend_on_which_targets_are_built_together():
    """A rank building only some targets gets the same incoming connections, weights and
    delays for them as a serial build of all targets."""
    net_all, gids = net_with(40, seed=3)
    rule = ns.FixedProbability(0.2)
    weight, delay = ns.Normal(0.01, 0.003, low=0.0), ns.Uniform(1.0, 3.0)
    net_all.connect_rule(gids, gids, rule, synapse="syn", weight=weight, delay=delay)
    net_part, gids_p = net_with(40, seed=3)
    net_part.connect_rule(gids_p, gids_p[25:31], rule, synapse="syn", weight=weight,
                          delay=delay)
    s1, t1, w1, d1 = edges(net_all)
    s2, t2, w2, d2 = edges(net_part)
    sel = (t1 >= 25) & (t1 < 31)
    np.testing.assert_array_equal(s1[sel], s2)
    np.testing.assert_array_equal(t1[sel], t2)
    np.testing.assert_array_equal(w1[sel], w2)
    np.testing.assert_array_equal(d1[sel], d2)
    assert np.all(w1 >= 0.0) and np.all((d1 >= 1.0) & (d1 <= 3.0))
    net_other, g3 = net_with(40, seed=4)
    net_other.connect_rule(g3, g3, rule, synapse="syn", weight=weight, delay=delay)
    assert not np.array_equal(edges(net_other)[0], s1)        # the seed matters


def test_fixed_total_number_draws_the_whole_projection_once():
    """NEST's fixed_total_number: exactly n connections, uniform (source, target) pairs
    (every target's in-degree a binomial share), autapses redrawn when not allowed, the
    same draw for the same seed and a different one for another seed."""
    def build(seed, autapses):
        net = ns.Network(seed=seed)
        gids = net.add_cells(ns.models.LIF(), n=50)
        net.connect_rule(gids, gids, ns.FixedTotalNumber(5000, allow_autapses=autapses),
                         weight=ns.Normal(100.0, 10.0), delay=ns.Uniform(1.0, 2.0))
        return net.connections()
    src, tgt, _, w, d = build(3, False)
    assert len(src) == 5000 and not np.any(src == tgt)
    indeg = np.bincount(tgt, minlength=50)
    assert indeg.var() == pytest.approx(100 * (1 - 1 / 50), rel=0.5)   # binomial spread
    assert np.all(np.diff(tgt) >= 0)                                    # by target
    assert w[:, 0].std() == pytest.approx(10.0, rel=0.1) and 1.0 <= d.min() < d.max() <= 2.0
    again = build(3, False)
    np.testing.assert_array_equal(again[0], src)
    np.testing.assert_array_equal(again[3], w)
    assert not np.array_equal(build(4, False)[0], src)
    src, tgt = build(3, True)[:2]
    assert np.any(src == tgt)                           # NEST's default keeps autapses
    with pytest.raises(ns.ParameterError, match="FixedTotalNumber"):
        ns.FixedTotalNumber(2.5)


def test_distance_dependent_rule_uses_positions():
    net = ns.Network(seed=1)
    x = np.arange(30) * 50.0
    gids = net.add_cells(tiny_cell(), n=30, positions=np.c_[x, 0 * x, 0 * x])
    net.connect_rule(gids, gids, ns.DistanceDependent(lambda d: (d <= 120.0).astype(float)),
                     synapse="syn", weight=0.0)
    src, tgt, _, _ = edges(net)
    assert len(src) > 0 and np.all(np.abs(src - tgt) * 50.0 <= 120.0)
    assert np.sum(tgt == 10) == 4                          # neighbours at 50 and 100 µm
    with pytest.raises(ns.ParameterError, match="positions"):
        net2, g2 = net_with(3)
        net2.connect_rule(g2, g2, ns.DistanceDependent(lambda d: 1.0 + 0 * d), synapse="syn")


def test_poisson_sources_have_the_rate_and_are_reproducible():
    net, gids = net_with(1, seed=11)
    src = net.add_poisson(rate=40.0, n=20, start=0.0, stop=5000.0,
                          targets=[(gids[0], "syn")], weight=0.0, delay=1.0)
    counts = np.array([len(net.spike_sources[int(s)]) for s in src])
    assert abs(counts.mean() - 200.0) < 4 * np.sqrt(200.0 / 20)
    isi = np.concatenate([np.diff(net.spike_sources[int(s)]) for s in src])
    assert abs(isi.std() / isi.mean() - 1.0) < 0.05          # Poisson: ISI CV = 1
    again, g_again = net_with(1, seed=11)
    src2 = again.add_poisson(rate=40.0, n=20, stop=5000.0)
    np.testing.assert_array_equal(net.spike_sources[int(src[5])],
                                  again.spike_sources[int(src2[5])])
    steps = net.add_poisson(rate=[0.0, 100.0], times=[0.0, 1000.0], stop=2000.0)
    train = net.spike_sources[int(steps[0])]
    assert np.all(train >= 1000.0) and 60 < len(train) < 140


def test_poisson_driven_network_runs():
    net, gids = net_with(5, seed=2)
    net.add_poisson(rate=200.0, n=5, stop=200.0, targets=[(int(g), "syn") for g in gids],
                    weight=0.002, delay=1.0)
    sim = ns.Simulation(net)
    spikes = sim.record_spikes()
    sim.run(200.0)
    assert len(spikes) > 100                                 # the input trains, at least
