"""The DHS cable solve as a ``numba.cuda`` kernel (a module of its own: it imports
numba.cuda, and Numba's CUDA simulator swaps the module-level ``cuda`` name when it runs a
kernel without a GPU).

``dhs_solve[blocks, (k, c)](cell_step, block_steps, step_lo, step_hi, parent, g, d, rhs)``
solves every cell's matrix in place, arrays in ``dhs.DeviceLayout``'s numbering (step s:
nodes ``step_lo[s]`` to ``step_hi[s] - 1``): rhs becomes the solution, d the inverse
pivots.  A block holds c cells of k lanes each (cell
``block * c + y`` on threads (x, y)); within a step each lane eliminates one node and
siblings update their parent with atomic adds; a barrier ends every step.  Back
substitution replays the steps in reverse.  Every thread of a block passes the same number
of barriers, ``block_steps`` (the most steps of the block's cells), so a cell with fewer
steps idles through the rest.  Several cells a block: blocks of 16 threads would let an
SM hold only 32 blocks (512 threads, a quarter of its 2048); 8 cells of 16 lanes fill it.
"""

from numba import cuda


@cuda.jit(cache=True)
def dhs_solve(cell_step, block_steps, step_lo, step_hi, parent, g, d, rhs):
    b = cuda.blockIdx.x
    lane = cuda.threadIdx.x
    c = b * cuda.blockDim.y + cuda.threadIdx.y
    first, last = 0, 0
    if c < cell_step.shape[0] - 1:
        first, last = cell_step[c], cell_step[c + 1]
    steps = block_steps[b]
    for r in range(steps):                       # triangularize, leaves first
        s = first + r
        if s < last:
            i = step_lo[s] + lane
            if i < step_hi[s]:
                inv = 1.0 / d[i]
                p = parent[i]
                if p >= 0:
                    f = g[i] * inv
                    cuda.atomic.add(d, p, -f * g[i])
                    cuda.atomic.add(rhs, p, f * rhs[i])
                d[i] = inv
        cuda.syncthreads()
    for r in range(steps - 1, -1, -1):           # back-substitute, root first
        s = first + r
        if s < last:
            i = step_lo[s] + lane
            if i < step_hi[s]:
                p = parent[i]
                if p >= 0:
                    rhs[i] = (rhs[i] + g[i] * rhs[p]) * d[i]
                else:
                    rhs[i] = rhs[i] * d[i]
        cuda.syncthreads()


@cuda.jit(cache=True)
def interleaved_solve(first, base, cells, shape_ptr, shape_parent, g, d, rhs):
    """Small cells, one thread each, every group in one launch (``DeviceLayout.
    small_arrays``): thread t is cell c = t - first[q] of group q (first[q] <= t <
    first[q + 1]), whose identical cells are interleaved: node j of cell c at
    base[q] + j cells[q] + c.  The Hines solve over the shape's nodes (parent before
    child), neighbouring threads reading neighbouring memory."""
    t = cuda.grid(1)
    groups = first.shape[0] - 1
    if t < first[groups]:
        lo, hi = 0, groups                  # first[lo] <= t < first[hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if first[mid] <= t:
                lo = mid
            else:
                hi = mid
        c = t - first[lo]
        b, m, s0 = base[lo], cells[lo], shape_ptr[lo]
        n = shape_ptr[lo + 1] - s0
        for j in range(n - 1, -1, -1):
            i = b + j * m + c
            inv = 1.0 / d[i]
            p = shape_parent[s0 + j]
            if p >= 0:
                ip = b + p * m + c
                f = g[i] * inv
                d[ip] -= f * g[i]
                rhs[ip] += f * rhs[i]
            d[i] = inv
        for j in range(n):
            i = b + j * m + c
            p = shape_parent[s0 + j]
            if p >= 0:
                rhs[i] = (rhs[i] + g[i] * rhs[b + p * m + c]) * d[i]
            else:
                rhs[i] = rhs[i] * d[i]
