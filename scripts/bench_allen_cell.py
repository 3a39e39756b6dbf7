"""Benchmark: an Allen perisomatic cell (full dendritic tree, bmtk's model) in neurosim and in
NEURON running the same .mod files, side by side.

Scnn1a SWC with the 472363762 fit (11 mechanisms: NaTs, Nap, K_P, K_T, Kv3_1, Im, SK, Ca_HVA,
Ca_LVA, CaDynamics, Ih), bmtk's nseg rule with --dl (default 5 µm: ~1000 compartments), a
current step, 1 s at dt 0.025 ms on one core.  Prints both run times (median of --repeats),
the ratio, the cold compile time of the kernel for all 16 compilable Allen mechanisms and the
warm start-up time of a fresh process.

    python scripts/bench_allen_cell.py [--repeats 3] [--tstop 1000] [--dl 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# the peers' models (NEURON, Arbor) are the tests'
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def build(dl):
    from neurosim.models.allen import allen_fits, allen_morphology, perisomatic_cell
    fit = next(f for f in allen_fits() if "472363762" in f)
    cell, cond = perisomatic_cell(allen_morphology("Scnn1a"), fit, dl=dl)
    cell.add_iclamp((0, 0.5), delay=100.0, dur=800.0, amp=0.3)
    return cell, cond, fit


def run_neurosim(dl, tstop):
    import neurosim as ns
    cell, cond, _ = build(dl)
    sim = ns.Simulation(cell, dt=0.025, celsius=cond["celsius"])
    v = sim.record("v", (0, 0.5))
    sim.run(0.025)                                   # kernels loaded before timing
    t0 = time.perf_counter()
    sim.run(tstop)
    return time.perf_counter() - t0, sim.n_compartments, v.values


def run_neuron(dl, tstop, mech_dir):
    import neuron
    from neuron import h
    from neurosim.models.allen import allen_morphology
    from peer_models import neuron_perisomatic_cell     # tests/: the peers' models
    if not getattr(run_neuron, "loaded", False):
        neuron.load_mechanisms(mech_dir)
        h.load_file("stdrun.hoc")
        h.load_file("import3d.hoc")
        run_neuron.loaded = True
    _, _, fit = build(dl)
    h("forall delete_section()")
    reader = h.Import3d_SWC_read()
    reader.input(allen_morphology("Scnn1a"))
    h.Import3d_GUI(reader, False).instantiate(None)
    soma, cond = neuron_perisomatic_cell(h, fit, dl=dl)
    stim = h.IClamp(soma(0.5))
    stim.delay, stim.dur, stim.amp = 100.0, 800.0, 0.3
    h.dt, h.celsius, h.secondorder = 0.025, cond["celsius"], 0
    rec = h.Vector().record(soma(0.5)._ref_v)
    h.finitialize(cond["v_init"])
    t0 = time.perf_counter()
    h.continuerun(tstop)
    return time.perf_counter() - t0, np.array(rec)


def compile_neuron_mechanisms(folder):
    from neurosim.models.allen import allen_mod_dir
    import shutil
    for f in os.listdir(allen_mod_dir()):
        if f.endswith(".mod"):
            shutil.copy(os.path.join(allen_mod_dir(), f), folder)
    subprocess.run(["nrnivmodl"], cwd=folder, check=True, capture_output=True)
    return folder


def fresh_process_seconds(cache, code):
    env = dict(os.environ, NEUROSIM_CACHE_DIR=cache, NUMBA_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


ALL_MECHANISMS = """
import time; t0 = time.perf_counter()
import neurosim as ns
from neurosim.models.allen import allen_mechanisms
cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"))
for m in [m for m in allen_mechanisms().values() if m.kind == "density"]:
    cell.insert(m)
sim = ns.Simulation(cell, celsius=34.0)
sim.run(0.025)
print(time.perf_counter() - t0)
"""

ALLEN_CELL = """
import time; t0 = time.perf_counter()
import sys; sys.path.insert(0, %r)
import bench_allen_cell as b, neurosim as ns
cell, cond, _ = b.build(%r)
sim = ns.Simulation(cell, celsius=cond["celsius"])
sim.run(0.025)
print(time.perf_counter() - t0)
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tstop", type=float, default=1000.0)
    ap.add_argument("--dl", type=float, default=5.0)
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as cache:
        cold_all = fresh_process_seconds(cache, ALL_MECHANISMS)
        warm_all = fresh_process_seconds(cache, ALL_MECHANISMS)
        cell_code = ALLEN_CELL % (here, args.dl)
        fresh_process_seconds(cache, cell_code)
        warm_cell = fresh_process_seconds(cache, cell_code)
    with tempfile.TemporaryDirectory() as mech_dir:
        compile_neuron_mechanisms(mech_dir)
        mine, theirs = [], []
        for _ in range(args.repeats):
            t, ncomp, v_mine = run_neurosim(args.dl, args.tstop)
            mine.append(t)
            t, v_theirs = run_neuron(args.dl, args.tstop, mech_dir)
            theirs.append(t)
    steps = int(round(args.tstop / 0.025))
    a, b = statistics.median(mine), statistics.median(theirs)
    spikes = [int(((v[:-1] < 0) & (v[1:] >= 0)).sum()) for v in (v_mine, v_theirs)]
    print(f"Allen Scnn1a cell, fit 472363762, {ncomp} compartments (dL {args.dl} µm), "
          f"{args.tstop} ms at dt 0.025 ({steps} steps), median of {args.repeats}")
    print(f"neurosim  {a:8.3f} s  {ncomp * steps / a:10.3e} compartment-steps/s")
    print(f"NEURON    {b:8.3f} s  {ncomp * steps / b:10.3e} compartment-steps/s")
    print(f"speed-up  {b / a:8.2f} x  (target >= 2)")
    print(f"somatic spikes: neurosim {spikes[0]}, NEURON {spikes[1]}; "
          f"max |dv| {np.max(np.abs(v_mine - v_theirs)):.3g} mV")
    print(f"kernel with all 16 compilable Allen mechanisms: cold compile {cold_all:.1f} s "
          f"(target <= 60 s), warm start {warm_all:.2f} s")
    print(f"this cell in a fresh process, warm cache, until simulating: {warm_cell:.2f} s "
          f"(target <= 3 s)")


if __name__ == "__main__":
    main()
