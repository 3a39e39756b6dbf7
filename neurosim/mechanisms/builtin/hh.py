"""NEURON's ``hh``: Hodgkin–Huxley sodium, potassium and leak currents (hh.mod, squid axon,
q10 = 3 from 6.3 °C).

``ena`` and ``ek`` are parameters here (NEURON's defaults 50 and -77 mV).  States use cnexp.
The rates come from NEURON's table (FROM -100 TO 100 WITH 200, linear interpolation, clamped
at the ends) when tables are on, exactly as NEURON does by default (``usetable_hh = 1``), or
from the formulas.  The rate functions are kernel source (``helpers``) so that the CPU and the
GPU kernels compile the same text; they are inlined (their 6-tuples would cost a call each).
"""

import math

import numpy as np
from numba import njit

from ..base import Mechanism

TABLE_VMIN, TABLE_STEPS, TABLE_DV = -100.0, 200, 1.0

HELPERS = f'''
@inline_function
def hh_vtrap(x, y):
    if abs(x / y) < 1e-6:
        return y * (1.0 - x / y / 2.0)
    return x / (math.exp(x / y) - 1.0)


@inline_function
def hh_rates_exact(v, q10):
    alpha = 0.1 * hh_vtrap(-(v + 40.0), 10.0)
    beta = 4.0 * math.exp(-(v + 65.0) / 18.0)
    s = alpha + beta
    mtau = 1.0 / (q10 * s)
    minf = alpha / s
    alpha = 0.07 * math.exp(-(v + 65.0) / 20.0)
    beta = 1.0 / (math.exp(-(v + 35.0) / 10.0) + 1.0)
    s = alpha + beta
    htau = 1.0 / (q10 * s)
    hinf = alpha / s
    alpha = 0.01 * hh_vtrap(-(v + 55.0), 10.0)
    beta = 0.125 * math.exp(-(v + 65.0) / 80.0)
    s = alpha + beta
    ntau = 1.0 / (q10 * s)
    ninf = alpha / s
    return minf, mtau, hinf, htau, ninf, ntau


@inline_function
def hh_rates_fn(v, q10, tab, use_table):
    if not use_table:
        return hh_rates_exact(v, q10)
    xi = (v - {TABLE_VMIN}) / {TABLE_DV}
    if xi != xi:                      # NaN: the formula propagates it
        return hh_rates_exact(v, q10)
    if xi <= 0.0:
        k, th = 0, 0.0
    elif xi >= {TABLE_STEPS}:
        k, th = {TABLE_STEPS - 1}, 1.0
    else:
        k = int(xi)
        th = xi - k
    return (tab[0, k] + th * (tab[0, k + 1] - tab[0, k]),
            tab[1, k] + th * (tab[1, k + 1] - tab[1, k]),
            tab[2, k] + th * (tab[2, k + 1] - tab[2, k]),
            tab[3, k] + th * (tab[3, k + 1] - tab[3, k]),
            tab[4, k] + th * (tab[4, k + 1] - tab[4, k]),
            tab[5, k] + th * (tab[5, k + 1] - tab[5, k]))
'''

_HOST = {"math": math, "inline_function": njit(cache=False)}
exec(compile(HELPERS, "<hh helpers>", "exec"), _HOST)


def q10_factor(celsius):
    return 3.0 ** ((celsius - 6.3) / 10.0)


def make_table(celsius):
    q10 = q10_factor(celsius)
    tab = np.empty((6, TABLE_STEPS + 1))
    for k in range(TABLE_STEPS + 1):
        tab[:, k] = _HOST["hh_rates_exact"](TABLE_VMIN + k * TABLE_DV, q10)
    return tab


def rates(v, celsius, use_table=True):
    """(minf, mtau, hinf, htau, ninf, ntau) at ``v`` mV, for tests and plots."""
    return _HOST["hh_rates_fn"](float(v), q10_factor(celsius), make_table(celsius), use_table)


def _aux(celsius, use_tables):
    return {"hh_tab": make_table(celsius),
            "hh_q10": np.array([q10_factor(celsius)]),
            "hh_use_table": np.array([1 if use_tables else 0], dtype=np.int64)}


HH = Mechanism(
    name="hh",
    parameters={"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0003, "el": -54.3,
                "ena": 50.0, "ek": -77.0},
    states=("m", "h", "n"),
    helpers=HELPERS,
    aux=_aux,
    setup="hh_q = hh_q10[0]\nhh_ut = hh_use_table[0] != 0",
    init="""
minf, mtau, hinf, htau, ninf, ntau = hh_rates_fn(v, hh_q, hh_tab, hh_ut)
m = minf
h = hinf
n = ninf
""",
    current="""
gna = gnabar * m * m * m * h
gk = gkbar * n * n * n * n
i = gna * (v - ena) + gk * (v - ek) + gl * (v - el)
g = gna + gk + gl
""",
    rates="""
minf, mtau, hinf, htau, ninf, ntau = hh_rates_fn(v, hh_q, hh_tab, hh_ut)
mb = -1.0 / mtau
hb = -1.0 / htau
nb = -1.0 / ntau
""",
    # m' = (minf - m)/mtau = a + b m with b = -1/mtau, a = -b minf
    cnexp=(("m", "-mb * minf", "mb"), ("h", "-hb * hinf", "hb"), ("n", "-nb * ninf", "nb")),
    nonnegative=("gnabar", "gkbar", "gl"),
    doc="Hodgkin-Huxley squid axon channels, NEURON's hh.mod.",
)
