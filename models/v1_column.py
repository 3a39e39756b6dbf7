"""A layer-4 column of mouse V1 in the style of the Allen Institute's models (Arkhipov et al.
2018, Billeh et al. 2020): a core of Allen Cell Types perisomatic models (bmtk's SWCs and
fits: Scnn1a, Rorb, Nr5a1 excitatory, two Pvalb basket types) inside a ring of LIF neurons
(NEURON's IntFire1 with bmtk's parameters), driven by virtual LGN cells; written as a SONATA
circuit with bmtk's ``NetworkBuilder`` and run by ``neurosim run``.

    python -m neurosim.models.v1_column [folder] [--scale 1]

``build(folder, scale)``: ``scale`` multiplies the cell numbers (``COUNTS``; 1: 80 detailed
cells, 200 LIF).  Cells sit in a cylinder 400 µm across (detailed ones within 100 µm of the
axis), somata at 400–500 µm depth, each turned at random about the column axis.
Connections fall off with horizontal distance, p = p0 exp(-d² / 2 (120 µm)²), p0 by class
(``P0``); synapses onto detailed cells are exp2syn (bmtk's AMPA/GABA parameters), 3 per
connection, on the dendrites (excitatory) or soma and proximal basal (inhibitory); onto
LIF cells instantaneous.  LGN: 100 virtual cells, each detailed target receiving 20 of them
and each LIF cell 10, firing Poisson at 8 Hz with a 20 Hz flash between 500 and 750 ms.
"""

import os
import sys

import numpy as np

from neurosim.models.allen import bionet_dir
from neurosim.models.circuit_builder import write_configs

COUNTS = {"Scnn1a": 24, "Rorb": 20, "Nr5a1": 16, "PV1": 10, "PV2": 10, "LIF_exc": 160,
          "LIF_inh": 40}
CELLS = {  # Allen Cell Types models in bmtk's package: (fit JSON, SWC, ei)
    "Scnn1a": ("472363762_fit.json", "Scnn1a_473845048_m.swc", "e"),
    "Rorb": ("473863510_fit.json", "Rorb_325404214_m.swc", "e"),
    "Nr5a1": ("473863035_fit.json", "Nr5a1_471087815_m.swc", "e"),
    "PV1": ("472912177_fit.json", "Pvalb_470522102_m.swc", "i"),
    "PV2": ("473862421_fit.json", "Pvalb_469628681_m.swc", "i"),
}
P0 = {("e", "e"): 0.15, ("e", "i"): 0.35, ("i", "e"): 0.45, ("i", "i"): 0.45}
SIGMA = 120.0                                       # µm
WEIGHTS = {  # (source ei, target kind): exp2syn µS per synapse, IntFire1 per connection
    ("e", "detailed"): 0.0004, ("i", "detailed"): 0.0012,
    ("e", "point"): 0.04, ("i", "point"): 0.08}
LGN, LGN_RATE, FLASH_RATE, FLASH = 100, 8.0, 20.0, (500.0, 750.0)
TSTOP, SEED = 1000.0, 2020


def _placement(n, rng, inner, outer):
    r = np.sqrt(rng.uniform(inner ** 2, outer ** 2, n))
    a = rng.uniform(0.0, 2.0 * np.pi, n)
    return np.stack([r * np.cos(a), -rng.uniform(400.0, 500.0, n), r * np.sin(a)], axis=1)


def build(folder, scale=1.0, tstop=TSTOP, seed=SEED):
    """Write the circuit, the LGN spikes and the configs under ``folder``; return the
    simulation config's path."""
    rng = np.random.default_rng(seed)
    folder = os.path.abspath(str(folder))
    v1 = _v1(rng, scale)            # the draws in this order: V1, then the LGN's edges
    v1.save(output_dir=os.path.join(folder, "network"))
    _lgn(v1, rng).save(output_dir=os.path.join(folder, "network"))
    _lgn_spikes(folder, tstop, seed)
    return _configs(folder, tstop)


def _v1(rng, scale):
    """V1's nodes (detailed cells inside, point neurons around) and edges, built."""
    from bmtk.builder.networks import NetworkBuilder
    v1 = NetworkBuilder("v1")
    for name, count in COUNTS.items():
        n = max(1, int(round(count * scale)))
        detailed = name in CELLS
        xyz = _placement(n, rng, 0.0, 100.0) if detailed else \
            _placement(n, rng, 100.0, 200.0)
        common = dict(N=n, pop_name=name, x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2],
                      rotation_angle_yaxis=rng.uniform(0.0, 2 * np.pi, n))
        if detailed:
            fit, swc, ei = CELLS[name]
            v1.add_nodes(model_type="biophysical", model_template="ctdb:Biophys1.hoc",
                         model_processing="aibs_perisomatic", dynamics_params=fit,
                         morphology=swc, ei=ei, kind="detailed", **common)
        else:
            ei = "e" if name.endswith("exc") else "i"
            v1.add_nodes(model_type="point_process", model_template="nrn:IntFire1",
                         dynamics_params=f"IntFire1_{'exc' if ei == 'e' else 'inh'}_1.json",
                         ei=ei, kind="point", **common)

    def distance_rule(source, target, p0):
        if source.node_id == target.node_id:
            return 0
        d2 = (source["x"] - target["x"]) ** 2 + (source["z"] - target["z"]) ** 2
        return int(rng.random() < p0 * np.exp(-d2 / (2.0 * SIGMA ** 2)))

    for (s_ei, t_ei), p0 in P0.items():
        for kind in ("detailed", "point"):
            w = WEIGHTS[(s_ei, kind)]
            extra = dict(model_template="exp2syn",
                         dynamics_params=("AMPA_ExcToExc.json" if s_ei == "e" else
                                          "GABA_InhToExc.json"),
                         target_sections=(["basal", "apical"] if s_ei == "e" else
                                          ["somatic", "basal"]),
                         distance_range=[0.0, 150.0] if s_ei == "e" else [0.0, 50.0]) \
                if kind == "detailed" else \
                dict(model_template="instantaneous",
                     dynamics_params=("instantaneousExc.json" if s_ei == "e" else
                                      "instantaneousInh.json"))
            v1.add_edges(source={"ei": s_ei}, target={"ei": t_ei, "kind": kind},
                         connection_rule=distance_rule, connection_params={"p0": p0},
                         # inhibition onto IntFire1: the synapse file's sign (-1), as
                         # BioNet applies it; onto cells: GABA's reversal potential
                         syn_weight=w,
                         delay=1.0 + 0.8 * (s_ei == "e"), **extra)
    v1.build()
    return v1


def _lgn(v1, rng):
    """The LGN's virtual cells and their edges onto V1, built."""
    from bmtk.builder.networks import NetworkBuilder
    lgn = NetworkBuilder("lgn")
    lgn.add_nodes(N=LGN, model_type="virtual", pop_name="LGN")

    def pick(sources, target, k):
        chosen = rng.choice(len(sources), size=k, replace=False)
        return [1 if i in set(chosen.tolist()) else 0 for i in range(len(sources))]

    for kind, k, w, extra in (
            ("detailed", 20, 0.0015, dict(model_template="exp2syn",
                                          dynamics_params="AMPA_ExcToExc.json",
                                          target_sections=["basal", "apical"],
                                          distance_range=[0.0, 150.0])),
            ("point", 10, 0.25, dict(model_template="instantaneous",
                                      dynamics_params="instantaneousExc.json"))):
        lgn.add_edges(source=lgn.nodes(), target=v1.nodes(kind=kind), connection_rule=pick,
                      connection_params={"k": k}, iterator="all_to_one", syn_weight=w,
                      delay=1.5, **extra)
    lgn.build()
    return lgn


def _lgn_spikes(folder, tstop, seed):
    """The LGN's Poisson spikes: the background rate, the flash's rate during the flash."""
    from bmtk.utils.reports.spike_trains import PoissonSpikeGenerator
    psg = PoissonSpikeGenerator(population="lgn", seed=seed)
    times = np.arange(0.0, tstop, 1.0) / 1000.0
    rates = np.where((times * 1000.0 >= FLASH[0]) & (times * 1000.0 < FLASH[1]), FLASH_RATE,
                     LGN_RATE)
    psg.add(node_ids=range(LGN), firing_rate=rates, times=times)
    os.makedirs(os.path.join(folder, "inputs"), exist_ok=True)
    psg.to_sonata(os.path.join(folder, "inputs", "lgn_spikes.h5"))


def _configs(folder, tstop):
    base = bionet_dir()
    circuit = {
        "manifest": {"$BASE": "${configdir}", "$NET": "$BASE/network"},
        "components": {
            "morphologies_dir": os.path.join(base, "morphologies"),
            "biophysical_neuron_models_dir": os.path.join(base, "biophysical_neuron_models"),
            "synaptic_models_dir": os.path.join(base, "synaptic_models"),
            "point_neuron_models_dir": os.path.join(base, "point_neuron_models"),
            "mechanisms_dir": os.path.join(base, "mechanisms")},
        "networks": {
            "nodes": [{"nodes_file": f"$NET/{p}_nodes.h5",
                       "node_types_file": f"$NET/{p}_node_types.csv"} for p in ("v1", "lgn")],
            "edges": [{"edges_file": f"$NET/{p}_edges.h5",
                       "edge_types_file": f"$NET/{p}_edge_types.csv"}
                      for p in ("v1_v1", "lgn_v1")]}}
    simulation = {
        "manifest": {"$OUT": "${configdir}/output"},
        "network": "circuit_config.json",
        "run": {"tstop": tstop, "dt": 0.025, "dL": 20.0, "spike_threshold": -15.0},
        "conditions": {"celsius": 34.0, "v_init": -80.0},
        "node_sets": {"detailed": {"population": "v1", "kind": "detailed"},
                      "lgn": {"population": "lgn"}},
        "inputs": {"lgn_spikes": {"input_type": "spikes", "module": "sonata",
                                  "input_file": "${configdir}/inputs/lgn_spikes.h5",
                                  "node_set": "lgn"}},
        "reports": {"soma_v": {"cells": "detailed", "variable_name": "v",
                               "module": "membrane_report", "sections": "soma", "dt": 0.5}},
        "output": {"output_dir": "$OUT", "spikes_file": "spikes.h5",
                   "spikes_sort_order": "time"}}
    return write_configs(folder, circuit, simulation)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default="v1_column")
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    print(build(args.folder, args.scale))
    sys.exit(0)
