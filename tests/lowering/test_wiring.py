"""Lowering a network onto a lowered model, with no backend and no Simulation: the
connections and drives as the kernel's event rows (``wiring.connection_rows``: rows by source
gid, targets resolved to (table, instance), the drives' rows after the connections, a target
that takes no events named), and detectors, gap junctions and POINTERs in the model's
numbering (``network.lower_network``), which is what a Simulation's backend is given."""

import numpy as np
import pytest

import neurosim as ns
from neurosim.errors import ParameterError
from neurosim.lowering import wiring
from neurosim.lowering.cells import lower
from neurosim.lowering.network import lower_network

DT = 0.025


def network():
    net = ns.Network(seed=3)
    c = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    c.insert("hh", region="soma")
    c.add_synapse((1, 0.5), "ExpSyn", label="syn")
    c.add_detector((0, 0.5), threshold=-20.0)
    gids = net.add_cells(c, n=3)
    net.connect(int(gids[2]), (int(gids[0]), "syn"), weight=0.3, delay=2.0)
    net.connect(int(gids[0]), (int(gids[1]), "syn"), weight=0.1, delay=1.0)
    net.connect(int(gids[0]), (int(gids[2]), "syn"), weight=0.2, delay=1.5)
    net.add_poisson_drive([(int(gids[1]), "syn")], rate=100.0, weight=0.05, start=0.0,
                          stop=50.0)
    return net, gids


class Lowered:
    """A network's cells lowered in gid order, as one rank holding them all."""
    def __init__(self, net):
        self.gids = np.array(sorted(net.cells), dtype=np.int64)
        self._index_of = {int(g): i for i, g in enumerate(self.gids)}
        self.model = lower([net.cells[int(g)] for g in self.gids])
        self.dt = DT


def rows_of(low, net):
    tables = low.model.kernel_tables
    target = wiring.point_processes(tables)
    return wiring.connection_rows(net._edges.columns(), list(net.drives), tables,
                                  target, low._index_of, net.seed, low.dt), target


def test_rows_are_by_source_then_the_drives():
    net, gids = network()
    sim = Lowered(net)
    rows, target = rows_of(sim, net)
    conns = rows.connections
    # gid 0's two connections (in connection order), then gid 2's
    np.testing.assert_array_equal(conns.ptr, [0, 2, 2, 3])
    np.testing.assert_allclose(conns.delay, [1.0, 1.5, 2.0])
    np.testing.assert_allclose(conns.weights[:, 0], [0.1, 0.2, 0.3])
    to = [target[(sim._index_of[int(g)], "syn")] for g in (gids[1], gids[2], gids[0])]
    assert [(int(t), int(i)) for t, i in zip(conns.target_table, conns.target_instance)] == to
    # the drive's row follows the connections: its target, weight, rate per step and steps
    assert rows.drive_rows.tolist() == [3]
    assert (int(rows.tables[3]), int(rows.instances[3])) == \
        target[(sim._index_of[int(gids[1])], "syn")]
    assert rows.weights[3, 0] == 0.05
    assert rows.drive_mean.tolist() == [pytest.approx(100.0 * 0.025 / 1000.0)]
    assert rows.drive_first.tolist() == [0] and rows.drive_end.tolist() == [2000]


def test_a_target_without_net_receive_is_named():
    net, gids = network()
    sim = Lowered(net)
    tables = sim.model.kernel_tables
    (hh,) = [j for j, t in enumerate(tables) if t.name == "hh"]
    src, tgt, codes, labels, weights, delays = net._edges.columns()
    target = {key: (hh, 0) for key in wiring.point_processes(tables)}   # all onto hh
    with pytest.raises(ParameterError, match=r"connection to gid \d+ synapse 'syn': hh has "
                                             "no NET_RECEIVE"):
        wiring.connection_rows((src, tgt, codes, labels, weights, delays), [], tables,
                               target, sim._index_of, net.seed, sim.dt)


def test_the_network_lands_in_the_models_numbering_and_the_backend_takes_it_as_is():
    """Detectors, gap junctions, POINTERs and event rows from the lowered model alone; a
    Simulation's backend holds the same (its tables are the model's kernel tables)."""
    net = ns.Network(seed=2)
    c = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    c.insert("hh", region="soma")
    c.add_synapse((1, 0.5), "ExpSyn", label="syn")
    c.add_detector((0, 0.5), threshold=-20.0)
    a, b = (int(g) for g in net.add_cells(c, n=2))
    net.add_gap_junction((a, (1, 0.9)), (b, (1, 0.1)), g=0.002)
    net.connect(a, (b, "syn"), weight=0.2, delay=1.0)
    low = Lowered(net)
    model = low.model
    events = lower_network(net, model, low.gids, net._edges.columns(), [], DT)
    det = events.detectors
    assert det.nodes.tolist() == [model.locate((0, 0.5), 0), model.locate((0, 0.5), 1)]
    assert det.gids.tolist() == [a, b] and det.thresholds.tolist() == [-20.0, -20.0]
    gaps = events.gap_junctions
    assert (gaps.a.tolist(), gaps.b.tolist(), gaps.g.tolist()) == \
        ([model.locate((1, 0.9), 0)], [model.locate((1, 0.1), 1)], [0.002])
    (syn,) = [j for j, t in enumerate(model.kernel_tables) if t.name == "ExpSyn"]
    assert events.connections.target_table.tolist() == [syn]
    assert events.connections.target_instance.tolist() == \
        [list(model.kernel_tables[syn].labels).index((1, "syn"))]
    sim = ns.Simulation(net, dt=DT)
    assert [t.name for t in sim.backend.tables] == [t.name for t in sim.model.kernel_tables]
    assert all(x is y for x, y in zip(sim.backend.tables, sim.model.kernel_tables))
    np.testing.assert_array_equal(np.sort(sim.backend.det_node),
                                  np.sort([sim.model.locate((0, 0.5), i) for i in (0, 1)]))
    np.testing.assert_array_equal(sim.backend.gj_g, [0.002])


def test_pointer_indices_are_written_into_the_models_tables():
    """A POINTER bound with set_pointer gets its source node in the model's numbering."""
    mod = """
NEURON { SUFFIX reader POINTER vs RANGE copy }
ASSIGNED { vs (mV) copy (mV) }
BREAKPOINT { copy = vs }
"""
    reader = ns.Mechanism.from_nmodl_text(mod, "reader.mod")
    net = ns.Network()
    c = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    c.insert(reader, region="soma")
    (g,) = (int(x) for x in net.add_cells(c, n=1))
    net.set_pointer((g, (0, 0.5), "reader"), "vs", (g, (1, 0.7)))
    low = Lowered(net)
    lower_network(net, low.model, low.gids, net._edges.columns(), [], DT)
    (table,) = [t for t in low.model.kernel_tables if t.name == "reader"]
    assert table.pointer_nodes.tolist() == [[low.model.locate((1, 0.7), 0)]]
