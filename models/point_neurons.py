"""Point neurons for networks: ``net.add_cells(ns.models.LIF(tau_m=20.0), n=25)``."""

from dataclasses import dataclass, field

from neurosim import mechanisms


@dataclass(frozen=True)
class PointNeuron:
    """A point-neuron template: an artificial-cell mechanism and its parameters."""
    mechanism: object
    params: dict = field(default_factory=dict)


def LIF(**params):
    """Leaky integrate-and-fire with exponential synaptic currents, integrated exactly
    (NEST's ``iaf_psc_exp``; its parameter names and units: C_m pF, tau_m ms, t_ref ms,
    E_L, V_th, V_reset, V_init mV, tau_syn_ex, tau_syn_in ms, I_e pA; weights in pA)."""
    mech = mechanisms.get("iaf_psc_exp")
    return PointNeuron(mech, {mech.resolve_parameter(k): float(v) for k, v in params.items()})
