"""Benchmark: the GPU backend beside the CPU backend, ready for a GPU machine.

Cells of --compartments compartments (hh soma, passive branched dendrites: the ring
benchmark's cell, its tree deepened to reach the size), --cells of them, no connections
(the cable solve and the mechanisms are the work), --tstop ms at dt 0.025.  Prints
compartment-steps per second for the CPU backend (one thread), and for backend 'cuda' in
float64 and float32, and the ratio.  The CPU backend runs only up to --cpu-max cells (it
would take hours at 10^5 cells); its rate is per compartment-step and scales linearly.

    python scripts/bench_gpu.py --cells 1000 10000 100000 --compartments 300 3000

Needs CuPy and an NVIDIA GPU for the cuda rows (pip install -e ".[gpu]"); without them
they print why they were skipped.  Medians of --repeats runs; the first run of each
configuration compiles and is not counted.
"""

import argparse
import statistics
import time


def cell_of(compartments):
    """A ring-benchmark cell with a binary tree deep enough for ``compartments``."""
    from neurosim.models.ring import ring_cell
    depth, nseg = 1, 10
    while (2 ** (depth + 1) - 2) * nseg + 1 < compartments and depth < 12:
        depth += 1
    nseg = max(1, round((compartments - 1) / (2 ** (depth + 1) - 2)))
    return ring_cell(depth=depth, branch_nseg=nseg)


def rate(cells, compartments, tstop, repeats, **options):
    import neurosim as ns
    cell = cell_of(compartments)
    cell.add_iclamp((0, 0.5), delay=1.0, dur=tstop, amp=0.5)
    walls = []
    for k in range(repeats + 1):
        sim = ns.Simulation([cell] * cells, dt=0.025, **options)
        t0 = time.perf_counter()
        sim.run(tstop)
        if k:
            walls.append(time.perf_counter() - t0)
    steps = round(tstop / 0.025)
    return sim.n_compartments * steps / statistics.median(walls), sim.n_compartments


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--compartments", type=int, nargs="+", default=[300, 3000])
    ap.add_argument("--tstop", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpu-max", type=int, default=1000, help="CPU runs up to this many cells")
    args = ap.parse_args()
    print(f"{'cells':>7s} {'comp/cell':>9s} {'backend':>14s} {'comp-steps/s':>13s} {'vs CPU':>7s}")
    for comps in args.compartments:
        cpu = None
        for cells in args.cells:
            rows = []
            if cells <= args.cpu_max:
                cpu, n = rate(cells, comps, args.tstop, args.repeats)
                rows.append(("cpu", cpu))
            for precision in ("float64", "float32"):
                try:
                    r, n = rate(cells, comps, args.tstop, args.repeats, backend="cuda",
                                precision=precision)
                    rows.append((f"cuda {precision}", r))
                except Exception as e:                 # no GPU here: say why, go on
                    print(f"{cells:7d} {comps:9d} {'cuda ' + precision:>14s} skipped: {e}")
            for name, r in rows:
                ratio = f"{r / cpu:6.1f}x" if cpu else "    -"
                print(f"{cells:7d} {comps:9d} {name:>14s} {r:13.3e} {ratio}", flush=True)


if __name__ == "__main__":
    main()
