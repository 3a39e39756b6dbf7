"""The Potjans & Diesmann microcircuit against NEST's own implementation (the PyPI package
``microcircuit`` 1.0) run in the same test: the same network numbers, and population rates
over seeds at scale 0.05 that agree within their seed-to-seed spread.

NEST runs in a process of its own (scripts/nest_microcircuit.py): importing NEST sets the
process's dlopen flags to RTLD_GLOBAL for good, which changes how every library loaded
after it binds (see tests/io/test_sonata.py::test_the_reader_closes_the_files_it_has_read)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import neurosim as ns
from neurosim.models import microcircuit as mc

pytest.importorskip("nest", reason="nest-simulator is a dev dependency")
pytest.importorskip("microcircuit", reason="the microcircuit package is a dev dependency")

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "nest_microcircuit.py")
SCALE, TSTOP, TRANSIENT, SEEDS = 0.05, 1000.0, 200.0, (1, 2, 3)


def nest_run(seed, background="poisson", scale=SCALE):
    done = subprocess.run([sys.executable, SCRIPT, "--scale", str(scale), "--seed", str(seed),
                           "--tstop", str(TSTOP), "--transient", str(TRANSIENT),
                           "--background", background],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def neurosim_rates(seed, background="poisson", scale=SCALE):
    net, pops = mc.microcircuit(scale, background=background, seed=seed)
    sim = ns.Simulation(net, dt=0.1)
    spikes = sim.record_spikes(np.concatenate([pops[p] for p in mc.POPULATIONS]))
    sim.run(TSTOP)
    return mc.rates(spikes, pops, TRANSIENT, TSTOP), net.n_connections


def test_the_network_numbers_are_the_packages():
    """Neurons, synapses per projection, weights, the DC and the background of the package's
    Network (its own derivation, at two scales and both backgrounds) are ours."""
    import tempfile

    from microcircuit.network_params import default_net_dict
    script = ("import copy, json, sys, nest\n"
              "from microcircuit.network import Network\n"
              "from microcircuit.network_params import default_net_dict as d\n"
              "from microcircuit.sim_params import default_sim_dict as s\n"
              "from microcircuit.stimulus_params import default_stim_dict as st\n"
              "out = []\n"
              "for scale, bg in ((0.05, 'poisson'), (0.3, 'dc')):\n"
              "    d2 = copy.deepcopy(d); d2.update(N_scaling=scale, K_scaling=scale, "
              "bg_input_type=bg)\n"
              "    n = Network(dict(s, data_path=sys.argv[1] + '/', rec_dev=[], "
              "local_num_threads=1), d2, st)\n"
              "    out.append(dict(n=n.num_neurons.tolist(), syn=n.num_synapses.tolist(), "
              "w=n.weight_matrix_mean.tolist(), w_ext=float(n.weight_ext), "
              "dc=list(map(float, n.DC_amp)), k_ext=n.ext_indegrees.tolist()))\n"
              "print(json.dumps(out))\n")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-c", script, tmp], capture_output=True,
                              text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    for (scale, bg), t in zip(((0.05, "poisson"), (0.3, "dc")), theirs):
        p = mc.plan(scale, background=bg)
        np.testing.assert_array_equal(p["n"], t["n"])
        np.testing.assert_array_equal(p["synapses"], t["syn"])
        np.testing.assert_allclose(p["weight"], t["w"], rtol=1e-12)
        assert p["bg_weight"] == pytest.approx(t["w_ext"], rel=1e-12)
        np.testing.assert_allclose(p["dc"], t["dc"], rtol=1e-12)
        np.testing.assert_array_equal(p["k_ext"], t["k_ext"])
    np.testing.assert_array_equal(mc.N_FULL, default_net_dict["full_num_neurons"])
    np.testing.assert_array_equal(mc.CONN_PROBS, default_net_dict["conn_probs"])
    np.testing.assert_array_equal(mc.FULL_MEAN_RATES, default_net_dict["full_mean_rates"])
    np.testing.assert_array_equal(mc.V0_MEAN,
                                  default_net_dict["neuron_params"]["V0_mean"]["optimized"])
    np.testing.assert_array_equal(mc.V0_SD,
                                  default_net_dict["neuron_params"]["V0_std"]["optimized"])


def test_fixed_total_number_delays_and_initial_potentials_are_nests():
    """As the package draws them: each projection has exactly its synapse number, in-degrees
    spread as a multinomial (variance N p (1 - p)), autapses and multapses present, no
    delay under one step and the steps of a normal redrawn below dt/2, V_m per population
    from the package's (mean, sd)."""
    net, pops = mc.microcircuit(0.05, background="dc", seed=4)
    plan = mc.plan(0.05, background="dc")
    src, tgt, _, w, d = net.connections()
    where = np.empty(max(int(g) for p in pops.values() for g in p) + 1, dtype=int)
    for k, name in enumerate(mc.POPULATIONS):
        where[np.asarray(pops[name], dtype=int)] = k
    s, t = where[src], where[tgt]
    counts = np.zeros((8, 8), dtype=int)
    np.add.at(counts, (t, s), 1)
    np.testing.assert_array_equal(counts, plan["synapses"])
    w = w[:, 0]
    assert np.all(w[s % 2 == 0] > 0) and np.all(w[s % 2 == 1] < 0)      # redrawn, not 0
    # L2/3E -> L2/3E: 1034 targets share the synapses; in-degrees spread binomially
    sel = (s == 0) & (t == 0)
    n_t, n_syn = plan["n"][0], plan["synapses"][0, 0]
    indeg = np.bincount(tgt[sel], minlength=int(tgt[sel].max()) + 1)[pops["L23E"]]
    var = n_syn / n_t * (1 - 1 / n_t)
    assert indeg.var() == pytest.approx(var, rel=0.15)
    assert np.any(src[sel] == tgt[sel])                                 # autapses
    pairs = src[sel] * 10**7 + tgt[sel]
    assert len(np.unique(pairs)) < len(pairs)                           # multapses
    steps = np.round(d / 0.1)
    np.testing.assert_allclose(d, steps * 0.1, atol=1e-12)
    assert steps.min() == 1
    inh = d[s % 2 == 1]                          # N(0.75, 0.375) redrawn below 0.05
    from scipy.stats import truncnorm
    a = (0.05 - 0.75) / 0.375
    law = truncnorm(a, np.inf, loc=0.75, scale=0.375)
    expected = law.cdf(0.15) - law.cdf(0.05)     # the share rounded to one step
    assert np.mean(np.round(inh / 0.1) == 1) == pytest.approx(expected, abs=0.01)
    for i, name in enumerate(mc.POPULATIONS):
        mech, _ = net.artificial[int(pops[name][0])]
        key = mech.resolve_parameter("V_init")
        v0 = np.array([net.artificial[int(g)][1][key] for g in pops[name]])
        assert abs(v0.mean() - mc.V0_MEAN[i]) < 4 * mc.V0_SD[i] / np.sqrt(len(v0)), name
        assert v0.std() == pytest.approx(mc.V0_SD[i], rel=0.3 if len(v0) < 100 else 0.12)


def test_population_rates_equal_nests_over_seeds():
    """Scale 0.05, Poisson background, 3 seeds each, rates over 200-1000 ms: every
    population's mean rate within 4 standard errors (seed to seed, both simulators) plus
    0.1 Hz of NEST's; the order of the excitatory populations (L2/3E and L6E the quietest)
    the same."""
    ours = np.array([neurosim_rates(seed)[0] for seed in SEEDS])
    theirs = np.array([nest_run(seed)["rates"] for seed in SEEDS])
    sem = np.sqrt(ours.var(axis=0, ddof=1) / len(SEEDS) + theirs.var(axis=0, ddof=1) /
                  len(SEEDS))
    diff = np.abs(ours.mean(axis=0) - theirs.mean(axis=0))
    report = dict(zip(mc.POPULATIONS, zip(ours.mean(0).round(3), theirs.mean(0).round(3))))
    assert np.all(diff < 4 * sem + 0.1), report
    assert np.all(theirs.mean(0) > 0.1), report                  # the network is not silent
    assert set(np.argsort(ours.mean(0)[0::2])[:2]) == {0, 3} == \
        set(np.argsort(theirs.mean(0)[0::2])[:2]), report
