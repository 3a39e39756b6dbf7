"""NEST's ``glif_psc``: the Allen Institute's generalized LIF models GLIF1-5 (after-spike
currents, spike- and voltage-dependent threshold), exact as NEST steps them, with alpha currents
on up to GLIF_MAX_PORTS receptor ports; NEST's vector parameters are indexed scalars
(``glif_psc_parameters``), a connection's second weight is its receptor port.  Units and
event timing as the other point neurons (:mod:`.point_neurons`)."""

import numpy as np

from ...errors import ParameterError
from ..base import Mechanism
from .point_neurons import exact_lif_propagators


# glif_psc: NEST's vector parameters as fixed-size scalars (name_0, name_1, ...)
GLIF_MAX_PORTS = 4      # tau_syn entries: receptor ports 1..4
GLIF_MAX_ASC = 4        # after-spike currents: asc_decay, asc_amps, asc_r, asc_init entries
_P, _A = range(GLIF_MAX_PORTS), range(GLIF_MAX_ASC)


def _glif_init():
    lines = ["""
U = V_init - E_L
V_m = V_init
th_inf = V_th - E_L
U_reset = V_reset - E_L
threshold = th_inf
_tau = C_m / g
P33 = math.exp(-dt / _tau)
P30 = 1.0 / C_m * (1.0 - P33) * _tau
_tps = int(dt * 1000.0 + 0.5)
ref_steps = float((int(t_ref * 1000.0 + 0.5) + _tps - 1) // _tps)
if spike_dependent_threshold != 0.0:
    th_spike_rate = math.exp(-th_spike_decay * dt)
    th_spike_ref_rate = math.exp(-th_spike_decay * t_ref)
if adapting_threshold != 0.0:
    potential_rate = math.exp(-g * dt / C_m)
    th_voltage_rate_inv = 1.0 / math.exp(th_voltage_decay * dt)
    phi = th_voltage_index / (th_voltage_decay - g / C_m)
    ab_ratio = th_voltage_index / th_voltage_decay
tau_m = _tau
"""]
    for a in _A:
        lines.append(f"""
asc_rate_{a} = math.exp(-asc_decay_{a} * dt)
asc_coeff_{a} = ((1.0 / asc_decay_{a}) / dt) * (1.0 - asc_rate_{a})
asc_ref_rate_{a} = asc_r_{a} * math.exp(-asc_decay_{a} * t_ref)
""")
    for i in _P:
        lines.append(f"""
if tau_syn_{i} > 0.0:
""" + "\n".join("    " + ln for ln in exact_lif_propagators(str(i)).splitlines()) + f"""
    P21_{i} = dt * P11{i}
    psc_init_{i} = 1.0 * math.e / tau_syn_{i}
""")
    return "".join(lines)


def _glif_advance():
    head = "".join(f"y1_{i} = y1_{i} + psc_init_{i} * W_{i}\nW_{i} = 0.0\n" for i in _P)
    asc = "".join(f"""
        ASCurrents_sum = ASCurrents_sum + asc_coeff_{a} * ASC_{a}
        ASC_{a} = ASC_{a} * asc_rate_{a}""" for a in _A)
    syn = "".join(f"""
    U = U + (P31{i} * y1_{i} + P32{i} * y2_{i})
    I_syn = I_syn + y2_{i}""" for i in _P)
    asc_reset = "".join(f"""
            ASC_{a} = asc_amps_{a} + ASC_{a} * asc_ref_rate_{a}""" for a in _A)
    psc = "".join(f"""
y2_{i} = P21_{i} * y1_{i} + P11{i} * y2_{i}
y1_{i} = y1_{i} * P11{i}""" for i in _P)
    return head + f"""
_v_old = U
if refractory <= 0.0:
    if spike_dependent_threshold != 0.0:
        th_spike = th_spike * th_spike_rate
    ASCurrents_sum = 0.0
    if after_spike_currents != 0.0:{asc}
    U = _v_old * P33 + (y0 + ASCurrents_sum) * P30
    I_syn = 0.0{syn}
    if adapting_threshold != 0.0:
        _beta = (y0 + ASCurrents_sum) / g
        th_voltage = (phi * (_v_old - _beta) * potential_rate
                      + th_voltage_rate_inv * (th_voltage - phi * (_v_old - _beta)
                                               - ab_ratio * _beta)
                      + ab_ratio * _beta)
    threshold = th_spike + th_voltage + th_inf
    if U > threshold:
        refractory = ref_steps
        if after_spike_currents != 0.0:{asc_reset}
        if spike_dependent_threshold == 0.0:
            U = U_reset
        else:
            U = voltage_reset_fraction * _v_old + voltage_reset_add
            th_spike = th_spike * th_spike_ref_rate + th_spike_add
            threshold = th_spike + th_voltage + th_inf
        NET_EVENT(t)
else:
    refractory = refractory - 1.0
    U = _v_old
    threshold = th_spike + th_voltage + th_inf
{psc}
V_m = U + E_L
"""


def _glif_receive():
    lines = ["_port = int(receptor + 0.5)"]
    for i in _P:
        cond = "if _port <= 1" if i == 0 else f"elif _port == {i + 1}"
        lines.append(f"{cond}:\n    W_{i} = W_{i} + weight")
    return "\n".join(lines) + "\n"


_GLIF_VECTORS = {"asc_init": GLIF_MAX_ASC, "asc_decay": GLIF_MAX_ASC, "asc_amps": GLIF_MAX_ASC,
                 "asc_r": GLIF_MAX_ASC, "tau_syn": GLIF_MAX_PORTS}
# an entry beyond a vector's length: no such current (amplitude and value 0) or port (tau 0)
_GLIF_ABSENT = {"asc_init": 0.0, "asc_decay": 1.0, "asc_amps": 0.0, "asc_r": 1.0,
                "tau_syn": 0.0}
_GLIF_FLAGS = ("spike_dependent_threshold", "after_spike_currents", "adapting_threshold")


def glif_psc_parameters(params):
    """NEST's glif_psc parameters (vectors asc_init, asc_decay, asc_amps, asc_r, tau_syn;
    booleans) as the mechanism's scalars (asc_decay_0, ..., tau_syn_0, ...; 0/1).  Vectors
    longer than the mechanism holds (GLIF_MAX_ASC, GLIF_MAX_PORTS), and NEST's state
    variables that cannot be set here, are refused by name."""
    out, sizes = {}, {}
    for k, v in params.items():
        if k in _GLIF_VECTORS:
            vals = [float(x) for x in np.atleast_1d(np.asarray(v, dtype=float)).ravel()]
            if len(vals) > _GLIF_VECTORS[k] or (k == "tau_syn" and not vals):
                raise ParameterError(f"glif_psc: {k} has {len(vals)} entries; neurosim's "
                                     f"glif_psc holds 1 to {_GLIF_VECTORS[k]}")
            sizes[k] = len(vals)
            for i in range(_GLIF_VECTORS[k]):
                out[f"{k}_{i}"] = vals[i] if i < len(vals) else _GLIF_ABSENT[k]
        elif k in _GLIF_FLAGS:
            out[k] = 1.0 if bool(v) else 0.0
        elif k in ("ASCurrents", "threshold_spike", "threshold_voltage"):
            raise ParameterError(f"glif_psc: setting the state {k!r} is not supported (it "
                                 "starts at 0, as in a new NEST glif_psc)")
        else:
            out[k] = v
    asc = {k: n for k, n in sizes.items() if k.startswith("asc_")}
    if bool(out.get("after_spike_currents", 0.0)) and len(set(asc.values())) > 1:
        raise ParameterError(f"glif_psc: the after-spike current parameters must have the "
                             f"same size, got {asc}")
    return out


def _glif_check(v):
    """NEST's glif_psc set_status checks."""
    ts, asc, tv = (bool(v[f]) for f in _GLIF_FLAGS)
    if (ts, asc, tv) not in ((False, False, False), (True, False, False), (False, True, False),
                             (True, True, False), (True, True, True)):
        raise ParameterError(f"spike_dependent_threshold={ts}, after_spike_currents={asc}, "
                             f"adapting_threshold={tv} is not one of GLIF1-5's combinations")
    if asc:
        for a in _A:
            if not v[f"asc_decay_{a}"] > 0.0:
                raise ParameterError(f"asc_decay[{a}] = {v[f'asc_decay_{a}']} must be > 0")
            if not 0.0 <= v[f"asc_r_{a}"] <= 1.0:
                raise ParameterError(f"asc_r[{a}] = {v[f'asc_r_{a}']} must be in [0, 1]")
    if tv and not v["th_voltage_decay"] > 0.0:
        raise ParameterError("th_voltage_decay must be > 0")
    if ts:
        if not v["th_spike_decay"] > 0.0:
            raise ParameterError("th_spike_decay must be > 0")
        if not 0.0 <= v["voltage_reset_fraction"] <= 1.0:
            raise ParameterError("voltage_reset_fraction must be in [0, 1]")
    taus = [v[f"tau_syn_{i}"] for i in _P]
    n = glif_psc_ports(v)
    if n == 0 or any(t < 0.0 for t in taus) or any(t != 0.0 for t in taus[n:]):
        raise ParameterError(f"tau_syn {taus}: the receptor ports' time constants must be "
                             "> 0, from port 1 on without gaps (0: no such port)")


def glif_psc_ports(v):
    """How many receptor ports a glif_psc of parameters ``v`` has (its leading tau_syn > 0)."""
    n = 0
    while n < GLIF_MAX_PORTS and v.get(f"tau_syn_{n}", 0.0) > 0.0:
        n += 1
    return n


def _glif_check_event(values, weights):
    if len(weights) < 2:
        return None                  # no receptor given: port 1
    r, n = weights[1], glif_psc_ports(values)
    if r != int(r) or not 1 <= r <= n:
        return (f"glif_psc's receptor_type (the second weight) must be a port 1..{n} (one "
                f"per tau_syn entry), got {r:g}")
    return None


GLIF_PSC = Mechanism(
    name="glif_psc",
    kind="artificial",
    parameters=dict(
        [("g", 9.43), ("E_L", -78.85), ("V_th", -51.68), ("C_m", 58.72), ("t_ref", 3.75),
         ("V_reset", -78.85), ("th_spike_add", 0.37), ("th_spike_decay", 0.009),
         ("voltage_reset_fraction", 0.2), ("voltage_reset_add", 18.51),
         ("th_voltage_index", 0.005), ("th_voltage_decay", 0.09),
         ("spike_dependent_threshold", 0.0), ("after_spike_currents", 0.0),
         ("adapting_threshold", 0.0), ("V_init", -78.85)]
        + [(f"asc_init_{a}", 0.0) for a in _A]
        + [(f"asc_decay_{a}", (0.003, 0.1)[a] if a < 2 else 1.0) for a in _A]
        + [(f"asc_amps_{a}", (-9.18, -198.94)[a] if a < 2 else 0.0) for a in _A]
        + [(f"asc_r_{a}", 1.0) for a in _A]
        + [(f"tau_syn_{i}", 2.0 if i == 0 else 0.0) for i in _P]),
    # as NEST: U the potential relative to E_L (V_m = U + E_L), threshold = th_inf +
    # th_spike + th_voltage; ASC_a the after-spike currents; per receptor port i an alpha
    # current (y1_i, y2_i) and the step's summed weights W_i; y0 the step-current input
    states=("V_m", "U", "refractory", "threshold", "th_spike", "th_voltage",
            "ASCurrents_sum", "I_syn", "y0")
           + tuple(f"ASC_{a}" for a in _A)
           + tuple(f"{s}_{i}" for i in _P for s in ("y1", "y2", "W")),
    assigned=("P33", "P30", "tau_m", "ref_steps", "th_inf", "U_reset", "th_spike_rate",
              "th_spike_ref_rate", "potential_rate", "th_voltage_rate_inv", "phi", "ab_ratio")
             + tuple(f"{s}_{a}" for a in _A for s in ("asc_rate", "asc_coeff", "asc_ref_rate"))
             + tuple(f"{s}{i}" for i in _P for s in ("P11", "P31", "P32"))
             + tuple(f"{s}_{i}" for i in _P for s in ("P21", "psc_init")),
    init=_glif_init(),
    advance=_glif_advance(),
    # a weight w onto port `receptor` (1-based, NEST's receptor_type; 0, a connection
    # without one: port 1) gives an alpha current peaking at w pA tau_syn after the event
    net_receive=_glif_receive(),
    net_receive_args=("weight", "receptor"),
    positive=("C_m", "g", "t_ref"),
    ordered=(("V_reset", "V_th"),),
    check=_glif_check,
    check_event=_glif_check_event,
    doc="NEST's glif_psc: the Allen Institute's generalized LIF models GLIF1-5 (spike-"
        "dependent threshold, after-spike currents, voltage-dependent threshold) with "
        "alpha-shaped currents on up to 4 receptor ports; exact integration.",
)
