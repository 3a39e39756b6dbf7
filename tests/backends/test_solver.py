"""The CPU cable solve: node by node and by SIMD blocks of interleaved identical cells, both
against a dense solve of the same matrix; the blocks' invariants; cell groups; a simulation
solved by blocks equal to one solved node by node."""

import numpy as np
import pytest

import neurosim as ns
from neurosim.kernels.solver import (block_solve_range, hines_solve_range, solve_blocks,
                                     static_pivots)
from neurosim.lowering.cells import cell_groups, lower
from neurosim.lowering.trees import depths


def random_shape(n, rng):
    """A random tree, parent[i] < i, numbered by depth as lowering numbers a group."""
    parent = np.full(n, -1, dtype=np.int64)
    for i in range(1, n):
        parent[i] = rng.integers(max(0, i - 4), i)          # chains and branches
    order = np.argsort(depths(parent), kind="stable")
    new_of = np.empty(n, dtype=np.int64)
    new_of[order] = np.arange(n)
    return np.where(parent[order] >= 0, new_of[np.maximum(parent[order], 0)], -1)


def interleaved(shape_parent, copies):
    """``copies`` cells of one shape, numbered (depth, node of the shape, copy): (parent,
    the node of the shape each node is)."""
    n = len(shape_parent)
    local = np.tile(np.arange(n), copies)
    cell = np.repeat(np.arange(copies), n)
    parent = np.where(shape_parent[local] >= 0, shape_parent[local] + cell * n, -1)
    order = np.lexsort((cell, local, depths(shape_parent)[local]))
    new_of = np.empty(len(order), dtype=np.int64)
    new_of[order] = np.arange(len(order))
    return np.where(parent[order] >= 0, new_of[np.maximum(parent[order], 0)], -1), \
        local[order]


def dense(parent, g, diag):
    a = np.diag(diag)
    for i in np.flatnonzero(parent >= 0):
        a[i, parent[i]] = a[parent[i], i] = -g[i]
    return a


def both_solves(parent, g, diag, extra, dynamic, rhs, v, crank_nicolson=False):
    """[(v, blow-up code) node by node, (v, code) by blocks] after a solve of the matrix with
    diagonal ``diag`` (+ ``extra`` at the dynamic nodes, which change every step)."""
    n = len(parent)
    dyn, inv, a, fold = static_pivots(parent, g, diag, dynamic)
    d = diag + fold + np.where(dynamic, extra, 0.0)
    out = []
    for blocked in (False, True):
        d1, r1, inv1, a1, v1 = d.copy(), rhs.copy(), inv.copy(), a.copy(), v.copy()
        if blocked:
            blocks = solve_blocks(parent, dyn, 0, n)
            bad = block_solve_range(*blocks, 0, len(blocks[0]), g, a1, d1, r1, inv1, 0, n,
                                    v1, crank_nicolson)
        else:
            bad = hines_solve_range(parent, g, a1, d1, r1, inv1, dyn, 0, n, v1,
                                    crank_nicolson)
        out.append((v1, bad))
    return out


@pytest.mark.parametrize("copies", [1, 3, 8])
def test_both_solves_equal_a_dense_solve(copies):
    rng = np.random.default_rng(copies)
    for trial in range(20):
        shape = random_shape(int(rng.integers(1, 40)), rng)
        parent, local = interleaved(shape, copies)
        n = len(parent)
        g = rng.uniform(0.1, 2.0, n)
        diag = rng.uniform(3.0, 6.0, n)
        # the dynamic nodes: per node of the shape (identical cells), or per node
        dynamic = ((rng.random(len(shape)) < 0.3)[local] if trial % 2
                   else rng.random(n) < 0.3)
        extra = rng.uniform(0.0, 2.0, n)
        rhs = rng.normal(size=n)
        v = rng.normal(size=n)
        want = np.linalg.solve(dense(parent, g, diag + np.where(dynamic, extra, 0.0)), rhs)
        for crank_nicolson in (False, True):
            (by_node, bad0), (by_block, bad1) = both_solves(
                parent, g, diag, extra, dynamic, rhs, v, crank_nicolson)
            expect = 2.0 * want - v if crank_nicolson else want
            np.testing.assert_allclose(by_node, expect, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(by_block, expect, rtol=1e-10, atol=1e-12)
            np.testing.assert_array_equal(by_node, by_block)    # rounded alike
            assert bad0 == bad1 == -1


def test_both_solves_name_the_first_node_that_blew_up():
    rng = np.random.default_rng(3)
    parent, _ = interleaved(random_shape(30, rng), 4)
    n = len(parent)
    g, diag = rng.uniform(0.1, 1.0, n), rng.uniform(3.0, 6.0, n)
    rhs = rng.normal(size=n)
    rhs[n // 2] = 1e9                                       # one node driven far out
    want = np.linalg.solve(dense(parent, g, diag), rhs)
    first = int(np.flatnonzero(np.abs(want) >= 1e4)[0])
    for rhs_bad in (rhs, np.where(np.arange(n) == 7, np.nan, rhs)):
        (v0, bad0), (v1, bad1) = both_solves(parent, g, diag, np.zeros(n),
                                             np.zeros(n, dtype=bool), rhs_bad, np.zeros(n))
        expect = first if np.isfinite(rhs_bad).all() else \
            int(np.flatnonzero(~(np.abs(v0) < 1e4))[0])
        assert bad0 == bad1 == expect


def test_blocks_are_runs_of_independent_nodes_with_consecutive_parents():
    rng = np.random.default_rng(11)
    for copies in (1, 5, 16):
        shape = random_shape(60, rng)
        parent, local = interleaved(shape, copies)
        dynamic = (rng.random(len(shape)) < 0.2)[local]
        dynamic[rng.integers(0, len(parent))] ^= True        # a run broken by one node
        start, end, par, dyn = solve_blocks(parent, dynamic, 0, len(parent))
        assert start[0] == 0 and end[-1] == len(parent)
        assert np.all(start[1:] == end[:-1]) and np.all(end > start)
        for s, e, p, d in zip(start.astype(int), end.astype(int), par.astype(int), dyn):
            nodes = np.arange(s, e)
            assert np.all(dynamic[nodes] == d)
            if p == s:
                assert np.all(parent[nodes] < 0)
            else:
                assert np.all(parent[nodes] == p + np.arange(e - s))
                assert p + (e - s) <= s                     # parents before the run
        # interleaved identical cells make runs at least as long as the copies
        assert len(parent) / len(start) >= copies * 0.9


def test_cell_groups_are_balanced_and_at_least_as_many_as_asked():
    from neurosim.models.ring import ring_cell
    cells = [ring_cell()] * 30
    for min_groups in (1, 2, 3, 7):
        model = lower(cells, group_nodes=10 ** 6, min_groups=min_groups)
        nodes = np.diff(model.group_node)
        assert len(nodes) == min_groups
        assert nodes.max() - nodes.min() <= len(model.parent) // 30   # within one cell
    model = lower(cells, group_nodes=1000, min_groups=1)
    nodes = np.diff(model.group_node)
    per_cell = model.n_nodes // 30
    assert len(nodes) == -(-model.n_nodes // 1000)
    assert nodes.max() <= 1000 + per_cell
    # coupled cells share a group whatever the sizes
    groups = cell_groups(model, [(0, 29)], 1000, 1)
    assert any(0 in grp and 29 in grp for grp in groups)


def test_a_ring_solved_by_blocks_equals_the_ring_solved_node_by_node(monkeypatch):
    from neurosim.backends.cpu import backend as cpu
    from neurosim.models.ring import ring_network

    def run():
        net, gids = ring_network(24)
        sim = ns.Simulation(net, dt=0.025)
        spikes = sim.record_spikes(gids)
        traces = (sim.record("v", (0, 0.5), cell=list(gids[:3])) +
                  sim.record("v", (5, 0.3), cell=list(gids[:3])))
        sim.run(40.0)
        return (sim.backend.blk_gp[-1], np.array(spikes.times),
                np.array([t.values for t in traces]))

    blocks, spikes, trace = run()
    monkeypatch.setattr(cpu, "MIN_MEAN_BLOCK", np.inf)
    none, spikes0, trace0 = run()
    assert blocks > 0 and none == 0
    assert len(spikes) > 5
    np.testing.assert_allclose(spikes, spikes0, atol=1e-9)
    np.testing.assert_allclose(trace, trace0, atol=1e-9)
