"""Benchmark: the GPU backend beside the CPU backend, ready for a GPU machine.

Cells of --compartments compartments (hh soma, passive branched dendrites: the ring
benchmark's cell, its binary tree deepened and its branches cut to reach the size),
--cells of them, no connections (the cable solve and the mechanisms are the work), at dt
0.025 ms.  Prints compartment-steps per second for the CPU backend (one thread), and for
backend 'cuda' in float64 and float32, the ratio, and the set-up time.  The CPU backend
runs only up to --cpu-max cells (it would take hours at 10^5 cells); its rate is per
compartment-step and scales linearly.  Models above --max-compartments in all are
skipped (10^5 cells of 3000 compartments: ~70 GB and set-up in tens of minutes).

    python scripts/bench_gpu.py --cells 1000 10000 100000 --compartments 300 3000

One Simulation per model and backend: a first --tstop ms compiles and warms up, then
--repeats more runs of --tstop ms each are timed (the simulation goes on); the median.
Needs CuPy and an NVIDIA GPU for the cuda rows (pip install -e ".[gpu]"); without them
they print why they were skipped.
"""

import argparse
import statistics
import time


def cell_of(compartments):
    """A ring-benchmark cell whose binary tree (2^depth - 1 branches) is deep enough for
    ``compartments``: about that many compartments (301 for 300, 3067 for 3000)."""
    from neurosim.models.ring import ring_cell
    depth, nseg = 1, 10
    while (2 ** depth - 1) * nseg + 1 < compartments and depth < 13:
        depth += 1
    nseg = max(1, round((compartments - 1) / (2 ** depth - 1)))
    return ring_cell(depth=depth, branch_nseg=nseg)


def rate(cells, compartments, tstop, repeats, **options):
    """(compartment-steps per second, compartments, set-up seconds) of one backend."""
    import neurosim as ns
    cell = cell_of(compartments)
    cell.add_iclamp((0, 0.5), delay=1.0, dur=1e9, amp=0.5)
    t0 = time.perf_counter()
    sim = ns.Simulation([cell] * cells, dt=0.025, **options)
    setup = time.perf_counter() - t0
    sim.run(tstop)                                  # compiles, warms up
    walls = []
    for k in range(repeats):
        t0 = time.perf_counter()
        sim.run((k + 2) * tstop)
        walls.append(time.perf_counter() - t0)
    steps = round(tstop / 0.025)
    return sim.n_compartments * steps / statistics.median(walls), sim.n_compartments, setup


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--compartments", type=int, nargs="+", default=[300, 3000])
    ap.add_argument("--tstop", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpu-max", type=int, default=1000, help="CPU runs up to this many cells")
    ap.add_argument("--max-compartments", type=float, default=3.5e7)
    args = ap.parse_args()
    print(f"{'cells':>7s} {'comp/cell':>9s} {'backend':>14s} {'comp-steps/s':>13s} "
          f"{'vs CPU':>7s} {'set-up s':>8s}")
    for comps in args.compartments:
        cpu = None
        for cells in args.cells:
            if cells * comps > args.max_compartments:
                print(f"{cells:7d} {comps:9d} skipped: over --max-compartments")
                continue
            rows = []
            if cells <= args.cpu_max:
                cpu, n, setup = rate(cells, comps, args.tstop, args.repeats)
                rows.append(("cpu", cpu, n, setup))
            for precision in ("float64", "float32"):
                try:
                    rows.append((f"cuda {precision}", *rate(
                        cells, comps, args.tstop, args.repeats, backend="cuda",
                        precision=precision)))
                except Exception as e:                 # no GPU here: say why, go on
                    print(f"{cells:7d} {comps:9d} {'cuda ' + precision:>14s} skipped: {e}")
            for name, r, n, setup in rows:
                ratio = f"{r / cpu:6.1f}x" if cpu else "    -"
                print(f"{cells:7d} {n // cells:9d} {name:>14s} {r:13.3e} {ratio} "
                      f"{setup:8.1f}", flush=True)


if __name__ == "__main__":
    main()
