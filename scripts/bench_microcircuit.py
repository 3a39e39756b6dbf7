"""neurosim beside NEST on the same networks (a benchmark, not a test): the Potjans &
Diesmann microcircuit as NEST's package ``microcircuit`` 1.0 builds it, and Brunel's
network with NEST's brunel_alpha_nest.py numbers (12 500 iaf_psc_alpha neurons).

Every run is a fresh process (peak memory is then one network's; NEST's import changes
the process for good); set-up (build + connect, NEST's Prepare included; neurosim's
without Numba's compilation, which is cached on disk after the first run) and run time
apart; the median of ``--repeats`` runs; ratios NEST / neurosim (> 1: neurosim faster or
smaller).

    python scripts/bench_microcircuit.py [--scales 0.1 0.3] [--threads 1 2] [--repeats 3]
                                         [--tstop 1000] [--background poisson] [--no-brunel]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NEST_SCRIPT = os.path.join(HERE, "nest_microcircuit.py")


def neurosim_worker(args):
    """One neurosim run in this process; the JSON line nest_microcircuit.py prints."""
    import neurosim as ns
    from neurosim.kernels.compilation import Stopwatch
    setup = Stopwatch()
    if args.brunel:
        net, cells = brunel_network(args.seed)
        pops = {"all": cells}
    else:
        from neurosim.models import microcircuit as mc
        net, pops = mc.microcircuit(args.scale, background=args.background, seed=args.seed)
    sim = ns.Simulation(net, dt=0.1, threads=args.threads)
    spikes = sim.record_spikes(np.concatenate(list(pops.values())))
    setup.stop()
    run = Stopwatch()
    sim.run(args.tstop)
    run.stop()
    keep = spikes.times >= args.transient
    seconds = (args.tstop - args.transient) * 1e-3
    rates = [float(np.isin(spikes.gids[keep], p).sum() / len(p) / seconds)
             for p in pops.values()]
    out = dict(rates=rates, neurons=int(sum(len(p) for p in pops.values())),
               connections=int(net.n_connections), spikes=int(len(spikes.times)),
               setup_s=setup.work_s, run_s=run.work_s,
               memory_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    sys.stdout.write("\n" + json.dumps(out) + "\n")


def brunel_network(seed):
    """brunel_alpha_nest.py's network in neurosim: the same numbers (nest_microcircuit's
    brunel_params), fixed in-degrees with autapses and multapses (NEST's defaults), a
    Poisson drive per neuron, V_m from 0."""
    import neurosim as ns
    sys.path.insert(0, HERE)
    from nest_microcircuit import brunel_params
    p = brunel_params()
    net = ns.Network(seed=seed)
    params = {("V_init" if k == "V_m" else k): v for k, v in p["neuron"].items()}
    cells = net.add_cells(ns.models.LIFAlpha(**params), n=p["NE"] + p["NI"])
    exc, inh = cells[:p["NE"]], cells[p["NE"]:]
    for sources, k, w in ((exc, p["CE"], p["J_ex"]), (inh, p["CI"], p["J_in"])):
        net.connect_rule(sources, cells, ns.FixedInDegree(k, allow_autapses=True,
                                                           multapses=True),
                         weight=w, delay=p["delay"])
    net.add_poisson_drive([int(c) for c in cells], rate=p["p_rate"], weight=p["J_ex"])
    return net, cells


def one_run(simulator, scale, threads, args, brunel=False):
    common = ["--tstop", str(args.tstop), "--transient", str(args.transient),
              "--threads", str(threads), "--seed", str(args.seed)]
    if brunel:
        common.append("--brunel")
    else:
        common += ["--scale", str(scale), "--background", args.background]
    if simulator == "nest":
        cmd = [sys.executable, NEST_SCRIPT, *common]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", *common]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{simulator} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(label, scale, threads, args, brunel=False):
    got = {}
    for simulator in ("neurosim", "nest"):
        runs = [one_run(simulator, scale, threads, args, brunel) for _ in range(args.repeats)]
        got[simulator] = {k: float(np.median([r[k] for r in runs]))
                          for k in ("setup_s", "run_s", "memory_mb")}
        got[simulator]["rates"] = np.round(np.median([r["rates"] for r in runs], axis=0),
                                           2).tolist()
        got[simulator]["connections"] = runs[0].get("connections")
    n, s = got["nest"], got["neurosim"]
    print(f"{label}, {threads} thread{'s' if threads > 1 else ''}: "
          f"set-up {s['setup_s']:.2f} s vs NEST {n['setup_s']:.2f} s "
          f"(NEST/neurosim {n['setup_s'] / s['setup_s']:.2f}); "
          f"run {s['run_s']:.2f} s vs {n['run_s']:.2f} s ({n['run_s'] / s['run_s']:.2f}); "
          f"peak memory {s['memory_mb']:.0f} MB vs {n['memory_mb']:.0f} MB "
          f"({n['memory_mb'] / s['memory_mb']:.2f})", flush=True)
    print(f"    rates (Hz) neurosim {s['rates']}\n               NEST     {n['rates']}",
          flush=True)
    return dict(label=label, threads=threads, **{k: got[k] for k in got})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[0.1, 0.3])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tstop", type=float, default=1000.0)
    ap.add_argument("--transient", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=55)
    ap.add_argument("--background", choices=("poisson", "dc"), default="poisson")
    ap.add_argument("--no-brunel", action="store_true")
    ap.add_argument("--json", help="write the medians here")
    # one run in this process (the benchmark starts them): its options as nest_microcircuit
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--brunel", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        args.threads = args.threads[0]
        return neurosim_worker(args)
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}, "
          f"{os.cpu_count()} CPUs; medians of {args.repeats}; {args.tstop:g} ms, "
          f"{args.background} background", flush=True)
    results = []
    for scale in args.scales:
        for threads in args.threads:
            results.append(compare(f"microcircuit, scale {scale:g}", scale, threads, args))
    if not args.no_brunel:
        for threads in args.threads:
            results.append(compare("Brunel (brunel_alpha_nest), 12 500 neurons", None,
                                   threads, args, brunel=True))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
