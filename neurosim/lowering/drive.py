"""Poisson drives: independent Poisson input generated inside the step kernel.

NEST's ``poisson_generator`` sends every target its own Poisson train; drawn ahead as spike
trains (``Network.add_poisson``) that costs memory in proportion to rate x duration x targets
(the Potjans & Diesmann background at full scale: ~1e9 spikes a simulated second).  A drive
instead draws, each step, how many input spikes its target receives — Poisson(rate dt) —
and delivers them through the target's NET_RECEIVE at the start of the step with the drive's
weight.  The count comes from a counter-based hash of (drive key, step): no state to save or
split, the same on any number of threads or ranks, and on the GPU.

``SOURCE`` is the draw as text, compiled into the CPU kernel module and the CUDA one with
their own decorators (a device function cannot call a CPU-compiled one); ``poisson_count``
here is the same text compiled for Python callers and tests.
"""

import math

import numpy as np
from numba import njit

SOURCE = '''
@{jit}
def _drive_mix(z):
    # splitmix64's finalizer: a bijection of 64-bit integers that scrambles every bit
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@{jit}
def _drive_uniform(key, step, k):
    # a uniform number in (0, 1) for (key, step, k)
    z = _drive_mix(key ^ (np.uint64(step) * np.uint64(0x9E3779B97F4A7C15))
                   ^ (np.uint64(k) * np.uint64(0xD1B54A32D192ED03)))
    return ((z >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740994.0)


@{jit}
def poisson_count(lam, key, step):
    # Poisson(lam) for (key, step): inversion for lam <= 30, the rounded normal beyond
    if lam <= 0.0:
        return 0
    u = _drive_uniform(key, step, 0)
    if lam > 30.0:
        g = math.sqrt(-2.0 * math.log(u)) * math.cos(2.0 * math.pi *
                                                     _drive_uniform(key, step, 1))
        return max(0, int(math.floor(lam + math.sqrt(lam) * g + 0.5)))
    p = math.exp(-lam)
    total = p
    n = 0
    while u > total and n < 1000:
        n += 1
        p *= lam / n
        total += p
    return n
'''

# the kernels' arguments for the drives (sorted by cell group, CSR pointers _drv_gp)
ARGS = ["_drv_gp", "_drv_table", "_drv_inst", "_drv_conn", "_drv_lam", "_drv_key", "_drv_on",
        "_drv_off"]


def delivery(receive):
    """The step's drive loop for cell group ``_g`` (CPU and CUDA kernels alike):
    ``receive`` is the NET_RECEIVE dispatch on ``_tab``, ``_k``, ``_c``, ``t``, ``flag``."""
    return """\
for _dv in range(_drv_gp[_g], _drv_gp[_g + 1]):
    if _drv_on[_dv] <= _gstep and _gstep < _drv_off[_dv]:
        _dn = poisson_count(_drv_lam[_dv], _drv_key[_dv], _gstep)
        _tab = _drv_table[_dv]
        _k = _drv_inst[_dv]
        _c = _drv_conn[_dv]
        t = _gstep * dt
        flag = 0.0
        for _dr in range(_dn):
""" + "\n".join(" " * 12 + line for line in receive.splitlines())


_namespace = {"math": math, "np": np, "njit": njit}
exec(SOURCE.format(jit="njit(nogil=True)"), _namespace)
poisson_count = _namespace["poisson_count"]


def drive_key(seed, gid, index):
    """The 64-bit key of a network's ``index``-th drive onto ``gid``."""
    h = ((int(seed) & 0xFFFFFFFF) * 0x100000001B3) ^ ((int(gid) & 0xFFFFFFFFFFFF) << 12) \
        ^ (int(index) & 0xFFF)
    return np.uint64(h & 0xFFFFFFFFFFFFFFFF)
