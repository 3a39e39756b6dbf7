"""The cortical microcircuit of Potjans & Diesmann (2014, Cereb. Cortex 24:785): the
neurons under 1 mm² of early sensory cortex, four layers of an excitatory and an inhibitory
population each, LIF neurons with exponential currents (NEST's iaf_psc_exp, exact
integration).

The network is the one NEST's own implementation builds — the PyPI package
``microcircuit`` 1.0 (``network.py``, ``network_params.py``, ``helpers.py``) — so that a
comparison with it is of simulators, not of models:

- ``scale`` multiplies the neuron numbers (rounded), ``scale x k_scale`` the paper's total
  synapse numbers (rounded); each projection is NEST's ``fixed_total_number`` (uniform
  (source, target) pairs, multapses and autapses), not a fixed in-degree;
- weights: a 0.15 mV PSP as a current (87.8 pA), g = -4, L4E -> L2/3E doubled, relative sd
  0.1, redrawn across zero; divided by sqrt(k_scale), and a DC adds the mean input lost,
  computed from the package's full-scale rates (``FULL_MEAN_RATES``, not the paper's);
- delays 1.5 ms (excitatory) and 0.75 ms (inhibitory), relative sd 0.5, redrawn below
  dt/2 and then rounded to the step as NEST rounds a delay (so the least is one step);
- background: ``"dc"`` (the package's default), the mean of 8 Hz x K_ext full-scale
  inputs as a current; or ``"poisson"``, a Poisson input per neuron at
  8 Hz x round(K_ext x k_scale) (``Network.add_poisson_drive``, NEST's poisson_generator);
- V_m starts from N(V0_MEAN[i], V0_SD[i]) per population (the package's "optimized"
  initial conditions, which shorten the start-up transient); dt 0.1 ms.

``PUBLISHED_RATES``: the paper's full-scale population rates (Hz), for the figure.
"""

from dataclasses import dataclass

import numpy as np

import neurosim as ns
from neurosim.description.connectivity import rng

POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
N_FULL = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
# connection probability from source population (column) to target (row)
CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443]])
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])
PUBLISHED_RATES = np.array([0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523])
# the package's full-scale rates, from which the DC of a reduced network is computed
FULL_MEAN_RATES = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])
NEURON = dict(C_m=250.0, tau_m=10.0, tau_syn_ex=0.5, tau_syn_in=0.5, t_ref=2.0, E_L=-65.0,
              V_th=-50.0, V_reset=-65.0)
PSP_E, G, BG_RATE, WEIGHT_SD = 0.15, -4.0, 8.0, 0.1
DELAY_E, DELAY_I, DELAY_SD = 1.5, 0.75, 0.5
V0_MEAN = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_SD = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
STREAM_V0 = 7                       # the initial V_m's generator (connectivity.rng's stream)


def psc_of_psp(psp, C_m=250.0, tau_m=10.0, tau_syn=0.5):
    """The current amplitude (pA) of an exponential PSC whose PSP peaks at ``psp`` mV."""
    ratio = tau_m / tau_syn
    peak = (tau_m * tau_syn / (C_m * (tau_syn - tau_m)) *
            (ratio ** (-tau_m / (tau_m - tau_syn)) - ratio ** (-tau_syn / (tau_m - tau_syn))))
    return psp / peak


def full_synapses():
    """Synapses at full scale, target x source: log(1 - p) / log(1 - 1 / (N_t N_s)),
    written as the package writes it (log((N_t N_s - 1) / (N_t N_s)), 4e-8 off log1p), so
    that the rounded synapse numbers and the DC are the package's to the last digit."""
    prod = np.outer(N_FULL, N_FULL).astype(float)
    return np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod)


def full_indegrees():
    """Mean in-degree (synapses per target neuron) at full scale, target x source."""
    return full_synapses() / N_FULL[:, None]


def weights():
    """Mean PSC amplitude (pA) of each connection at full scale, target x source."""
    w = np.full((8, 8), psc_of_psp(PSP_E))
    w[:, 1::2] *= G
    w[0, 2] *= 2.0                                  # L4E -> L2/3E doubled
    return w


def plan(scale=0.1, k_scale=None, background="poisson"):
    """The numbers of a scaled network, as the package derives them: neurons, synapses per
    projection, weights (pA), DC (pA), and the background's rate per neuron (Hz), in-degree
    and weight."""
    k_scale = scale if k_scale is None else k_scale
    if not (0.0 < scale <= 1.0 and 0.0 < k_scale <= 1.0):
        raise ns.ParameterError(f"scale and k_scale must be in (0, 1], got {scale}, {k_scale}")
    if background not in ("poisson", "dc"):
        raise ns.ParameterError(f"background must be 'poisson' or 'dc', got {background!r}")
    w_full, w_ext = weights(), psc_of_psp(PSP_E)
    root = np.sqrt(k_scale)
    tau = NEURON["tau_syn_ex"] * 1e-3                 # s
    recurrent = (w_full * full_indegrees() * FULL_MEAN_RATES[None, :]).sum(axis=1)
    external = w_ext * K_EXT * BG_RATE
    dc = tau * (1.0 - root) * recurrent
    # the package: a DC background is the full-scale mean, a Poisson one's lost mean is added
    dc += tau * (external if background == "dc" else (1.0 - root) * external)
    k_ext = np.round(K_EXT * k_scale).astype(int)
    return dict(n=np.maximum(1, np.round(N_FULL * scale)).astype(int),
                synapses=np.round(full_synapses() * scale * k_scale).astype(int),
                weight=w_full / root, dc=dc, k_ext=k_ext, bg_rate=BG_RATE * k_ext,
                bg_weight=w_ext / root, k_scale=k_scale, background=background)


@dataclass(frozen=True)
class NestDelay:
    """Normal(mean, sd) redrawn below dt/2, then rounded to the step: the package's
    ``redraw(normal, min=dt/2)`` and NEST's rounding of a delay to the nearest step."""
    mean: float
    sd: float
    dt: float

    def draw(self, g, n):
        d = ns.Normal(self.mean, self.sd, low=0.5 * self.dt).draw(g, n)
        return np.maximum(1, np.round(d / self.dt)) * self.dt


def microcircuit(scale=0.1, k_scale=None, background="poisson", seed=1, dt=0.1):
    """The network and its populations {name: gids}."""
    p = plan(scale, k_scale, background)
    net = ns.Network(seed=seed)
    pops = {}
    for i, name in enumerate(POPULATIONS):
        n = int(p["n"][i])
        # keyed on the population's index: the same V_m whoever builds the network
        g = rng(seed, i, STREAM_V0)
        pops[name] = net.add_cells(ns.models.LIF(**NEURON, I_e=float(p["dc"][i])), n=n,
                                   V_init=g.normal(V0_MEAN[i], V0_SD[i], n))
    for t, target in enumerate(POPULATIONS):
        for s, source in enumerate(POPULATIONS):
            n_syn = int(p["synapses"][t, s])
            if n_syn == 0:
                continue
            w = float(p["weight"][t, s])
            sign = dict(low=0.0) if w > 0 else dict(high=0.0)
            mean = DELAY_E if s % 2 == 0 else DELAY_I
            net.connect_rule(pops[source], pops[target], ns.FixedTotalNumber(n_syn),
                             weight=ns.Normal(w, WEIGHT_SD * abs(w), **sign),
                             delay=NestDelay(mean, DELAY_SD * mean, dt))
    if background == "poisson":             # a Poisson generator per neuron, in the kernel
        for i, name in enumerate(POPULATIONS):
            net.add_poisson_drive([int(g) for g in pops[name]], rate=float(p["bg_rate"][i]),
                                  weight=float(p["bg_weight"]))
    return net, pops


def rates(spikes, pops, start, stop):
    """Mean rate (Hz) of each population over [start, stop) ms."""
    keep = (spikes.times >= start) & (spikes.times < stop)
    gids = spikes.gids[keep]
    return np.array([np.isin(gids, pops[name]).sum() / len(pops[name]) /
                     ((stop - start) * 1e-3) for name in POPULATIONS])
