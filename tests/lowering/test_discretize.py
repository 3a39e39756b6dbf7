"""Lowering's first step, ``discretize(cell)``: NEURON's nodes of one cell, their geometry
and the mechanisms placed on them; and ``lower`` placing cells into one model."""

import math

import numpy as np
import pytest

import neurosim as ns
from neurosim.lowering.cells import discretize, lower
from neurosim.lowering.model import CellNodes


def y_cell():
    """A 20 µm soma with two 100 µm dendrites at its 1-end (nseg 1, 3 and 5)."""
    m = ns.Morphology.from_sections(parents=[-1, 0, 0], lengths=[20.0, 100.0, 100.0],
                                    diameters=[20.0, 2.0, 1.0], types=[1, 3, 3])
    cell = ns.Cell(m, discretization=ns.NSeg(1))
    cell.discretization.append((1, ns.NSeg(3)))
    cell.discretization.append((2, ns.NSeg(5)))
    return cell


def test_nodes_are_neurons():
    """A root 0-end node, then per section its nseg centres and its 1-end, parents first."""
    part = discretize(y_cell())
    assert isinstance(part, CellNodes)
    assert part.n == 1 + (1 + 1) + (3 + 1) + (5 + 1)
    assert np.all(part.parent[1:] < np.arange(1, part.n)) and part.parent[0] == -1
    assert list(part.layout.nseg) == [1, 3, 5]
    sec1 = part.section == 1
    np.testing.assert_allclose(part.x[sec1], [1 / 6, 3 / 6, 5 / 6, 1.0])
    # the 1-end nodes and the root's 0-end have no membrane
    ends = np.flatnonzero(part.area == 0)
    np.testing.assert_array_equal(part.section[ends], [0, 0, 1, 2])


def test_areas_and_distances_are_the_cylinders():
    part = discretize(y_cell())
    for s, (length, diam) in enumerate([(20.0, 20.0), (100.0, 2.0), (100.0, 1.0)]):
        assert part.area[part.section == s].sum() == pytest.approx(math.pi * diam * length)
    # distances are from the soma's centre (NEURON's soma(0.5)): half the soma, then x·100 µm
    sec2 = (part.section == 2) & (part.area > 0)
    np.testing.assert_allclose(part.distance[sec2], 10.0 + 100.0 * part.x[sec2])


def test_point_processes_and_clamps_land_on_their_nodes():
    cell = y_cell()
    cell.insert("hh", region=0)
    cell.add_synapse((2, 0.5), "ExpSyn", label="syn", tau=3.0)
    cell.add_iclamp((1, 0.9), 1.0, 2.0, 0.1)
    part = discretize(cell)
    syn = part.mechanisms["ExpSyn"]
    assert list(syn.labels) == ["syn"]
    assert syn.nodes.tolist() == [part.layout.node(2, 0.5)]
    assert syn.params[list(syn.mechanism.parameters).index("tau"), 0] == 3.0
    assert part.stims == [(part.layout.node(1, 0.9), 1.0, 2.0, 0.1)]
    assert part.mechanisms["hh"].nodes.tolist() == [1]      # the soma's one centre
    body = discretize(cell, point_processes=False)
    assert set(body.mechanisms) == {"hh"} and body.stims == []


def test_lower_places_each_cell_after_the_last():
    cell = y_cell()
    cell.add_synapse((2, 0.5), "ExpSyn", label="syn")
    one = discretize(cell)
    model = lower([cell, cell])
    assert model.n_nodes == 2 * one.n
    np.testing.assert_array_equal(np.bincount(model.node_cell), [one.n, one.n])
    (table,) = [t for t in model.mechanisms if t.name == "ExpSyn"]
    assert sorted(c for c, _ in table.labels) == [0, 1]
    # the synapse of each cell sits at that cell's node (2, 0.5), wherever nodes were ordered
    for c in (0, 1):
        k = [ci for ci, _ in table.labels].index(c)
        assert table.nodes[k] == model.locate((2, 0.5), c)
    assert model.parent[0] == -1 and np.all(model.parent < np.arange(model.n_nodes))


def test_a_node_order_policy_is_applied_once_by_lowering():
    """The GPU's DHS order (a policy ``lower`` applies) renumbers every node array, the
    mechanisms' instances and the cells' layouts together; the model keeps the policy and
    a location finds the same compartment in either numbering."""
    from neurosim.backends.cuda.dhs import DhsOrder
    cells = [y_cell() for _ in range(3)]
    for cell in cells:
        cell.insert("hh", region="soma")
        cell.insert("pas")
    plain = lower(cells, group_nodes=10, min_groups=1)
    policy = DhsOrder(2, 4)
    model = lower(cells, group_nodes=10, min_groups=1, node_order=policy)
    order = policy.layout.order
    assert model.node_order is policy
    assert not np.array_equal(order, np.arange(len(order)))     # a real renumbering
    assert np.all(model.parent[1:] < np.arange(1, model.n_nodes))
    for name in ("area", "cap", "g_axial", "node_cell", "node_section", "node_x"):
        np.testing.assert_array_equal(getattr(model, name), getattr(plain, name)[order])
    for cell in range(3):
        for location in [(0, 0.5), (1, 0.1), (2, 0.7)]:
            a, b = plain.locate(location, cell), model.locate(location, cell)
            assert order[b] == a
    hh = {t.mechanism.name: t for t in model.mechanisms}["hh"]
    plain_hh = {t.mechanism.name: t for t in plain.mechanisms}["hh"]
    np.testing.assert_array_equal(np.sort(order[hh.nodes]), np.sort(plain_hh.nodes))
    assert np.all(np.diff(hh.nodes) > 0)


def test_the_cpu_needs_no_other_order_and_an_unknown_backend_is_named():
    from neurosim.backends import node_order
    assert node_order("cpu") is None
    with pytest.raises(ns.ParameterError, match="unknown backend 'tpu'"):
        node_order("tpu")


def test_a_simulation_discretises_each_geometry_once(monkeypatch):
    """The partition's costs, the memory estimate and lowering share one discretisation of
    a template and its copies (without it each step discretises on its own: twice here,
    once more per cell for the partition under MPI)."""
    from neurosim.lowering import cells as lowering
    calls = []
    original = lowering._lower_body

    def counted(cell):
        calls.append(cell)
        return original(cell)
    monkeypatch.setattr(lowering, "_lower_body", counted)
    template = y_cell()
    template.insert("pas")
    ns.Simulation([template.copy() for _ in range(4)])
    assert len(calls) == 1
    discretize(template)                # outside a Simulation: no cache
    discretize(template)
    assert len(calls) == 3


def test_a_dropped_cell_never_stands_in_for_a_new_one():
    """Keys are the cells' ids: a cell dropped inside the block (a recipe's survey) must
    not lend its nodes to a later cell at the same address; a changed cell is redone."""
    from neurosim.lowering.cells import discretized_once
    with discretized_once():
        for nseg in (1, 3, 5, 7, 9, 11):
            cell = ns.Cell(ns.Morphology.cable(100.0, 1.0), discretization=ns.NSeg(nseg))
            assert discretize(cell).layout.nseg[0] == nseg
            del cell
        cell = y_cell()
        before = discretize(cell).n
        cell.insert("pas", region=1)
        cell.paint(1, cm=2.0)
        assert discretize(cell).mechanisms.keys() == {"pas"}
        assert discretize(cell).n == before
