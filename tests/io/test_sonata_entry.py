"""The SONATA reference examples as shipped: every entry point, the peers' leniency, edge
weights as bmtk applies them, and a clear exit 2 for what neurosim does not understand.

The examples are read from ../shared/data/sonata-examples and copied (with their shared
components) into a temporary folder; outputs go to the copy.  Runs that compare spikes
with the peers are in test_sonata_examples.py."""

import json
import shutil
import warnings

import h5py
import numpy as np
import pytest

from neurosim.cli import main
from neurosim.errors import NeurosimError
from neurosim.io.sonata import (SonataError, SonataRun, SonataWarning, add_weight_function,
                                load_simulation)
from tests.shared_data import SONATA_EXAMPLES, shared


@pytest.fixture
def examples(tmp_path):
    shared()                                        # the data must be there
    for name in ("300_intfire", "300_pointneurons", "shared_components", "sim_tests"):
        shutil.copytree(SONATA_EXAMPLES / name, tmp_path / name)
    return tmp_path


def edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


# ---------------------------------------------------------------------- entry points
def test_config_json_names_the_circuit_and_the_simulation(examples):
    cfg = load_simulation(examples / "300_intfire" / "config.json")
    assert cfg["run"]["tstop"] == 3000.0 and cfg["_entry"].endswith("config.json")
    run = SonataRun(examples / "300_intfire" / "config.json", tstop=1.0)
    assert run.tstop == 1.0 and run.dt == 0.1
    assert sorted(run.circuit.nodes) == ["lgn", "tw", "v1"]
    assert len(run.circuit.network.artificial) == 300


def test_a_simulation_config_without_network_finds_circuit_config_beside_it(examples):
    # 300_intfire's simulation_config.json names no circuit; circuit_config.json is beside
    run = SonataRun(examples / "300_intfire" / "simulation_config.json", tstop=1.0)
    assert len(run.circuit.network.artificial) == 300
    (examples / "300_intfire" / "circuit_config.json").unlink()
    with pytest.raises(SonataError, match="neither 'networks' nor 'network'.*circuit_config"):
        SonataRun(examples / "300_intfire" / "simulation_config.json")


def test_a_simulation_config_naming_its_circuit_and_one_holding_it(examples):
    folder = examples / "300_pointneurons"
    named = SonataRun(folder / "simulation_config.json", tstop=1.0,      # "network": ...
                      output_dir=folder / "out_named")
    circuit = json.loads((folder / "circuit_config.json").read_text())
    sim = json.loads((folder / "simulation_config.json").read_text())
    del sim["network"]
    sim["manifest"].update(circuit["manifest"])
    sim.update(components=circuit["components"], networks=circuit["networks"])
    (folder / "combined.json").write_text(json.dumps(sim))
    (folder / "circuit_config.json").unlink()        # not looked for: the file holds it
    held = SonataRun(folder / "combined.json", tstop=1.0, output_dir=folder / "out_held")
    assert held.circuit.network.n_connections == named.circuit.network.n_connections > 0
    assert sorted(held.circuit.nodes) == sorted(named.circuit.nodes)


def test_info_reads_every_entry_point(examples, capsys):
    for path in ("300_intfire/config.json", "300_intfire/simulation_config.json",
                 "300_intfire/circuit_config.json", "300_pointneurons/config.json"):
        assert main(["info", str(examples / path)]) == 0
        out = capsys.readouterr().out
        assert "population" in out and "300 point neurons" in out, (path, out)


# ---------------------------------------------------------------------- leniency
def test_a_node_set_that_is_a_population_name(examples):
    # 300_intfire's inputs name node sets "lgn" and "tw"; node_sets.json has "LGN"/"TW"
    run = SonataRun(examples / "300_intfire" / "config.json", tstop=1.0)
    lgn = run.circuit.gids("lgn", run.circuit.nodes["lgn"].ids)
    np.testing.assert_array_equal(run.gids_of("lgn"), np.sort(lgn))
    assert run.population_of("lgn") == "lgn"
    with h5py.File(examples / "300_intfire/inputs/lgn_spikes.h5") as f:
        n_spikes = len(f["spikes/timestamps"])       # the older layout: no population group
    queued = sum(len(run.circuit.network.spike_sources[int(g)]) for g in lgn)
    assert queued == n_spikes


def test_a_missing_node_sets_file_is_a_warning(examples):
    folder = examples / "300_pointneurons"
    (folder / "node_sets.json").unlink()
    with pytest.warns(SonataWarning) as caught:
        run = SonataRun(folder / "config.json", tstop=1.0)
    said = " ".join(str(w.message) for w in caught)
    assert "node_sets.json does not exist" in said
    # the report names "recorded_cells", which only the missing file defined: skipped
    assert "recorded_cells" in said and run.reports == []
    assert len(run.circuit.network.spike_sources) == 100       # "external": a population
    # a name neither defines is still an error
    with pytest.raises(SonataError, match="unknown node set 'nowhere'.*does not exist"):
        run.gids_of("nowhere")


def test_input_spikes_of_unknown_node_ids_are_dropped_with_their_count(examples):
    config = examples / "sim_tests/intfire/ten_cells_spikes_nrn/input/simulation_config.json"
    with h5py.File(config.parent / "tw_spikes.h5") as f:
        ids = f["spikes/gids"][()]                    # the older layout: no population group
    with h5py.File(config.parent / "network/pre_nodes.h5") as f:
        known = f["nodes/pre/node_id"][()]
    unknown = ~np.isin(ids, known)
    assert unknown.any()                                           # the file's quirk
    with pytest.warns(SonataWarning, match=f"{unknown.sum()} spikes of "
                      f"{len(np.unique(ids[unknown]))} node ids"):
        try:
            SonataRun(config, tstop=1.0)
        except NeurosimError:
            pass                # a later check may still stop it; the warning came first


def test_unknown_keys_the_spec_defines_are_accepted(examples):
    cfg = json.loads((examples / "300_intfire/simulation_config.json").read_text())
    assert cfg["target_simulator"] and cfg["run"]["nsteps_block"] and \
        cfg["output"]["log_file"]                                   # all present, all fine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SonataRun(examples / "300_intfire/config.json", tstop=1.0)


# ---------------------------------------------------------------------- weights
def bionet_weight(edges_h5, population, row, types_csv, synapse_dir):
    """BioNet's weight onto an IntFire1 cell, from the files (h5py, csv, json)."""
    import csv
    with h5py.File(edges_h5) as f:
        g = f[f"edges/{population}"]
        type_id = int(g["edge_type_id"][row])
        nsyns = int(g["0/nsyns"][g["edge_group_index"][row]])
    with open(types_csv) as f:
        types = {int(r["edge_type_id"]): r for r in csv.DictReader(f, delimiter=" ")}
    t = types[type_id]
    sign = json.loads((synapse_dir / t["dynamics_params"]).read_text())["sign"]
    return float(t["syn_weight"]) * sign * nsyns


def test_intfire_weights_are_syn_weight_times_sign_times_nsyns(examples):
    folder = examples / "300_intfire"
    run = SonataRun(folder / "config.json", tstop=1.0)
    c = run.circuit
    src, tgt, _, weights, delay = c.network.connections()
    edges = c.edges["v1_to_v1"]
    sources = c.gids(edges.source_population, edges.source)
    targets = c.gids(edges.target_population, edges.target)
    synapses = examples / "shared_components/synaptic_models"
    checked = 0
    for row in (0, 1, 17, edges.size // 2, edges.size - 1):
        expect = bionet_weight(folder / "network/v1_v1_edges.h5", "v1_to_v1", row,
                               folder / "network/v1_v1_edge_types.csv", synapses)
        k = np.flatnonzero((src == sources[row]) & (tgt == targets[row]))
        assert np.any(np.isclose(weights[k, 0], expect, rtol=0, atol=1e-15)), (row, expect)
        checked += 1
    assert checked == 5
    assert (weights[:, 0] < 0).any() and (weights[:, 0] > 0).any()   # the sign applied
    assert np.all(delay == 2.0)


def write_tuned_circuit(folder, weight_function):
    """Two tuned populations with bmtk's NetworkBuilder: IntFire1 targets whose edges use
    ``weight_function`` and ``weight_sigma``."""
    from bmtk.builder import NetworkBuilder
    rng = np.random.default_rng(3)
    pre = NetworkBuilder("pre")
    pre.add_nodes(N=6, model_type="virtual", tuning_angle=rng.uniform(0, 360, 6).tolist())
    post = NetworkBuilder("post")
    post.add_nodes(N=4, model_type="point_process", model_template="nrn:IntFire1",
                   dynamics_params="IntFire1_exc_1.json",
                   tuning_angle=rng.uniform(0, 360, 4).tolist())
    pre.add_edges(source=pre.nodes(), target=post.nodes(), connection_rule=2,
                  syn_weight=0.8, weight_sigma=50.0, weight_function=weight_function,
                  delay=2.0, dynamics_params="instanteneousExc.json")
    pre.build()
    post.build()
    pre.save(output_dir=str(folder / "network"))
    post.save(output_dir=str(folder / "network"))
    components = (SONATA_EXAMPLES / "shared_components").resolve()
    config = {"manifest": {"$NET": "./network"},
              "components": {"synaptic_models_dir": f"{components}/synaptic_models",
                             "point_neuron_models_dir":
                                 f"{components}/point_neuron_models_dir"},
              "networks": {"nodes": [{"nodes_file": f"$NET/{p}_nodes.h5",
                                      "node_types_file": f"$NET/{p}_node_types.csv"}
                                     for p in ("pre", "post")],
                           "edges": [{"edges_file": "$NET/pre_post_edges.h5",
                                      "edge_types_file": "$NET/pre_post_edge_types.csv"}]},
              "run": {"tstop": 10.0, "dt": 0.1}}
    (folder / "config.json").write_text(json.dumps(config))
    return folder / "config.json"


def tuned_weights(path):
    """(target, source, weight) by edge, from neurosim's network."""
    run = SonataRun(path)
    c = run.circuit
    src, tgt, _, w, _ = c.network.connections()
    return c, src, tgt, w[:, 0]


def test_gaussianLL_gives_bmtks_weights(tmp_path):
    from bmtk.simulator.bionet.default_setters.synaptic_weights import gaussianLL
    c, src, tgt, w = tuned_weights(write_tuned_circuit(tmp_path, "gaussianLL"))
    pre, post = c.nodes["pre"], c.nodes["post"]
    angle = {**{int(g): a for g, a in zip(c.gids("pre", pre.ids),
                                          pre.attribute("tuning_angle"))},
             **{int(g): a for g, a in zip(c.gids("post", post.ids),
                                          post.attribute("tuning_angle"))}}
    assert len(w) == 24
    for s, t, weight in zip(src, tgt, w):
        theirs = gaussianLL({"syn_weight": 0.8, "weight_sigma": 50.0},
                            {"tuning_angle": angle[int(s)]}, {"tuning_angle": angle[int(t)]})
        # BioNet then multiplies by sign (+1) and nsyns (2) onto a point process
        assert weight == pytest.approx(theirs * 2, rel=1e-12)
    assert len(np.unique(np.round(w, 12))) > 10        # the weights do depend on tuning


def test_a_user_weight_function_registered_by_name(tmp_path):
    path = write_tuned_circuit(tmp_path, "scaled_by_target")
    with pytest.raises(SonataError, match="pre_post_edges.h5.*weight_function "
                                          "'scaled_by_target' is not known"):
        SonataRun(path)

    def scaled_by_target(edge, source, target):
        return edge["syn_weight"] * (1.0 + target["tuning_angle"] / 360.0)

    add_weight_function(scaled_by_target)
    c, _, tgt, w = tuned_weights(path)
    post = c.nodes["post"]
    angle = dict(zip(c.gids("post", post.ids).tolist(), post.attribute("tuning_angle")))
    np.testing.assert_allclose(w, [0.8 * (1 + angle[int(t)] / 360.0) * 2 for t in tgt],
                               rtol=1e-12)


# ---------------------------------------------------------------------- exit 2
def copy_and_break(examples, relative, change):
    path = examples / relative
    edit_json(path, change) if path.suffix == ".json" else change(path)
    return examples / "300_intfire" / "config.json"


@pytest.mark.parametrize("relative, change, named", [
    ("300_intfire/network/v1_v1_edge_types.csv",
     lambda p: p.write_text(p.read_text().replace(" wmax ", " wmax_typo ")),
     ["v1_v1_edges.h5", "weight_function 'wmax_typo'"]),
    ("300_intfire/simulation_config.json",
     lambda d: d.setdefault("reports", {}).update(
         {"r": {"cells": "lgn", "module": "synapse_report", "variable_name": "v"}}),
     ["simulation_config.json", "reports.r", "module 'synapse_report'"]),
    ("300_intfire/simulation_config.json",
     lambda d: d["inputs"]["TW_spikes"].update(input_type="movie"),
     ["simulation_config.json", "inputs.TW_spikes", "input_type 'movie'"]),
    ("300_intfire/network/v1_node_types.csv",
     lambda p: p.write_text(p.read_text().replace("nrn:IntFire1", "nrn:IntFire9", 1)),
     ["v1_nodes.h5", "model_template 'nrn:IntFire9'"]),
    ("300_intfire/simulation_config.json",
     lambda d: d["reports"].update({"r": {"cells": "LGN", "variable_name": "v",
                                          "sections": "dendrites"}}) if "reports" in d
     else d.update(reports={"r": {"cells": "v1", "variable_name": "m",
                                  "sections": "dendrites"}}),
     ["simulation_config.json", "reports.r", "sections 'dendrites'"]),
])
def test_what_neurosim_does_not_understand_is_exit_2_naming_file_and_key(
        examples, capsys, relative, change, named):
    config = copy_and_break(examples, relative, change)
    assert main(["run", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    for text in named:
        assert text in err, (text, err)
