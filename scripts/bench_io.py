"""Benchmark: SONATA input and output.

1. Loading: circuits of 10^4, 10^5 and 10^6 edges (LIF point neurons, 100 edges per
   target, written with neurosim.io.sonata.writer) loaded into a Simulation; time and peak
   memory (each size in a fresh process: its max RSS).  And the same with detailed targets
   (ring cells, one exp2syn synapse per edge) for 10^4 and 10^5 edges.
2. Writing a report of 10^5 compartments x 10^3 frames (blocks of 100 frames), MB/s.
3. The bundled circuit: load time against run time (target: loading <= 10 % of the run).

    python scripts/bench_io.py [--max-edges 1000000] [--repeats 3]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def write_circuit(folder, n_edges, detailed):
    from neurosim.io.sonata.writer import write_edges, write_nodes
    per_target = 100
    n = max(2, n_edges // per_target)
    rng = np.random.default_rng(1)
    net = os.path.join(folder, "network")
    if detailed:
        types = [{"node_type_id": 1, "model_type": "biophysical",
                  "model_processing": "aibs_perisomatic", "dynamics_params": "fit.json",
                  "morphology": "cell.swc"}]
    else:
        types = [{"node_type_id": 1, "model_type": "point_neuron",
                  "model_template": "nest:iaf_psc_alpha", "dynamics_params": "lif.json"}]
    write_nodes(os.path.join(net, "v1_nodes.h5"), "v1", np.ones(n, dtype=int), {},
                os.path.join(net, "v1_node_types.csv"), types)
    src = rng.integers(0, n, n * per_target)
    tgt = np.repeat(np.arange(n), per_target)
    edge_type = {"edge_type_id": 2, "syn_weight": 0.001 if detailed else 10.0, "delay": 2.0,
                 "model_template": "exp2syn" if detailed else "static_synapse",
                 "dynamics_params": "syn.json" if detailed else None,
                 "target_sections": ["basal", "apical"] if detailed else None}
    write_edges(os.path.join(net, "v1_v1_edges.h5"), "v1_to_v1", "v1", "v1", src, tgt,
                np.full(len(src), 2), {}, os.path.join(net, "v1_v1_edge_types.csv"),
                [edge_type], n_source=n, n_target=n)
    comp = os.path.join(folder, "components")
    os.makedirs(comp, exist_ok=True)
    with open(os.path.join(comp, "lif.json"), "w") as f:
        json.dump({"I_e": 300.0}, f)
    with open(os.path.join(comp, "syn.json"), "w") as f:
        json.dump({"tau1": 0.5, "tau2": 3.0, "erev": 0.0}, f)
    if detailed:
        from neurosim.models.circuit_builder import _swc_lines, _write_swc, fit
        _write_swc(os.path.join(comp, "cell.swc"),
                   _swc_lines([(3, -1, (1, 0, 0), 200.0, 1.0, 10),
                               (4, -1, (0, 1, 0), 300.0, 2.0, 10)]))
        with open(os.path.join(comp, "fit.json"), "w") as f:
            json.dump(fit(0.12, 0.036, 3e-5), f)
    config = {"components": {k: comp for k in ("morphologies_dir", "point_neuron_models_dir",
                                              "synaptic_models_dir",
                                              "biophysical_neuron_models_dir")},
              "networks": {"nodes": [{"nodes_file": os.path.join(net, "v1_nodes.h5"),
                                      "node_types_file": os.path.join(net,
                                                                      "v1_node_types.csv")}],
                           "edges": [{"edges_file": os.path.join(net, "v1_v1_edges.h5"),
                                      "edge_types_file": os.path.join(
                                          net, "v1_v1_edge_types.csv")}]},
              "run": {"tstop": 10.0, "dt": 0.025}}
    path = os.path.join(folder, "simulation_config.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def load_worker(config):
    """In a fresh process: time to a ready Simulation, and peak RSS."""
    import neurosim as ns                      # noqa: F401  (imports are not loading)
    from neurosim.io.sonata import SonataRun
    t0 = time.perf_counter()
    run = SonataRun(config)
    load = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"LOAD {load:.4f} PEAK {peak:.1f} CONNECTIONS {run.circuit.network.n_connections}")


def measure_load(config, repeats):
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, __file__, "--load", config],
                             capture_output=True, text=True, check=True).stdout
        f = next(line.split() for line in out.splitlines() if line.startswith("LOAD"))
        runs.append((float(f[1]), float(f[3]), int(f[5])))
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[0][2]


def bench_report(elements=100_000, frames=1000, block=100):
    from neurosim.io.sonata import ReportWriter
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "report.h5")
        data = np.random.default_rng(0).normal(-65.0, 5.0, (block, elements))
        t0 = time.perf_counter()
        writer = ReportWriter(path)
        per_node = 100
        nodes = elements // per_node
        writer.add("v1", np.arange(nodes),
                   [(np.arange(per_node), np.full(per_node, 0.5))] * nodes, 0.0, 0.1)
        for _ in range(frames // block):
            writer.append(0, data)
        writer.close()
        wall = time.perf_counter() - t0
        size = os.path.getsize(path) / 2**20
    return wall, size


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-edges", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--load")
    args = ap.parse_args()
    if args.load:
        return load_worker(args.load)
    with tempfile.TemporaryDirectory() as tmp:
        for detailed, sizes in ((False, (10**4, 10**5, 10**6)), (True, (10**4, 10**5))):
            for n_edges in sizes:
                if n_edges > args.max_edges:
                    continue
                folder = os.path.join(tmp, f"{int(detailed)}_{n_edges}")
                config = write_circuit(folder, n_edges, detailed)
                load, peak, conns = measure_load(config, args.repeats)
                kind = "detailed" if detailed else "LIF"
                print(f"load {kind:8s} {n_edges:8d} edges: {load:7.2f} s  "
                      f"({conns / load:9.0f} connections/s), peak RSS {peak:7.1f} MiB",
                      flush=True)
    wall, size = bench_report()
    print(f"report 1e5 compartments x 1e3 frames: {wall:.2f} s, {size:.0f} MiB, "
          f"{size / wall:.0f} MiB/s")
    from neurosim.io.sonata import SonataRun
    from neurosim.models.circuit_builder import DEFAULT
    with tempfile.TemporaryDirectory() as tmp:
        loads, runs = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            run = SonataRun(os.path.join(DEFAULT, "simulation_config.json"), output_dir=tmp)
            loads.append(time.perf_counter() - t0)
            run.run()
            run.write()
            runs.append(run.run_s)             # without the first run's compilation
        load, wall = statistics.median(loads), statistics.median(runs)
        print(f"bundled circuit: load {load:.2f} s, run {wall:.2f} s: loading is "
              f"{load / wall:.0%} of the run")


if __name__ == "__main__":
    main()
