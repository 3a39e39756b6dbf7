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

# depths: part of this module's API
from neurosim.lowering.trees import depths, depths_and_roots, roots  # noqa: F401


def lower_bound(parent, k):
    """No schedule of the elimination has fewer steps: max(depth + 1, ceil(N / k)) over
    each tree (cells are independent: the largest cell's bound)."""
    parent = np.asarray(parent, dtype=np.int64)
    if len(parent) == 0:
        return 0
    depth, root = depths_and_roots(parent)
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
    depth, root = depths_and_roots(parent)
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
    (base, m, parent of the shape's nodes).

    Cells of one shape are scheduled once and placed together (10^5 copies of a cell take
    one schedule, and a block of the solve holds cells with the same number of steps);
    ``schedules`` (shape -> Layout) may be shared between layouts."""

    def __init__(self, parent, k, small, schedules=None):
        parent = np.asarray(parent, dtype=np.int64)
        n = len(parent)
        schedules = {} if schedules is None else schedules     # shape -> Layout
        root = roots(parent)
        tree_order = np.argsort(root, kind="stable")    # tree by tree, ascending within
        r = root[tree_order]
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]]) if n else np.zeros(0, int)
        sizes = np.diff(np.r_[starts, n])
        position = np.empty(n, dtype=np.int64)          # a node's index within its tree
        position[tree_order] = np.arange(n) - np.repeat(starts, sizes)
        up = parent[tree_order]
        local = np.where(up >= 0, position[np.maximum(up, 0)], -1)
        shapes = {}                                     # shape -> its trees, in order
        for t, (a, m) in enumerate(zip(starts, sizes)):
            shapes.setdefault(local[a:a + m].tobytes(), []).append(t)
        order, ptr, cell_step, par, small_shapes = [], [0], [0], [], []
        for key, trees in shapes.items():
            shape = np.frombuffer(key, dtype=np.int64)
            # the shape's cells, one per row: the nodes of each tree
            members = tree_order[starts[trees][:, None] + np.arange(len(shape))]
            if len(shape) < small:
                small_shapes.append((shape, members))
                continue
            if key not in schedules:
                schedules[key] = Layout(shape, k)
            sub = schedules[key]
            base = ptr[-1] + len(shape) * np.arange(len(trees))[:, None]
            order.append(members[:, sub.order].ravel())
            par.append(np.where(sub.parent >= 0, sub.parent + base, -1).ravel())
            ptr += (sub.step_ptr[1:] + base).ravel().tolist()
            cell_step += (cell_step[-1] + sub.steps * np.arange(1, len(trees) + 1)).tolist()
        self.k, self.cells = k, len(cell_step) - 1
        self.step_ptr = np.array(ptr, dtype=np.int64)
        self.cell_step = np.array(cell_step, dtype=np.int64)
        self.groups = []
        base = ptr[-1]
        for shape, members in small_shapes:
            m = len(members)
            order.append(members.T.ravel())                 # [node j][cell c]
            self.groups.append((base, m, shape.copy()))
            base += m * len(shape)
        self.order = np.concatenate(order + [np.zeros(0, dtype=np.int64)])
        self.position = np.empty(n, dtype=np.int64)
        self.position[self.order] = np.arange(n)
        self.parent = np.concatenate(par + [np.zeros(0, dtype=np.int64)])

    def block_steps(self, cells_per_block):
        """The most steps of any cell of each block of ``cells_per_block`` DHS cells."""
        steps = np.diff(self.cell_step)
        pad = -len(steps) % cells_per_block
        return np.r_[steps, np.zeros(pad, dtype=np.int64)].reshape(
            -1, cells_per_block).max(axis=1) if len(steps) else np.zeros(0, dtype=np.int64)


class DeviceLayout:
    """The GPU's node numbering: one in which the solve needs no gather.  Within each cell
    group (``group_node``: groups stay where they are) the nodes go in ``SolveLayout``'s
    order, except that each DHS cell's nodes are reversed: root first, so ``parent[i] < i``
    still holds, and each step's nodes are still consecutive.  ``order`` (new -> old)
    renumbers the model (``DhsOrder``, applied by ``lowering.cells.lower``); then, in the
    new numbering, DHS step s eliminates nodes ``step_lo[s]`` to ``step_hi[s] - 1``,
    ``cell_step`` delimits each DHS cell's steps, and ``groups`` holds the interleaved small
    cells (base, m, parents of the shape's nodes)."""

    def __init__(self, parent, group_node, k, small):
        parent = np.asarray(parent, dtype=np.int64)
        schedules = {}
        order, lo, hi, cell_step, self.groups = [], [], [], [0], []
        for a, b in zip(group_node[:-1], group_node[1:]):
            own = parent[a:b]
            lay = SolveLayout(np.where(own >= 0, own - a, -1), k, small, schedules)
            ptr = lay.step_ptr
            first, last = ptr[lay.cell_step[:-1]], ptr[lay.cell_step[1:]]   # cells' positions
            steps = np.diff(lay.cell_step)
            # a DHS cell's position p (first <= p < last) becomes first + last - 1 - p
            cell = np.repeat(np.arange(lay.cells), last - first)
            dhs = np.arange(ptr[-1])
            new_of_position = np.arange(b - a)
            new_of_position[:ptr[-1]] = first[cell] + last[cell] - 1 - dhs
            local = np.empty(b - a, dtype=np.int64)
            local[new_of_position] = lay.order
            order.append(a + local)
            step_cell = np.repeat(np.arange(lay.cells), steps)
            ends = first[step_cell] + last[step_cell]
            lo.append(a + ends - ptr[1:len(step_cell) + 1])
            hi.append(a + ends - ptr[:len(step_cell)])
            cell_step += (cell_step[-1] + np.cumsum(steps)).tolist()
            self.groups += [(a + base, m, shape) for base, m, shape in lay.groups]
        empty = [np.zeros(0, dtype=np.int64)]
        self.k, self.cells = k, len(cell_step) - 1
        self.order = np.concatenate(order + empty)
        self.step_lo = np.concatenate(lo + empty)
        self.step_hi = np.concatenate(hi + empty)
        self.cell_step = np.array(cell_step, dtype=np.int64)

    block_steps = SolveLayout.block_steps

    @property
    def small_cells(self):
        return sum(m for _, m, _ in self.groups)

    def small_arrays(self):
        """The interleaved small cells of all groups as ``dhs_cuda.interleaved_solve``'s
        arguments, one thread per cell in one launch: (first thread of each group and the
        total, base, cells, pointers into the shapes' parents, the shapes' parents)."""
        first = np.cumsum([0] + [m for _, m, _ in self.groups]).astype(np.int64)
        base = np.array([b for b, _, _ in self.groups], dtype=np.int64)
        cells = np.array([m for _, m, _ in self.groups], dtype=np.int64)
        shapes = [shape for _, _, shape in self.groups]
        ptr = np.cumsum([0] + [len(p) for p in shapes]).astype(np.int64)
        parents = np.concatenate(shapes + [np.zeros(0, dtype=np.int64)]).astype(np.int64)
        return first, base, cells, ptr, parents


class DhsOrder:
    """The GPU's node order as a policy lowering applies (``lower(..., node_order=)``): the
    model is renumbered into ``DeviceLayout``'s order when it is lowered, so no backend
    renumbers it and probes, synapses and junctions are located in the one numbering.  The
    policy keeps the layout it made (the DHS schedule in the new numbering) for the
    backend."""

    def __init__(self, lanes, small_cell):
        self.lanes, self.small_cell = lanes, small_cell
        self.layout = None

    def __call__(self, model):
        self.layout = DeviceLayout(model.parent, model.group_node, self.lanes,
                                   self.small_cell)
        return self.layout.order

