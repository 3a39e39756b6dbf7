"""The fixed ``numba.cuda`` kernels of the GPU step (those that do not depend on the
mechanisms): matrix assembly, gap junctions, current clamps, new voltages, threshold
detection, probes and the step counter.  One thread per node, junction, clamp, detector
or probe; where threads may add into one node they add atomically.  The model's nodes are
numbered for the solve (``dhs.DeviceLayout``), so no kernel gathers into or scatters out
of another order.  The step a kernel works on is read from the device (``clock[0]``, which
``tick`` advances at the end of a step), never passed from the host, so that every step's
launches are the same and replay from one CUDA graph.  (A module of its own: Numba's CUDA
simulator swaps its ``cuda`` name.)"""

import math

from numba import cuda


@cuda.jit(cache=True)
def assemble(v, cap, cj, rhs_static, d_static, rhs, d):
    """rhs = C cj v + constant terms, d = C cj + axial conductances (per node)."""
    i = cuda.grid(1)
    if i < v.shape[0]:
        c = cap[i] * cj
        rhs[i] = c * v[i] + rhs_static[i]
        d[i] = c + d_static[i]


@cuda.jit(cache=True)
def gap_junctions(a, b, g, v, rhs, d):
    """i = g (v_a - v_b): own voltage implicit, the peer's from the step start."""
    k = cuda.grid(1)
    if k < a.shape[0]:
        cuda.atomic.add(d, a[k], g[k])
        cuda.atomic.add(rhs, a[k], g[k] * v[b[k]])
        cuda.atomic.add(d, b[k], g[k])
        cuda.atomic.add(rhs, b[k], g[k] * v[a[k]])


@cuda.jit(cache=True)
def tick(clock):
    """The end of a step: the next one's number."""
    if cuda.grid(1) == 0:
        clock[0] += 1


@cuda.jit(cache=True)
def clamps(clock, dt, node, delay, dur, amp, rhs):
    k = cuda.grid(1)
    if k < node.shape[0]:
        t_mid = (clock[0] + 0.5) * dt
        if delay[k] <= t_mid and t_mid < delay[k] + dur[k]:
            cuda.atomic.add(rhs, node[k], amp[k])


@cuda.jit(cache=True)
def set_voltage(x, v, crank_nicolson, bad, clock, step0):
    """v from the solution x: x itself, or 2x - v for Crank-Nicolson.  A node whose |v|
    reached 1e4 mV at step s of the call (``clock[0] - step0``): bad[0] = min(bad[0],
    s 2^32 + node), the earliest step and its lowest node, as the CPU backend reports it.
    After that step v is no longer written, so the host reads the voltages of the blow-up
    (the call goes on to its end: the host learns of it once per call)."""
    i = cuda.grid(1)
    if i < v.shape[0]:
        s = clock[0] - step0
        if bad[0] < s * 4294967296:
            return
        new = 2.0 * x[i] - v[i] if crank_nicolson else x[i]
        v[i] = new
        if not (math.fabs(new) < 1e4):
            cuda.atomic.min(bad, 0, s * 4294967296 + i)


@cuda.jit(cache=True)
def detect(clock, dt, node, thresh, prev, gid, v, count, spk_gid, spk_t, spk_exact):
    """An upward crossing of a detector's threshold in this step: a spike at the time
    interpolated within the step (slot by an atomic counter; the host sorts)."""
    q = cuda.grid(1)
    if q < node.shape[0]:
        step = clock[0]
        v1 = v[node[q]]
        v0 = prev[q]
        if v0 < thresh[q] and v1 >= thresh[q]:
            slot = cuda.atomic.add(count, 0, 1)
            if slot < spk_gid.shape[0]:
                spk_gid[slot] = gid[q]
                spk_t[slot] = (step + (thresh[q] - v0) / (v1 - v0)) * dt
                spk_exact[slot] = 0
        prev[q] = v1


@cuda.jit(cache=True)
def probe_voltage(clock, row, node, every, count, out, v):
    """A voltage, sampled at the end of a step (the next step's start)."""
    r = cuda.grid(1)
    if r < row.shape[0]:
        step_next = clock[0] + 1
        k = row[r]
        if step_next % every[k] == 0:
            out[k, count[k]] = v[node[r]]
            count[k] += 1


@cuda.jit(cache=True)
def probe_state(clock, row, state, inst, every, count, out, states, assigned):
    """A mechanism variable: a state row (>= 0) or assigned row -1 - state."""
    r = cuda.grid(1)
    if r < row.shape[0]:
        step_next = clock[0] + 1
        k = row[r]
        if step_next % every[k] == 0:
            q = state[r]
            out[k, count[k]] = states[q, inst[r]] if q >= 0 else assigned[-1 - q, inst[r]]
            count[k] += 1


@cuda.jit(cache=True)
def probe_ion(clock, row, field, node, every, count, out, e, ci, co, i):
    r = cuda.grid(1)
    if r < row.shape[0]:
        step_next = clock[0] + 1
        k = row[r]
        if step_next % every[k] == 0:
            f = field[r]
            n = node[r]
            out[k, count[k]] = e[n] if f == 0 else (ci[n] if f == 1 else (
                co[n] if f == 2 else i[n]))
            count[k] += 1
