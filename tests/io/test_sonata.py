"""SONATA in and out: a circuit built with bmtk runs from its config; libsonata and bmtk
read the results back and they equal what neurosim held in memory; bad files give errors
that name file and dataset; outputs appear only complete."""

import json
import os
import shutil
import subprocess
import sys

import bmtk
import h5py
import libsonata
import numpy as np
import pytest

import neurosim as ns
from neurosim.cli import main
from neurosim.io.sonata import SonataError, SonataRun, read_spikes
from neurosim.lowering.cells import discretize

from sonata_circuit import build

TSTOP = 300.0


@pytest.fixture(scope="module")
def circuit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sonata")
    return build(folder, tstop=TSTOP)


def report(path, population="v1"):
    pop = libsonata.ElementReportReader(path)[population]
    frames = pop.get()
    return np.asarray(frames.data), np.asarray(frames.ids), np.asarray(frames.times)


def test_a_bmtk_circuit_runs_and_libsonata_reads_the_results(circuit):
    run = SonataRun(circuit)
    net, c = run.circuit.network, run.circuit
    bio = c.gids("v1", [0, 1])
    lif = c.gids("v1", [2, 3, 4])
    assert all(int(g) in net.cells for g in bio) and all(int(g) in net.artificial for g in lif)
    assert [len(net.cells[int(g)].synapses) for g in bio] == [11, 11]   # 4x2 AMPA + 3 GABA
    soma = [run.sim.record("v", (0, 0.5), cell=int(g), interval=0.1) for g in bio]
    v_m = run.sim.record("V_m", None, cell=int(lif[0]), interval=1.0)
    run.run()
    run.write()
    out = os.path.join(os.path.dirname(circuit), "output")

    spikes = libsonata.SpikeReader(os.path.join(out, "spikes.h5"))
    assert spikes.get_population_names() == ["v1"]
    pop = spikes["v1"]
    assert pop.sorting == "by_time"
    pairs = np.array(pop.get())
    np.testing.assert_array_equal(pairs[:, 0], run.spikes.gids - c.offset["v1"])
    np.testing.assert_array_equal(pairs[:, 1], run.spikes.times)
    fired = set(pairs[:, 0].astype(int))
    assert {0, 1} <= fired and fired & {2, 3, 4}, fired        # both kinds of cell fire

    # frames hold the values after each step, labelled from the start (BioNet's frames)
    data, ids, times = report(os.path.join(out, "soma_v.h5"))
    assert data.shape == (len(soma[0].values) - 1, 2)
    np.testing.assert_array_equal(ids, [[0, 0], [1, 0]])
    np.testing.assert_allclose(times, soma[0].times[:-1], atol=1e-9)
    for k, trace in enumerate(soma):
        np.testing.assert_allclose(data[:, k], trace.values[1:].astype(np.float32), rtol=0,
                                   atol=1e-4)
    data, ids, _ = report(os.path.join(out, "all_v.h5"))
    per_node = np.bincount(ids[:, 0])
    assert per_node[0] == per_node[1] > 100 and list(per_node[2:]) == [1, 1, 1]
    np.testing.assert_allclose(data[:, ids[:, 0] == 2][:, 0], v_m.values[1:], atol=1e-4)
    assert v_m.values[0] == -62.0                    # NEST's V_m in the JSON: the start

    # bmtk reads them too
    from bmtk.utils.reports.compartment import CompartmentReport
    from bmtk.utils.reports.spike_trains import SpikeTrains
    trains = SpikeTrains.load(os.path.join(out, "spikes.h5"))
    assert trains.n_spikes("v1") == len(pairs)
    theirs = CompartmentReport(os.path.join(out, "soma_v.h5"), mode="r")
    np.testing.assert_allclose(np.asarray(theirs.data(node_id=1, population="v1"))[:, 0],
                               soma[1].values[1:], atol=1e-4)

    # the command line writes the same files again, exit code 0
    saved = {name: report(os.path.join(out, name)) for name in ("soma_v.h5", "all_v.h5")}
    os.remove(os.path.join(out, "spikes.h5"))
    assert main(["run", circuit, "--quiet"]) == 0
    again = np.array(libsonata.SpikeReader(os.path.join(out, "spikes.h5"))["v1"].get())
    np.testing.assert_array_equal(again, pairs)
    for name, (d, i, t) in saved.items():
        np.testing.assert_array_equal(report(os.path.join(out, name))[0], d)


def test_reader_simulation_and_reports_discretise_each_geometry_once(circuit, tmp_path,
                                                                    monkeypatch):
    """Synapse placement, lowering and the reports' locations share one discretisation of
    each cell geometry (the five asks of this circuit's one geometry used to be five)."""
    from neurosim.lowering import cells
    made = []
    original = cells._lower_body
    monkeypatch.setattr(cells, "_lower_body", lambda cell: made.append(cell) or original(cell))
    folder = tmp_path / "copy"             # its own outputs: the circuit's stay unopened
    shutil.copytree(os.path.dirname(circuit), folder, ignore=shutil.ignore_patterns("output"))
    run = SonataRun(str(folder / "simulation_config.json"))
    assert len(made) == len({c.geometry_key() for c in run.sim.cells}) > 0
    run.run()                              # and closes its files


def test_info_names_populations_and_sizes(circuit, capsys):
    assert main(["info", circuit]) == 0
    text = capsys.readouterr().out
    assert "population v1: 5 nodes (2 biophysical, 3 point_neuron)" in text
    assert "population lgn: 4 nodes (4 virtual)" in text
    assert "synapses: 22 on biophysical cells" in text
    assert "memory estimate" in text


def test_the_same_files_under_mpiexec(circuit, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder,
                    ignore=shutil.ignore_patterns("output"))
    config = str(folder / "simulation_config.json")
    done = subprocess.run([shutil.which("mpiexec"), "-n", "2", sys.executable, "-m",
                           "neurosim.cli", "run", config, "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    serial = SonataRun(circuit)
    serial.run()
    got = np.array(libsonata.SpikeReader(str(folder / "output" / "spikes.h5"))["v1"].get())
    np.testing.assert_array_equal(got[:, 1], serial.spikes.times)
    data, _, _ = report(str(folder / "output" / "soma_v.h5"))
    ref, _, _ = report(os.path.join(os.path.dirname(circuit), "output", "soma_v.h5"))
    np.testing.assert_array_equal(data, ref)


def test_a_same_named_mechanism_loaded_before_does_not_stand_in(circuit, tmp_path,
                                                               monkeypatch):
    """A process that loaded another model's ``NaTs`` (the README's example file) runs the
    circuit with the Allen fit's own NaTs: the spikes of a fresh process, to the bit."""
    import neurosim as ns
    from neurosim.mechanisms import catalogue
    from neurosim.models.allen import allen_mechanisms
    for name, mech in allen_mechanisms().items():      # every channel of the fit known ...
        monkeypatch.setitem(catalogue._REGISTRY, name, mech)
    readme_nats = ns.load_catalogue(os.path.join(os.path.dirname(__file__), "..", "..", "examples",
                                                 "mod"), register=False)[0]["NaTs"]
    monkeypatch.setitem(catalogue._REGISTRY, "NaTs", readme_nats)   # ... NaTs another model's
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder, ignore=shutil.ignore_patterns("output"))
    config = str(folder / "simulation_config.json")
    done = subprocess.run([sys.executable, "-m", "neurosim", "run", config, "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    fresh = np.array(libsonata.SpikeReader(str(folder / "output" / "spikes.h5"))["v1"].get())
    here = SonataRun(config)
    here.run()
    assert len(fresh) > 10
    np.testing.assert_array_equal(fresh[:, 1], here.spikes.times)
    np.testing.assert_array_equal(fresh[:, 0], here.spikes.gids - here.circuit.offset["v1"])


def test_sigterm_checkpoints_and_restore_finishes_the_same_files(circuit, tmp_path):
    """A batch job's end: SIGTERM stops the run, a checkpoint is written, exit code 143;
    ``--restore`` in a new process finishes it: spikes and reports equal a straight run's."""
    import signal
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder,
                    ignore=shutil.ignore_patterns("output"))
    config = str(folder / "simulation_config.json")
    text = open(config).read().replace(f'"tstop": {TSTOP}', '"tstop": 3000.0')
    open(config, "w").write(text)
    straight = SonataRun(config)
    straight.run()
    reference = {name: report(str(folder / "output" / name))[0]
                 for name in ("soma_v.h5", "all_v.h5")}
    shutil.rmtree(folder / "output")
    ck = str(tmp_path / "state.h5")
    proc = subprocess.Popen([sys.executable, "-m", "neurosim.cli", "run", config,
                             "--checkpoint", ck], stderr=subprocess.PIPE, text=True)
    progress = 0
    while progress < 3:                    # a progress line per tenth of the run
        line = proc.stderr.readline()
        assert line, "the run ended before it could be stopped"
        progress += line.startswith("[")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "checkpoint at t = " in err and not (folder / "output" / "spikes.h5").exists()
    assert main(["run", config, "--quiet", "--restore", ck]) == 0
    got = np.array(libsonata.SpikeReader(str(folder / "output" / "spikes.h5"))["v1"].get())
    assert len(got) > 10
    np.testing.assert_array_equal(got[:, 1], straight.spikes.times)
    for name, data in reference.items():
        np.testing.assert_array_equal(report(str(folder / "output" / name))[0], data)


def test_a_run_that_fails_keeps_its_outputs_marked_partial(circuit, tmp_path, monkeypatch):
    """An error part-way keeps what was recorded, in the files a finished run writes, each
    marked complete = False with the time reached; the folder's manifest says partial."""
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder,
                    ignore=shutil.ignore_patterns("output"))
    run = SonataRun(str(folder / "simulation_config.json"))
    real, calls = run.sim.run, []

    def crash(t):
        calls.append(t)
        if len(calls) == 3:
            raise RuntimeError("node lost")
        return real(t)
    monkeypatch.setattr(run.sim, "run", crash)
    with pytest.raises(RuntimeError):
        run.run()
    out = folder / "output"
    reached = run.sim.t
    assert 0 < reached < TSTOP
    for name in ("spikes.h5", "soma_v.h5", "all_v.h5"):
        with h5py.File(out / name) as f:
            assert not f.attrs["complete"] and f.attrs["time_reached"] == reached, name
    data, _, times = report(str(out / "soma_v.h5"))
    assert len(data) == round(reached / 0.1) and times[-1] == pytest.approx(reached - 0.1)
    state = json.loads((out / "neurosim_run.json").read_text())
    assert state["state"] == "partial" and state["time_reached"] == reached
    assert "RuntimeError: node lost" in state["reason"]
    from neurosim.io.sonata.info import describe
    assert f"PARTIAL, to t = {reached}" in describe(str(folder / "simulation_config.json"))


def test_sigterm_without_a_checkpoint_keeps_the_outputs_to_there(circuit, tmp_path):
    import signal
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder,
                    ignore=shutil.ignore_patterns("output"))
    config = str(folder / "simulation_config.json")
    text = open(config).read().replace(f'"tstop": {TSTOP}', '"tstop": 3000.0')
    open(config, "w").write(text)
    proc = subprocess.Popen([sys.executable, "-m", "neurosim.cli", "run", config],
                            stderr=subprocess.PIPE, text=True)
    progress = 0
    while progress < 3:
        line = proc.stderr.readline()
        assert line, "the run ended before it could be stopped"
        progress += line.startswith("[")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    stopped = float(err.split("run stopped at t = ")[1].split()[0])
    assert "marked partial" in err
    out = folder / "output"
    for name in ("spikes.h5", "soma_v.h5", "all_v.h5"):
        with h5py.File(out / name) as f:
            assert not f.attrs["complete"] and f.attrs["time_reached"] == stopped, name
    data, _, _ = report(str(out / "soma_v.h5"))
    assert len(data) == round(stopped / 0.1)
    spikes = libsonata.SpikeReader(str(out / "spikes.h5"))["v1"].get()
    assert len(spikes) > 0 and max(t for _, t in spikes) <= stopped
    assert json.loads((out / "neurosim_run.json").read_text())["state"] == "partial"


def test_a_blow_up_keeps_the_outputs_to_the_last_good_step(circuit, tmp_path, capsys):
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder,
                    ignore=shutil.ignore_patterns("output"))
    config = str(folder / "simulation_config.json")
    text = open(config).read().replace('"amp": 0.25', '"amp": 1e7')    # the kick at 50 ms
    open(config, "w").write(text)
    assert main(["run", config, "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "numerical blow-up at t = 50" in err and "marked partial" in err
    with h5py.File(folder / "output" / "soma_v.h5") as f:
        assert not f.attrs["complete"] and f.attrs["time_reached"] == pytest.approx(50.0)
        data = f["report/v1/data"][()]
    assert len(data) == 500 and np.all(np.isfinite(data))        # 0.1 ms frames to 50 ms
    state = json.loads((folder / "output" / "neurosim_run.json").read_text())
    assert state["state"] == "partial" and "NumericalInstabilityError" in state["reason"]


def test_a_killed_run_leaves_a_manifest_saying_so(circuit, tmp_path):
    """SIGKILL cannot be caught: the manifest written at the start still says running,
    and info says the files are not this run's complete outputs."""
    import signal
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder,
                    ignore=shutil.ignore_patterns("output"))
    config = str(folder / "simulation_config.json")
    text = open(config).read().replace(f'"tstop": {TSTOP}', '"tstop": 3000.0')
    open(config, "w").write(text)
    proc = subprocess.Popen([sys.executable, "-m", "neurosim.cli", "run", config],
                            stderr=subprocess.PIPE, text=True)
    while not proc.stderr.readline().startswith("["):
        pass
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    state = json.loads((folder / "output" / "neurosim_run.json").read_text())
    assert state["state"] == "running" and len(state["config_sha256"]) == 64
    from neurosim.io.sonata.info import describe
    assert "is writing it or was killed" in describe(config)


def corrupt(circuit, tmp_path, change):
    folder = tmp_path / "bad"
    shutil.copytree(os.path.dirname(circuit), folder,
                    ignore=shutil.ignore_patterns("output"))
    change(folder)
    return str(folder / "simulation_config.json")


def _drop(path, dataset):
    def change(folder):
        with h5py.File(folder / path, "r+") as f:
            del f[dataset]
    return change


def _retype(path, dataset, dtype):
    def change(folder):
        with h5py.File(folder / path, "r+") as f:
            data = f[dataset][()].astype(dtype)
            attrs = dict(f[dataset].attrs)
            del f[dataset]
            f.create_dataset(dataset, data=data)
            f[dataset].attrs.update(attrs)
    return change


def _set(path, dataset, index, value):
    def change(folder):
        with h5py.File(folder / path, "r+") as f:
            f[dataset][index] = value
    return change


def _edit(path, old, new):
    def change(folder):
        text = (folder / path).read_text()
        assert old in text
        (folder / path).write_text(text.replace(old, new))
    return change


BAD = {
    "missing dataset": (_drop("network/v1_nodes.h5", "nodes/v1/node_type_id"),
                        ["v1_nodes.h5", "dataset /nodes/v1/node_type_id is missing"]),
    "wrong dtype": (_retype("network/lgn_v1_edges.h5", "edges/lgn_to_v1/target_node_id",
                            np.float64),
                    ["lgn_v1_edges.h5", "/edges/lgn_to_v1/target_node_id", "float64"]),
    "dangling node id": (_set("network/v1_v1_edges.h5", "edges/v1_to_v1/target_node_id", 0,
                              42),
                         ["v1_v1_edges.h5", "target_node_id[0] = 42", "no such node"]),
    "unknown morphology": (_edit("network/v1_node_types.csv", "Scnn1a_473845048_m.swc",
                                 "Nowhere_1.swc"),
                           ["morphology 'Nowhere_1.swc' not found", "node 0"]),
    "bad JSON": (_edit("simulation_config.json", '"run": {', '"run": {,'),
                 ["simulation_config.json", "not valid JSON"]),
    "unknown model template": (_edit("network/v1_node_types.csv", "nest:iaf_psc_alpha",
                                     "nest:no_such_model"),
                               ["v1_nodes.h5", "nest:no_such_model"]),
    "unknown synapse template": (_edit("network/lgn_v1_edge_types.csv", "exp2syn",
                                       "magic_syn"),
                                 ["lgn_v1_edges.h5", "'magic_syn' is not known"]),
    "spikes onto a cell": (_edit("simulation_config.json", '"lgn": {"population": "lgn"}',
                                 '"lgn": {"population": "v1"}'),
                           ["inputs.lgn_spikes", "none of its", "node set 'lgn'"]),
    "unknown node set": (_edit("simulation_config.json", '"cells": "bio"',
                               '"cells": "nobody"'),
                         ["unknown node set 'nobody'"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_name_file_and_dataset(circuit, tmp_path, case):
    change, words = BAD[case]
    config = corrupt(circuit, tmp_path, change)
    with pytest.raises(SonataError) as err:
        SonataRun(config)
    for word in words:
        assert word in str(err.value), str(err.value)
    assert main(["run", config, "--quiet"]) == 2             # a batch system's "bad input"


def test_spike_files_in_the_wild(tmp_path):
    """bmtk's string 'sorting' and the legacy /spikes/gids layout read; what we write has
    the enum libsonata wants."""
    legacy = tmp_path / "legacy.h5"
    with h5py.File(legacy, "w") as f:
        f["spikes/gids"] = np.array([3, 1], dtype=np.uint32)
        f["spikes/timestamps"] = np.array([2.5, 1.0])
    got = read_spikes(legacy, population="lgn")
    np.testing.assert_array_equal(got["lgn"][0], [3, 1])
    from neurosim.io.sonata import write_spikes
    path = write_spikes(tmp_path / "out.h5", {"lgn": got["lgn"]}, sort="by_id")
    pop = libsonata.SpikeReader(str(path))["lgn"]
    assert pop.sorting == "by_id" and pop.get() == [(1, 1.0), (3, 2.5)]


LEAK_MOD = """
NEURON { SUFFIX myleak  NONSPECIFIC_CURRENT i  RANGE g, e }
PARAMETER { g = 0.0001 (S/cm2)  e = -70 (mV) }
ASSIGNED { v (mV)  i (mA/cm2) }
BREAKPOINT { i = g * (v - e) }
"""


@pytest.mark.slow
def test_a_neurosim_cell_description_with_an_nmodl_mechanism(tmp_path):
    """model_processing "neurosim": cable properties and mechanisms in JSON, one of them an
    NMODL file from components.mechanisms_dir; the soma report equals the same cell built
    in Python."""
    import neurosim as ns
    from neurosim.io.sonata.writer import write_nodes
    from neurosim.models.circuit_builder import _swc_lines, _write_swc
    comp = tmp_path / "components"
    (comp / "mod").mkdir(parents=True)
    (comp / "mod" / "myleak.mod").write_text(LEAK_MOD)
    _write_swc(str(comp / "cell.swc"), _swc_lines([(3, -1, (1, 0, 0), 300.0, 1.5, 10)]))
    params = {"cm": 1.0, "ra": 120.0, "v_init": -70.0, "max_length": 25.0,
              "mechanisms": [{"name": "hh", "region": "soma", "params": {"gnabar": 0.15}},
                             {"name": "myleak", "region": "dend",
                              "params": {"g": 2e-5, "e": -70.0}}]}
    (comp / "cell.json").write_text(json.dumps(params))
    write_nodes(str(tmp_path / "nodes.h5"), "pop", [1], {},
                str(tmp_path / "node_types.csv"),
                [{"node_type_id": 1, "model_type": "biophysical", "model_processing": "neurosim",
                  "dynamics_params": "cell.json", "morphology": "cell.swc"}])
    config = {"components": {"morphologies_dir": str(comp),
                             "biophysical_neuron_models_dir": str(comp),
                             "mechanisms_dir": str(comp / "mod")},
              "networks": {"nodes": [{"nodes_file": "nodes.h5",
                                      "node_types_file": "node_types.csv"}]},
              "run": {"tstop": 60.0, "dt": 0.025},
              "conditions": {"celsius": 6.3, "v_init": -70.0},
              "inputs": {"step": {"input_type": "current_clamp", "node_set": "All",
                                  "amp": 0.3, "delay": 10.0, "duration": 40.0}},
              "reports": {"soma": {"cells": "All", "variable_name": "v", "dt": 0.025,
                                       "data_type": "float32"}}}
    (tmp_path / "sim.json").write_text(json.dumps(config))
    run = SonataRun(str(tmp_path / "sim.json"))
    run.run()
    data, _, _ = report(str(tmp_path / "output" / "soma.h5"), "pop")

    cell = ns.Cell(ns.Morphology.from_swc(str(comp / "cell.swc")), cm=1.0, ra=120.0,
                   v_init=-70.0, discretization=ns.MaxLength(25.0))
    cell.insert("hh", region="soma", gnabar=0.15)
    myleak = ns.Mechanism.from_nmodl(str(comp / "mod" / "myleak.mod"))
    cell.insert(myleak, region="dend", g=2e-5, e=-70.0)
    cell.add_iclamp((0, 0.5), 10.0, 40.0, 0.3)
    sim = ns.Simulation(cell, dt=0.025, celsius=6.3)
    v = sim.record("v", (0, 0.5))
    sim.run(60.0)
    assert v.values.max() > 0.0                                 # it fires
    np.testing.assert_allclose(data[:, 0], v.values[1:].astype(np.float32), atol=1e-4)


def test_a_netcon_report_records_each_synapse_as_bionet_lays_it_out(tmp_path):
    """BioNet's netcon_report: one column per Exp2Syn synapse of a cell in connection
    order, at its segment's centre, with the source gid (-1 for a virtual source) and
    target gid beside it; values the synapse's current after each step."""
    config = build(tmp_path, tstop=40.0)
    cfg = json.loads(open(config).read())
    cfg["reports"] = {"syn_i": {"cells": "bio", "variable_name": "i",
                                "module": "netcon_report", "syn_type": "Exp2Syn"}}
    open(config, "w").write(json.dumps(cfg))
    run = SonataRun(config)
    net, c = run.circuit.network, run.circuit
    gid = int(c.gids("v1", [1])[0])
    cell = net.cells[gid]
    probe = run.sim.record("i", cell.synapses[3].label, cell=gid)
    run.run()
    with h5py.File(os.path.join(os.path.dirname(config), "output", "syn_i.h5")) as f:
        m = f["report/v1/mapping"]
        ptr = m["index_pointer"][()]
        data = f["report/v1/data"][()]
        node_ids = list(m["node_ids"][()])
        k = node_ids.index(1)
        mine = slice(int(ptr[k]), int(ptr[k + 1]))
        src = m["src_ids"][mine]
        assert list(m["trg_ids"][mine]) == [gid] * len(cell.synapses)
        sections = m["element_ids"][mine]
        positions = m["element_pos"][mine]
        column = data[:, mine][:, 3]
    assert ptr[k + 1] - ptr[k] == len(cell.synapses) == 11
    assert sorted(set(src.tolist())) == [-1] + sorted(
        int(g) for g in c.gids("v1", [2, 3, 4]))       # LGN (virtual) and the LIF cells
    nseg = discretize(cell).layout.nseg
    for s, x in zip(sections, positions):
        assert abs(x * nseg[s] - (np.floor(x * nseg[s]) + 0.5)) < 1e-9     # a centre
    np.testing.assert_allclose(column, probe.values[1:], rtol=0, atol=1e-12)
    assert np.abs(column).max() > 1e-4                       # it did receive input


def test_a_morphology_named_with_dots_and_no_extension(circuit, tmp_path):
    """SONATA lets a morphology's ``.swc`` out; a name holding dots (Allen's
    "Rbp4-Cre_KL100_Ai14-180747.06.01.01_495335491_m") is found as bmtk finds it: as given,
    else with .swc added."""
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder, ignore=shutil.ignore_patterns("output"))
    circuit_file = folder / "circuit_config.json"
    cfg = json.loads(circuit_file.read_text())
    morphologies = tmp_path / "morphologies"
    morphologies.mkdir()
    shutil.copy(os.path.join(cfg["components"]["morphologies_dir"], "Scnn1a_473845048_m.swc"),
                morphologies / "Scnn1a.473845048.01_m.swc")
    cfg["components"]["morphologies_dir"] = str(morphologies)
    circuit_file.write_text(json.dumps(cfg))
    types = folder / "network" / "v1_node_types.csv"
    types.write_text(types.read_text().replace("Scnn1a_473845048_m.swc", "Scnn1a.473845048.01_m"))
    assert "Scnn1a.473845048.01_m" in types.read_text()
    run = SonataRun(str(folder / "simulation_config.json"))
    gid = int(run.circuit.gids("v1", [0])[0])
    assert "Scnn1a.473845048.01_m.swc" in run.circuit.network.cells[gid].morphology.source


def test_a_netcon_report_of_a_synapse_parameter(tmp_path):
    """A parameter of each synapse (bmtk's bio_14cells records Exp2Syn's tau1: NEURON reads
    any RANGE variable) is a column of its value at every frame: the synapse files' tau1
    (AMPA 1.0 ms, GABA 2.7 ms), Exp2Syn's INITIAL keeping it below tau2."""
    config = build(tmp_path, tstop=20.0)
    cfg = json.loads(open(config).read())
    cfg["reports"] = {"syn_tau1": {"cells": "bio", "variable_name": "tau1",
                                   "module": "netcon_report", "syn_type": "Exp2Syn"}}
    open(config, "w").write(json.dumps(cfg))
    run = SonataRun(config)
    run.run()
    synapses = os.path.join(os.path.dirname(bmtk.__file__), "utils", "scripts", "bionet",
                            "synaptic_models")
    tau1 = {json.load(open(os.path.join(synapses, name)))["tau1"]
            for name in ("AMPA_ExcToExc.json", "GABA_InhToExc.json")}
    with h5py.File(os.path.join(os.path.dirname(config), "output", "syn_tau1.h5")) as f:
        data = f["report/v1/data"][()]
    assert data.shape == (800, 22)                # 20 ms at dt 0.025, 11 synapses a cell
    assert set(np.unique(data).tolist()) == tau1 and len(tau1) == 2
    assert np.all(data == data[0])
    with pytest.raises(ns.ParameterError, match="no state or assigned variable 'q'"):
        run.sim.record("q", run.circuit.network.cells[0].synapses[0].label, cell=0)


def test_node_set_queries_as_bmtk_reads_them(circuit):
    """A node-set query may name ``node_ids`` as well as ``node_id`` (bmtk's
    point_120cells perturbs nodes so); a key no node has is ignored with a warning, as bmtk
    ignores it; a list may hold gids."""
    from neurosim.io.sonata import SonataWarning
    run = SonataRun(circuit)
    c = run.circuit
    expected = list(c.gids("v1", [0, 2]))
    assert list(run.gids_of({"population": "v1", "node_ids": [0, 2]})) == expected
    assert list(run.gids_of({"population": "v1", "node_id": [0, 2]})) == expected
    assert list(run.gids_of({"populations": ["v1"], "node_ids": [0, 2]})) == expected
    both = run.gids_of({"population": ["v1", "lgn"], "node_id": 1})
    assert list(both) == sorted([int(c.gids("v1", [1])[0]), int(c.gids("lgn", [1])[0])])
    assert list(run.gids_of([int(g) for g in expected])) == expected
    every = [c.gids(p, c.nodes[p].ids) for p in c.nodes]
    assert list(run.gids_of("all")) == list(run.gids_of("All")) == sorted(
        int(g) for gids in every for g in gids)                   # bmtk's "all", the spec's
    with pytest.warns(SonataWarning, match="'colour': population 'v1' has no such attribute"):
        everyone = run.gids_of({"population": "v1", "colour": "red"})
    assert list(everyone) == list(c.gids("v1", c.nodes["v1"].ids))
    with pytest.raises(SonataError, match="node-set list entry 999 is no node's gid"):
        run.gids_of([999])


def test_a_membrane_report_skips_neurons_artificial_cells_as_bionet(circuit, tmp_path):
    """BioNet's membrane report records the biophysical cells of its node set and skips
    NEURON's artificial cells (bmtk's bio_450cells reports v of "all", IntFire1 cells
    included): the same here, with a warning."""
    from neurosim.io.sonata import SonataWarning
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder, ignore=shutil.ignore_patterns("output"))
    types = folder / "network" / "v1_node_types.csv"
    types.write_text(types.read_text().replace("nest:iaf_psc_alpha", "nrn:IntFire1"))
    (folder / "components" / "point" / "iaf.json").write_text('{"tau": 0.02, "refrac": 0.003}')
    circuit_file = folder / "circuit_config.json"
    cfg = json.loads(circuit_file.read_text())
    synapses = folder / "synaptic_models"
    shutil.copytree(cfg["components"]["synaptic_models_dir"], synapses)
    (synapses / "static.json").write_text('{"sign": 1}')  # onto IntFire1: BioNet reads it
    cfg["components"]["synaptic_models_dir"] = str(synapses)
    circuit_file.write_text(json.dumps(cfg))
    with pytest.warns(SonataWarning, match="3 artificial cells of the node set .*IntFire1"):
        run = SonataRun(str(folder / "simulation_config.json"))
    run.run()
    data, ids, _ = report(str(folder / "output" / "all_v.h5"))
    assert sorted(set(ids[:, 0].tolist())) == [0, 1]            # the two Scnn1a cells


def test_per_edge_dynamics_params_are_refused_by_name(circuit, tmp_path):
    """An edge group's ``dynamics_params`` datasets (per-edge synapse parameters: bmtk
    raises NotImplementedError on them) are an error naming the file, group and parameter,
    never silently left out."""
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder, ignore=shutil.ignore_patterns("output"))
    with h5py.File(folder / "network" / "lgn_v1_edges.h5", "r+") as f:
        group = f["edges/lgn_to_v1/0"]
        n = len(f["edges/lgn_to_v1/edge_group_index"])
        group.create_dataset("dynamics_params/tau1", data=np.full(n, 2.0))
    with pytest.raises(SonataError, match=r"lgn_v1_edges.h5: /edges/lgn_to_v1: per-edge "
                                          r"dynamics_params/tau1"):
        SonataRun(str(folder / "simulation_config.json"))
    assert main(["run", str(folder / "simulation_config.json"), "--quiet"]) == 2


def test_disabled_inputs_reports_and_edges_are_left_out(circuit, tmp_path):
    """``"enabled": false`` on an input, a report or a networks.edges entry leaves it out,
    as bmtk does (the spec does not define the key; the peers and their users do)."""
    folder = tmp_path / "copy"
    shutil.copytree(os.path.dirname(circuit), folder, ignore=shutil.ignore_patterns("output"))
    sim_file, circuit_file = folder / "simulation_config.json", folder / "circuit_config.json"
    before = SonataRun(str(sim_file))
    gid = int(before.circuit.gids("v1", [0])[0])
    assert len(before.reports) == 2 and len(before.circuit.network.cells[gid].synapses) == 11
    assert any(len(t) for t in before.circuit.network.spike_sources.values())
    cfg = json.loads(sim_file.read_text())
    cfg["inputs"]["lgn_spikes"]["enabled"] = False
    cfg["reports"]["all_v"]["enabled"] = False
    sim_file.write_text(json.dumps(cfg))
    net_cfg = json.loads(circuit_file.read_text())
    net_cfg["networks"]["edges"][1]["enabled"] = False            # lgn -> v1
    circuit_file.write_text(json.dumps(net_cfg))
    after = SonataRun(str(sim_file), output_dir=str(tmp_path / "out"))
    assert [os.path.basename(r._path) for r in after.reports] == ["soma_v.h5"]
    assert not any(len(t) for t in after.circuit.network.spike_sources.values())
    assert len(after.circuit.network.cells[gid].synapses) == 3       # the 3 GABA of v1_v1


def test_the_reader_closes_the_files_it_has_read(tmp_path):
    """Nodes and edges are read whole and their files closed: a file neurosim still held
    made libsonata's open of it fail once NEST had been imported (pynest's RTLD_GLOBAL
    joins h5py's HDF5 and libsonata's, and one HDF5 refuses a second open with other
    access properties).  HDF5 refuses to truncate a file it has open, so the writes below
    fail if the reader left either file open."""
    from neurosim.io.sonata.tables import edge_populations, node_populations
    (tmp_path / "types.csv").write_text("node_type_id edge_type_id\n1 1\n")
    with h5py.File(tmp_path / "nodes.h5", "w") as f:
        f["nodes/p/node_type_id"] = np.ones(3, dtype=np.int64)
    with h5py.File(tmp_path / "edges.h5", "w") as f:
        g = f.create_group("edges/p_to_p")
        g["edge_type_id"] = np.ones(2, dtype=np.int64)
        for end in ("source", "target"):
            g[f"{end}_node_id"] = np.array([0, 2], dtype=np.int64)
            g[f"{end}_node_id"].attrs["node_population"] = "p"
    nodes = node_populations(str(tmp_path / "nodes.h5"), str(tmp_path / "types.csv"))
    edges = edge_populations(str(tmp_path / "edges.h5"), str(tmp_path / "types.csv"))
    assert nodes["p"].size == 3 and edges["p_to_p"].target.tolist() == [0, 2]
    for name in ("nodes.h5", "edges.h5"):
        h5py.File(tmp_path / name, "w").close()
