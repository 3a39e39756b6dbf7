"""Lowering a network's connections and drives into the kernel's event rows
(``wiring.connection_rows``): rows by source gid, targets resolved to (table, instance), the
drives' rows after the connections, and a target that takes no events named."""

import numpy as np
import pytest

import neurosim as ns
from neurosim.errors import ParameterError
from neurosim.lowering import wiring


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


def rows_of(sim):
    net = sim.network
    target = wiring.point_processes(sim.backend.tables)
    return wiring.connection_rows(net._edges.columns(), list(net.drives), sim.backend.tables,
                                  target, sim._index_of, net.seed, sim.dt), target


def test_rows_are_by_source_then_the_drives():
    net, gids = network()
    sim = ns.Simulation(net, dt=0.025)
    rows, target = rows_of(sim)
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
    sim = ns.Simulation(net, dt=0.025)
    tables = sim.backend.tables
    (hh,) = [j for j, t in enumerate(tables) if t.name == "hh"]
    src, tgt, codes, labels, weights, delays = net._edges.columns()
    target = {key: (hh, 0) for key in wiring.point_processes(tables)}   # all onto hh
    with pytest.raises(ParameterError, match=r"connection to gid \d+ synapse 'syn': hh has "
                                             "no NET_RECEIVE"):
        wiring.connection_rows((src, tgt, codes, labels, weights, delays), [], tables,
                               target, sim._index_of, net.seed, sim.dt)
