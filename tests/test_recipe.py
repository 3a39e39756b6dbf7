"""Networks described gid by gid (ns.Recipe): the same simulation as the Network built whole."""

import numpy as np
import pytest

import neurosim as ns
from neurosim.models.ring import DELAY, WEIGHT, ring_cell, ring_connections, ring_network


class Ring(ns.Recipe):
    """The ring of models.ring, asked for one gid at a time; gid n is the kick."""

    def __init__(self, n, extra=3):
        self.n = n
        self.cell = ring_cell(depth=2, branch_nseg=3)
        src, tgt, w = ring_connections(n, extra)
        self.incoming = {g: [(int(s), float(x)) for s, t, x in zip(src, tgt, w) if t == g]
                         for g in range(n)}
        self.asked = []

    def num_cells(self):
        return self.n + 1

    def cell_description(self, gid):
        self.asked.append(gid)
        return ns.SpikeSource([1.0]) if gid == self.n else self.cell

    def connections_on(self, gid):
        if gid == self.n:
            return []
        conns = [ns.Connection(s, "syn", weight=w, delay=DELAY) for s, w in self.incoming[gid]]
        if gid == 0:
            conns.append(ns.Connection(self.n, "syn", weight=WEIGHT, delay=1.0))
        return conns


def test_recipe_runs_the_same_ring_as_the_whole_network():
    recipe = Ring(10)
    sim = ns.Simulation(recipe)
    spikes = sim.record_spikes(range(10))
    sim.run(60.0)
    assert sorted(recipe.asked) == list(range(11))          # each gid described once
    net, gids = ring_network(10, extra=3, depth=2, branch_nseg=3)
    ref = ns.Simulation(net)
    ref_spikes = ref.record_spikes(gids)
    ref.run(60.0)
    assert len(spikes.times) >= 5
    np.testing.assert_array_equal(spikes.gids, ref_spikes.gids)
    np.testing.assert_array_equal(spikes.times, ref_spikes.times)


class Broken(ns.Recipe):
    def __init__(self, what):
        self.what = what
        self.cell = ring_cell(depth=1, branch_nseg=2)

    def num_cells(self):
        return 2

    def cell_description(self, gid):
        return "a cell" if self.what == "description" else self.cell

    def connections_on(self, gid):
        if self.what == "label":
            return [ns.Connection(1 - gid, "ampa", weight=0.01, delay=1.0)]
        if self.what == "source":
            return [ns.Connection(5, "syn", weight=0.01, delay=1.0)]
        if self.what == "type":
            return [(1 - gid, "syn", 0.01, 1.0)]
        return []


@pytest.mark.parametrize("what,words", [
    ("label", "no synapse labelled 'ampa'"),
    ("source", "unknown source gid 5"),
    ("type", r"connections_on\(0\) must give ns.Connection"),
    ("description", "a cell is a Cell, a point neuron"),
])
def test_recipe_errors_name_the_gid(what, words):
    with pytest.raises(ns.ParameterError, match=words):
        ns.Simulation(Broken(what))
