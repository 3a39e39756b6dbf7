"""Small dense linear solves for the implicit state updates of mechanisms (a few states).

Written as a plain function so that each target compiles it its own way: ``numba.njit`` for
the CPU kernels, ``numba.cuda.jit(device=True)`` for the GPU ones.
"""


def dense_solve(a, b, x):
    """Solve a x = b into ``x`` by Gaussian elimination with partial pivoting; ``a`` and ``b``
    are overwritten."""
    n = b.shape[0]
    for k in range(n):
        p = k
        big = abs(a[k, k])
        for r in range(k + 1, n):
            if abs(a[r, k]) > big:
                big = abs(a[r, k])
                p = r
        if p != k:
            for c in range(n):
                tmp = a[k, c]
                a[k, c] = a[p, c]
                a[p, c] = tmp
            tmp = b[k]
            b[k] = b[p]
            b[p] = tmp
        inv = 1.0 / a[k, k]
        for r in range(k + 1, n):
            f = a[r, k] * inv
            if f != 0.0:
                for c in range(k, n):
                    a[r, c] -= f * a[k, c]
                b[r] -= f * b[k]
    for k in range(n - 1, -1, -1):
        s = b[k]
        for c in range(k + 1, n):
            s -= a[k, c] * x[c]
        x[k] = s / a[k, k]
