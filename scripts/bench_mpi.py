"""Benchmark: strong and weak scaling of the ring over MPI ranks (mpiexec from the mpich wheel).

Strong scaling: the same ring (--cells) on 1 and 2 ranks.  Weak scaling: --cells per rank.
Each configuration runs --tstop ms after set-up; the wall time of the run (max over ranks)
is the median of --repeats runs.  Prints parallel efficiency: T1 / (N TN) strong, T1 / TN
weak.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def worker(cells, tstop):
    import neurosim as ns
    from neurosim.models.ring import ring_network
    net, gids = ring_network(cells)
    sim = ns.Simulation(net)
    spikes = sim.record_spikes()
    sim.run(0.025)
    sim.comm.min(0.0)                      # start together
    t0 = time.perf_counter()
    sim.run(tstop)
    wall = -sim.comm.min(-(time.perf_counter() - t0))   # the slowest rank
    if sim.comm.rank == 0:
        print(f"WALL {wall:.6f} SPIKES {len(spikes.times)}", flush=True)


def launch(ranks, cells, tstop):
    cmd = [shutil.which("mpiexec"), "-n", str(ranks), sys.executable, __file__, "--worker",
           "--cells", str(cells), "--tstop", str(tstop)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         env={**os.environ, "NUMBA_NUM_THREADS": "1"}).stdout
    return float(next(line.split()[1] for line in out.splitlines() if line.startswith("WALL")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=256)
    ap.add_argument("--tstop", type=float, default=100.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", action="store_true")
    args = ap.parse_args()
    if args.worker:
        return worker(args.cells, args.tstop)
    med = {}
    for name, cells_of in (("strong", lambda r: args.cells), ("weak", lambda r: args.cells * r)):
        for ranks in (1, 2):
            med[name, ranks] = statistics.median(
                launch(ranks, cells_of(ranks), args.tstop) for _ in range(args.repeats))
            print(f"{name:6s} {ranks} rank(s) {cells_of(ranks):6d} cells  "
                  f"{med[name, ranks]:8.3f} s", flush=True)
    print(f"strong scaling efficiency on 2 ranks: "
          f"{med['strong', 1] / (2 * med['strong', 2]):.2f}")
    print(f"weak scaling efficiency on 2 ranks:   {med['weak', 1] / med['weak', 2]:.2f}")


if __name__ == "__main__":
    main()
