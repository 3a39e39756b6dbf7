"""Rate functions of NEURON's hh.mod (Hodgkin & Huxley 1952, squid axon, q10 = 3 from 6.3 °C).

``rates_exact`` is the formula; ``rates`` reads NEURON's table (FROM -100 TO 100 WITH 200,
linear interpolation, clamped at the ends) when ``use_table`` is set, exactly as NEURON does by
default (``usetable_hh = 1``).
"""

import math

import numpy as np
from numba import njit

TABLE_VMIN = -100.0
TABLE_STEPS = 200
TABLE_DV = 1.0  # (100 - -100) / 200


@njit(cache=True, inline="always")
def vtrap(x, y):
    if abs(x / y) < 1e-6:
        return y * (1.0 - x / y / 2.0)
    return x / (math.exp(x / y) - 1.0)


@njit(cache=True)
def rates_exact(v, q10):
    alpha = 0.1 * vtrap(-(v + 40.0), 10.0)
    beta = 4.0 * math.exp(-(v + 65.0) / 18.0)
    s = alpha + beta
    mtau = 1.0 / (q10 * s)
    minf = alpha / s
    alpha = 0.07 * math.exp(-(v + 65.0) / 20.0)
    beta = 1.0 / (math.exp(-(v + 35.0) / 10.0) + 1.0)
    s = alpha + beta
    htau = 1.0 / (q10 * s)
    hinf = alpha / s
    alpha = 0.01 * vtrap(-(v + 55.0), 10.0)
    beta = 0.125 * math.exp(-(v + 65.0) / 80.0)
    s = alpha + beta
    ntau = 1.0 / (q10 * s)
    ninf = alpha / s
    return minf, mtau, hinf, htau, ninf, ntau


@njit(cache=True, inline="always")
def rates(v, q10, tab, use_table):
    if not use_table:
        return rates_exact(v, q10)
    xi = (v - TABLE_VMIN) / TABLE_DV
    if xi <= 0.0 or xi != xi:    # NaN falls through to the formula, which propagates it
        if xi != xi:
            return rates_exact(v, q10)
        k, th = 0, 0.0
    elif xi >= TABLE_STEPS:
        k, th = TABLE_STEPS - 1, 1.0
    else:
        k = int(xi)
        th = xi - k
    return (tab[0, k] + th * (tab[0, k + 1] - tab[0, k]),
            tab[1, k] + th * (tab[1, k + 1] - tab[1, k]),
            tab[2, k] + th * (tab[2, k + 1] - tab[2, k]),
            tab[3, k] + th * (tab[3, k + 1] - tab[3, k]),
            tab[4, k] + th * (tab[4, k + 1] - tab[4, k]),
            tab[5, k] + th * (tab[5, k + 1] - tab[5, k]))


def q10_factor(celsius):
    return 3.0 ** ((celsius - 6.3) / 10.0)


def make_table(celsius):
    q10 = q10_factor(celsius)
    tab = np.empty((6, TABLE_STEPS + 1))
    for k in range(TABLE_STEPS + 1):
        tab[:, k] = rates_exact(TABLE_VMIN + k * TABLE_DV, q10)
    return tab
