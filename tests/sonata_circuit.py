"""A small SONATA circuit built with bmtk's NetworkBuilder, as bmtk users build them: two
Allen perisomatic Scnn1a cells (bmtk's SWC and fit JSON), three NEST iaf_psc_alpha point
neurons, four virtual LGN nodes with Poisson spike trains; exp2syn synapses placed by
target_sections / distance_range, nsyns > 1; a simulation config with spike inputs, a
current clamp, soma and all-segment reports."""

import json
import os

import bmtk


def bionet_dir():
    return os.path.join(os.path.dirname(bmtk.__file__), "utils", "scripts", "bionet")


def build(folder, tstop=300.0):
    """Write the circuit and its configs under ``folder``; return the simulation config."""
    from bmtk.builder.networks import NetworkBuilder
    from bmtk.utils.reports.spike_trains import PoissonSpikeGenerator
    folder = str(folder)
    net = NetworkBuilder("v1")
    net.add_nodes(N=2, pop_name="Scnn1a", model_type="biophysical",
                  model_template="ctdb:Biophys1.hoc", model_processing="aibs_perisomatic",
                  dynamics_params="472363762_fit.json", morphology="Scnn1a_473845048_m.swc",
                  x=[0.0, 50.0], y=[0.0, 0.0], z=[0.0, 10.0], rotation_angle_yaxis=[0.0, 1.2],
                  ei="e")
    net.add_nodes(N=3, pop_name="LIF", model_type="point_neuron",
                  model_template="nest:iaf_psc_alpha", dynamics_params="iaf.json", ei="i")
    net.add_edges(source={"ei": "e"}, target={"pop_name": "LIF"}, connection_rule=1,
                  syn_weight=400.0, delay=2.0, dynamics_params="static.json",
                  model_template="static_synapse")
    net.add_edges(source={"ei": "i"}, target={"pop_name": "Scnn1a"}, connection_rule=1,
                  syn_weight=0.002, delay=2.0, target_sections=["somatic", "basal"],
                  distance_range=[0.0, 50.0], dynamics_params="GABA_InhToExc.json",
                  model_template="exp2syn")
    net.build()
    net.save(output_dir=os.path.join(folder, "network"))
    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=4, model_type="virtual", pop_name="tON")
    lgn.add_edges(source=lgn.nodes(), target=net.nodes(pop_name="Scnn1a"), connection_rule=2,
                  syn_weight=0.004, delay=1.5, target_sections=["basal", "apical"],
                  distance_range=[0.0, 150.0], dynamics_params="AMPA_ExcToExc.json",
                  model_template="exp2syn")
    lgn.add_edges(source=lgn.nodes(), target=net.nodes(pop_name="LIF"), connection_rule=1,
                  syn_weight=300.0, delay=1.5, dynamics_params="static.json",
                  model_template="static_synapse")
    lgn.build()
    lgn.save(output_dir=os.path.join(folder, "network"))
    psg = PoissonSpikeGenerator(population="lgn", seed=7)
    psg.add(node_ids=range(4), firing_rate=40.0, times=(0.0, tstop / 1000.0))
    psg.to_sonata(os.path.join(folder, "inputs", "lgn_spikes.h5"))
    points = os.path.join(folder, "components", "point")
    os.makedirs(points, exist_ok=True)
    with open(os.path.join(points, "iaf.json"), "w") as f:
        json.dump({"I_e": 150.0, "tau_m": 10.0, "C_m": 250.0, "V_th": -55.0, "V_m": -62.0}, f)
    base = bionet_dir()
    circuit = {
        "manifest": {"$BASE": "${configdir}", "$NET": "$BASE/network"},
        "components": {
            "morphologies_dir": os.path.join(base, "morphologies"),
            "biophysical_neuron_models_dir": os.path.join(base, "biophysical_neuron_models"),
            "synaptic_models_dir": os.path.join(base, "synaptic_models"),
            "point_neuron_models_dir": "${BASE}/components/point"},
        "networks": {
            "nodes": [{"nodes_file": f"$NET/{p}_nodes.h5",
                       "node_types_file": f"$NET/{p}_node_types.csv"} for p in ("v1", "lgn")],
            "edges": [{"edges_file": f"$NET/{p}_edges.h5",
                       "edge_types_file": f"$NET/{p}_edge_types.csv"}
                      for p in ("v1_v1", "lgn_v1")]}}
    with open(os.path.join(folder, "circuit_config.json"), "w") as f:
        json.dump(circuit, f, indent=1)
    simulation = {
        "manifest": {"$OUT": "${configdir}/output"},
        "network": "circuit_config.json",
        "run": {"tstop": tstop, "dt": 0.025, "dL": 20.0, "spike_threshold": -15.0},
        "conditions": {"celsius": 34.0, "v_init": -80.0},
        "node_sets": {"bio": {"model_type": "biophysical"},
                      "lif": {"population": "v1", "pop_name": "LIF"},
                      "lgn": {"population": "lgn"}},
        "inputs": {
            "lgn_spikes": {"input_type": "spikes", "module": "sonata",
                           "input_file": "inputs/lgn_spikes.h5", "node_set": "lgn"},
            "kick": {"input_type": "current_clamp", "module": "IClamp", "node_set": "bio",
                     "amp": 0.25, "delay": 50.0, "duration": 150.0}},
        "reports": {
            "soma_v": {"cells": "bio", "variable_name": "v", "module": "membrane_report",
                       "sections": "soma", "dt": 0.1, "data_type": "float32"},
            "all_v": {"cells": ["bio", "lif"], "variable_name": "v", "sections": "all",
                      "dt": 1.0, "data_type": "float32"}},
        "output": {"output_dir": "$OUT", "spikes_file": "spikes.h5",
                   "spikes_sort_order": "time"}}
    path = os.path.join(folder, "simulation_config.json")
    with open(path, "w") as f:
        json.dump(simulation, f)           # one line: tests edit it as text
    return path
