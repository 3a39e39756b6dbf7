"""Built-in receptor synapses in NMODL (this project's own text): ``AMPA``, ``NMDA`` (with
the Jahr & Stevens 1990 magnesium block), ``GABA_A`` and ``GABA_B`` (Destexhe et al. 1998's
receptor / G-protein cascade), and ``GradedSyn``, driven by presynaptic voltage instead of
spikes.  AMPA, NMDA and GABA_A are differences of exponentials whose
conductance peaks at the weight (µS), like Exp2Syn; their defaults are the usual cortical
kinetics at 22-35 °C (Destexhe, Mainen & Sejnowski 1998, "Kinetic models of synaptic
transmission").  The texts compile with NEURON's nrnivmodl too, which the tests do.
"""

from ..nmodl.compiler import compile_text

# a difference of exponentials, peak conductance = weight; {extra} adds a voltage dependence
_DOUBLE_EXPONENTIAL = """
NEURON {{
    POINT_PROCESS {name}
    RANGE tau1, tau2, e, i, g{ranges}
    NONSPECIFIC_CURRENT i
}}
: {doc}
PARAMETER {{
    tau1 = {tau1} (ms)   : rise
    tau2 = {tau2} (ms)   : decay
    e = {e} (mV)
{parameters}}}
ASSIGNED {{ v (mV) i (nA) g (uS) factor }}
STATE {{ A (uS) B (uS) }}
INITIAL {{
    LOCAL tpeak
    if (tau1 / tau2 > 0.9999) {{ tau1 = 0.9999 * tau2 }}
    A = 0
    B = 0
    tpeak = (tau1 * tau2) / (tau2 - tau1) * log(tau2 / tau1)
    factor = 1 / (exp(-tpeak / tau2) - exp(-tpeak / tau1))
}}
BREAKPOINT {{
    SOLVE kinetics METHOD cnexp
    g = B - A
    i = g{gate} * (v - e)
}}
DERIVATIVE kinetics {{
    A' = -A / tau1
    B' = -B / tau2
}}
NET_RECEIVE(weight (uS)) {{
    A = A + weight * factor
    B = B + weight * factor
}}
{functions}"""

AMPA = _DOUBLE_EXPONENTIAL.format(
    name="AMPA", ranges="", tau1=0.2, tau2=1.7, e=0, parameters="", gate="", functions="",
    doc="AMPA receptor: fast excitatory conductance (rise 0.2 ms, decay 1.7 ms).")

GABA_A = _DOUBLE_EXPONENTIAL.format(
    name="GABA_A", ranges="", tau1=0.3, tau2=5.0, e=-70, parameters="", gate="", functions="",
    doc="GABA_A receptor: fast inhibitory chloride conductance (rise 0.3 ms, decay 5 ms).")

NMDA = _DOUBLE_EXPONENTIAL.format(
    name="NMDA", ranges=", mg", tau1=2.0, tau2=100.0, e=0,
    parameters="    mg = 1 (mM)        : extracellular magnesium\n",
    gate=" * mgblock(v)",
    functions="""
FUNCTION mgblock(v (mV)) {
    : fraction of channels not blocked by Mg2+ (Jahr & Stevens 1990)
    mgblock = 1 / (1 + exp(0.062 * -v) * (mg / 3.57))
}
""",
    doc="NMDA receptor: slow excitatory conductance (rise 2 ms, decay 100 ms), "
        "blocked by Mg2+ at rest.")

GABA_B = """
NEURON {
    POINT_PROCESS GABA_B
    RANGE gmax, e, i, g, release, K2, K3, K4, KD, n
    NONSPECIFIC_CURRENT i
}
: GABA_B receptor (Destexhe et al. 1998): a spike releases transmitter that activates a
: fraction of the receptors, R -> R + weight * release * (1 - R) (the short transmitter pulse
: taken as instantaneous), which unbind at rate K2; active receptors make G-protein,
: G' = K3 R - K4 G, and G opens potassium channels cooperatively (n binding sites):
: g = gmax G^n / (G^n + KD).  The weight (dimensionless, 1 = one release) scales the
: transmitter released; gmax (uS) is the synapse's maximal conductance.  Slow onset
: (~100 ms to peak) and strongly supralinear in the number of spikes in a burst.
PARAMETER {
    gmax = 0.001 (uS)
    e = -95 (mV)
    release = 0.0135   : K1 * Tmax * Cdur = 0.09 /ms/mM * 0.5 mM * 0.3 ms
    K2 = 0.0012 (/ms)
    K3 = 0.18 (/ms)
    K4 = 0.034 (/ms)
    KD = 100
    n = 4
}
ASSIGNED { v (mV) i (nA) g (uS) }
STATE { R G }
INITIAL {
    R = 0
    G = 0
}
BREAKPOINT {
    SOLVE cascade METHOD derivimplicit
    g = gmax * G^n / (G^n + KD)
    i = g * (v - e)
}
DERIVATIVE cascade {
    R' = -K2 * R
    G' = K3 * R - K4 * G
}
NET_RECEIVE(weight) {
    R = R + weight * release * (1 - R)
}
"""

GRADED = """
NEURON {
    POINT_PROCESS GradedSyn
    RANGE gmax, e, vth, vslope, tau, i, g
    NONSPECIFIC_CURRENT i
    POINTER vpre
}
: A graded (non-spiking) chemical synapse, as between C. elegans neurons: transmitter release
: rises smoothly with the presynaptic voltage vpre, read through a POINTER
: (net.set_pointer((gid, label), "vpre", (pre_gid, location))).  The open fraction s relaxes
: with time constant tau to its transfer curve s_inf(vpre) = 1 / (1 + exp(-(vpre - vth) /
: vslope)); the conductance is gmax s.
PARAMETER {
    gmax = 0.001 (uS)
    e = 0 (mV)
    vth = -40 (mV)
    vslope = 5 (mV)
    tau = 5 (ms)
}
ASSIGNED { v (mV) vpre (mV) i (nA) g (uS) }
STATE { s }
INITIAL { s = sinf(vpre) }
BREAKPOINT {
    SOLVE release METHOD cnexp
    g = gmax * s
    i = g * (v - e)
}
DERIVATIVE release { s' = (sinf(vpre) - s) / tau }
FUNCTION sinf(vp (mV)) { sinf = 1 / (1 + exp(-(vp - vth) / vslope)) }
"""

AMPA_SYN = compile_text(AMPA, "<builtin AMPA>")
NMDA_SYN = compile_text(NMDA, "<builtin NMDA>")
GABA_A_SYN = compile_text(GABA_A, "<builtin GABA_A>")
GABA_B_SYN = compile_text(GABA_B, "<builtin GABA_B>")
GRADED_SYN = compile_text(GRADED, "<builtin GradedSyn>")
