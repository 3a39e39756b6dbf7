"""Built-in synapses written in NMODL (this project's own text): ``ExpSyn`` and ``Exp2Syn``,
the same models as NEURON's of those names.  Weights are peak conductances in µS."""

from ..base import register
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

EXP_SYN = register(compile_text(EXPSYN, "<builtin ExpSyn>"))
EXP2_SYN = register(compile_text(EXP2SYN, "<builtin Exp2Syn>"))
