"""NEST point neurons in networks give NEST's numbers: a network built in PyNEST and in
neurosim (off-grid spike-generator times, recurrent connections, one delay), and SONATA's
300_pointneurons run by PointNet (bmtk + NEST) and by neurosim on the same files."""

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

import neurosim as ns
from neurosim.lowering.connections import nest_stamps

from shared_data import shared

nest = pytest.importorskip("nest", reason="nest-simulator is a dev dependency")


def test_nest_stamps_are_the_end_of_the_step():
    t = np.array([0.004, 0.01, 17.35, 17.353, 17.3599999, 2.0, 1e-7])
    np.testing.assert_array_equal(np.round(nest_stamps(t, 0.01) / 0.01),
                                  [1, 1, 1735, 1736, 1736, 200, 1])


def _network(seed=3, n=40, n_in=20, t_stop=200.0):
    rng = np.random.default_rng(seed)
    params = [{"C_m": float(rng.uniform(50, 250)), "tau_m": float(rng.uniform(10, 45)),
               "t_ref": 3.0, "E_L": -75.0, "V_th": -50.0, "V_reset": -60.0,
               "tau_syn_ex": 2.0, "tau_syn_in": 2.0} for _ in range(n)]
    trains = [np.sort(rng.uniform(1.0, t_stop - 5, 60)).round(4) for _ in range(n_in)]
    conns = [(int(s), int(t), float(w)) for s, t, w in
             zip(rng.integers(0, n + n_in, 600), rng.integers(0, n, 600),
                 rng.choice([150.0, 220.0, -300.0], 600))]
    return params, trains, conns


def test_network_matches_pynest():
    """Spikes identical and V_m to 1e-9 mV: generator times off the grid land at the end of
    their step; a 2 ms delay is 200 steps."""
    dt, t_stop = 0.01, 200.0
    params, trains, conns = _network()
    n, n_in = len(params), len(trains)
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.ResetKernel()
    nest.resolution = dt
    cells = nest.Create("iaf_psc_alpha", n, params=params)
    gens = nest.Create("spike_generator", n_in, params=[
        {"spike_times": t.tolist(), "precise_times": True} for t in trains])
    every = list(cells) + list(gens)
    for s, t, w in conns:
        nest.Connect(every[s], cells[t], syn_spec={"weight": w, "delay": 2.0})
    rec = nest.Create("spike_recorder")
    nest.Connect(cells, rec)
    meter = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": dt})
    nest.Connect(meter, cells[:5])
    nest.Simulate(t_stop)
    ev = rec.get("events")
    ref = sorted(zip(np.round(ev["times"] / dt).astype(int), ev["senders"] - 1))
    assert len(ref) > 100

    net = ns.Network()
    gids = [int(net.add_cells(ns.models.point_neuron("iaf_psc_alpha", **p))[0])
            for p in params]
    srcs = [int(net.add_spike_source(t)) for t in trains]
    every = gids + srcs
    for s, t, w in conns:
        net.connect(every[s], gids[t], weight=w, delay=2.0)
    sim = ns.Simulation(net, dt=dt)
    spikes = sim.record_spikes(gids)
    traces = [sim.record("V_m", None, cell=g) for g in gids[:5]]
    sim.run(t_stop)
    pos = {g: i for i, g in enumerate(gids)}
    mine = sorted(zip(np.round(spikes.times / dt).astype(int), [pos[int(g)] for g in spikes.gids]))
    assert mine == ref
    mm = meter.get("events")
    for k, tr in enumerate(traces):
        sel = mm["senders"] == cells[k].global_id
        t_nest, v_nest = mm["times"][sel], mm["V_m"][sel]
        v = tr.values[np.searchsorted(tr.times, t_nest - 1e-9)]
        np.testing.assert_allclose(v, v_nest, rtol=0, atol=1e-9)


# --------------------------------------------------------------------- SONATA: 300_pointneurons
NEST_EXAMPLE = os.path.join(os.path.dirname(nest.__file__), "doc", "examples", "pynest",
                            "sonata_example", "300_pointneurons")
RECORDED = [0, 80, 160, 240, 270]          # node_sets.json's recorded_cells

# PointNet (bmtk + NEST) on a config (argv 1): spikes.h5 and membrane_potential.h5 in its
# output_dir; with argv 2, the V_m of the recorded internal nodes at every step, to memory
# (full precision; the report holds 3 decimals), in that npz
_POINTNET = """
import sys, numpy as np, nest
from bmtk.simulator import pointnet
c = pointnet.Config.from_json(sys.argv[1]); c.build_env()
net = pointnet.PointNetwork.from_config(c)
sim = pointnet.PointSimulator.from_config(c, net)
if len(sys.argv) > 2:
    ids = net.gid_map.get_nestids("internal", %s)
    meter = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": c.dt})
    nest.Connect(meter, nest.NodeCollection(sorted(ids)))
sim.run()
if len(sys.argv) > 2:
    m = meter.get("events")
    back = dict(zip(ids, %s))
    np.savez(sys.argv[2], vt=m["times"], vid=[back[s] for s in m["senders"]], v=m["V_m"])
""" % (RECORDED, RECORDED)


def _python(script, *args, cwd):
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _spikes(path):
    with h5py.File(path, "r") as f:
        g = f["spikes"]["internal"]
        t, n = g["timestamps"][()], g["node_ids"][()].astype(np.int64)
    return sorted(zip(np.round(t / 0.01).astype(np.int64).tolist(), n.tolist()))


def _neurosim(sim_config, recorded=RECORDED, output_dir=None):
    """neurosim's run of a SONATA simulation config: its spikes and the V_m of the
    recorded internal nodes at every step."""
    from neurosim.io.sonata.simulation import SonataRun
    cfg = json.load(open(sim_config))
    cfg.pop("reports", None)        # V_m is recorded here, at full precision
    path = os.path.join(os.path.dirname(sim_config), "_neurosim_config.json")
    json.dump(cfg, open(path, "w"))
    run = SonataRun(path, output_dir=output_dir)
    gids = run.circuit.gids("internal", np.asarray(recorded))
    traces = [run.sim.record("V_m", None, cell=int(g)) for g in gids]
    run.run()
    run.write()
    return _spikes(run.spikes_file), traces


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    root = tmp_path_factory.mktemp("sonata")
    src = shared("sonata-examples")
    shutil.copytree(src / "300_pointneurons", root / "300_pointneurons")
    shutil.copytree(src / "shared_components" / "nest_models",
                    root / "shared_components" / "nest_models")
    return root / "300_pointneurons"


def test_300_pointneurons_matches_pointnet(copy):
    """PointNet's spikes exactly; V_m to 1e-6 mV of NEST's (its SonataNetwork on these
    files, recorded to memory) and to the 3 decimals of PointNet's ASCII-fed report."""
    _python(_POINTNET, "config.json", copy / "nest.npz", cwd=copy)
    reference = _spikes(copy / "output" / "spikes.h5")
    assert len(reference) > 10000
    nest_run = np.load(copy / "nest.npz")

    mine, traces = _neurosim(str(copy / "simulation_config.json"),
                             output_dir=str(copy / "output_neurosim"))
    first = next((k for k, (a, b) in enumerate(zip(mine, reference)) if a != b),
                 min(len(mine), len(reference)))
    assert mine == reference, (f"{len(mine)} vs PointNet's {len(reference)} spikes; first "
                               f"difference at #{first}: {mine[first:first + 2]} vs "
                               f"{reference[first:first + 2]}")
    with h5py.File(copy / "output" / "membrane_potential.h5", "r") as f:
        pn_t0, pn_t1, pn_dt = f["report/internal/mapping/time"][()]
        pn_ids = f["report/internal/mapping/node_ids"][()]
        pn_v = f["report/internal/data"][()]
    pn_times = pn_t0 + pn_dt * np.arange(len(pn_v))
    worst = 0.0
    for k, (node, trace) in enumerate(zip(RECORDED, traces)):
        sel = nest_run["vid"] == node
        t_nest, v_nest = nest_run["vt"][sel], nest_run["v"][sel]
        v = trace.values[np.searchsorted(trace.times, t_nest - 1e-9)]
        worst = max(worst, float(np.max(np.abs(v - v_nest))))
        col = int(np.flatnonzero(pn_ids == node)[0])
        v_pn = trace.values[np.searchsorted(trace.times, pn_times - 1e-9)]
        np.testing.assert_allclose(v_pn, pn_v[:, col], rtol=0, atol=5e-4 + 1e-9)
    print(f"300_pointneurons: {len(mine)} spikes as PointNet's; V_m within {worst:.3g} mV "
          "of NEST's")
    assert worst <= 1e-6, f"V_m differs from NEST's by {worst} mV"
    # the command line on config.json: the spikes and the multimeter_report
    from neurosim.cli import main
    assert main(["run", str(copy / "config.json"), "--quiet"]) == 0
    assert _spikes(copy / "output" / "spikes.h5") == reference
    with h5py.File(copy / "output" / "membrane_potential.h5", "r") as f:
        assert list(f["report/internal/mapping/node_ids"][()]) == RECORDED
        mine_v = f["report/internal/data"][()]
    n = min(len(mine_v), len(pn_v))
    assert n >= len(pn_v) - 100
    np.testing.assert_allclose(mine_v[:n], pn_v[:n], rtol=0, atol=5e-4 + 1e-9)


# NEST's SonataNetwork needs NEST built with HDF5, which the nest-simulator wheel is not; this
# builds what it builds from the files in PyNEST: the node types' parameters, a spike_generator
# per virtual node (allow_offgrid_times, as SonataNetwork sets it), syn_weight per edge, the
# edge type's delay or static_synapse's default (1 ms)
_NEST_FROM_FILES = """
import sys, csv, json, os, h5py, numpy as np, nest
nest.verbosity = nest.VerbosityLevel.ERROR
nest.resolution = 0.01
def types(path):
    return {int(r["node_type_id" if "node_type_id" in r else "edge_type_id"]): r
            for r in csv.DictReader(open(path), delimiter=" ")}
cell_types = types("network/internal_node_types.csv")
with h5py.File("network/internal_nodes.h5") as f:
    type_ids = f["nodes/internal/node_type_id"][()]
params = [json.load(open(os.path.join("components/cell_models",
                                      cell_types[int(k)]["dynamics_params"])))
          for k in type_ids]
cells = nest.Create("iaf_psc_alpha", len(params), params=params)
with h5py.File("inputs/external_spike_trains.h5") as f:
    t, n = f["spikes/timestamps"][()], f["spikes/gids"][()]   # an old file: no population
with h5py.File("network/external_nodes.h5") as f:
    n_ext = len(f["nodes/external/node_id"])
gens = nest.Create("spike_generator", n_ext, params=[
    {"spike_times": np.sort(t[n == k]).tolist(), "allow_offgrid_times": True}
    for k in range(n_ext)])
for name, src in (("internal_internal", cells), ("external_internal", gens)):
    et = types(f"network/{name}_edge_types.csv")
    with h5py.File(f"network/{name}_edges.h5") as f:
        g = f["edges"][name.replace("_", "_to_")]
        s, d = g["source_node_id"][()], g["target_node_id"][()]
        w, e = g["0/syn_weight"][()], g["edge_type_id"][()]
    delay = np.array([float(et[int(k)].get("delay") or 1.0) for k in e])
    nest.Connect(np.asarray(src.tolist())[s], np.asarray(cells.tolist())[d],
                 conn_spec="one_to_one", syn_spec={"weight": w, "delay": delay})
rec = nest.Create("spike_recorder")
nest.Connect(cells, rec)
nest.Simulate(1500.0)
ev = rec.get("events")
np.savez(sys.argv[1], times=ev["times"], ids=ev["senders"] - cells[0].global_id)
"""


def test_nest_example_copy_matches_nest(tmp_path):
    """NEST's own copy of the example (no node_sets.json; components beside it) runs and
    gives NEST's spikes on the same files: as is, those of PointNet's spike generators
    (precise_times); with PointNet's run keys precise_times false and allow_offgrid_spikes
    (NEST's SonataNetwork's generators), those -- they differ: 440 input times lie within
    half a microsecond of the grid."""
    copy = tmp_path / "300_pointneurons"
    shutil.copytree(NEST_EXAMPLE, copy, ignore=shutil.ignore_patterns("output*", "__py*"))
    assert not (copy / "node_sets.json").exists()
    config = copy / "simulation_config.json"
    results = {}
    for grid in (False, True):
        script = _NEST_FROM_FILES if grid else _NEST_FROM_FILES.replace(
            '"allow_offgrid_times": True', '"precise_times": True')
        _python(script, copy / "nest.npz", cwd=copy)
        nest_run = np.load(copy / "nest.npz")
        reference = sorted(zip(np.round(nest_run["times"] / 0.01).astype(np.int64).tolist(),
                               nest_run["ids"].astype(np.int64).tolist()))
        if grid:
            cfg = json.load(open(config))
            cfg["run"].update(precise_times=False, allow_offgrid_spikes=True)
            config = copy / "simulation_config_grid.json"
            json.dump(cfg, open(config, "w"))
        mine, _ = _neurosim(str(config), recorded=[], output_dir=str(copy / f"out{grid}"))
        assert len(reference) > 10000 and mine == reference, grid
        results[grid] = mine
    assert results[False] != results[True]


def test_step_current_matches_nest():
    """A step_current_generator onto iaf_psc_alpha, connected with delay dt as PointNet
    connects it: V_m to 1e-9 mV and the same spikes; two generators onto one neuron add."""
    dt = 0.1
    times, amps = [10.0, 30.0, 50.5, 80.0], [400.0, -150.0, 900.0, 0.0]
    nest.ResetKernel()
    nest.resolution = dt
    cells = nest.Create("iaf_psc_alpha", 2, params={"tau_m": 15.0, "C_m": 120.0})
    gen = nest.Create("step_current_generator", params={"amplitude_times": times,
                                                        "amplitude_values": amps})
    gen2 = nest.Create("step_current_generator", params={"amplitude_times": [20.0, 60.0],
                                                         "amplitude_values": [200.0, 0.0]})
    nest.Connect(gen, cells, syn_spec={"delay": dt})
    nest.Connect(gen2, cells[1], syn_spec={"delay": dt})
    rec = nest.Create("spike_recorder")
    nest.Connect(cells, rec)
    meter = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": dt})
    nest.Connect(meter, cells)
    nest.Simulate(100.0)
    ev, mm = rec.get("events"), meter.get("events")

    net = ns.Network()
    gids = net.add_cells(ns.models.point_neuron("iaf_psc_alpha", tau_m=15.0, C_m=120.0), n=2)
    net.add_step_current(gids, times, amps)
    net.add_step_current(gids[1], [20.0, 60.0], [200.0, 0.0])
    sim = ns.Simulation(net, dt=dt)
    spikes = sim.record_spikes()
    traces = [sim.record("V_m", None, cell=int(g)) for g in gids]
    sim.run(100.0)
    assert len(ev["times"]) > 5
    for k in range(2):
        mine = np.sort(spikes.times[spikes.gids == gids[k]])
        np.testing.assert_allclose(mine, np.sort(ev["times"][ev["senders"] == cells[k].global_id]),
                                   atol=1e-9)
        sel = mm["senders"] == cells[k].global_id
        v = traces[k].values[np.searchsorted(traces[k].times, mm["times"][sel] - 1e-9)]
        np.testing.assert_allclose(v, mm["V_m"][sel], rtol=0, atol=1e-9)


def _clamp_matches_pointnet(copy, name, clamp):
    """400 ms of the example with ``clamp`` as an input: PointNet's spikes exactly, and not
    those of the run without it."""
    cfg = json.load(open(copy / "simulation_config.json"))
    cfg["run"]["tstop"] = 400.0
    cfg.pop("reports")
    cfg["inputs"]["clamp"] = clamp
    cfg["output"]["output_dir"] = f"$BASE_DIR/output_{name}"
    json.dump(cfg, open(copy / f"{name}_config.json", "w"))
    _python(_POINTNET, f"{name}_config.json", cwd=copy)
    reference = _spikes(copy / f"output_{name}" / "spikes.h5")
    mine, _ = _neurosim(str(copy / f"{name}_config.json"), recorded=[],
                        output_dir=str(copy / f"output_{name}_neurosim"))
    assert mine == reference
    cfg["inputs"].pop("clamp")
    json.dump(cfg, open(copy / "plain_config.json", "w"))
    plain, _ = _neurosim(str(copy / "plain_config.json"), recorded=[],
                         output_dir=str(copy / "output_plain_neurosim"))
    assert plain != mine                    # the clamp changes the spikes


def test_300_pointneurons_current_clamp_matches_pointnet(copy):
    """A current_clamp input onto NEST point neurons (amplitudes in pA, as PointNet reads
    them) gives PointNet's spikes."""
    _clamp_matches_pointnet(copy, "iclamp", {
        "input_type": "current_clamp", "module": "IClamp", "node_set": "recorded_cells",
        "amp": [250.0, -100.0], "delay": [100.0, 250.5], "duration": [100.0, 50.0]})


def test_300_pointneurons_csv_current_clamp_matches_pointnet(copy):
    """A current clamp played from a CSV (bmtk's ``csv`` input: amplitudes in pA from each
    timestamp on, the last one held) gives PointNet's spikes."""
    (copy / "clamp.csv").write_text("timestamps amps\n0.005 500.0\n100.0 250.0\n"
                                    "200.0 -150.0\n300.0 120.0\n")
    _clamp_matches_pointnet(copy, "csv", {"input_type": "csv", "module": "IClamp",
                                          "node_set": "recorded_cells",
                                          "file": "$BASE_DIR/clamp.csv"})


def test_300_pointneurons_as_iaf_psc_delta_matches_pointnet(copy):
    """The example's neurons as NEST's iaf_psc_delta (each spike's weight a jump of V_m in
    mV, in the step that ends at its arrival): PointNet's spikes exactly."""
    delta = copy.parent / "300_delta"
    shutil.copytree(copy, delta, ignore=shutil.ignore_patterns("output*", "*_config.json"))
    shutil.copy(copy / "simulation_config.json", delta)
    shutil.copy(copy / "circuit_config.json", delta)
    types_csv = delta / "network" / "internal_node_types.csv"
    types_csv.write_text(types_csv.read_text().replace("iaf_psc_alpha", "iaf_psc_delta"))
    cfg = json.load(open(delta / "simulation_config.json"))
    cfg["run"]["tstop"] = 400.0
    cfg.pop("reports")
    json.dump(cfg, open(delta / "simulation_config.json", "w"))
    _python(_POINTNET, "simulation_config.json", cwd=delta)
    reference = _spikes(delta / "output" / "spikes.h5")
    assert len(reference) > 1000
    mine, _ = _neurosim(str(delta / "simulation_config.json"), recorded=[],
                        output_dir=str(delta / "output_neurosim"))
    assert mine == reference


# glif_psc parameter files (NEST's names and vectors, as the Allen Institute's GLIF models
# give them): GLIF1-5 across 300_pointneurons' five cell types
_GLIF_COMMON = {"C_m": 58.72, "g": 9.43, "E_L": -78.85, "V_th": -51.68, "V_reset": -78.85,
                "V_m": -78.85, "t_ref": 3.75, "tau_syn": [5.5, 8.5]}
_GLIF_ASC = {"asc_init": [0.0, 0.0], "asc_decay": [0.003, 0.1], "asc_amps": [-9.18, -19.4],
             "asc_r": [1.0, 1.0]}
_GLIF_R = {"voltage_reset_fraction": 0.4, "voltage_reset_add": 9.0, "th_spike_add": 2.5,
           "th_spike_decay": 0.05}
_GLIF_TYPES = {
    100: {"spike_dependent_threshold": False, "after_spike_currents": False,
          "adapting_threshold": False},
    101: {"spike_dependent_threshold": True, "after_spike_currents": False,
          "adapting_threshold": False, **_GLIF_R, "C_m": 80.0},
    102: {"spike_dependent_threshold": False, "after_spike_currents": True,
          "adapting_threshold": False, **_GLIF_ASC, "g": 7.0},
    103: {"spike_dependent_threshold": True, "after_spike_currents": True,
          "adapting_threshold": False, **_GLIF_ASC, **_GLIF_R, "tau_syn": [3.0, 4.0]},
    104: {"spike_dependent_threshold": True, "after_spike_currents": True,
          "adapting_threshold": True, **_GLIF_ASC, **_GLIF_R, "th_voltage_index": 0.02,
          "th_voltage_decay": 0.2, "V_m": -70.0},
}


def test_300_pointneurons_glif_psc_matches_pointnet(tmp_path):
    """300_pointneurons with its neurons as glif_psc (GLIF1-5, one per cell type), the
    excitatory synapse files naming receptor_type 1 and the inhibitory ones 2: PointNet's
    spikes exactly."""
    src = shared("sonata-examples")
    root = tmp_path / "glif"
    shutil.copytree(src / "300_pointneurons", root / "300_pointneurons")
    shutil.copytree(src / "shared_components" / "nest_models",
                    root / "shared_components" / "nest_models")
    copy = root / "300_pointneurons"
    models = root / "shared_components" / "nest_models"
    lines = open(copy / "network" / "internal_node_types.csv").read().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split(" ")
        type_id = int(fields[0])
        fields[2], fields[4] = "nest:glif_psc", f"glif_{type_id}.json"
        json.dump({**_GLIF_COMMON, **_GLIF_TYPES[type_id]},
                  open(models / "cell_models" / f"glif_{type_id}.json", "w"))
        out.append(" ".join(fields))
    open(copy / "network" / "internal_node_types.csv", "w").write("\n".join(out) + "\n")
    for name, port in (("ExcToExc", 1), ("ExcToInh", 1), ("InhToExc", 2), ("InhToInh", 2)):
        json.dump({"receptor_type": port}, open(models / "synaptic_models" / f"{name}.json",
                                                "w"))
    cfg = json.load(open(copy / "simulation_config.json"))
    cfg["run"]["tstop"] = 500.0
    cfg.pop("reports")
    json.dump(cfg, open(copy / "simulation_config.json", "w"))
    _python(_POINTNET, "config.json", cwd=copy)
    reference = _spikes(copy / "output" / "spikes.h5")
    mine, _ = _neurosim(str(copy / "simulation_config.json"), recorded=[],
                        output_dir=str(copy / "output_neurosim"))
    by_type = {}
    with h5py.File(copy / "network" / "internal_nodes.h5", "r") as f:
        types = f["nodes/internal/node_type_id"][()]
    for _, node in reference:
        by_type[int(types[node])] = by_type.get(int(types[node]), 0) + 1
    print(f"glif_psc 300_pointneurons: {len(reference)} spikes, by cell type {by_type}")
    assert len(reference) > 1000 and sorted(by_type) == sorted(_GLIF_TYPES), by_type
    first = next((k for k, (a, b) in enumerate(zip(mine, reference)) if a != b),
                 min(len(mine), len(reference)))
    assert mine == reference, (f"{len(mine)} vs PointNet's {len(reference)} spikes; first "
                               f"difference at #{first}: {mine[first:first + 2]} vs "
                               f"{reference[first:first + 2]}")

    # a glif_psc target with no receptor_type: NEST (PointNet) refuses it, and so does this
    json.dump({}, open(models / "synaptic_models" / "InhToInh.json", "w"))
    with pytest.raises(ns.NeurosimError, match="receptor_type"):
        _neurosim(str(copy / "simulation_config.json"), recorded=[],
                  output_dir=str(copy / "output_refused"))


def test_300_pointneurons_nwb_current_clamp_matches_pointnet(copy):
    """A current clamp from an Allen NWB stimulus sweep (bmtk's ``nwb`` input: the samples'
    times plus ``delay``, amperes times 1e9 taken as pA by NEST) gives PointNet's spikes."""
    import h5py
    t = np.arange(0.0, 350.0, 0.02)
    amps = np.where((t >= 50) & (t < 150), 300.0, np.where((t >= 200) & (t < 300), -120.0,
                                                           0.0)) * 1e-9
    with h5py.File(copy / "sweep.nwb", "w") as f:
        g = f.create_group("epochs/Sweep_3/stimulus/timeseries")
        g.create_dataset("data", data=amps)
        g.create_dataset("starting_time", data=0.0).attrs["rate"] = 50000.0
    _clamp_matches_pointnet(copy, "nwb", {
        "input_type": "nwb", "module": "IClamp", "node_set": "recorded_cells",
        "file": "$BASE_DIR/sweep.nwb", "sweep_id": "3", "downsample": 0.5, "delay": 20.0,
        "sweep_window": [40.0, 320.0]})
