: A transient sodium current, m^3 h, for neurosim's README (written for it).
: Hodgkin-Huxley's squid-axon rates with the resting potential at -65 mV, scaled from their
: 6.3 degC by q10 = 3; gbar in S/cm2.

NEURON {
    SUFFIX NaTs
    USEION na READ ena WRITE ina
    RANGE gbar, g
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.12 (S/cm2)
}

ASSIGNED {
    v (mV)
    celsius (degC)
    ena (mV)
    ina (mA/cm2)
    g (S/cm2)
    minf
    hinf
    mtau (ms)
    htau (ms)
}

STATE { m h }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar * m * m * m * h
    ina = g * (v - ena)
}

INITIAL {
    rates(v)
    m = minf
    h = hinf
}

DERIVATIVE states {
    rates(v)
    m' = (minf - m) / mtau
    h' = (hinf - h) / htau
}

PROCEDURE rates(v (mV)) {
    LOCAL am, bm, ah, bh, q
    q = 3 ^ ((celsius - 6.3) / 10)
    am = 0.1 * linoid(-(v + 40), 10)
    bm = 4 * exp(-(v + 65) / 18)
    ah = 0.07 * exp(-(v + 65) / 20)
    bh = 1 / (exp(-(v + 35) / 10) + 1)
    minf = am / (am + bm)
    mtau = 1 / (q * (am + bm))
    hinf = ah / (ah + bh)
    htau = 1 / (q * (ah + bh))
}

: x / (exp(x / y) - 1), which tends to y at x = 0 (where the formula divides 0 by 0)
FUNCTION linoid(x, y) {
    if (fabs(x / y) < 1e-6) {
        linoid = y * (1 - x / y / 2)
    } else {
        linoid = x / (exp(x / y) - 1)
    }
}
