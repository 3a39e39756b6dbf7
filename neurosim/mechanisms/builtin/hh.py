"""NEURON's ``hh``: Hodgkin–Huxley sodium, potassium and leak currents (hh.mod).

The sodium and potassium reversal potentials ``ena`` and ``ek`` are parameters here (NEURON's
defaults 50 and -77 mV); they move to per-compartment ion tables with the "Mechanisms" issue.
States use cnexp (exact exponential integration over dt), as NEURON does.
"""

import numpy as np

from ..base import Mechanism, register
from . import hh_rates


def _aux(celsius, use_tables):
    return {"hh_tab": hh_rates.make_table(celsius),
            "hh_q10": np.array([hh_rates.q10_factor(celsius)]),
            "hh_use_table": np.array([1 if use_tables else 0], dtype=np.int64)}


HH = register(Mechanism(
    name="hh",
    parameters={"gnabar": 0.12, "gkbar": 0.036, "gl": 0.0003, "el": -54.3,
                "ena": 50.0, "ek": -77.0},
    states=("m", "h", "n"),
    imports="from neurosim.mechanisms.builtin.hh_rates import rates as hh_rates_fn",
    helper_module=hh_rates,
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
))
