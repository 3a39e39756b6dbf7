"""The bundled SONATA circuit of ``neurosim demo``: a small layer-4-like column.

    python -m neurosim.models.circuit_builder [folder]     # default: models/circuits/layer4

writes everything the circuit needs under the folder, made by this script alone (no data
from elsewhere): two SWC morphologies (a pyramidal cell with an apical dendrite, a basket
cell), their biophysics as Allen-style perisomatic fit files using NEURON's hh and pas,
synapse and point-neuron parameter files, the node and edge files, Poisson thalamic spike
trains and the circuit and simulation configs.

Cortex (one population): 32 pyramidal and 8 basket detailed cells, 60 excitatory and 20
inhibitory LIF point neurons (NEST's iaf_psc_alpha); thalamus: 50 virtual nodes firing at
15 Hz.  Every cortical cell takes 8 thalamic inputs; excitatory cells connect to any
cortical cell with probability 0.08, inhibitory ones with 0.2; detailed targets get
exp2syn synapses on their dendrites (2 per edge), point targets a current in pA.  Positions
fill a column 200 µm wide and 400 µm deep; cells are turned about the column axis.
"""

import json
import os
import sys

import numpy as np

from neurosim.io.sonata.output import write_spikes
from neurosim.io.sonata.writer import write_edges, write_nodes

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "circuits", "layer4")
SEED = 20261122
TSTOP = 1000.0

PYR, BAS, LIF_E, LIF_I = 32, 8, 60, 20
THALAMUS, THALAMIC_RATE, THALAMIC_IN = 50, 15.0, 8


def _swc_lines(sections):
    """SWC rows for a soma (3-point, radius r) and cylinders given as (type, parent point
    index or -1 for the soma, direction, length, diameter, points)."""
    rows = []
    r = 8.0
    rows += [(1, 1, 0.0, 0.0, 0.0, r, -1), (2, 1, 0.0, -r, 0.0, r, 1),
             (3, 1, 0.0, r, 0.0, r, 1)]
    for kind, parent, direction, length, diameter, points in sections:
        d = np.asarray(direction, dtype=float)
        d /= np.linalg.norm(d)
        start = np.zeros(3) if parent < 0 else np.array(rows[parent - 1][2:5])
        prev = 1 if parent < 0 else parent
        if parent < 0:
            start = d * r
        for k in range(1, points + 1):
            p = start + d * length * k / points
            rows.append((len(rows) + 1, kind, *p, diameter / 2.0, prev))
            prev = len(rows)
    return rows


def _write_swc(path, rows):
    with open(path, "w") as f:
        f.write("# written by neurosim.models.circuit_builder\n")
        for i, t, x, y, z, r, p in rows:
            f.write(f"{i} {t} {x:.3f} {y:.3f} {z:.3f} {r:.3f} {p}\n")


def morphologies(folder):
    pyr = [(2, -1, (0, -1, 0), 120.0, 1.0, 6)]                          # axon
    pyr += [(3, -1, (np.cos(a), -0.3, np.sin(a)), 150.0, 1.2, 8)
            for a in np.linspace(0, 2 * np.pi, 4, endpoint=False)]          # 4 basal
    rows = _swc_lines(pyr + [(4, -1, (0, 1, 0), 250.0, 3.0, 10)])         # apical trunk
    trunk_end = len(rows)
    rows = _swc_lines(pyr + [(4, -1, (0, 1, 0), 250.0, 3.0, 10),
                             (4, trunk_end, (0.5, 1, 0), 200.0, 1.5, 8),
                             (4, trunk_end, (-0.5, 1, 0.2), 200.0, 1.5, 8)])
    _write_swc(os.path.join(folder, "pyramidal.swc"), rows)
    bas = [(2, -1, (0, -1, 0.2), 100.0, 0.8, 5)]
    bas += [(3, -1, (np.cos(a), 0.2 * np.sin(3 * a), np.sin(a)), 110.0, 1.0, 6)
            for a in np.linspace(0, 2 * np.pi, 6, endpoint=False)]
    _write_swc(os.path.join(folder, "basket.swc"), _swc_lines(bas))


def fit(gnabar, gkbar, g_dend, e_pas=-65.0):
    """An Allen-style perisomatic fit file whose genome is hh in soma and axon, pas
    everywhere (bmtk's aibs_perisomatic reads it; so does neurosim)."""
    genome = []
    for section in ("soma", "axon"):
        genome += [{"section": section, "name": "gnabar_hh", "value": gnabar,
                    "mechanism": "hh"},
                   {"section": section, "name": "gkbar_hh", "value": gkbar,
                    "mechanism": "hh"},
                   {"section": section, "name": "gl_hh", "value": 0.0, "mechanism": "hh"}]
    genome += [{"section": s, "name": "g_pas", "value": g_dend, "mechanism": "pas"}
               for s in ("soma", "axon", "dend", "apic")]
    return {"passive": [{"ra": 100.0, "e_pas": e_pas,
                         "cm": [{"section": s, "cm": 1.0}
                                for s in ("soma", "axon", "dend", "apic")]}],
            "conditions": [{"celsius": 6.3, "v_init": -65.0,
                            "erev": [{"section": s, "ena": 50.0, "ek": -77.0}
                                     for s in ("soma", "axon")]}],
            "genome": genome}


def build(folder=DEFAULT):
    rng = np.random.default_rng(SEED)       # drawn in this order: nodes, edges, spikes
    _components(os.path.join(folder, "components"))
    net = os.path.join(folder, "network")
    kinds = _nodes(net, rng)
    _edges(net, np.array(kinds), rng)
    _thalamic_spikes(folder, rng)
    return write_configs(folder, *_configs())


def _components(comp):
    """Morphologies, the cells' fits, the synapses' and point neurons' parameters."""
    for sub in ("morphologies", "biophysical", "synaptic", "point"):
        os.makedirs(os.path.join(comp, sub), exist_ok=True)
    morphologies(os.path.join(comp, "morphologies"))

    def dump(path, data):
        with open(os.path.join(comp, path), "w") as f:
            json.dump(data, f, indent=1)
    dump("biophysical/pyramidal_fit.json", fit(0.12, 0.036, 3e-5))
    dump("biophysical/basket_fit.json", fit(0.15, 0.045, 5e-5))
    dump("synaptic/excitatory.json", {"level_of_detail": "exp2syn", "tau1": 0.5,
                                      "tau2": 3.0, "erev": 0.0})
    dump("synaptic/inhibitory.json", {"level_of_detail": "exp2syn", "tau1": 0.5,
                                      "tau2": 8.0, "erev": -75.0})
    dump("point/lif_exc.json", {"C_m": 250.0, "tau_m": 15.0, "V_th": -55.0,
                                "V_reset": -70.0, "E_L": -70.0, "t_ref": 2.0,
                                "tau_syn_ex": 2.0, "tau_syn_in": 5.0, "I_e": 250.0})
    dump("point/lif_inh.json", {"C_m": 200.0, "tau_m": 10.0, "V_th": -55.0,
                                "V_reset": -70.0, "E_L": -70.0, "t_ref": 1.0,
                                "tau_syn_ex": 1.5, "tau_syn_in": 5.0, "I_e": 250.0})



def _nodes(net, rng):
    """The cortex (two detailed and two point populations, placed in a cylinder) and the
    thalamus's virtual cells; returns the cortex's node types."""
    kinds = ([100] * PYR + [101] * BAS + [102] * LIF_E + [103] * LIF_I)
    n = len(kinds)
    radius, depth = 100.0 * np.sqrt(rng.random(n)), rng.uniform(0.0, 400.0, n)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    write_nodes(os.path.join(net, "cortex_nodes.h5"), "cortex", kinds,
                {"x": radius * np.cos(angle), "y": -depth, "z": radius * np.sin(angle),
                 "rotation_angle_yaxis": rng.uniform(0.0, 2 * np.pi, n)},
                os.path.join(net, "cortex_node_types.csv"), [
                    {"node_type_id": 100, "pop_name": "pyramidal", "ei": "e",
                     "model_type": "biophysical", "model_processing": "aibs_perisomatic",
                     "dynamics_params": "pyramidal_fit.json", "morphology": "pyramidal.swc"},
                    {"node_type_id": 101, "pop_name": "basket", "ei": "i",
                     "model_type": "biophysical", "model_processing": "aibs_perisomatic",
                     "dynamics_params": "basket_fit.json", "morphology": "basket.swc"},
                    {"node_type_id": 102, "pop_name": "lif_exc", "ei": "e",
                     "model_type": "point_neuron", "model_template": "nest:iaf_psc_alpha",
                     "dynamics_params": "lif_exc.json"},
                    {"node_type_id": 103, "pop_name": "lif_inh", "ei": "i",
                     "model_type": "point_neuron", "model_template": "nest:iaf_psc_alpha",
                     "dynamics_params": "lif_inh.json"}])
    write_nodes(os.path.join(net, "thalamus_nodes.h5"), "thalamus", [200] * THALAMUS, {},
                os.path.join(net, "thalamus_node_types.csv"),
                [{"node_type_id": 200, "pop_name": "relay", "model_type": "virtual"}])
    return kinds


def _edges(net, kinds, rng):
    """Thalamus -> cortex and cortex -> cortex."""
    n = len(kinds)
    detailed = kinds <= 101
    excitatory = (kinds == 100) | (kinds == 102)
    # thalamus -> cortex: THALAMIC_IN distinct relay cells per cortical cell
    src = np.concatenate([rng.choice(THALAMUS, THALAMIC_IN, replace=False)
                          for _ in range(n)])
    tgt = np.repeat(np.arange(n), THALAMIC_IN)
    types = np.where(detailed[tgt], 300, 301)
    write_edges(os.path.join(net, "thalamus_cortex_edges.h5"), "thalamus_to_cortex",
                "thalamus", "cortex", src, tgt, types, {},
                os.path.join(net, "thalamus_cortex_edge_types.csv"), [
                    {"edge_type_id": 300, "model_template": "exp2syn", "syn_weight": 0.0025,
                     "delay": 2.0, "nsyns": 2, "dynamics_params": "excitatory.json",
                     "target_sections": ["basal", "apical"], "distance_range": [0.0, 250.0]},
                    {"edge_type_id": 301, "model_template": "static_synapse",
                     "syn_weight": 120.0, "delay": 2.0, "nsyns": 1,
                     "dynamics_params": None}], n_source=THALAMUS, n_target=n)
    # cortex -> cortex
    pairs = rng.random((n, n)) < np.where(excitatory[:, None], 0.08, 0.2)
    np.fill_diagonal(pairs, False)
    src, tgt = np.nonzero(pairs)
    types = 400 + 2 * (~excitatory[src]) + (~detailed[tgt])
    delay = rng.uniform(1.0, 3.0, len(src)).round(3)
    write_edges(os.path.join(net, "cortex_cortex_edges.h5"), "cortex_to_cortex",
                "cortex", "cortex", src, tgt, types, {"delay": delay},
                os.path.join(net, "cortex_cortex_edge_types.csv"), [
                    {"edge_type_id": 400, "model_template": "exp2syn", "syn_weight": 0.0015,
                     "nsyns": 2, "dynamics_params": "excitatory.json",
                     "target_sections": ["basal", "apical"], "distance_range": [0.0, 300.0]},
                    {"edge_type_id": 401, "model_template": "static_synapse",
                     "syn_weight": 60.0, "nsyns": 1},
                    {"edge_type_id": 402, "model_template": "exp2syn", "syn_weight": 0.004,
                     "nsyns": 2, "dynamics_params": "inhibitory.json",
                     "target_sections": ["somatic", "basal"], "distance_range": [0.0, 80.0]},
                    {"edge_type_id": 403, "model_template": "static_synapse",
                     "syn_weight": -150.0, "nsyns": 1}], n_source=n, n_target=n)


def _thalamic_spikes(folder, rng):
    """Poisson spikes of the relay cells (THALAMIC_RATE), in time order."""
    ids, times = [], []
    for node in range(THALAMUS):
        t = np.cumsum(rng.exponential(1000.0 / THALAMIC_RATE, 64))
        t = t[t < TSTOP]
        ids.append(np.full(len(t), node))
        times.append(t.round(4))
    write_spikes(os.path.join(folder, "inputs", "thalamus_spikes.h5"),
                 {"thalamus": (np.concatenate(ids), np.concatenate(times))}, sort="by_time")


def _configs():
    """The circuit and simulation configs' contents."""
    circuit = {
        "manifest": {"$BASE": "${configdir}"},
        "components": {"morphologies_dir": "$BASE/components/morphologies",
                       "biophysical_neuron_models_dir": "$BASE/components/biophysical",
                       "synaptic_models_dir": "$BASE/components/synaptic",
                       "point_neuron_models_dir": "$BASE/components/point"},
        "networks": {
            "nodes": [{"nodes_file": f"$BASE/network/{p}_nodes.h5",
                       "node_types_file": f"$BASE/network/{p}_node_types.csv"}
                      for p in ("cortex", "thalamus")],
            "edges": [{"edges_file": f"$BASE/network/{p}_edges.h5",
                       "edge_types_file": f"$BASE/network/{p}_edge_types.csv"}
                      for p in ("thalamus_cortex", "cortex_cortex")]}}
    simulation = {
        "manifest": {"$OUTPUT": "${configdir}/output"},
        "network": "circuit_config.json",
        "run": {"tstop": TSTOP, "dt": 0.025, "dL": 20.0, "spike_threshold": -15.0},
        "conditions": {"celsius": 6.3, "v_init": -65.0},
        "node_sets": {"thalamus": {"population": "thalamus"},
                      "detailed": {"population": "cortex", "model_type": "biophysical"}},
        "inputs": {"thalamic_spikes": {"input_type": "spikes", "module": "sonata",
                                       "input_file": "${configdir}/inputs/thalamus_spikes.h5",
                                       "node_set": "thalamus"}},
        # float32 data: the files libsonata 0.2 reads (bmtk reads them too)
        "reports": {"soma_v": {"cells": "detailed", "variable_name": "v",
                               "module": "membrane_report", "sections": "soma",
                               "dt": 0.1, "data_type": "float32"}},
        "output": {"output_dir": "$OUTPUT", "spikes_file": "spikes.h5",
                   "spikes_sort_order": "time"}}
    return circuit, simulation


def write_configs(folder, circuit, simulation):
    """Write a SONATA circuit and simulation config into ``folder``; returns the path of
    the simulation config (what ``neurosim run`` takes)."""
    for name, data in (("circuit_config.json", circuit),
                       ("simulation_config.json", simulation)):
        with open(os.path.join(folder, name), "w") as f:
            json.dump(data, f, indent=1)
    return os.path.join(folder, "simulation_config.json")


if __name__ == "__main__":
    print(build(sys.argv[1] if len(sys.argv) > 1 else DEFAULT))
