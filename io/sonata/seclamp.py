"""BioNet's voltage clamp input (``module: SEClamp``, bmtk 1.2): NEURON's SEClamp at a
section (default ``soma[0](0.5)``) commanding 0 mV until ``delay``, ``amp`` (mV) for
``duration`` ms, then off, through ``resistance`` (MOhm, default 1) -- which BioNet switches
after every step: ``resistance`` while the completed step began within [delay, delay +
duration], 1e20 (open) otherwise; before the first switch NEURON's default of 1 MOhm holds.
The switching is written into the mechanism here (``steps`` counts the completed steps, so
the resistance of step k is decided by the start of step k - 1, as BioNet's ``step`` sees
it)."""

from neurosim.mechanisms.nmodl.compiler import compile_text

BIONET_SECLAMP = """
NEURON {
    POINT_PROCESS BioNetSEClamp
    ELECTRODE_CURRENT i
    RANGE delay, duration, amp, resistance, rs, vc, i
}
UNITS { (nA) = (nanoamp) (mV) = (millivolt) }
PARAMETER {
    delay = 0 (ms)
    duration = 0 (ms)
    amp = 0 (mV)
    resistance = 1 (megohm)
}
ASSIGNED { v (mV) i (nA) vc (mV) rs (megohm) active steps }
INITIAL {
    active = 0
    steps = 0
    rs = 1
}
BREAKPOINT {
    SOLVE completed METHOD after_cvode
    command()
}
PROCEDURE current() {
    if (active) {
        i = (vc - v) / rs
    } else {
        i = 0
    }
}
PROCEDURE completed() {
    current()
    if (delay <= steps * dt && steps * dt <= delay + duration) {
        rs = resistance
    } else {
        rs = 1e20
    }
    steps = steps + 1
}
PROCEDURE command() {
    active = 1
    if (delay) { at_time(delay) }
    if (duration) { at_time(delay + duration) }
    if (t < delay) {
        vc = 0
    } else if (t < delay + duration) {
        vc = amp
    } else {
        vc = 0
        active = 0
    }
    current()
}
"""

_MECHANISM = []


def bionet_seclamp():
    """The mechanism (compiled once per process)."""
    if not _MECHANISM:
        _MECHANISM.append(compile_text(BIONET_SECLAMP, "<BioNet's SEClamp input>"))
    return _MECHANISM[0]
