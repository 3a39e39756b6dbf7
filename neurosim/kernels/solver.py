"""The Hines solver: Gaussian elimination on a tree-shaped (quasi-tridiagonal) matrix.

With nodes ordered so that ``parent[i] < i`` (``-1`` for a root) the matrix has diagonal ``d``
and off-diagonal ``-g[i]`` between node i and its parent (conductances, so it is symmetric).
Leaves are eliminated into their parents from the last node back to the first, then values are
substituted forward: O(n), no fill-in.  Several cells are several roots in one pass.

Identical cells interleaved node by node (``lowering._group_order``) make runs of consecutive
nodes whose parents are consecutive too: ``solve_blocks`` finds them and ``block_solve_range``
eliminates a whole run at once, a loop the compiler turns into SIMD instructions.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def hines_solve(parent, g, d, rhs):
    """Solve in place: on return ``rhs`` holds the solution; ``d`` holds 1/pivot."""
    n = rhs.shape[0]
    for i in range(n - 1, -1, -1):
        inv = 1.0 / d[i]          # one division per node; the forward pass multiplies
        d[i] = inv
        p = parent[i]
        if p >= 0:
            f = g[i] * inv
            d[p] -= f * g[i]
            rhs[p] += f * rhs[i]
    for i in range(n):
        p = parent[i]
        if p >= 0:
            rhs[i] = (rhs[i] + g[i] * rhs[p]) * d[i]
        else:
            rhs[i] = rhs[i] * d[i]


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def hines_solve_range(parent, g, a, d, rhs, inv, dynamic, lo, hi, v, crank_nicolson):
    """Solve the matrix of nodes [lo, hi) (a group of whole cells) and set v there: the
    solution itself (backward Euler) or 2 x - v (Crank-Nicolson, x = v(t+dt/2)).  The pivots
    of static subtrees are known (``static_pivots``): only ``dynamic`` nodes divide; ``inv``
    holds 1/pivot of every node, ``a`` its coupling g/pivot.  Returns the first node whose
    |v| reached 1e4 mV, or -1.  Works on slices, indices from 0, which the compiler handles
    as fast as whole arrays."""
    par = parent[lo:hi]
    gs = g[lo:hi]
    gi = a[lo:hi]
    ds = d[lo:hi]
    rs = rhs[lo:hi]
    iv = inv[lo:hi]
    dyn = dynamic[lo:hi]
    vs = v[lo:hi]
    for i in range(hi - lo - 1, -1, -1):
        p = par[i] - lo
        if dyn[i]:
            iv[i] = 1.0 / ds[i]
            gi[i] = gs[i] * iv[i]
            if p >= 0:
                ds[p] -= gi[i] * gs[i]
        if p >= 0:
            rs[p] += gi[i] * rs[i]
    bad = -1
    for i in range(hi - lo):
        p = par[i] - lo
        if p >= 0:
            x = (rs[i] + gs[i] * rs[p]) * iv[i]
        else:
            x = rs[i] * iv[i]
        rs[i] = x
        vs[i] = 2.0 * x - vs[i] if crank_nicolson else x
        if not (abs(vs[i]) < 1e4) and bad < 0:
            bad = lo + i
    return bad


@njit(cache=True, nogil=True, error_model="numpy")
def static_pivots(parent, g, diag, dynamic):
    """Factor the parts of the matrix that never change, once.

    A node whose subtree has only constant conductances (passive membrane, axial coupling)
    has the same pivot every step: ``diag`` (C cj + constant conductances) less its
    children's eliminated couplings.  Returns (dynamic', inv, a, fold): ``dynamic'`` marks the
    nodes with a varying conductance somewhere below them (they divide every step), ``inv``
    the constant 1/pivot of the others, ``fold`` the constant elimination terms of static
    children, to add to their parents' diagonal once, and ``a``, the static nodes' coupling to
    their parents over their pivot (g/pivot), which the elimination and substitution use."""
    n = parent.shape[0]
    dyn = dynamic.copy()
    for i in range(n - 1, -1, -1):
        if dyn[i] and parent[i] >= 0:
            dyn[parent[i]] = True
    inv = np.zeros(n)
    a = np.zeros(n)
    fold = np.zeros(n)
    for i in range(n - 1, -1, -1):
        if not dyn[i]:
            inv[i] = 1.0 / (diag[i] + fold[i])
            a[i] = g[i] * inv[i]
            if parent[i] >= 0:
                fold[parent[i]] -= a[i] * g[i]
    return dyn, inv, a, fold


# A group's blocks: runs [start, end) of independent nodes (none the parent of another) whose
# parents are [parent, parent + end - start), or roots (parent == start), all dynamic or all
# static.  uint64 indices: Numba then skips the negative-index wrap-around, which would stop
# LLVM from vectorising the runs.
MIN_MEAN_BLOCK = 6    # below this mean run length the node by node solve is as fast or
                      # faster (random trees: equal at ~4.5 nodes a run, 2.3x slower at 1)


@njit(cache=True, nogil=True)
def solve_blocks(parent, dynamic, lo, hi):
    """The blocks of nodes [lo, hi): (start, end, parent, dynamic) arrays."""
    start = np.empty(hi - lo, dtype=np.uint64)
    end = np.empty(hi - lo, dtype=np.uint64)
    par = np.empty(hi - lo, dtype=np.uint64)
    dyn = np.empty(hi - lo, dtype=np.bool_)
    nb = 0
    i = lo
    while i < hi:
        j = i + 1
        while j < hi and dynamic[j] == dynamic[i]:
            if parent[i] < 0:
                if parent[j] >= 0:
                    break
            elif parent[j] != parent[i] + (j - i) or parent[j] >= i:
                break
            j += 1
        start[nb], end[nb], dyn[nb] = i, j, dynamic[i]
        par[nb] = parent[i] if parent[i] >= 0 else i
        nb += 1
        i = j
    return start[:nb], end[:nb], par[:nb], dyn[:nb]


@njit(cache=True, nogil=True)
def runs(mask, lo, hi):
    """(start, end) of the runs of consecutive True in mask[lo:hi], as uint64."""
    start = np.empty(hi - lo, dtype=np.uint64)
    end = np.empty(hi - lo, dtype=np.uint64)
    n = 0
    i = lo
    while i < hi:
        if mask[i]:
            j = i + 1
            while j < hi and mask[j]:
                j += 1
            start[n], end[n] = i, j
            n += 1
            i = j
        else:
            i += 1
    return start[:n], end[:n]


@njit(cache=True, nogil=True, inline="always", error_model="numpy")
def block_solve_range(b_start, b_end, b_par, b_dyn, b_lo, b_hi, g, a, d, rhs, inv, lo, hi,
                      v, crank_nicolson):
    """``hines_solve_range`` over blocks b_lo..b_hi (``solve_blocks``) of the nodes [lo, hi):
    the same arithmetic in the same order within every node, each block's loop over its
    nodes vectorised.  The substitution writes v and flags a blow-up in the same pass.

    Every expression here and there can fuse into a multiply-add one way only (a product
    added to one term), so the SIMD and the scalar loops round alike: a cell's voltages do
    not depend on the cells it shares a group with, hence on threads or ranks."""
    for k in range(b_hi - 1, b_lo - 1, -1):
        s = b_start[k]
        n = b_end[k] - s
        p = b_par[k]
        if b_dyn[k]:
            for m in range(n):
                inv[s + m] = 1.0 / d[s + m]
                a[s + m] = g[s + m] * inv[s + m]
            if p != s:
                for m in range(n):
                    d[p + m] -= a[s + m] * g[s + m]
                    rhs[p + m] += a[s + m] * rhs[s + m]
        elif p != s:
            for m in range(n):
                rhs[p + m] += a[s + m] * rhs[s + m]
    # v = c2 x - cv v: x (backward Euler) or 2 x - v (Crank-Nicolson); products by 0, 1
    # and 2 are exact, so this rounds as the node by node solve does, in one loop each
    c2, cv = (2.0, 1.0) if crank_nicolson else (1.0, 0.0)
    bad = False
    for k in range(b_lo, b_hi):
        s = b_start[k]
        n = b_end[k] - s
        p = b_par[k]
        if p != s:
            for m in range(n):
                x = (rhs[s + m] + g[s + m] * rhs[p + m]) * inv[s + m]
                rhs[s + m] = x
                v[s + m] = c2 * x - cv * v[s + m]
                bad |= not (abs(v[s + m]) < 1e4)
        else:
            for m in range(n):
                x = rhs[s + m] * inv[s + m]
                rhs[s + m] = x
                v[s + m] = c2 * x - cv * v[s + m]
                bad |= not (abs(v[s + m]) < 1e4)
    if bad:
        for i in range(lo, hi):
            if not (abs(v[i]) < 1e4):
                return i
    return -1
