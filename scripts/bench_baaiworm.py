"""The BAAIWorm tuned circuit (136 neurons, 23,848 compartments, 3,076 point processes) in
NEURON and in neurosim on the same files and the same 3 s protocol, dt 0.5 ms.

    python scripts/bench_baaiworm.py [--data DIR] [--repeat 3] [--tstop 3000]

Both record every soma's v.  NEURON: the .mod files compiled by nrnivmodl in a temporary
folder (not timed), the network built by tests/baaiworm_neuron.py in one process, then
``--repeat`` runs (finitialize + continuerun).  neurosim: one build and a short warm-up run
(its kernels compiled or read from the cache, not timed), then ``--repeat`` runs, each a new
Simulation of the same network (setting up the Simulation is not timed either).  Medians,
the ratio NEURON / neurosim, and the largest soma RMS difference of the last runs.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

# steps into the paper's sensory neurons (ms, nA): on, overlapping, off, one hyperpolarizing
PROTOCOL = {"clamps": [
    {"cell": "AWAL", "delay": 200, "dur": 1000, "amp": 0.02},
    {"cell": "AWAR", "delay": 400, "dur": 1000, "amp": 0.015},
    {"cell": "AWCL", "delay": 1000, "dur": 800, "amp": 0.01},
    {"cell": "ASKL", "delay": 1500, "dur": 800, "amp": 0.01},
    {"cell": "ASKR", "delay": 1500, "dur": 800, "amp": 0.01},
    {"cell": "PLML", "delay": 2000, "dur": 500, "amp": -0.005},
    {"cell": "PHAL", "delay": 2200, "dur": 600, "amp": 0.01}]}


def neurosim_runs(data, stimulus, tstop, dt, repeat):
    import neurosim as ns
    from neurosim.models import baaiworm as bw
    net, names = bw.build(data)
    bw.add_clamps(net, names, bw.read_stimulus(stimulus))

    def one(t):
        sim = ns.Simulation(net, dt=dt)
        traces = [sim.record("v", (bw.soma_section(net.cells[g]), 0.5), cell=g)
                  for g in range(len(names))]
        t0 = time.perf_counter()
        sim.run(t)
        return time.perf_counter() - t0, np.array([tr.values for tr in traces])

    one(10 * dt)                                     # kernels: compiled or cached
    runs = [one(tstop) for _ in range(repeat)]
    return [r[0] for r in runs], runs[-1][1]


def main():
    from test_baaiworm import neuron_run
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("NEUROSIM_BAAIWORM_DATA") or
                        str(HERE.parent.parent / "shared" / "data" / "baaiworm"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tstop", type=float, default=3000.0)
    parser.add_argument("--dt", type=float, default=0.5)
    args = parser.parse_args()
    data = Path(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        stimulus = Path(tmp) / "protocol.json"
        stimulus.write_text(json.dumps(PROTOCOL))
        _, theirs, nrn_s = neuron_run(tmp, data, stimulus, args.tstop, args.dt, args.repeat)
        ours_s, ours = neurosim_runs(data, stimulus, args.tstop, args.dt, args.repeat)
    rms = np.sqrt(np.mean((ours - theirs) ** 2, axis=1))
    nrn, mine = statistics.median(nrn_s), statistics.median(ours_s)
    print(f"BAAIWorm tuned circuit, {args.tstop:g} ms at dt {args.dt:g} ms, "
          f"{len(PROTOCOL['clamps'])} clamps, medians of {args.repeat}")
    print(f"  NEURON   {nrn:.3f} s  (runs {', '.join(f'{s:.3f}' for s in nrn_s)})")
    print(f"  neurosim {mine:.3f} s  (runs {', '.join(f'{s:.3f}' for s in ours_s)})")
    print(f"  NEURON / neurosim = {nrn / mine:.2f}")
    print(f"  soma RMS vs NEURON: max {rms.max():.2g} mV, median {np.median(rms):.2g} mV; "
          f"{int(np.sum(np.ptp(theirs, axis=1) > 5))} somata move by > 5 mV")


if __name__ == "__main__":
    main()
