"""The Hines solver: Gaussian elimination on a tree-shaped (quasi-tridiagonal) matrix.

With nodes ordered so that ``parent[i] < i`` (``-1`` for a root) the matrix has diagonal ``d``
and off-diagonal ``-g[i]`` between node i and its parent (conductances, so it is symmetric).
Leaves are eliminated into their parents from the last node back to the first, then values are
substituted forward: O(n), no fill-in.  Several cells are several roots in one pass.
"""

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
def hines_solve_range(parent, g, d, rhs, lo, hi):
    """``hines_solve`` on nodes [lo, hi) only: a group of whole cells (parents inside).
    Works on slices, indices from 0, which the compiler handles as fast as whole arrays."""
    par = parent[lo:hi]
    gs = g[lo:hi]
    ds = d[lo:hi]
    rs = rhs[lo:hi]
    for i in range(hi - lo - 1, -1, -1):
        inv = 1.0 / ds[i]
        ds[i] = inv
        p = par[i] - lo
        if p >= 0:
            f = gs[i] * inv
            ds[p] -= f * gs[i]
            rs[p] += f * rs[i]
    for i in range(hi - lo):
        p = par[i] - lo
        if p >= 0:
            rs[i] = (rs[i] + gs[i] * rs[p]) * ds[i]
        else:
            rs[i] = rs[i] * ds[i]
