"""NEURON's passive leak ``pas``: i = g (v - e)."""

from ..base import Mechanism

PAS = Mechanism(
    name="pas",
    parameters={"g": 0.001, "e": -70.0},        # S/cm², mV (NEURON's defaults)
    current="i = g * (v - e)",                   # di/dv is the parameter g itself
    nonnegative=("g",),
    static_conductance=("g", "e"),
    doc="Passive leak conductance g (S/cm²) with reversal e (mV).",
)
