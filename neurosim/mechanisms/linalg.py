"""Small dense linear solves for the implicit state updates of mechanisms (a few states)."""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def dense_solve(a, b):
    """Solve a x = b by Gaussian elimination with partial pivoting; ``a`` is overwritten."""
    n = b.shape[0]
    x = b.copy()
    for k in range(n):
        p = k
        big = abs(a[k, k])
        for r in range(k + 1, n):
            if abs(a[r, k]) > big:
                big = abs(a[r, k])
                p = r
        if p != k:
            for c in range(n):
                a[k, c], a[p, c] = a[p, c], a[k, c]
            x[k], x[p] = x[p], x[k]
        inv = 1.0 / a[k, k]
        for r in range(k + 1, n):
            f = a[r, k] * inv
            if f != 0.0:
                for c in range(k, n):
                    a[r, c] -= f * a[k, c]
                x[r] -= f * x[k]
    for k in range(n - 1, -1, -1):
        s = x[k]
        for c in range(k + 1, n):
            s -= a[k, c] * x[c]
        x[k] = s / a[k, k]
    return x
