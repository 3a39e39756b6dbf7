"""Extracellular potential: membrane currents (i_membrane_) against NEURON, the line-source
transfer resistances against a hand-worked case, the ECP of a small SONATA circuit against
bmtk's extracellular module (BioNet run in a subprocess on the same cells)."""

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import neurosim as ns
from neurosim.run.extracellular import line_source, rotation_xyz

from shared_data import SONATA_EXAMPLES, shared


def test_line_source_hand_worked():
    # one segment from (0,0,0) to (0,10,0) µm, sigma 0.3 S/m: 1/(4 pi sigma) = 0.26526 mV µm/nA
    k = 1 / (4 * math.pi * 0.3)
    p0, p1 = np.array([[0.0, 0.0, 0.0]]), np.array([[0.0, 10.0, 0.0]])
    # on the axis, 5 µm beyond the end (15 µm from the centre... the centre is at y = 5):
    # r_ll = 15, up = 20, low = 10, r_T = 0 -> ln(40/20)/10
    on_axis = line_source([[0.0, 20.0, 0.0]], p0, p1)
    assert on_axis[0, 0] == pytest.approx(k * math.log(2.0) / 10, rel=1e-12)
    # off the axis, beside the centre at 4 µm: r_ll = 0, up = 5, low = -5, r_T = 4
    # -> ln((5 + sqrt 41)/(-5 + sqrt 41))/10
    beside = line_source([[4.0, 5.0, 0.0]], p0, p1)
    s41 = math.sqrt(41.0)
    assert beside[0, 0] == pytest.approx(k * math.log((5 + s41) / (s41 - 5)) / 10, rel=1e-12)
    # far away it is a point source: 1/(4 pi sigma r)
    far = line_source([[3000.0, 5.0, 4000.0]], p0, p1)
    assert far[0, 0] == pytest.approx(k / 5000.0, rel=1e-5)
    # minimum distance: the perpendicular distance is raised to it near the segment
    close = line_source([[0.5, 5.0, 0.0]], p0, p1, minimum_distance=2.0)
    assert close[0, 0] == pytest.approx(line_source([[2.0, 5.0, 0.0]], p0, p1)[0, 0])


def test_rotation_is_bmtks():
    # bmtk's rotation_matrix([0,0,1], pi/2): counterclockwise, x goes to y
    rz = rotation_xyz([0.0, 0.0, math.pi / 2])
    np.testing.assert_allclose(rz @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    try:
        from bmtk.simulator.bionet.morphology import rotation_matrix
    except ImportError:       # bmtk (NEURON) not installed: the hand-worked case stands
        return
    ang = [0.3, -1.2, 2.5]
    ref = rotation_matrix([1, 0, 0], ang[0]) @ rotation_matrix([0, 1, 0], ang[1]) @ \
        rotation_matrix([0, 0, 1], ang[2])
    np.testing.assert_allclose(rotation_xyz(ang), ref, atol=1e-12)


def hh_ball_and_stick():
    cell = ns.Cell(ns.Morphology.ball_and_stick(), cm=1.0, ra=100.0, v_init=-65.0,
                   discretization=ns.NSeg(5))
    cell.insert("pas", region="dend", g=1e-4, e=-65.0)
    cell.insert("hh", region="soma")
    cell.add_iclamp((0, 0.5), delay=2.0, dur=30.0, amp=0.3)
    return cell


def test_membrane_current_matches_neuron():
    from peers import build_from_morphology, clear, h, run
    cell = hh_ball_and_stick()
    sim = ns.Simulation(cell, dt=0.025, celsius=16.0)
    mine = [sim.record("i_membrane_", loc) for loc in ((0, 0.5), (1, 0.1), (1, 0.9))]
    sim.run(30.0)
    clear()
    secs = build_from_morphology(cell.morphology, 5, ra=100.0, cm=1.0)
    secs[0].insert("hh")
    secs[1].insert("pas")
    for seg in secs[1]:
        seg.pas.g, seg.pas.e = 1e-4, -65.0
    stim = h.IClamp(secs[0](0.5))
    stim.delay, stim.dur, stim.amp = 2.0, 30.0, 0.3
    h.cvode.use_fast_imem(1)
    recs = [h.Vector().record(secs[s](x)._ref_i_membrane_) for s, x in
            ((0, 0.5), (1, 0.1), (1, 0.9))]
    run(30.0, 0.025, -65.0, celsius=16.0)
    h.cvode.use_fast_imem(0)
    for trace, rec in zip(mine, recs):
        ref = np.array(rec)
        # the first sample (t = 0) is not a step's current
        np.testing.assert_allclose(trace.values[1:], ref[1:], atol=2e-3 * np.abs(ref).max())
    clear()


def test_membrane_currents_add_up_to_the_stimulus():
    cell = hh_ball_and_stick()
    sim = ns.Simulation(cell, dt=0.025, celsius=16.0)
    sim.record_ecp([[0.0, 50.0, 0.0]])          # turns the currents on everywhere
    sim.run(10.0)
    assert abs(sim.backend.imem.sum() - 0.3) < 1e-9


# ---------------------------------------------------------------- against bmtk's BioNet
EXAMPLE = "5_cells_iclamp"
TSTOP, DT = 400.0, 0.1
# extra rotations (radians about x, y, z) of the example's five cells, so that bmtk's
# rotation is exercised too (the example has none)
ROTATIONS = [(0.3, 0.0, 0.0), (0.0, 0.7, 0.2), (0.0, 0.0, -0.5), (1.1, 0.0, 0.4),
             (0.0, -0.6, 0.0)]


def _cells():
    """(node type, fit JSON, SWC, position) of the example's cells: the JSON fit of each
    nml template (Cell_<id>.cell.nml -> <id>_fit.json), as bmtk and neurosim both read."""
    types = {}
    lines = shared("sonata-examples", EXAMPLE, "network", "biophysical_node_types.csv") \
        .read_text().split("\n")
    header = lines[0].split()
    for line in lines[1:]:
        if line.strip():
            row = dict(zip(header, line.split()))
            cid = row["model_template"].split("Cell_")[1].split(".")[0]
            types[int(row["node_type_id"])] = (f"{cid}_fit.json", row["morphology"] + ".swc")
    with h5py.File(shared("sonata-examples", EXAMPLE, "network", "biophysical_nodes.h5"),
                   "r") as f:
        g = f["nodes/biophysical"]
        tids = g["node_type_id"][()]
        xyz = np.stack([g[f"0/{a}"][()] for a in "xyz"], axis=1)
    return [(int(t), *types[int(t)], tuple(p), ROTATIONS[k])
            for k, (t, p) in enumerate(zip(tids, xyz))]


BIONET = """
import sys
from bmtk.simulator import bionet
conf = bionet.Config.from_json(sys.argv[1], validate=True)
conf.build_env()
net = bionet.BioNetwork.from_config(conf)
sim = bionet.BioSimulator.from_config(conf, network=net)
sim.run()
"""


def _circuit(tmp_path, compile_mechanisms=True):
    """A copy of 5_cells_iclamp with its cells on their JSON fits (what both simulators
    read), rotated, an IClamp making them spike, and the example's ecp report."""
    cells = _cells()
    comp = SONATA_EXAMPLES / "shared_components"
    mech = tmp_path / "mechanisms"
    shutil.copytree(shared("sonata-examples", "shared_components", "mechanisms", "modfiles"),
                    mech / "modfiles")
    if compile_mechanisms:          # for BioNet (neurosim has the Allen channels built in)
        out = subprocess.run(["nrnivmodl", "modfiles"], cwd=mech, capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stdout + out.stderr
    with h5py.File(tmp_path / "nodes.h5", "w") as f:
        g = f.create_group("nodes/biophysical")
        n = len(cells)
        g["node_id"] = np.arange(n, dtype=np.uint64)
        g["node_type_id"] = np.array([c[0] for c in cells], dtype=np.uint64)
        g["node_group_id"] = np.zeros(n, dtype=np.uint32)
        g["node_group_index"] = np.arange(n, dtype=np.uint64)
        for k, axis in enumerate("xyz"):
            g[f"0/{axis}"] = np.array([c[3][k] for c in cells])
            g[f"0/rotation_angle_{axis}axis"] = np.array([c[4][k] for c in cells])
    rows = ["node_type_id ei model_processing morphology model_template model_type "
            "dynamics_params"]
    rows += [f"{c[0]} e aibs_perisomatic {c[2]} ctdb:Biophys1.hoc biophysical {c[1]}"
             for c in cells]
    (tmp_path / "node_types.csv").write_text("\n".join(rows) + "\n")
    example = json.loads(shared("sonata-examples", EXAMPLE, "simulation_config.json")
                         .read_text())
    report = dict(example["reports"]["ecp"])
    report["electrode_positions"] = str(comp / "recXelectrodes" / "linear_electrode.csv")
    report["file_name"] = "ecp.h5"
    config = {
        "run": {"tstop": TSTOP, "dt": DT, "dL": 20.0, "spike_threshold": -15.0,
                "nsteps_block": 1000},
        "target_simulator": "NEURON",
        "conditions": {"celsius": 34.0, "v_init": -80.0},
        "node_sets_file": str(tmp_path / "node_sets.json"),
        "inputs": {"clamp": {"input_type": "current_clamp", "module": "IClamp",
                             "node_set": "biophys_cells", "amp": 0.25, "delay": 100.0,
                             "duration": 250.0}},
        "output": {"output_dir": str(tmp_path / "bionet"), "log_file": "log.txt",
                   "spikes_file": "spikes.h5", "spikes_sort_order": "time"},
        "reports": {"ecp": report},
        "components": {"morphologies_dir": str(comp / "morphologies"),
                       "mechanisms_dir": str(mech),
                       "biophysical_neuron_models_dir":
                           str(comp / "biophysical_neuron_templates" / "json")},
        "networks": {"nodes": [{"nodes_file": str(tmp_path / "nodes.h5"),
                                "node_types_file": str(tmp_path / "node_types.csv")}]},
    }
    (tmp_path / "node_sets.json").write_text(json.dumps({"biophys_cells": {
        "population": "biophysical"}}))      # bmtk 1.2 finds none by model_type here
    path = tmp_path / "simulation_config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def per_channel_relative_rms(mine, ref):
    return np.sqrt(np.mean((mine - ref) ** 2, axis=0)) / np.sqrt(np.mean(ref ** 2, axis=0))


def test_ecp_matches_bionet(tmp_path):
    pytest.importorskip("bmtk")
    from neurosim.io.sonata.simulation import SonataRun
    config = _circuit(tmp_path)
    script = tmp_path / "run_bionet.py"
    script.write_text(BIONET)
    out = subprocess.run([sys.executable, str(script), str(config)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    run = SonataRun(str(config), output_dir=str(tmp_path / "neurosim"))
    run.run()
    run.write()
    with h5py.File(tmp_path / "bionet" / "ecp.h5", "r") as a, \
            h5py.File(tmp_path / "neurosim" / "ecp.h5", "r") as b:
        for key in ("/ecp/time", "/ecp/channel_id"):
            np.testing.assert_allclose(b[key][()], a[key][()])
        assert b["/ecp/data"].shape == a["/ecp/data"].shape
        assert b["/ecp/data"].attrs["units"] == a["/ecp/data"].attrs["units"]
        assert b.attrs["magic"] == a.attrs["magic"]
        ref, mine = a["/ecp/data"][()], b["/ecp/data"][()]
    err = per_channel_relative_rms(mine, ref)     # measured: 1.6e-7 at most
    print("ecp relative RMS per channel: max %.3g, median %.3g" % (err.max(), np.median(err)))
    np.save(tmp_path / "err.npy", err)
    assert err.max() <= 0.02, err


@pytest.mark.parametrize("key", ["contributions_dir", "cell_vars_dir", "file_name_nwb"])
def test_unsupported_report_keys_are_refused_by_name(tmp_path, key):
    from neurosim.io.sonata.config import SonataError
    from neurosim.io.sonata.simulation import SonataRun
    config = _circuit(tmp_path, compile_mechanisms=False)
    cfg = json.loads(config.read_text())
    cfg["reports"]["ecp"][key] = "somewhere"
    config.write_text(json.dumps(cfg))
    with pytest.raises(SonataError, match=key):
        SonataRun(str(config), output_dir=str(tmp_path / "out"))


def test_ecp_file_layout(tmp_path):
    """ecp.h5 as bmtk writes it: rows after each step, (0, tstop, dt), channel ids."""
    from neurosim.io.sonata.simulation import SonataRun
    config = _circuit(tmp_path, compile_mechanisms=False)
    cfg = json.loads(config.read_text())
    cfg["run"]["tstop"] = 5.0
    config.write_text(json.dumps(cfg))
    run = SonataRun(str(config), output_dir=str(tmp_path / "out"))
    run.run()
    with h5py.File(tmp_path / "out" / "ecp.h5", "r") as f:
        assert f["/ecp/data"].shape == (50, 86)
        assert f["/ecp/data"].attrs["units"] == "mV"
        np.testing.assert_allclose(f["/ecp/time"][()], [0.0, 5.0, 0.1])
        np.testing.assert_array_equal(f["/ecp/channel_id"][()], np.arange(86))
        assert f.attrs["magic"] == 0x0A7A
        data = f["/ecp/data"][()]
    # the recorded samples are the transfer matrix times the membrane currents
    rec = run.reports[0].record
    np.testing.assert_allclose(rec.times, 0.1 * np.arange(1, 51), atol=1e-12)
    np.testing.assert_allclose(data[-1], rec.transfer @ run.sim.backend.imem, rtol=1e-10,
                               atol=1e-15)
