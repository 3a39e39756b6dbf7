"""NEST's own microcircuit (the PyPI package ``microcircuit`` 1.0) at a scale, in this
process: population rates, set-up and run times and peak memory, as JSON on the last line
of stdout.  Meant to run in a process of its own (tests/models/test_microcircuit_nest.py and
scripts/bench_microcircuit.py start it): importing NEST changes the process's dlopen flags
for good (RTLD_GLOBAL), and a process's peak memory is one network's only in a fresh one.

    python scripts/nest_microcircuit.py [--scale 0.05] [--tstop 1000] [--transient 200]
                                        [--seed 55] [--threads 1] [--background poisson]
    python scripts/nest_microcircuit.py --brunel [--threads 1] [--tstop 1000]

The network is the package's (``Network``, its parameter dictionaries) with only the scale,
seed, threads and background set; its file output is off and one in-memory spike recorder
counts the spikes.  ``--brunel``: NEST's brunel_alpha_nest.py example network instead
(12 500 iaf_psc_alpha neurons), timed the same way.
"""

import argparse
import copy
import json
import resource
import sys
import tempfile
import time

import numpy as np


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def microcircuit(args):
    import nest
    from microcircuit.network import Network
    from microcircuit.network_params import default_net_dict
    from microcircuit.sim_params import default_sim_dict
    from microcircuit.stimulus_params import default_stim_dict
    net_dict = copy.deepcopy(default_net_dict)
    net_dict.update(N_scaling=args.scale, K_scaling=args.scale, bg_input_type=args.background)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:    # the package makes a data folder
        sim_dict = dict(default_sim_dict, data_path=tmp + "/", rec_dev=[], rng_seed=args.seed,
                        local_num_threads=args.threads, print_time=False)
        net = Network(sim_dict, net_dict, copy.deepcopy(default_stim_dict))
        nest.set_verbosity("M_ERROR")
        net.create()
        recorder = nest.Create("spike_recorder")
        for pop in net.pops:
            nest.Connect(pop, recorder)
        net.connect()                           # with NEST's Prepare: the whole set-up
    t1 = time.perf_counter()
    nest.Simulate(args.tstop)
    t2 = time.perf_counter()
    ev = recorder.get("events")
    senders, times = np.asarray(ev["senders"]), np.asarray(ev["times"])
    keep = (times >= args.transient) & (times < args.tstop)
    seconds = (args.tstop - args.transient) * 1e-3
    rates = [float(np.isin(senders[keep], pop.tolist()).sum() / len(pop) / seconds)
             for pop in net.pops]
    n = int(sum(len(p) for p in net.pops))
    devices = n * (2 if args.background == "poisson" else 1)     # recorder, generators
    return dict(rates=rates, neurons=n, connections=int(nest.num_connections) - devices,
                spikes=int(len(times)), setup_s=t1 - t0, run_s=t2 - t1)


def brunel(args):
    """brunel_alpha_nest.py's network: NE = 10 000, NI = 2 500, CE = 1 000, CI = 250,
    g = 5, eta = 2, J = 0.1 mV, delay 1.5 ms, iaf_psc_alpha, a Poisson drive per neuron."""
    import nest
    nest.set_verbosity("M_ERROR")
    t0 = time.perf_counter()
    nest.ResetKernel()
    nest.local_num_threads, nest.resolution, nest.rng_seed = args.threads, 0.1, args.seed
    p = brunel_params()
    neurons = nest.Create("iaf_psc_alpha", p["NE"] + p["NI"], params=p["neuron"])
    exc, inh = neurons[:p["NE"]], neurons[p["NE"]:]
    noise = nest.Create("poisson_generator", params={"rate": p["p_rate"]})
    recorder = nest.Create("spike_recorder")
    nest.CopyModel("static_synapse", "excitatory", {"weight": p["J_ex"], "delay": p["delay"]})
    nest.CopyModel("static_synapse", "inhibitory", {"weight": p["J_in"], "delay": p["delay"]})
    nest.Connect(noise, neurons, syn_spec="excitatory")
    nest.Connect(neurons, recorder)
    nest.Connect(exc, neurons, {"rule": "fixed_indegree", "indegree": p["CE"]}, "excitatory")
    nest.Connect(inh, neurons, {"rule": "fixed_indegree", "indegree": p["CI"]}, "inhibitory")
    nest.Prepare()
    nest.Cleanup()
    t1 = time.perf_counter()
    nest.Simulate(args.tstop)
    t2 = time.perf_counter()
    times = np.asarray(recorder.get("events")["times"])
    rate = float((times >= args.transient).sum() / len(neurons) /
                 ((args.tstop - args.transient) * 1e-3))
    return dict(rates=[rate], neurons=len(neurons), spikes=int(len(times)),
                setup_s=t1 - t0, run_s=t2 - t1)


def brunel_params():
    """The numbers of brunel_alpha_nest.py (NEST's examples), J as a PSC amplitude (pA)
    whose alpha PSP peaks at 0.1 mV."""
    from scipy.special import lambertw
    order, epsilon, g, eta, delay = 2500, 0.1, 5.0, 2.0, 1.5
    tau_m, c_m, tau_syn, theta, j_psp = 20.0, 250.0, 0.5, 20.0, 0.1
    ne, ni = 4 * order, order
    ce, ci = int(epsilon * ne), int(epsilon * ni)
    # the peak of the PSP of a unit alpha current (brunel_alpha_nest.py's ComputePSPnorm)
    a, b = tau_m / tau_syn, 1.0 / tau_syn - 1.0 / tau_m
    t_max = 1.0 / b * (-float(np.real(lambertw(-np.exp(-1.0 / a) / a, k=-1))) - 1.0 / a)
    unit = (np.exp(1.0) / (tau_syn * c_m * b) *
            ((np.exp(-t_max / tau_m) - np.exp(-t_max / tau_syn)) / b -
             t_max * np.exp(-t_max / tau_syn)))
    j_ex = j_psp / unit
    nu_th = theta / (j_psp * ce * tau_m)
    return dict(NE=ne, NI=ni, CE=ce, CI=ci, delay=delay, J_ex=float(j_ex), J_in=float(-g * j_ex),
                p_rate=1000.0 * eta * nu_th * ce,
                neuron=dict(C_m=c_m, tau_m=tau_m, tau_syn_ex=tau_syn, tau_syn_in=tau_syn,
                            t_ref=2.0, E_L=0.0, V_reset=0.0, V_m=0.0, V_th=theta))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--tstop", type=float, default=1000.0)
    ap.add_argument("--transient", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=55)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--background", choices=("poisson", "dc"), default="poisson")
    ap.add_argument("--brunel", action="store_true")
    args = ap.parse_args(argv)
    out = brunel(args) if args.brunel else microcircuit(args)
    out["memory_mb"] = _peak_mb()
    sys.stdout.write("\n" + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
