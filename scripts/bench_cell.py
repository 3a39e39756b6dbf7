"""Benchmark: one reconstructed cell in neurosim and in NEURON, side by side.

An Allen SWC from bmtk's wheel (Scnn1a, ~1000 compartments with MaxLength(5 µm)), hh in every
compartment, a current step at the soma, 1 s simulated at dt = 0.025 ms, one core.  Prints the
wall time of the run of each (median of --repeats), the ratio, and how long a fresh process
takes from start until it begins simulating (compiled kernels come from the disk cache).

    python scripts/bench_cell.py [--repeats 3] [--tstop 1000]
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def swc_path():
    import bmtk
    base = os.path.join(os.path.dirname(bmtk.__file__), "utils", "scripts", "bionet")
    return sorted(glob.glob(os.path.join(base, "morphologies", "Scnn1a*.swc")))[0]


def build_neurosim(swc, max_len):
    import neurosim as ns
    cell = ns.Cell(ns.Morphology.from_swc(swc), cm=1.0, ra=100.0, v_init=-65.0,
                   discretization=ns.MaxLength(max_len))
    cell.insert("hh")
    cell.add_iclamp((0, 0.5), delay=10.0, dur=980.0, amp=0.5)
    return cell


def run_neurosim(swc, max_len, tstop):
    import neurosim as ns
    sim = ns.Simulation(build_neurosim(swc, max_len), dt=0.025, celsius=6.3)
    v = sim.record("v", (0, 0.5))
    t0 = time.perf_counter()
    sim.run(tstop)
    return time.perf_counter() - t0, sim.n_compartments, v.values


def run_neuron(swc, nseg, tstop):
    from neuron import h
    h.load_file("stdrun.hoc")
    h.load_file("import3d.hoc")
    h("forall delete_section()")
    reader = h.Import3d_SWC_read()
    reader.input(swc)
    h.Import3d_GUI(reader, False).instantiate(None)
    secs = list(h.allsec())
    for sec, n in zip(secs, nseg):
        sec.nseg = int(n)
        sec.Ra, sec.cm = 100.0, 1.0
        sec.insert("hh")
    stim = h.IClamp(secs[0](0.5))
    stim.delay, stim.dur, stim.amp = 10.0, 980.0, 0.5
    h.dt, h.celsius, h.secondorder = 0.025, 6.3, 0
    rec = h.Vector().record(secs[0](0.5)._ref_v)
    h.finitialize(-65.0)
    t0 = time.perf_counter()
    h.continuerun(tstop)
    return time.perf_counter() - t0, np.array(rec)


def startup_seconds(cache):
    """A fresh process: import, build, lower, load kernels, first step.  ``cache`` holds both
    neurosim's generated kernels and Numba's cache: empty the first time (a cold compile)."""
    code = ("import time; t0=time.perf_counter(); import sys; sys.path.insert(0, %r); "
            "import bench_cell as b; import neurosim as ns; "
            "sim = ns.Simulation(b.build_neurosim(b.swc_path(), 5.0)); sim.run(0.025); "
            "print(time.perf_counter()-t0)" % os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, NEUROSIM_CACHE_DIR=cache, NUMBA_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tstop", type=float, default=1000.0)
    ap.add_argument("--max-length", type=float, default=5.0)
    args = ap.parse_args()
    swc = swc_path()
    with tempfile.TemporaryDirectory() as cache:
        first_start = startup_seconds(cache)
        warm_start = startup_seconds(cache)
    import neurosim as ns
    sim = ns.Simulation(build_neurosim(swc, args.max_length))
    nseg = sim.model.layouts[0].nseg
    mine, theirs = [], []
    for _ in range(args.repeats):
        t, ncomp, v_mine = run_neurosim(swc, args.max_length, args.tstop)
        mine.append(t)
        t, v_theirs = run_neuron(swc, nseg, args.tstop)
        theirs.append(t)
    steps = int(round(args.tstop / 0.025))
    a, b = statistics.median(mine), statistics.median(theirs)
    print(f"cell: {os.path.basename(swc)}, {ncomp} compartments, hh everywhere, "
          f"{args.tstop} ms at dt 0.025 ({steps} steps), median of {args.repeats}")
    print(f"neurosim  {a:8.3f} s  {ncomp * steps / a:10.3e} compartment-steps/s")
    print(f"NEURON    {b:8.3f} s  {ncomp * steps / b:10.3e} compartment-steps/s")
    print(f"speed-up  {b / a:8.2f} x  (target >= 2)")
    print(f"max |v_neurosim - v_NEURON| at the soma: {np.max(np.abs(v_mine - v_theirs)):.3g} mV")
    print(f"start-up of a fresh process until simulating: cold cache {first_start:.2f} s, "
          f"warm cache {warm_start:.2f} s (target <= 3 s)")


if __name__ == "__main__":
    main()
