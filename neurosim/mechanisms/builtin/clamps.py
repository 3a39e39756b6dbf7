"""NEURON's single-electrode voltage clamp, ``SEClamp``, as NMODL with NEURON's names and
semantics: the command ``vc`` is amp1 until dur1, amp2 until dur1 + dur2, amp3 until the
sum of the three, then the clamp is off (i = 0); while on, the electrode current
i = (vc - v) / rs (nA, positive depolarises) is part of the implicit step (its di/dv), and
is computed again after the voltage update so that a recorded i belongs to the new v."""

from ..nmodl.compiler import compile_text

SECLAMP = """
NEURON {
    POINT_PROCESS SEClamp
    ELECTRODE_CURRENT i
    RANGE dur1, amp1, dur2, amp2, dur3, amp3, rs, vc, i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) (uS) = (microsiemens) }
PARAMETER {
    rs = 1 (megohm)
    dur1 = 0 (ms)
    amp1 = 0 (mV)
    dur2 = 0 (ms)
    amp2 = 0 (mV)
    dur3 = 0 (ms)
    amp3 = 0 (mV)
}
ASSIGNED { v (mV) i (nA) vc (mV) end2 (ms) end3 (ms) active }
INITIAL {
    end2 = dur1 + dur2
    end3 = end2 + dur3
    active = 0
}
BREAKPOINT {
    SOLVE current METHOD after_cvode
    command()
}
PROCEDURE current() {
    if (active) {
        i = (vc - v) / rs
    } else {
        i = 0
    }
}
PROCEDURE command() {
    active = 1
    if (dur1) { at_time(dur1) }
    if (dur2) { at_time(end2) }
    if (dur3) { at_time(end3) }
    if (t < dur1) {
        vc = amp1
    } else if (t < end2) {
        vc = amp2
    } else if (t < end3) {
        vc = amp3
    } else {
        vc = 0
        active = 0
    }
    current()
}
"""

SE_CLAMP = compile_text(SECLAMP, "<builtin SEClamp>")
