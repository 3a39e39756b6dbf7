"""The BAAIWorm tuned circuit in NEURON, built from the same hoc, JSON and CSV files as
``neurosim.models.baaiworm`` (the way the model's detailed_circuit.py builds it), run at
fixed step (secondorder 0) with IClamps at the somata; writes every soma's v.

    python baaiworm_neuron.py DATA LIBNRNMECH STIMULUS.json TSTOP DT REPEATS OUT.npz

LIBNRNMECH: the model's .mod files compiled by nrnivmodl (libnrnmech.so).  OUT.npz holds
``names``, ``v`` [cells x steps + 1] and ``run_s`` (the wall time of each of REPEATS runs,
finitialize to tstop; building is not timed).  A subprocess of the test and the benchmark:
NEURON loads the mechanisms once per process."""

import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from neuron import h

CHANNELS = ("shl1", "shk1", "kvs1", "egl2", "egl36", "kqt3", "egl19", "unc2", "cca1",
            "slo1_egl19", "slo1_unc2", "slo2_egl19", "slo2_unc2", "kcnl", "nca", "irk")


def build_cell(data, name):
    h.load_file(str(data / "model" / f"{name}.hoc"))
    cell = getattr(h, name)()
    prefix = cell.hname() + "."
    secs = {sec.name()[len(prefix):]: sec for sec in h.allsec()
            if sec.name().startswith(prefix)}
    with open(data / "param" / "cell" / f"{name}.json") as f:
        params = json.load(f)
    for sname, sec in secs.items():
        part = params["soma"] if sname == "Soma" else params["neurite"]
        sec.nseg = 1 if sname == "Soma" else math.ceil(sec.L / 2.0)
        sec.Ra, sec.cm = part["Ra"], part["cm"]
        sec.insert("pas")
        for seg in sec:
            seg.pas.g, seg.pas.e = part["gpas"], part["epas"]
    soma = secs["Soma"]
    for ch in CHANNELS:
        soma.insert(ch)
        setattr(soma(0.5), f"gb{ch.split('_')[0]}_{ch}", params["soma"]["gb" + ch])
    soma.insert("cainternm")
    return cell, secs


def main(data, lib, stimulus, tstop, dt, repeats, out):
    data = Path(data)
    h.nrn_load_dll(lib)
    h.load_file("stdrun.hoc")
    with open(data / "config.json") as f:
        info = json.load(f)["cell_info"]
    names = [info["cells_name_dic"][str(i)] for i in info["cells_id_sim"]]
    cells = {n: build_cell(data, n) for n in names}
    keep = []
    with open(data / "tuned_circuit" / "connections.csv", newline="") as f:
        for row in csv.DictReader(f):
            post = cells[row["post_cell"]][1][row["post_section"]](float(row["post_x"]))
            pre = cells[row["pre_cell"]][1][row["pre_section"]](float(row["pre_x"]))
            pp = getattr(h, row["mechanism"])(post)
            pp.weight = abs(float(row["weight"]))
            h.setpointer(pre._ref_v, "vpre", pp)
            keep.append(pp)
    with open(stimulus) as f:
        for c in json.load(f)["clamps"]:
            stim = h.IClamp(cells[c["cell"]][1]["Soma"](0.5))
            stim.delay, stim.dur, stim.amp = c["delay"], c["dur"], c["amp"]
            keep.append(stim)
    recs = [h.Vector().record(cells[n][1]["Soma"](0.5)._ref_v) for n in names]
    h.secondorder = 0
    h.dt = dt
    h.steps_per_ms = 1.0 / dt
    h.tstop = tstop
    run_s = []
    for _ in range(int(repeats)):
        t0 = time.perf_counter()
        h.finitialize(-65.0)
        h.continuerun(tstop)
        run_s.append(time.perf_counter() - t0)
    np.savez(out, names=np.array(names), v=np.array([np.array(r) for r in recs]),
             run_s=np.array(run_s))


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], a[2], float(a[3]), float(a[4]), int(a[5]), a[6])
