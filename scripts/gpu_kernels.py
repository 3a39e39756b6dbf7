"""The GPU backend's kernels compiled for an H100 (sm_90) on a machine without a GPU: per
kernel, the launches per step, block size, registers, spills, parameter bytes and the
occupancy they allow; per step, the launches and the array arguments numba-cuda marshals.

    python scripts/gpu_kernels.py                 # bench_gpu.py's 300-compartment cell
    python scripts/gpu_kernels.py --model allen   # the Allen Scnn1a cell, 18 mechanisms

Records a few steps on the GPU backend with launches recorded, not run
(neurosim.backends.cuda.compile), then compiles each kernel with NVVM and ptxas (pip install
"numba-cuda[cu12]"); the numbers feed docs/gpu.md.
"""

import argparse

from bench_gpu import cell_of

import neurosim as ns
from neurosim.backends.cuda.compile import build_kernels, occupancy, recording


def model(name, cells, compartments):
    if name == "allen":
        from neurosim.models.allen import allen_fits, allen_morphology, perisomatic_cell
        fit = next(f for f in allen_fits() if "472363762" in f)
        cell, cond = perisomatic_cell(allen_morphology("Scnn1a"), fit)
        celsius = cond["celsius"]
    else:
        cell, celsius = cell_of(compartments), 6.3
    cell.add_iclamp((0, 0.5), delay=0.0, dur=1.0, amp=0.5)
    cell.add_detector((0, 0.5), threshold=-20.0)
    return [cell] * cells, celsius


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["bench", "allen"], default="bench")
    ap.add_argument("--cells", type=int, default=256, help="enough for full blocks")
    ap.add_argument("--compartments", type=int, default=300)
    ap.add_argument("--precision", choices=["float64", "float32"], default="float64")
    args = ap.parse_args()
    cells, celsius = model(args.model, args.cells, args.compartments)
    with recording() as made:
        sim = ns.Simulation(cells, dt=0.025, celsius=celsius, backend="cuda",
                            precision=args.precision)
        sim.record_spikes()
        sim.record("v", (0, 0.5), cell=0)
        sim.run(0.1)
    print(f"{args.model}: {args.cells} cells, {sim.n_compartments} compartments, "
          f"{args.precision}, compiled for sm_90")
    print(f"{'kernel':24s} {'/step':>5s} {'block':>5s} {'regs':>4s} {'spill':>5s} "
          f"{'params':>6s} {'arrays':>6s} {'occupancy':>9s}")
    builds = build_kernels(made[0])
    for b in builds:
        print(f"{b.name:24s} {b.launches:5.0f} {b.threads:5d} {b.registers:4d} "
              f"{b.spill_bytes:5d} {b.param_bytes:6d} {b.arrays:6d} "
              f"{occupancy(b.registers, b.threads):9.0%}")
    print(f"per step: {sum(b.launches for b in builds):.0f} launches, "
          f"{sum(b.launches * b.arrays for b in builds):.0f} array arguments, "
          f"{sum(b.launches * b.param_bytes for b in builds) / 1024:.1f} KiB of parameters")


if __name__ == "__main__":
    main()
