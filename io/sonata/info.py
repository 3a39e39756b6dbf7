"""``neurosim info``: what a circuit holds and roughly what running it needs."""

import collections

import numpy as np

from neurosim.lowering.cells import discretize
from neurosim.lowering.memory import estimate

from . import manifest
from .circuit import Circuit
from .config import load_simulation, resolve


def describe(path):
    """A few lines: populations (nodes by model type), cells, compartments, synapses,
    connections and a memory estimate."""
    config = load_simulation(path)
    run = config.get("run", {})
    circuit = Circuit(config, dl=float(run.get("dL", 20.0)),
                      spike_threshold=float(run.get("spike_threshold", -15.0)))
    net = circuit.network
    lines = [f"{config['_path']}"]
    for name, pop in circuit.nodes.items():
        kinds = collections.Counter(circuit.model_types[name])
        lines.append(f"  population {name}: {pop.size} nodes (" +
                     ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")")
    for name, pop in circuit.edges.items():
        lines.append(f"  edges {name}: {pop.size} edges, {pop.source_population} -> "
                     f"{pop.target_population}")
    sizes = {}
    for key, template in circuit._templates.items():
        part = discretize(template)
        sizes[key] = (int(np.sum(part.area > 0)), part.n)          # segments, nodes
    compartments = sum(sizes[circuit.template_of[g]][0] for g in net.cells)
    nodes = sum(sizes[circuit.template_of[g]][1] for g in net.cells)
    synapses = sum(len(c.synapses) for c in net.cells.values())
    memory = estimate(list(net.cells.values()), len(net.artificial), net.n_connections)
    lines += [f"  cells: {len(net.cells)} biophysical, {len(net.artificial)} point neurons, "
              f"{len(net.spike_sources)} virtual",
              f"  compartments: {compartments}",
              f"  synapses: {synapses} on biophysical cells; connections: {net.n_connections}",
              f"  memory estimate: {memory / 2**20:.1f} MiB for the simulation state"]
    if "tstop" in run:
        lines.append(f"  run: tstop {run['tstop']} ms, dt {run.get('dt', 0.025)} ms")
    if "output" in config or "run" in config:
        folder = resolve(config, config.get("output", {}).get("output_dir", "output"))
        lines.append("  " + manifest.describe(folder))
    return "\n".join(lines)
