: A leaky integrate-and-fire artificial cell, for neurosim's README (written for it).
: m decays to 0 with time constant tau between inputs (computed exactly at each input);
: an input of weight w adds w; m > 1 fires a spike and starts a refractory period of
: refrac ms during which inputs are ignored.

NEURON {
    ARTIFICIAL_CELL LeakyIntFire
    RANGE tau, refrac, m
}

PARAMETER {
    tau = 10 (ms)
    refrac = 5 (ms)
}

ASSIGNED {
    m
    t0 (ms)
    refractory
}

INITIAL {
    m = 0
    t0 = t
    refractory = 0
}

NET_RECEIVE (w) {
    if (flag == 0) {
        if (refractory == 0) {
            m = m * exp(-(t - t0) / tau) + w
            t0 = t
            if (m > 1) {
                refractory = 1
                net_send(refrac, 1)
                net_event(t)
            }
        }
    } else {
        : the self-event that ends the refractory period
        refractory = 0
        m = 0
        t0 = t
    }
}
