"""Point neurons for networks: ``net.add_cells(ns.models.LIF(tau_m=20.0), n=25)``.

Each template names one of NEST's models (same parameter names, units and numerics; see
``neurosim.mechanisms.builtin.point_neurons``)."""

from dataclasses import dataclass, field

from neurosim import mechanisms


@dataclass(frozen=True)
class PointNeuron:
    """A point-neuron template: an artificial-cell mechanism and its parameters."""
    mechanism: object
    params: dict = field(default_factory=dict)


def point_neuron(model, **params):
    """A template of the point-neuron mechanism ``model`` (a NEST model name such as
    ``"iaf_psc_alpha"``, or any ARTIFICIAL_CELL) with ``params`` set."""
    mech = mechanisms.get(model) if isinstance(model, str) else model
    if mech.name == "glif_psc":         # NEST's vector parameters become indexed scalars
        from neurosim.mechanisms.builtin.glif import glif_psc_parameters
        params = glif_psc_parameters(params)
    return PointNeuron(mech, {mech.resolve_parameter(k): float(v) for k, v in params.items()})


def LIF(**params):
    """Leaky integrate-and-fire with exponential synaptic currents, integrated exactly
    (NEST's ``iaf_psc_exp``: C_m pF, tau_m ms, t_ref ms, E_L, V_th, V_reset, V_init mV,
    tau_syn_ex, tau_syn_in ms, I_e pA; weights in pA)."""
    return point_neuron("iaf_psc_exp", **params)


def LIFAlpha(**params):
    """LIF with alpha-shaped synaptic currents, integrated exactly (NEST's
    ``iaf_psc_alpha``; a weight w pA gives a current peaking at w)."""
    return point_neuron("iaf_psc_alpha", **params)


def LIFDelta(**params):
    """LIF whose potential jumps by each spike's weight, integrated exactly (NEST's
    ``iaf_psc_delta``: weights in mV; ``refractory_input`` 1 keeps the spikes arriving
    while refractory, decayed, for its end)."""
    return point_neuron("iaf_psc_delta", **params)


def LIFCond(**params):
    """Conductance-based LIF with exponential conductances (NEST's ``iaf_cond_exp``: g_L
    nS, E_ex, E_in mV; weights in nS, negative for inhibition)."""
    return point_neuron("iaf_cond_exp", **params)


def AdEx(**params):
    """Adaptive exponential integrate-and-fire, conductance synapses (NEST's
    ``aeif_cond_exp``: Delta_T, V_peak mV, a nS, b pA, tau_w ms; weights in nS)."""
    return point_neuron("aeif_cond_exp", **params)


def Izhikevich(**params):
    """Izhikevich (2003) neuron (NEST's ``izhikevich``: a, b, c, d, I_e; weights add to V
    in mV)."""
    return point_neuron("izhikevich", **params)


def GLIF(**params):
    """The Allen Institute's generalized LIF models GLIF1-5 (NEST's ``glif_psc``: g nS,
    C_m pF, E_L, V_th, V_reset mV; spike_dependent_threshold, after_spike_currents,
    adapting_threshold pick the model; asc_* and tau_syn vectors (up to 4 entries: after-spike
    currents, receptor ports) or their entries asc_amps_0, tau_syn_1, ...).  Weights in pA;
    a connection's weights ``[w, receptor_type]`` pick its port (1-based; a lone weight goes
    to port 1).  No I_e: drive it with ``net.add_step_current``."""
    return point_neuron("glif_psc", **params)
