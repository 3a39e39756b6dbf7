"""Point neurons with NEST's models, parameter names, units and update order.

Units are NEST's: C_m pF, g_L and conductance weights nS, tau_* and t_ref ms, potentials mV,
I_e and current weights pA.  Every model takes an event at time te as NEST's ring buffer does
(added at the end of the step before te; here at the start of the step from te: the same
state), spikes at the end of the step where the threshold is reached, and counts the
refractory period in steps.

- ``iaf_psc_exp``, ``iaf_psc_alpha``: LIF with exponential / alpha-shaped currents, linear
  between spikes, so each step applies the exact propagator (Rotter & Diesmann 1999);
  ``iaf_psc_delta``: LIF whose potential jumps by a spike's weight (mV).
- ``iaf_cond_exp``: LIF with exponential conductances; ``aeif_cond_exp``: the adaptive
  exponential LIF (Brette & Gerstner 2005).  Nonlinear in V, integrated with classical
  Runge-Kutta on substeps (NEST: adaptive RKF45); V is bounded by the threshold (V_peak for
  AdEx) inside the right-hand side and held at V_reset while refractory, as in NEST.
- ``izhikevich``: Izhikevich (2003) with NEST's forward Euler ("consistent integration");
  an event adds its weight to V.
- ``glif_psc``: the Allen Institute's generalized LIF models GLIF1-5 (:mod:`.glif`).

Excitatory inputs have positive weights, inhibitory ones negative.
"""

from ..base import Mechanism


def exact_lif_propagators(syn):
    """Init lines for the propagators of an alpha current with time constant tau_syn_{syn}
    onto V: P11 (decay), P31 (dI -> V) and P32 (I -> V), from the closed-form solution of
    dI' = -dI/ts, I' = dI - I/ts, V' = -V/tm + I/C over dt, in NEST's forms (its
    IAFPropagatorAlpha: beta = ts tm / (tm - ts), expm1, the singular cases tm == ts)."""
    return f"""
P11{syn} = math.exp(-dt / tau_syn_{syn})
_exp_syn = math.exp(-dt * (1.0 / tau_syn_{syn}))
_inv_beta = (tau_m - tau_syn_{syn}) / (tau_syn_{syn} * tau_m)
_expm1 = math.expm1(dt * _inv_beta)
_exp_m = math.exp(-dt * (1.0 / tau_m))
if tau_m != tau_syn_{syn}:
    _beta = tau_syn_{syn} * tau_m / (tau_m - tau_syn_{syn})
    _gamma = _beta / C_m
    P32{syn} = _gamma * _exp_syn * _expm1
else:
    _beta = 0.0
    _gamma = 0.0
    P32{syn} = 0.0
if not (P32{syn} > 0.0 and P32{syn} >= 2.2250738585072014e-308 and P32{syn} < 1e308):
    P32{syn} = dt * (1.0 / C_m) * _exp_m
if tau_m != tau_syn_{syn} and dt > 1e-7 * tau_m * tau_m / abs(tau_m - tau_syn_{syn}):
    P31{syn} = _gamma * _exp_syn * (_beta * _expm1 - dt)
else:
    P31{syn} = 0.5 * dt * dt * (1.0 / C_m) * _exp_m
"""


# the LIFs' spike: threshold reached in the step -> a spike at its end, reset, refractory
_THRESHOLD_RESET = """
if V_m >= V_th:
    refractory = ref_steps
    V_m = V_reset
    NET_EVENT(t)
"""

IAF_PSC_EXP = Mechanism(
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
""" + _THRESHOLD_RESET,
    net_receive="""
if weight >= 0.0:
    I_ex = I_ex + weight
else:
    I_in = I_in + weight
""",
    net_receive_args=("weight",),
    # NEST's own checks of these parameters (its set_status refuses the same values)
    positive=("C_m", "tau_m", "tau_syn_ex", "tau_syn_in"),
    nonnegative=("t_ref",),
    ordered=(("V_reset", "V_th"),),
    doc="NEST's iaf_psc_exp: LIF with exponential currents, exact integration.",
)

IAF_PSC_ALPHA = Mechanism(
    name="iaf_psc_alpha",
    kind="artificial",
    parameters={"C_m": 250.0, "tau_m": 10.0, "t_ref": 2.0, "E_L": -70.0, "V_th": -55.0,
                "V_reset": -70.0, "tau_syn_ex": 2.0, "tau_syn_in": 2.0, "I_e": 0.0,
                "V_min": -1e300, "V_init": -70.0},
    # as NEST: the potential kept relative to E_L (y3; V_m = y3 + E_L is what is recorded),
    # a step's input weights summed (W_ex, W_in) before they scale the alpha's dI
    # y0: the current of step-current generators (pA), set by the simulation at the steps
    # NEST's CurrentEvents (delay dt) reach it
    states=("V_m", "dI_ex", "I_ex", "dI_in", "I_in", "refractory", "y3", "W_ex", "W_in",
            "y0"),
    assigned=("P11ex", "P31ex", "P32ex", "P11in", "P31in", "P32in", "P30", "P33m1",
              "ref_steps", "theta", "y_reset", "y_min"),
    init="""
V_m = V_init
y3 = V_init - E_L
theta = V_th - E_L
y_reset = V_reset - E_L
y_min = V_min - E_L
P33m1 = math.expm1(-dt / tau_m)
P30 = -tau_m / C_m * P33m1
""" + exact_lif_propagators("ex") + exact_lif_propagators("in") + """
ref_steps = float(int(t_ref / dt + 0.5))
""",
    advance="""
dI_ex = dI_ex + math.e / tau_syn_ex * W_ex
dI_in = dI_in + math.e / tau_syn_in * W_in
W_ex = 0.0
W_in = 0.0
if refractory <= 0.0:
    y3 = (P30 * (y0 + I_e) + P31ex * dI_ex + P32ex * I_ex + P31in * dI_in + P32in * I_in
          + P33m1 * y3 + y3)
    if y3 < y_min:
        y3 = y_min
else:
    refractory = refractory - 1.0
I_ex = dt * P11ex * dI_ex + P11ex * I_ex
dI_ex = dI_ex * P11ex
I_in = dt * P11in * dI_in + P11in * I_in
dI_in = dI_in * P11in
if y3 >= theta:
    refractory = ref_steps
    y3 = y_reset
    NET_EVENT(t)
V_m = y3 + E_L
""",
    # a weight w gives a current peaking at w pA, tau_syn after the event
    net_receive="""
if weight > 0.0:
    W_ex = W_ex + weight
else:
    W_in = W_in + weight
""",
    net_receive_args=("weight",),
    # NEST's own checks of these parameters (its set_status refuses the same values)
    positive=("C_m", "tau_m", "tau_syn_ex", "tau_syn_in"),
    nonnegative=("t_ref",),
    ordered=(("V_reset", "V_th"),),
    doc="NEST's iaf_psc_alpha: LIF with alpha-shaped currents, exact integration.",
)

IAF_PSC_DELTA = Mechanism(
    name="iaf_psc_delta",
    kind="artificial",
    parameters={"C_m": 250.0, "tau_m": 10.0, "t_ref": 2.0, "E_L": -70.0, "V_th": -55.0,
                "V_reset": -70.0, "I_e": 0.0, "V_min": -1e300, "refractory_input": 0.0,
                "V_init": -70.0},
    # as NEST: the potential relative to E_L (y3), a step's spike weights summed (W, mV)
    # before they jump it; spikes arriving while refractory are dropped or, with
    # refractory_input, kept decayed to the end of the refractory period (refr_buffer)
    states=("V_m", "refractory", "y3", "W", "refr_buffer", "y0"),
    assigned=("P30", "P33", "ref_steps", "theta", "y_reset", "y_min"),
    init="""
V_m = V_init
y3 = V_init - E_L
theta = V_th - E_L
y_reset = V_reset - E_L
y_min = V_min - E_L
P33 = math.exp(-dt / tau_m)
P30 = 1.0 / C_m * (1.0 - P33) * tau_m
ref_steps = float(int(t_ref / dt + 0.5))
""",
    advance="""
if refractory <= 0.0:
    y3 = P30 * (y0 + I_e) + P33 * y3 + W
    if refractory_input != 0.0 and refr_buffer != 0.0:
        y3 = y3 + refr_buffer
        refr_buffer = 0.0
    if y3 < y_min:
        y3 = y_min
else:
    if refractory_input != 0.0:
        refr_buffer = refr_buffer + W * math.exp(-refractory * dt / tau_m)
    refractory = refractory - 1.0
W = 0.0
if y3 >= theta:
    refractory = ref_steps
    y3 = y_reset
    NET_EVENT(t)
V_m = y3 + E_L
""",
    # a weight w (mV) makes V jump by w, in the step that ends at the event's time, as NEST
    net_receive="""
W = W + weight
""",
    net_receive_args=("weight",),
    event_lead=1,
    # NEST's own checks of these parameters (its set_status refuses the same values)
    positive=("C_m", "tau_m"),
    nonnegative=("t_ref",),
    ordered=(("V_reset", "V_th"),),
    doc="NEST's iaf_psc_delta: LIF whose potential jumps by each spike's weight (mV), exact "
        "integration.",
)

# conductance-based models: a weight (nS) opens the excitatory or, negative, the inhibitory
# conductance
_CONDUCTANCE_INPUT = """
if weight > 0.0:
    g_ex = g_ex + weight
else:
    g_in = g_in - weight
"""

_CONDUCTANCE_LIF_HELPERS = '''
@device_function
def iaf_cond_exp_dv(V, g_ex, g_in, C_m, g_L, E_L, E_ex, E_in, I_e, V_th):
    V = min(V, V_th)
    return (-g_L * (V - E_L) - g_ex * (V - E_ex) - g_in * (V - E_in) + I_e) / C_m
'''

IAF_COND_EXP = Mechanism(
    name="iaf_cond_exp",
    kind="artificial",
    parameters={"C_m": 250.0, "g_L": 16.6667, "t_ref": 2.0, "E_L": -70.0, "V_th": -55.0,
                "V_reset": -60.0, "E_ex": 0.0, "E_in": -85.0, "tau_syn_ex": 0.2,
                "tau_syn_in": 2.0, "I_e": 0.0, "V_init": -70.0},
    states=("V_m", "g_ex", "g_in", "refractory"),
    assigned=("substeps", "ref_steps"),
    helpers=_CONDUCTANCE_LIF_HELPERS,
    init="""
V_m = V_init
substeps = float(max(1, math.ceil(dt / 0.025 - 1e-9)))
ref_steps = float(int(t_ref / dt + 0.5))
""",
    # RK4 on V with the conductances' exact exponential decay at the stage times
    advance="""
if refractory <= 0.0:
    _h = dt / substeps
    _dex = math.exp(-0.5 * _h / tau_syn_ex)
    _din = math.exp(-0.5 * _h / tau_syn_in)
    for _q in range(int(substeps)):
        _ge1, _gi1 = g_ex, g_in
        _ge2, _gi2 = g_ex * _dex, g_in * _din
        _ge3, _gi3 = _ge2 * _dex, _gi2 * _din
        _k1 = iaf_cond_exp_dv(V_m, _ge1, _gi1, C_m, g_L, E_L, E_ex, E_in, I_e, V_th)
        _k2 = iaf_cond_exp_dv(V_m + 0.5 * _h * _k1, _ge2, _gi2, C_m, g_L, E_L, E_ex, E_in, I_e, V_th)
        _k3 = iaf_cond_exp_dv(V_m + 0.5 * _h * _k2, _ge2, _gi2, C_m, g_L, E_L, E_ex, E_in, I_e, V_th)
        _k4 = iaf_cond_exp_dv(V_m + _h * _k3, _ge3, _gi3, C_m, g_L, E_L, E_ex, E_in, I_e, V_th)
        V_m = V_m + _h / 6.0 * (_k1 + 2.0 * _k2 + 2.0 * _k3 + _k4)
        g_ex, g_in = _ge3, _gi3
else:
    g_ex = g_ex * math.exp(-dt / tau_syn_ex)
    g_in = g_in * math.exp(-dt / tau_syn_in)
if refractory > 0.0:
    refractory = refractory - 1.0
    V_m = V_reset
elif V_m >= V_th:
    refractory = ref_steps
    V_m = V_reset
    NET_EVENT(t)
""",
    net_receive=_CONDUCTANCE_INPUT,
    net_receive_args=("weight",),
    # NEST's own checks of these parameters (its set_status refuses the same values)
    positive=("C_m", "tau_syn_ex", "tau_syn_in"),
    nonnegative=("t_ref",),
    ordered=(("V_reset", "V_th"),),
    doc="NEST's iaf_cond_exp: LIF with exponential conductances (nS).",
)

_ADEX_HELPERS = '''
@device_function
def aeif_cond_exp_rhs(V, g_ex, g_in, w, refractory, C_m, g_L, E_L, E_ex, E_in, I_e,
                      Delta_T, V_th, V_peak, V_reset, a, tau_w):
    # dV/dt and dw/dt; V held at V_reset while refractory, bounded by V_peak otherwise
    V = V_reset if refractory > 0.0 else min(V, V_peak)
    spike = g_L * Delta_T * math.exp((V - V_th) / Delta_T) if Delta_T > 0.0 else 0.0
    dv = 0.0 if refractory > 0.0 else (
        -g_L * (V - E_L) + spike - g_ex * (V - E_ex) - g_in * (V - E_in) - w + I_e) / C_m
    return dv, (a * (V - E_L) - w) / tau_w


@device_function
def aeif_cond_exp_rk4(h, V, w, g_ex, g_in, refractory, C_m, g_L, E_L, E_ex, E_in, I_e,
                      Delta_T, V_th, V_peak, V_reset, a, tau_syn_ex, tau_syn_in, tau_w):
    # one classical Runge-Kutta step of h; the conductances decay exactly
    dex = math.exp(-0.5 * h / tau_syn_ex)
    din = math.exp(-0.5 * h / tau_syn_in)
    ge2, gi2 = g_ex * dex, g_in * din
    ge3, gi3 = ge2 * dex, gi2 * din
    v1, w1 = aeif_cond_exp_rhs(V, g_ex, g_in, w, refractory, C_m, g_L, E_L, E_ex, E_in,
                               I_e, Delta_T, V_th, V_peak, V_reset, a, tau_w)
    v2, w2 = aeif_cond_exp_rhs(V + 0.5 * h * v1, ge2, gi2, w + 0.5 * h * w1, refractory, C_m,
                               g_L, E_L, E_ex, E_in, I_e, Delta_T, V_th, V_peak, V_reset, a,
                               tau_w)
    v3, w3 = aeif_cond_exp_rhs(V + 0.5 * h * v2, ge2, gi2, w + 0.5 * h * w2, refractory, C_m,
                               g_L, E_L, E_ex, E_in, I_e, Delta_T, V_th, V_peak, V_reset, a,
                               tau_w)
    v4, w4 = aeif_cond_exp_rhs(V + h * v3, ge3, gi3, w + h * w3, refractory, C_m, g_L, E_L,
                               E_ex, E_in, I_e, Delta_T, V_th, V_peak, V_reset, a, tau_w)
    return (V + h / 6.0 * (v1 + 2.0 * v2 + 2.0 * v3 + v4),
            w + h / 6.0 * (w1 + 2.0 * w2 + 2.0 * w3 + w4), ge3, gi3)
'''

AEIF_COND_EXP = Mechanism(
    name="aeif_cond_exp",
    kind="artificial",
    parameters={"C_m": 281.0, "g_L": 30.0, "t_ref": 0.0, "E_L": -70.6, "V_th": -50.4,
                "V_peak": 0.0, "V_reset": -60.0, "E_ex": 0.0, "E_in": -85.0,
                "tau_syn_ex": 0.2, "tau_syn_in": 2.0, "Delta_T": 2.0, "a": 4.0, "b": 80.5,
                "tau_w": 144.0, "I_e": 0.0, "V_init": -70.6},
    states=("V_m", "w", "g_ex", "g_in", "refractory"),
    assigned=("substeps", "ref_steps", "V_spike"),
    helpers=_ADEX_HELPERS,
    init="""
V_m = V_init
substeps = float(max(1, math.ceil(dt / 0.01 - 1e-9)))
ref_steps = float(int(t_ref / dt + 0.5))
V_spike = V_peak if Delta_T > 0.0 else V_th
""",
    # RK4 substeps; a spike is handled inside the step (spike-triggered adaptation), as
    # NEST does between its integrator's steps
    advance="""
_h = dt / substeps
_done = 0.0
while _done < dt - 1e-12:
    # on the upswing of a spike (V above V_th) steps ten times shorter, so the reset and
    # its adaptation come at the crossing, as NEST's adaptive integrator places them
    _hq = _h if (V_m < V_th or refractory > 0.0) else 0.1 * _h
    _hq = min(_hq, dt - _done)
    V_m, w, g_ex, g_in = aeif_cond_exp_rk4(
        _hq, V_m, w, g_ex, g_in, refractory, C_m, g_L, E_L, E_ex, E_in, I_e, Delta_T, V_th,
        V_peak, V_reset, a, tau_syn_ex, tau_syn_in, tau_w)
    _done += _hq
    if refractory > 0.0:
        V_m = V_reset
    elif V_m >= V_spike:
        V_m = V_reset
        w = w + b
        refractory = ref_steps + 1.0 if ref_steps > 0.0 else 0.0
        NET_EVENT(t)
if refractory > 0.0:
    refractory = refractory - 1.0
""",
    net_receive=_CONDUCTANCE_INPUT,
    net_receive_args=("weight",),
    # NEST's own checks of these parameters (its set_status refuses the same values)
    positive=("C_m", "tau_w", "tau_syn_ex", "tau_syn_in"),
    nonnegative=("t_ref", "Delta_T"),
    ordered=(("V_reset", "V_peak"),),
    doc="NEST's aeif_cond_exp: adaptive exponential LIF with exponential conductances.",
)

IZHIKEVICH = Mechanism(
    name="izhikevich",
    kind="artificial",
    parameters={"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, "I_e": 0.0, "V_th": 30.0,
                "V_min": -1e300, "V_init": -65.0, "U_init": -13.0},
    states=("V_m", "U_m", "jump"),
    init="""
V_m = V_init
U_m = U_init
""",
    # the events of a step are summed and added to V before its threshold check, as NEST
    # adds them with the step that ends at their time.  One difference: an input arriving in
    # the step in which V crosses threshold by itself is lost in NEST's reset, while here it
    # lands after the reset (and may add a spike).
    advance="""
if jump != 0.0:
    V_m = max(V_m + jump, V_min)
    jump = 0.0
    if V_m >= V_th:
        V_m = c
        U_m = U_m + d
        NET_EVENT(t - dt)
_vold = V_m
V_m = _vold + dt * (0.04 * _vold * _vold + 5.0 * _vold + 140.0 - U_m + I_e)
U_m = U_m + dt * a * (b * _vold - U_m)
V_m = max(V_m, V_min)
if V_m >= V_th:
    V_m = c
    U_m = U_m + d
    NET_EVENT(t)
""",
    net_receive="jump = jump + weight",
    net_receive_args=("weight",),
    doc="NEST's izhikevich (consistent integration); weights in mV.",
)
