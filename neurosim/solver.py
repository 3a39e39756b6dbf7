"""The Hines solver: Gaussian elimination on a tree-shaped (quasi-tridiagonal) matrix.

With nodes ordered so that ``parent[i] < i`` (``-1`` for a root) the matrix has diagonal ``d``
and off-diagonal ``-g[i]`` between node i and its parent (conductances, so it is symmetric).
Leaves are eliminated into their parents from the last node back to the first, then values are
substituted forward: O(n), no fill-in.  Several cells are several roots in one pass.
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
def hines_solve_range(parent, g, d, rhs, inv, dynamic, lo, hi, v, crank_nicolson):
    """Solve the matrix of nodes [lo, hi) (a group of whole cells) and set v there: the
    solution itself (backward Euler) or 2 x - v (Crank-Nicolson, x = v(t+dt/2)).  The pivots
    of static subtrees are known (``static_pivots``): only ``dynamic`` nodes divide; ``inv``
    holds 1/pivot of every node.  Returns the first node whose |v| reached 1e4 mV, or -1.
    Works on slices, indices from 0, which the compiler handles as fast as whole arrays."""
    par = parent[lo:hi]
    gs = g[lo:hi]
    ds = d[lo:hi]
    rs = rhs[lo:hi]
    iv = inv[lo:hi]
    dyn = dynamic[lo:hi]
    vs = v[lo:hi]
    for i in range(hi - lo - 1, -1, -1):
        p = par[i] - lo
        if dyn[i]:
            iv[i] = 1.0 / ds[i]
            if p >= 0:
                ds[p] -= gs[i] * iv[i] * gs[i]
        if p >= 0:
            rs[p] += gs[i] * iv[i] * rs[i]
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
    children's eliminated couplings.  Returns (dynamic', inv, fold): ``dynamic'`` marks the
    nodes with a varying conductance somewhere below them (they divide every step), ``inv``
    the constant 1/pivot of the others, ``fold`` the constant elimination terms of static
    children, to add to their parents' diagonal once."""
    n = parent.shape[0]
    dyn = dynamic.copy()
    for i in range(n - 1, -1, -1):
        if dyn[i] and parent[i] >= 0:
            dyn[parent[i]] = True
    inv = np.zeros(n)
    fold = np.zeros(n)
    for i in range(n - 1, -1, -1):
        if not dyn[i]:
            inv[i] = 1.0 / (diag[i] + fold[i])
            if parent[i] >= 0:
                fold[parent[i]] -= g[i] * inv[i] * g[i]
    return dyn, inv, fold
