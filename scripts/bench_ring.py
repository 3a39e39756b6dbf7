"""Benchmark: the ring network (models/ring.py) in neurosim, NEURON and Arbor, side by side.

Cells with an hh soma and a depth-4 binary dendritic tree (10 compartments per branch, 151
compartments a cell), an ExpSyn ring plus 10 zero-weight connections per cell, 200 ms at
dt 0.025, one thread.  Prints compartment-steps per second of each, the ratio, spike counts
and neurosim's memory per compartment (median of --repeats).

    python scripts/bench_ring.py [--cells 128 1024] [--repeats 3] [--tstop 200]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

# the peers' models (NEURON, Arbor) are the tests'
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def run_neurosim(n, tstop, threads=1):
    import neurosim as ns
    from neurosim.models.ring import ring_network
    net, gids = ring_network(n)
    sim = ns.Simulation(net, dt=0.025, threads=threads)
    spikes = sim.record_spikes(gids)
    sim.run(0.025)                      # kernels loaded, initialised
    t0 = time.perf_counter()
    sim.run(tstop)
    wall = time.perf_counter() - t0
    return wall, sim.n_compartments, len(spikes), model_bytes(sim)


def model_bytes(sim):
    """Bytes of the per-step state arrays the kernel touches."""
    m, b = sim.model, sim.backend
    arrays = [b.v, b.rhs, b.d, b.d_static, b.rhs_static, m.cap, m.area, m.g_axial, m.parent]
    for t in b.tables:
        arrays += [t.nodes, t.params, t.states, t.assigned]
    return sum(a.nbytes for a in arrays)


def run_neuron(n, tstop):
    from neuron import h
    from peer_models import neuron_ring                 # tests/: the peers' models
    h.load_file("stdrun.hoc")
    h("forall delete_section()")
    keep, times, _ = neuron_ring(h, n)
    h.dt, h.celsius, h.secondorder = 0.025, 6.3, 0
    h.finitialize(-65.0)
    t0 = time.perf_counter()
    h.continuerun(tstop)
    wall = time.perf_counter() - t0
    count = len(times)
    del keep
    return wall, count


def run_arbor(n, tstop):
    import arbor
    from peer_models import arbor_ring
    sim = arbor_ring(n)
    sim.run(0.025 * arbor.units.ms, 0.025 * arbor.units.ms)
    t0 = time.perf_counter()
    sim.run(tstop * arbor.units.ms, 0.025 * arbor.units.ms)
    return time.perf_counter() - t0, len(sim.spikes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[128, 1024])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tstop", type=float, default=200.0)
    args = ap.parse_args()
    steps = int(round(args.tstop / 0.025))
    for n in args.cells:
        mine, two, theirs, arbs = [], [], [], []
        for _ in range(args.repeats):
            wall, ncomp, spikes, nbytes = run_neurosim(n, args.tstop)
            mine.append(wall)
            two.append(run_neurosim(n, args.tstop, threads=2)[0])
            wall, nspikes = run_neuron(n, args.tstop)
            theirs.append(wall)
            wall, aspikes = run_arbor(n, args.tstop)
            arbs.append(wall)
        a, b, c, a2 = (statistics.median(x) for x in (mine, theirs, arbs, two))
        print(f"ring of {n} cells, {ncomp} compartments, {args.tstop} ms ({steps} steps), "
              f"median of {args.repeats}")
        print(f"  neurosim {a:8.3f} s  {ncomp * steps / a:10.3e} compartment-steps/s  "
              f"{spikes} spikes  {nbytes / ncomp:.0f} bytes/compartment")
        print(f"  neurosim {a2:8.3f} s  on 2 threads: {a / a2:.2f} x one thread (target >= 1.8)")
        print(f"  NEURON   {b:8.3f} s  {ncomp * steps / b:10.3e} compartment-steps/s  "
              f"{nspikes} spikes")
        print(f"  Arbor    {c:8.3f} s  {ncomp * steps / c:10.3e} compartment-steps/s  "
              f"{aspikes} spikes (its own CVs, 1 thread)")
        print(f"  speed-up vs NEURON {b / a:6.2f} x (target >= 4), vs Arbor {c / a:6.2f} x "
              "(target >= 3)")


if __name__ == "__main__":
    main()
