"""Point neurons integrated exactly, as NEST does (Rotter & Diesmann 1999).

``iaf_psc_exp``: a leaky integrate-and-fire neuron with exponential postsynaptic currents.
The subthreshold dynamics are linear, so each step applies the exact propagator; the threshold
is checked on the grid, a spike is emitted at the end of the step, V is reset and held for
the refractory period counted in steps.  Parameters and units are NEST's: C_m pF, tau_m ms,
t_ref ms, E_L, V_th, V_reset mV, tau_syn_ex/in ms, I_e pA; weights pA (excitatory > 0,
inhibitory < 0).  An event at time te joins the synaptic current at te and acts on V from
the step starting at te — NEST's timing (its ring buffer adds it at the end of the step
before).
"""

from ..base import Mechanism, register

IAF_PSC_EXP = register(Mechanism(
    name="iaf_psc_exp",
    kind="artificial",
    parameters={"C_m": 250.0, "tau_m": 10.0, "t_ref": 2.0, "E_L": -70.0, "V_th": -55.0,
                "V_reset": -70.0, "tau_syn_ex": 2.0, "tau_syn_in": 2.0, "I_e": 0.0,
                "V_init": -70.0},
    states=("V_m", "I_ex", "I_in", "refractory"),
    assigned=("P11ex", "P11in", "P22", "P21ex", "P21in", "P20", "ref_steps"),
    init="""
V_m = V_init
P11ex = math.exp(-dt / tau_syn_ex)
P11in = math.exp(-dt / tau_syn_in)
P22 = math.exp(-dt / tau_m)
P20 = tau_m / C_m * (1.0 - P22)
P21ex = tau_syn_ex * tau_m / (C_m * (tau_m - tau_syn_ex)) * (P22 - P11ex) if tau_m != tau_syn_ex else dt / C_m * P22
P21in = tau_syn_in * tau_m / (C_m * (tau_m - tau_syn_in)) * (P22 - P11in) if tau_m != tau_syn_in else dt / C_m * P22
ref_steps = float(int(t_ref / dt + 0.5))
""",
    advance="""
if refractory <= 0.0:
    V_m = E_L + (V_m - E_L) * P22 + I_e * P20 + I_ex * P21ex + I_in * P21in
else:
    refractory = refractory - 1.0
I_ex = I_ex * P11ex
I_in = I_in * P11in
if V_m >= V_th:
    refractory = ref_steps
    V_m = V_reset
    NET_EVENT(t)
""",
    net_receive="""
if weight >= 0.0:
    I_ex = I_ex + weight
else:
    I_in = I_in + weight
""",
    net_receive_args=("weight",),
    doc="NEST's iaf_psc_exp: LIF with exponential currents, exact integration.",
))
