"""``IntFire1`` (NEURON's built-in leaky integrate-and-fire ARTIFICIAL_CELL, as bmtk's
``nrn:IntFire1`` point neurons use it), in this project's own NMODL text: m decays to 0 with
``tau`` and is updated exactly when an event arrives (m += weight); above 1 the cell fires,
holds m = 2 for ``refrac`` ms, then restarts from m = 0.  Tested against NEURON's IntFire1.
"""

from ..nmodl.compiler import compile_text

INTFIRE1 = """
NEURON { ARTIFICIAL_CELL IntFire1  RANGE tau, refrac, m }
PARAMETER {
    tau = 10 (ms)      : decay of m
    refrac = 5 (ms)    : refractory period after a spike
}
ASSIGNED { m  t0 (ms)  refractory }
INITIAL {
    m = 0
    t0 = 0
    refractory = 0
}
NET_RECEIVE (w) {
    if (refractory == 0) {
        m = m * exp((t0 - t) / tau) + w     : the decay since the last event, then the input
        t0 = t
        if (m > 1) {
            refractory = 1
            m = 2
            net_send(refrac, 1)
            net_event(t)
        }
    } else if (flag == 1) {
        refractory = 0
        m = 0
        t0 = t
    }
}
"""

INTFIRE1_CELL = compile_text(INTFIRE1, "<builtin IntFire1>")
