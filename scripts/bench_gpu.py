"""Benchmark: the GPU backend beside the CPU backend, ready for a GPU machine.

Two models at dt 0.025 ms, no connections (the cable solve and the mechanisms are the
work):

* ``ring``: cells of --compartments compartments (hh soma, passive branched dendrites: the
  ring benchmark's cell, its binary tree deepened and its branches cut to reach the size);
* ``allen``: copies of the Allen Scnn1a perisomatic cell (bmtk's SWC, fit 472363762, 11
  channel types; bmtk's nseg rule at --dl µm: 946 compartments at 5 µm), DeepDendrite's
  benchmark of many detailed cells.

For each number of --cells, the CPU backend (--threads threads, up to --cpu-max cells: its
rate is per compartment-step) and backend 'cuda' in each of --precisions; prints
compartment-steps per second, the ratio to the CPU, and the set-up time.  ``--solve``
adds rows with the cable solve by DHS with other lane counts (``dhs8``, ``dhs32``) or one
thread per cell (``hines``: every cell below SMALL_CELL), ``--stages STEPS`` a table per
GPU row of where a step's time goes (scripts/gpu_stages.py).  Models above
--max-compartments in all are skipped.

    python scripts/bench_gpu.py --cells 1000 10000 100000 --compartments 300 3000

One Simulation per row: a first --tstop ms compiles and warms up, then --repeats more runs
of --tstop ms each are timed (the simulation goes on); the median.  ``--wait-for FILE``
holds the timed runs until FILE exists (set-up and compiling go on meanwhile: on a shared
machine, other jobs can finish first).  Needs numba-cuda and an NVIDIA GPU for the cuda
rows (pip install -e ".[gpu]"); without them they print why they were skipped.
"""

import argparse
import os
import statistics
import time

SOLVES = {"dhs16": (16, None), "dhs8": (8, None), "dhs32": (32, None),
          "hines": (16, 1 << 40)}          # (lanes, SMALL_CELL)


def cell_of(compartments):
    """A ring-benchmark cell whose binary tree (2^depth - 1 branches) is deep enough for
    ``compartments``: about that many compartments (301 for 300, 3067 for 3000)."""
    from neurosim.models.ring import ring_cell
    depth, nseg = 1, 10
    while (2 ** depth - 1) * nseg + 1 < compartments and depth < 13:
        depth += 1
    nseg = max(1, round((compartments - 1) / (2 ** depth - 1)))
    return ring_cell(depth=depth, branch_nseg=nseg)


def model_cell(model, compartments, dl):
    """(cell, celsius) of a benchmark model, driven by a current step."""
    if model == "allen":
        from neurosim.models.allen import allen_fits, allen_morphology, perisomatic_cell
        fit = next(f for f in allen_fits() if "472363762" in f)
        cell, cond = perisomatic_cell(allen_morphology("Scnn1a"), fit, dl=dl)
        cell.add_iclamp((0, 0.5), delay=1.0, dur=1e9, amp=0.3)
        return cell, cond["celsius"]
    cell = cell_of(compartments)
    cell.add_iclamp((0, 0.5), delay=1.0, dur=1e9, amp=0.5)
    return cell, 6.3


def wait_for(path):
    while path and not os.path.exists(path):
        time.sleep(0.5)


def rate(cell, celsius, cells, tstop, repeats, wait=None, stages=0, solve="dhs16",
         **options):
    """(compartment-steps per second, compartments, set-up s, stage table lines)."""
    import neurosim as ns
    from neurosim.backends.cuda import backend as cuda_backend
    lanes, small = SOLVES[solve]
    saved = cuda_backend.LANES, cuda_backend.SMALL_CELL
    cuda_backend.LANES, cuda_backend.SMALL_CELL = lanes, small or 2 * lanes
    try:
        t0 = time.perf_counter()
        sim = ns.Simulation([cell] * cells, dt=0.025, celsius=celsius, **options)
        setup = time.perf_counter() - t0
    finally:
        cuda_backend.LANES, cuda_backend.SMALL_CELL = saved
    sim.run(tstop)                                  # compiles, warms up
    wait_for(wait)
    walls = []
    for k in range(repeats):
        t0 = time.perf_counter()
        sim.run((k + 2) * tstop)
        walls.append(time.perf_counter() - t0)
    steps = round(tstop / 0.025)
    lines = []
    if stages and options.get("backend") == "cuda":
        from gpu_stages import StageTimer
        with StageTimer(sim.backend) as first:          # the host's time a step
            sim.run(sim.t + stages * 0.025)
        gpu, host = first.totals(stages)
        # the GPU's: held until the host has queued every launch (no waits in the times)
        with StageTimer(sim.backend, hold=2.0 * host * stages + 1e-3) as timer:
            sim.run(sim.t + stages * 0.025)
        timer.host = first.host
        timer.report(stages, sim.n_compartments, out=lines.append)
    return sim.n_compartments * steps / statistics.median(walls), sim.n_compartments, \
        setup, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["ring", "allen"], default="ring")
    ap.add_argument("--cells", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--compartments", type=int, nargs="+", default=[300, 3000])
    ap.add_argument("--dl", type=float, default=5.0, help="allen: bmtk's dL, µm")
    ap.add_argument("--tstop", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backends", nargs="+", default=["cpu", "cuda"])
    ap.add_argument("--precisions", nargs="+", default=["float64", "float32"])
    ap.add_argument("--solve", nargs="+", default=["dhs16"], choices=sorted(SOLVES),
                    help="cuda rows: the cable solve (float64 only for all but the first)")
    ap.add_argument("--threads", type=int, default=1, help="CPU backend threads")
    ap.add_argument("--cpu-max", type=int, default=1000, help="CPU runs up to this many cells")
    ap.add_argument("--max-compartments", type=float, default=3.5e7)
    ap.add_argument("--stages", type=int, default=0, help="steps profiled per cuda row")
    ap.add_argument("--wait-for", default=None, help="time only once this file exists")
    args = ap.parse_args()
    from neurosim.lowering.cells import lower
    print(f"{'cells':>7s} {'comp/cell':>9s} {'backend':>20s} {'comp-steps/s':>13s} "
          f"{'vs CPU':>7s} {'set-up s':>8s}", flush=True)
    sizes = [None] if args.model == "allen" else args.compartments
    for comps in sizes:
        cell, celsius = model_cell(args.model, comps, args.dl)
        per_cell = lower([cell], []).n_compartments
        cpu = None
        for cells in args.cells:
            if cells * per_cell > args.max_compartments:
                print(f"{cells:7d} {per_cell:9d} skipped: over --max-compartments")
                continue
            runs = []
            if "cpu" in args.backends and cells <= args.cpu_max:
                runs.append((f"cpu {args.threads} thread(s)", {"threads": args.threads}))
            if "cuda" in args.backends:
                for i, solve in enumerate(args.solve):
                    for precision in args.precisions[:1] if i else args.precisions:
                        runs.append((f"cuda {precision} {solve}", dict(
                            backend="cuda", precision=precision, solve=solve)))
            for name, options in runs:
                try:
                    r, n, setup, lines = rate(cell, celsius, cells, args.tstop, args.repeats,
                                              args.wait_for, args.stages, **options)
                except Exception as e:             # no GPU here, too big: say why, go on
                    print(f"{cells:7d} {comps or 0:9d} {name:>20s} skipped: "
                          f"{type(e).__name__}: {e}", flush=True)
                    continue
                cpu = r if name.startswith("cpu") else cpu
                ratio = f"{r / cpu:6.1f}x" if cpu else "     -"
                print(f"{cells:7d} {n // cells:9d} {name:>20s} {r:13.3e} {ratio} "
                      f"{setup:8.1f}", flush=True)
                for line in lines:
                    print(line, flush=True)


if __name__ == "__main__":
    main()
