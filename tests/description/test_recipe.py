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


class Driven(ns.Recipe):
    """Ring cells and LIF neurons driven by Poisson inputs, described gid by gid: the
    network of tests/run/mpi/drive.py."""

    def __init__(self):
        from neurosim.models.ring import ring_network
        self.net, self.ring = ring_network(6, extra=2, depth=2, branch_nseg=3, seed=5)
        self.lif = ns.models.LIF(V_th=-60.0, E_L=-70.0, V_reset=-70.0)
        self.src, self.tgt, _, self.w, self.d = self.net.connections()

    def seed(self):
        return 5

    def num_cells(self):
        return 11                       # 0-5 ring cells, 6 the kick, 7-10 LIF

    def cell_description(self, gid):
        if gid == 6:
            return ns.SpikeSource(self.net.spike_sources[6])
        return self.net.cells[gid] if gid < 6 else self.lif

    def connections_on(self, gid):
        out = [ns.Connection(int(s), "syn", weight=float(w[0]), delay=float(d))
               for s, t, w, d in zip(self.src, self.tgt, self.w, self.d) if t == gid]
        return out + ([ns.Connection(7, "syn", weight=0.02, delay=1.0)] if gid == 3 else [])

    def poisson_drives_on(self, gid):
        if gid < 6:
            return [ns.PoissonDrive("syn", rate=300.0, weight=0.01)]
        if gid > 6:
            return [ns.PoissonDrive(None, rate=4000.0, weight=60.0, start=5.0, stop=40.0)]
        return []


def test_a_recipes_poisson_drives_are_the_networks():
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "run", "mpi"))
    import drive
    want = drive.run()
    sim = ns.Simulation(Driven())
    spikes = sim.record_spikes()
    v = sim.record("v", (0, 0.5), cell=4)
    sim.run(50.0)
    order = np.lexsort((spikes.gids, spikes.times))
    assert len(want["times"]) > 20 and np.isin(want["gids"], want["lif"]).sum() > 4
    np.testing.assert_array_equal(spikes.gids[order], want["gids"])
    np.testing.assert_array_equal(spikes.times[order], want["times"])
    np.testing.assert_array_equal(v.values, want["v"])


def test_a_recipe_gives_poisson_drives_as_such():
    class Bad(Driven):
        def poisson_drives_on(self, gid):
            return [("syn", 300.0, 0.01)]

    with pytest.raises(ns.ParameterError, match=r"poisson_drives_on\(0\).*ns.PoissonDrive"):
        ns.Simulation(Bad())
