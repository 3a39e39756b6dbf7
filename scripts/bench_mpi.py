"""Benchmark: strong and weak scaling of two networks over MPI ranks (mpiexec from the mpich wheel).

Models (--model ring|random|both, default both):

* ring: the ring benchmark (neurosim.models.ring): one spike travels round the ring, every
  connection has a 5 ms delay, so the ranks exchange spikes every 5 ms and almost no spikes
  cross: it measures the compute and the fixed cost of an exchange.
* random: --cells ring cells (same morphology: hh soma, passive depth-4 tree, ExpSyn), each
  with --indegree recurrent inputs from random cells (ns.FixedInDegree, weight
  Uniform(0, --weight-rec) µS, delay Uniform(2, 5) ms) and its own Poisson drive (--rate Hz,
  --weight-in µS, 1 ms delay).  The cells fire at about 20 Hz (a few hundred spikes per 64
  cells per 200 ms), the epoch is the minimum delay (~2 ms), and every epoch's spikes go to
  every rank: it measures the exchange under load.  FixedInDegree keeps the synapses per cell
  constant, so weak scaling keeps the work per rank constant.

--exchange and --overlap choose the spike exchange (ns.Simulation's arguments).

Strong scaling: the same network (--cells) on 1 and 2 ranks.  Weak scaling: --cells per rank.
Each configuration runs --tstop ms after set-up; the wall time of the run (max over ranks)
is the median of --repeats runs.  Prints the cells' spike count (spike sources not counted),
the epoch length and the number of exchanges, and the parallel efficiency: T1 / (N TN)
strong, T1 / TN weak.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

MODELS = ("ring", "random")


def random_network(cells, tstop, indegree=10, rate=250.0, weight_in=0.0015, weight_rec=0.002,
                   seed=1):
    """The random network: ring cells, FixedInDegree recurrent connections, one Poisson
    source per cell (drawn on [0, tstop))."""
    import neurosim as ns
    from neurosim.models.ring import ring_cell
    net = ns.Network(seed=seed)
    gids = net.add_cells(ring_cell(), n=cells)
    net.connect_rule(gids, gids, ns.FixedInDegree(min(indegree, cells - 1)), synapse="syn",
                     weight=ns.Uniform(0.0, weight_rec), delay=ns.Uniform(2.0, 5.0))
    for g in gids:
        net.add_poisson(rate=rate, n=1, stop=tstop, targets=[(int(g), "syn")],
                        weight=weight_in, delay=1.0)
    return net, gids


def worker(args):
    import numpy as np
    import neurosim as ns
    if args.model == "ring":
        from neurosim.models.ring import ring_network
        net, gids = ring_network(args.cells)
    else:
        net, gids = random_network(args.cells, args.tstop, args.indegree, args.rate,
                                   args.weight_in, args.weight_rec)
    sim = ns.Simulation(net, exchange=args.exchange, overlap=args.overlap)
    spikes = sim.record_spikes()
    sim.run(0.025)
    sim.comm.min(0.0)                      # start together
    t0 = time.perf_counter()
    sim.run(args.tstop)
    wall = -sim.comm.min(-(time.perf_counter() - t0))   # the slowest rank
    if sim.comm.rank == 0:
        n = int(np.isin(np.asarray(spikes.gids), gids).sum())    # the cells', not sources'
        steps = getattr(sim, "epoch_steps", None)
        epoch = steps * sim.dt if steps else float("inf")
        print(f"WALL {wall:.6f} SPIKES {n} EPOCH {epoch:.6g}", flush=True)


def launch(model, ranks, cells, args):
    cmd = [shutil.which("mpiexec"), "-n", str(ranks), sys.executable, os.path.abspath(__file__),
           "--worker", "--model", model, "--cells", str(cells), "--tstop", str(args.tstop),
           "--indegree", str(args.indegree), "--rate", str(args.rate),
           "--weight-in", str(args.weight_in), "--weight-rec", str(args.weight_rec),
           "--exchange", args.exchange] + (["--overlap"] if args.overlap else [])
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={**os.environ, "NUMBA_NUM_THREADS": "1"}).stdout
    f = next(line.split() for line in out.splitlines() if line.startswith("WALL"))
    return float(f[1]), int(f[3]), float(f[5])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=MODELS + ("both",), default="both")
    ap.add_argument("--cells", type=int, default=256, help="cells (per rank when weak)")
    ap.add_argument("--tstop", type=float, default=100.0, help="ms")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--indegree", type=int, default=10, help="random: recurrent inputs/cell")
    ap.add_argument("--rate", type=float, default=250.0, help="random: Poisson Hz per cell")
    ap.add_argument("--weight-in", type=float, default=0.0015, help="random: Poisson µS")
    ap.add_argument("--weight-rec", type=float, default=0.002,
                    help="random: recurrent weight Uniform(0, this) µS")
    ap.add_argument("--exchange", choices=("auto", "allgather", "alltoall"), default="auto")
    ap.add_argument("--overlap", action="store_true",
                    help="exchange a call's spikes during the next call (half-length calls)")
    ap.add_argument("--worker", action="store_true")
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    models = MODELS if args.model == "both" else (args.model,)
    for model in models:
        med = {}
        for name, cells_of in (("strong", lambda r: args.cells),
                               ("weak", lambda r: args.cells * r)):
            for ranks in (1, 2):
                runs = [launch(model, ranks, cells_of(ranks), args) for _ in range(args.repeats)]
                med[name, ranks] = statistics.median(w for w, _, _ in runs)
                n, epoch = runs[0][1], runs[0][2]
                rate = n / cells_of(ranks) / (args.tstop / 1000.0)
                print(f"{model:6s} {name:6s} {ranks} rank(s) {cells_of(ranks):6d} cells  "
                      f"{med[name, ranks]:8.3f} s  {n:7d} spikes ({rate:5.1f} Hz/cell)  "
                      f"epoch {epoch:g} ms ({args.tstop / epoch:.0f} exchanges)", flush=True)
        print(f"{model:6s} strong scaling efficiency on 2 ranks: "
              f"{med['strong', 1] / (2 * med['strong', 2]):.2f}")
        print(f"{model:6s} weak scaling efficiency on 2 ranks:   "
              f"{med['weak', 1] / med['weak', 2]:.2f}", flush=True)


if __name__ == "__main__":
    main()
