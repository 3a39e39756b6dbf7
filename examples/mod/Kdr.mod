: A delayed-rectifier potassium current, n^4, for neurosim's README (written for it).
: Hodgkin-Huxley's squid-axon rates with the resting potential at -65 mV, q10 = 3 from
: 6.3 degC; gbar in S/cm2.

NEURON {
    SUFFIX Kdr
    USEION k READ ek WRITE ik
    RANGE gbar, g
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.036 (S/cm2)
}

ASSIGNED {
    v (mV)
    celsius (degC)
    ek (mV)
    ik (mA/cm2)
    g (S/cm2)
    ninf
    ntau (ms)
}

STATE { n }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar * n * n * n * n
    ik = g * (v - ek)
}

INITIAL {
    rates(v)
    n = ninf
}

DERIVATIVE states {
    rates(v)
    n' = (ninf - n) / ntau
}

PROCEDURE rates(v (mV)) {
    LOCAL an, bn, q
    q = 3 ^ ((celsius - 6.3) / 10)
    an = 0.01 * linoid(-(v + 55), 10)
    bn = 0.125 * exp(-(v + 65) / 80)
    ninf = an / (an + bn)
    ntau = 1 / (q * (an + bn))
}

: x / (exp(x / y) - 1), which tends to y at x = 0 (where the formula divides 0 by 0)
FUNCTION linoid(x, y) {
    if (fabs(x / y) < 1e-6) {
        linoid = y * (1 - x / y / 2)
    } else {
        linoid = x / (exp(x / y) - 1)
    }
}
