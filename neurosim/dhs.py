"""Dendritic Hierarchical Scheduling (Zhang et al., Nat. Commun. 2023) of the Hines solve.

The elimination of a tree-shaped matrix can treat nodes in any order in which every node
comes after all its children.  With k lanes (GPU threads) per cell, each step eliminates up
to k *ready* nodes (all children done) at once; taking the k deepest ready nodes first
(deepest: farthest from the root; ties by index) is Hu's highest-level-first rule, which
needs the fewest steps for unit tasks on an in-tree.  No schedule beats
max(depth + 1, ceil(N / k)) steps, and Hu's reaches the optimum.

``schedule(parent, k)`` gives the steps; ``Layout`` permutes the nodes so that step s's
lanes read consecutive memory (node order: step by step, lanes in order), which the GPU
kernel needs to coalesce its loads.  Back-substitution replays the steps in reverse.
"""

import heapq

import numpy as np


def depths(parent):
    """Edges from each node to its root (``parent[i] < i``, -1 for a root)."""
    parent = np.asarray(parent, dtype=np.int64)
    depth = np.zeros(len(parent), dtype=np.int64)
    for i in range(len(parent)):
        if parent[i] >= 0:
            depth[i] = depth[parent[i]] + 1
    return depth


def lower_bound(parent, k):
    """No schedule of the elimination has fewer steps: max(depth + 1, ceil(N / k)) over
    each tree (cells are independent: the largest cell's bound)."""
    parent = np.asarray(parent, dtype=np.int64)
    if len(parent) == 0:
        return 0
    depth = depths(parent)
    root = np.arange(len(parent))
    for i in range(len(parent)):
        if parent[i] >= 0:
            root[i] = root[parent[i]]
    sizes = np.bincount(root, minlength=len(parent))
    return int(max(depth.max() + 1, -(-sizes.max() // k)))


def schedule(parent, k):
    """Steps of the elimination of one tree (or several: roots have parent -1; each tree
    gets its own k lanes, steps are counted per tree and merged step by step): a list of
    node arrays, step 0 first; each node after all its children, at most ``k`` nodes per
    tree per step, deepest ready nodes first."""
    parent = np.asarray(parent, dtype=np.int64)
    n = len(parent)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if n and np.any(parent >= np.arange(n)):
        raise ValueError("nodes must be ordered with parent[i] < i")
    depth = depths(parent)
    root = np.arange(n)
    for i in range(n):
        if parent[i] >= 0:
            root[i] = root[parent[i]]
    waiting = np.bincount(parent[parent >= 0], minlength=n)   # children not yet done
    ready = {}                                  # root -> heap of (-depth, index)
    for i in np.flatnonzero(waiting == 0):
        heapq.heappush(ready.setdefault(int(root[i]), []), (-int(depth[i]), int(i)))
    steps = []
    while ready:
        step = []
        for r in list(ready):
            heap = ready[r]
            for _ in range(min(k, len(heap))):
                step.append(heapq.heappop(heap)[1])
            if not heap:
                del ready[r]
        for i in step:                  # parents become ready for the next step
            p = int(parent[i])
            if p >= 0:
                waiting[p] -= 1
                if waiting[p] == 0:
                    heapq.heappush(ready.setdefault(int(root[p]), []), (-int(depth[p]), p))
        steps.append(np.array(sorted(step), dtype=np.int64))
    return steps


class Layout:
    """The nodes of a DHS schedule in memory order: ``order[j]`` is the original node at
    position j (step by step, lanes in order), ``position[i]`` the inverse; ``step_ptr``
    delimits the steps; ``parent`` in new positions (-1 for roots)."""

    def __init__(self, parent, k):
        parent = np.asarray(parent, dtype=np.int64)
        steps = schedule(parent, k)
        self.k = k
        self.steps = len(steps)
        self.order = np.concatenate(steps + [np.zeros(0, dtype=np.int64)])
        self.position = np.empty(len(parent), dtype=np.int64)
        self.position[self.order] = np.arange(len(parent))
        self.step_ptr = np.concatenate([[0], np.cumsum([len(s) for s in steps])]).astype(
            np.int64)
        old = parent[self.order]
        self.parent = np.where(old >= 0, self.position[np.maximum(old, 0)], -1)


def solve(layout, g, d, rhs):
    """The Hines solve in DHS order, on arrays in ``layout`` order (g: coupling to the
    parent, d: diagonal, rhs): returns the solution.  Reference for the GPU kernel: within a
    step the nodes are independent (several may update one parent: the kernel adds
    atomically)."""
    d, rhs = d.astype(float), rhs.astype(float)
    par, ptr = layout.parent, layout.step_ptr
    for s in range(layout.steps):
        nodes = np.arange(ptr[s], ptr[s + 1])
        inv = 1.0 / d[nodes]
        p = par[nodes]
        has = p >= 0
        np.add.at(d, p[has], -(g[nodes] * inv * g[nodes])[has])
        np.add.at(rhs, p[has], (g[nodes] * inv * rhs[nodes])[has])
        d[nodes] = inv
    x = np.empty_like(rhs)
    for s in range(layout.steps - 1, -1, -1):
        nodes = np.arange(ptr[s], ptr[s + 1])
        p = par[nodes]
        x[nodes] = np.where(p >= 0, rhs[nodes] + g[nodes] * x[np.maximum(p, 0)],
                            rhs[nodes]) * d[nodes]
    return x


def CellsLayout(parent, k):                                      # noqa: N802
    """Every cell (tree of a forest, nodes in any order with parent[i] < i) scheduled by
    DHS with ``k`` lanes: a ``SolveLayout`` with no small cells."""
    return SolveLayout(parent, k, small=0)


class SolveLayout:
    """The node order of the GPU solve: cells of at least ``small`` nodes scheduled by DHS
    with ``k`` lanes each (node order cell by cell, each cell's nodes step by step:
    ``step_ptr``, ``cell_step`` delimiting each cell's steps, ``parent`` in positions),
    then the small cells, grouped by shape (the same tree) and interleaved: node j of
    cell c of a group at ``base + j * m + c`` (m cells), so that one thread per cell
    walks its tree while neighbouring threads read neighbouring memory.  ``groups``:
    (base, m, parent of the shape's nodes)."""

    def __init__(self, parent, k, small):
        parent = np.asarray(parent, dtype=np.int64)
        root = np.arange(len(parent))
        for i in range(len(parent)):
            if parent[i] >= 0:
                root[i] = root[parent[i]]
        trees = {}
        for i in range(len(parent)):
            trees.setdefault(int(root[i]), []).append(i)
        big, shapes = [], {}
        for nodes in trees.values():
            nodes = np.asarray(nodes, dtype=np.int64)
            local = np.where(parent[nodes] >= 0,
                             np.searchsorted(nodes, np.maximum(parent[nodes], 0)), -1)
            if len(nodes) >= small:
                big.append((nodes, local))
            else:
                shapes.setdefault(tuple(local.tolist()), []).append(nodes)
        order, ptr, cell_step, par = [], [0], [0], []
        for nodes, local in big:
            sub = Layout(local, k)
            base = ptr[-1]
            order.append(nodes[sub.order])
            par.append(np.where(sub.parent >= 0, sub.parent + base, -1))
            ptr += (sub.step_ptr[1:] + base).tolist()
            cell_step.append(cell_step[-1] + sub.steps)
        self.k, self.cells = k, len(big)
        self.step_ptr = np.array(ptr, dtype=np.int64)
        self.cell_step = np.array(cell_step, dtype=np.int64)
        self.groups = []
        base = ptr[-1]
        for shape, members in shapes.items():
            m = len(members)
            order.append(np.stack(members, axis=1).ravel())   # [node j][cell c]
            self.groups.append((base, m, np.array(shape, dtype=np.int64)))
            base += m * len(shape)
        self.order = np.concatenate(order + [np.zeros(0, dtype=np.int64)])
        self.position = np.empty(len(parent), dtype=np.int64)
        self.position[self.order] = np.arange(len(parent))
        self.parent = np.concatenate(par + [np.zeros(0, dtype=np.int64)])
