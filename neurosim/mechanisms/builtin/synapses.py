"""Built-in synapses written in NMODL (this project's own text): ``ExpSyn`` and ``Exp2Syn``,
the same models as NEURON's of those names, ``ExpSynSTDP`` and ``TsodyksMarkram``.  Weights are peak
conductances in µS."""

from ..nmodl.compiler import compile_text

EXPSYN = """
NEURON {
    POINT_PROCESS ExpSyn
    RANGE tau, e, i, g
    NONSPECIFIC_CURRENT i
}
PARAMETER {
    tau = 0.1 (ms)    : decay time constant
    e = 0 (mV)        : reversal potential
}
ASSIGNED { v (mV) i (nA) }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT {
    SOLVE decay METHOD cnexp
    i = g * (v - e)
}
DERIVATIVE decay { g' = -g / tau }
NET_RECEIVE(weight (uS)) { g = g + weight }
"""

EXP2SYN = """
NEURON {
    POINT_PROCESS Exp2Syn
    RANGE tau1, tau2, e, i, g
    NONSPECIFIC_CURRENT i
}
PARAMETER {
    tau1 = 0.1 (ms)   : rise
    tau2 = 10 (ms)    : decay, > tau1
    e = 0 (mV)
}
ASSIGNED { v (mV) i (nA) g (uS) factor }
STATE { A (uS) B (uS) }
INITIAL {
    LOCAL tpeak
    : keep tau1 < tau2 so the difference of exponentials is defined (as NEURON does)
    if (tau1 / tau2 > 0.9999) { tau1 = 0.9999 * tau2 }
    if (tau1 / tau2 < 1e-9) { tau1 = tau2 * 1e-9 }
    A = 0
    B = 0
    : a weight w gives a conductance peaking at w
    tpeak = (tau1 * tau2) / (tau2 - tau1) * log(tau2 / tau1)
    factor = 1 / (exp(-tpeak / tau2) - exp(-tpeak / tau1))
}
BREAKPOINT {
    SOLVE rise_decay METHOD cnexp
    g = B - A
    i = g * (v - e)
}
DERIVATIVE rise_decay {
    A' = -A / tau1
    B' = -B / tau2
}
NET_RECEIVE(weight (uS)) {
    A = A + weight * factor
    B = B + weight * factor
}
"""

EXPSYN_STDP = """
NEURON {
    POINT_PROCESS ExpSynSTDP
    RANGE tau, e, i, tau_plus, tau_minus, a_plus, a_minus, wmax, multiplicative
    NONSPECIFIC_CURRENT i
}
: Pair-based STDP on an exponential synapse.  Presynaptic spikes arrive with their weight
: (>= 0); the postsynaptic cell's own spikes arrive through a connection from its detector
: with a negative weight.  Each connection keeps its presynaptic trace x (all-to-all pairing);
: the synapse keeps the postsynaptic trace y.  Post after pre: w += a_plus x; pre after post:
: w -= a_minus y; traces decay with tau_plus, tau_minus.  Additive (multiplicative = 0) or
: multiplicative (updates scaled by (wmax - w)/wmax and w/wmax); w stays in [0, wmax].
PARAMETER {
    tau = 2 (ms)
    e = 0 (mV)
    tau_plus = 16.8 (ms)
    tau_minus = 33.7 (ms)
    a_plus = 0.005 (uS)
    a_minus = 0.00525 (uS)
    wmax = 0.1 (uS)
    multiplicative = 0
}
ASSIGNED { v (mV) i (nA) y tpost (ms) }
STATE { g (uS) }
INITIAL {
    g = 0
    y = 0
    tpost = -1e9
}
BREAKPOINT {
    SOLVE decay METHOD cnexp
    i = g * (v - e)
}
DERIVATIVE decay { g' = -g / tau }
NET_RECEIVE(w (uS), x, tpre (ms)) {
    LOCAL dw
    INITIAL {
        x = 0
        tpre = -1e9
    }
    if (w >= 0) {
        g = g + w
        dw = a_minus * y * exp(-(t - tpost) / tau_minus)
        if (multiplicative) { dw = dw * w / wmax }
        w = w - dw
        if (w < 0) { w = 0 }
        x = x * exp(-(t - tpre) / tau_plus) + 1
        tpre = t
    } else {
        y = y * exp(-(t - tpost) / tau_minus) + 1
        tpost = t
        FOR_NETCONS(wk, xk, tk) {
            if (wk >= 0) {
                dw = a_plus * xk * exp(-(t - tk) / tau_plus)
                if (multiplicative) { dw = dw * (wmax - wk) / wmax }
                wk = wk + dw
                if (wk > wmax) { wk = wmax }
            }
        }
    }
}
"""

TSODYKS_MARKRAM = """
NEURON {
    POINT_PROCESS TsodyksMarkram
    RANGE tau, e, i, U, tau_rec, tau_facil
    NONSPECIFIC_CURRENT i
}
: Short-term plasticity (Tsodyks, Pawelzik & Markram 1998), event by event: at a spike after
: an interval D the resources recover, R = 1 + (R (1 - u) - 1) exp(-D/tau_rec), utilisation
: facilitates, u = U + u (1 - U) exp(-D/tau_facil) (u = U without facilitation), and the
: conductance jumps by w u R.  R, u and the last spike time belong to each connection.
PARAMETER {
    tau = 3 (ms)
    e = 0 (mV)
    U = 0.5
    tau_rec = 800 (ms)
    tau_facil = 0 (ms)
}
ASSIGNED { v (mV) i (nA) }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT {
    SOLVE decay METHOD cnexp
    i = g * (v - e)
}
DERIVATIVE decay { g' = -g / tau }
NET_RECEIVE(w (uS), R, u, tlast (ms)) {
    INITIAL {
        R = 1
        u = U
        tlast = -1
    }
    if (tlast >= 0) {
        R = 1 + (R * (1 - u) - 1) * exp(-(t - tlast) / tau_rec)
        if (tau_facil > 0) {
            u = U + u * (1 - U) * exp(-(t - tlast) / tau_facil)
        } else {
            u = U
        }
    }
    g = g + w * u * R
    tlast = t
}
"""

EXP_SYN = compile_text(EXPSYN, "<builtin ExpSyn>")
EXP2_SYN = compile_text(EXP2SYN, "<builtin Exp2Syn>")
EXP_SYN_STDP = compile_text(EXPSYN_STDP, "<builtin ExpSynSTDP>")
TSODYKS_MARKRAM_SYN = compile_text(TSODYKS_MARKRAM, "<builtin TsodyksMarkram>")
