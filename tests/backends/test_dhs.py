"""Dendritic Hierarchical Scheduling: valid schedules, optimal step counts (brute force on
small trees, the lower bound where it is reached), and the solve in DHS order equal to the
Hines solve."""

import itertools

import numpy as np
import pytest

from neurosim.backends.cuda.dhs import Layout, depths, lower_bound, schedule, solve
from neurosim.kernels.solver import hines_solve

from gpu_env import cuda_env


def random_tree(n, rng, roots=1):
    """parent[i] < i: a random recursive forest (``roots`` trees)."""
    parent = np.full(n, -1, dtype=np.int64)
    for i in range(roots, n):
        parent[i] = rng.integers(0, i)
    return parent


def fewest_steps(parent, k):
    """The optimum by breadth-first search over the sets of eliminated nodes."""
    n = len(parent)
    children = [np.flatnonzero(parent == i).tolist() for i in range(n)]
    full, frontier, steps = (1 << n) - 1, {0}, 0
    while full not in frontier:
        nxt = set()
        for done in frontier:
            ready = [i for i in range(n) if not done >> i & 1 and
                     all(done >> c & 1 for c in children[i])]
            for size in range(1, min(k, len(ready)) + 1):
                for pick in itertools.combinations(ready, size):
                    nxt.add(done | sum(1 << i for i in pick))
        frontier, steps = nxt, steps + 1
    return steps


def check_valid(parent, steps, k):
    when = np.full(len(parent), -1)
    for s, nodes in enumerate(steps):
        assert len(nodes) <= k
        assert np.all(when[nodes] == -1)                 # each node once
        when[nodes] = s
    assert np.all(when >= 0)
    child = np.flatnonzero(parent >= 0)
    assert np.all(when[child] < when[parent[child]])    # children before their parent


def test_schedules_are_valid_and_optimal_on_small_trees():
    rng = np.random.default_rng(5)
    reached = 0
    for trial in range(120):
        n = int(rng.integers(2, 10))
        parent = random_tree(n, rng)
        for k in (1, 2, 3):
            steps = schedule(parent, k)
            check_valid(parent, steps, k)
            best = fewest_steps(parent, k)
            assert len(steps) == best, (parent, k)
            bound = lower_bound(parent, k)
            assert best >= bound
            reached += best == bound
    assert reached > 200            # the bound is usually reached; then DHS reaches it


@pytest.mark.parametrize("k", [1, 4, 16, 32])
def test_large_random_trees_and_forests(k):
    rng = np.random.default_rng(k)
    for roots in (1, 3):
        parent = random_tree(500, rng, roots)
        steps = schedule(parent, k)
        # k lanes per tree: a forest's step holds up to k nodes of each tree
        check_valid(parent, steps, k * roots)
        assert len(steps) >= lower_bound(parent, k)
        if k == 1 and roots == 1:
            assert len(steps) == 500


def test_cell_morphologies():
    """Trees of real cells (the ring cell, an Allen reconstruction): the bound is reached
    with one lane (N steps) and with a lane per leaf (depth + 1 steps, level by level);
    in between more lanes never need more steps."""
    import neurosim as ns
    from neurosim.lowering.cells import lower
    from neurosim.models.allen import allen_morphology
    from neurosim.models.ring import ring_cell
    allen = ns.Cell(ns.Morphology.from_swc(allen_morphology("Scnn1a")),
                    discretization=ns.DLambda(0.1))
    for cell in (ring_cell(), allen):
        parent = lower([cell]).parent
        leaves = len(parent) - len(np.unique(parent[parent >= 0]))
        counts = []
        for k in (1, 2, 4, 8, 16, 32, leaves):
            steps = schedule(parent, k)
            check_valid(parent, steps, k)
            assert len(steps) >= lower_bound(parent, k)
            counts.append(len(steps))
        assert counts[0] == len(parent)
        assert counts[-1] == depths(parent).max() + 1 == lower_bound(parent, leaves)
        assert counts == sorted(counts, reverse=True)


def test_the_solve_in_dhs_order_equals_the_hines_solve():
    rng = np.random.default_rng(11)
    for k in (1, 3, 8):
        parent = random_tree(300, rng, roots=2)
        g = rng.uniform(0.1, 1.0, 300)
        d = 3.0 + rng.uniform(0.0, 1.0, 300)
        np.add.at(d, parent[parent >= 0], g[parent >= 0])
        rhs = rng.normal(size=300)
        x = rhs.copy()
        hines_solve(parent, g, d.copy(), x)
        layout = Layout(parent, k)
        got = solve(layout, g[layout.order], d[layout.order], rhs[layout.order])
        np.testing.assert_allclose(got[layout.position], x, rtol=1e-12, atol=1e-12)


CUDA_SCRIPT = """
import json, sys
import numpy as np
from neurosim.backends.cuda.dhs import CellsLayout, DeviceLayout
from neurosim.backends.cuda.dhs_kernel import dhs_solve, interleaved_solve
from neurosim.kernels.solver import hines_solve
rng = np.random.default_rng(3)
shape7 = [int(rng.integers(0, i)) for i in range(1, 7)]


def group(sizes, base):
    # cells of one random tree each, their nodes interleaved (as cell groups do)
    parent = []
    for n in sizes:
        first = len(parent)
        tree = shape7 if n == 7 else [int(rng.integers(0, i)) for i in range(1, n)]
        parent += [-1] + [first + p for p in tree]
    parent = np.array(parent)
    perm = np.argsort(np.concatenate([np.arange(m) * 10.0 + c for c, m in enumerate(sizes)]),
                      kind="stable")
    where = np.empty(len(parent), dtype=np.int64)
    where[perm] = np.arange(len(parent))
    return np.where(parent[perm] >= 0, base + where[np.maximum(parent[perm], 0)], -1)


a = group([1, 7, 40, 120], 0)                     # two cell groups; three cells of one
parent = np.concatenate([a, group([33, 7, 7, 5], len(a))])      # shape (7 nodes)
n = len(parent)
assert np.all(parent < np.arange(n))
g = rng.uniform(0.1, 1.0, n)
d = 3.0 + rng.uniform(0.0, 1.0, n)
np.add.at(d, parent[parent >= 0], g[parent >= 0])
rhs = rng.normal(size=n)
x = rhs.copy()
hines_solve(parent, g, d.copy(), x)
out = {}
for k, per_block in ((1, 1), (4, 3), (16, 2)):
    # memory in schedule order (leaves first); cells of different step counts share a
    # block; the last block is not full
    lay = CellsLayout(parent, k)
    dd, rr = d[lay.order].copy(), rhs[lay.order].copy()
    blocks = lay.block_steps(per_block)
    assert len(blocks) == -(-lay.cells // per_block)
    dhs_solve[len(blocks), (k, per_block)](lay.cell_step, blocks, lay.step_ptr[:-1],
                                           lay.step_ptr[1:], lay.parent, g[lay.order], dd,
                                           rr)
    out[k] = float(np.max(np.abs(rr[lay.position] - x)))
    # the GPU backend's numbering: per group, DHS cells root first, small cells (< 10
    # nodes) interleaved, one thread each
    lay = DeviceLayout(parent, [0, len(a), n], k, small=10)
    new_of = np.empty(n, dtype=np.int64)
    new_of[lay.order] = np.arange(n)
    up = parent[lay.order]
    par = np.where(up >= 0, new_of[np.maximum(up, 0)], -1)
    assert np.all(par < np.arange(n))
    dd, rr, gg = d[lay.order].copy(), rhs[lay.order].copy(), g[lay.order]
    blocks = lay.block_steps(per_block)
    dhs_solve[len(blocks), (k, per_block)](lay.cell_step, blocks, lay.step_lo, lay.step_hi,
                                           par, gg, dd, rr)
    # every group's small cells in one launch of 2 blocks (threads past the cells idle)
    interleaved_solve[2, 4](*lay.small_arrays(), gg, dd, rr)
    assert lay.small_cells == 5
    assert lay.cells == 3 and sorted(m for _, m, _ in lay.groups) == [1, 1, 1, 2]
    out[f"device{k}"] = float(np.max(np.abs(rr[new_of] - x)))
json.dump(out, sys.stdout)
"""


@pytest.mark.slow
def test_the_cuda_dhs_kernel_under_the_simulator():
    """The numba.cuda kernels (DHS: blocks of 1-3 cells of k lanes, atomics, barriers; small
    cells one thread each) run by Numba's CUDA simulator on a forest of 8 cells in two
    groups, in schedule order and in the GPU backend's numbering: the Hines solution to
    1e-12."""
    import json
    import os
    import subprocess
    import sys
    pytest.importorskip("numba.cuda")
    out = subprocess.run([sys.executable, "-c", CUDA_SCRIPT], capture_output=True,
                         text=True, timeout=600,
                         env=cuda_env())
    assert out.returncode == 0, out.stderr[-3000:]
    errors = json.loads(out.stdout)
    assert set(errors) == {"1", "4", "16", "device1", "device4", "device16"}
    assert max(errors.values()) < 1e-12, errors
