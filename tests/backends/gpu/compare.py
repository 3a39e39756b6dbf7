"""Run under NUMBA_ENABLE_CUDASIM=1: one model on backend 'cpu' and backend 'cuda' (the
numba.cuda kernels executed by Numba's CUDA simulator); prints JSON with both results.

    compare.py network | ring | allen | points [float32]
"""

import json
import sys

import neurosim as ns


def network():
    """Three small ring cells: a spike source kicks cell 0, cell 0 drives cell 1 through an
    ExpSyn (0.5 ms delay), cells 1 and 2 share a gap junction; 3 ms."""
    from neurosim.models.ring import ring_cell
    cell = ring_cell(depth=1, branch_nseg=2)
    net = ns.Network()
    gids = [int(g) for g in net.add_cells(cell, n=3)]
    net.add_spike_source([0.1], targets=[(gids[0], "syn")], weight=0.1, delay=0.025)
    net.connect(gids[0], (gids[1], "syn"), weight=0.1, delay=0.5)
    net.connect(gids[1], (gids[0], "syn"), weight=0.0, delay=0.5)
    net.add_gap_junction((gids[1], (0, 0.5)), (gids[2], (0, 0.5)), g=0.05)
    return net, gids, 3.0, 0.025, 6.3, [("v", (0, 0.5), g) for g in gids] + \
        [("m_hh", (0, 0.5), gids[1]), ("g", "syn", gids[1])]


def ring():
    """The ring benchmark's network, smaller cells (hh soma, three passive branches of 2
    compartments): each cell's ExpSyn driven by the previous one's spikes (5 ms delay) and
    a zero-weight link, a spike source starting it; cells large enough for the DHS solve
    (with 4 lanes), all 3 in one block; 9 ms: the source, cells 0 and 1 spike."""
    from neurosim.models.ring import ring_network
    net, gids = ring_network(3, extra=1, depth=2, branch_nseg=2)
    gids = [int(g) for g in gids]
    return net, gids, 9.0, 0.025, 6.3, [("v", (0, 0.5), g) for g in gids] + \
        [("v", (2, 0.5), gids[1]), ("g", "syn", gids[1])]


def allen():
    """The Allen Scnn1a perisomatic cell (bmtk's SWC, fit and .mod files), coarse
    compartments, a strong current step: it spikes within 2 ms; 2 ms at 34 °C."""
    from neurosim.models.allen import allen_fits, allen_morphology, perisomatic_cell
    fit = next(f for f in allen_fits() if "472363762" in f)
    cell, cond = perisomatic_cell(allen_morphology("Scnn1a"), fit, dl=200.0)
    cell.add_detector((0, 0.5), threshold=-20.0)
    cell.add_iclamp((0, 0.5), delay=0.1, dur=5.0, amp=3.0)
    net = ns.Network()
    gid = int(net.add_cells(cell)[0])
    return net, [gid], 2.0, 0.025, cond["celsius"], [("v", (0, 0.5), gid),
                                                     ("cai", (0, 0.5), gid),
                                                     ("v", (1, 0.5), gid)]


def points():
    """Point neurons beside cells: LIFs (NEST's iaf_psc_alpha, exact) started near
    threshold drive an IntFire1 and an ExpSyn on a ball-and-stick cell, whose soma drives a
    second cell's graded synapse through a POINTER; Poisson drives onto the ExpSyn and a
    LIF; 5 ms."""
    net = ns.Network(seed=2)
    lif = [int(g) for g in net.add_cells(ns.models.LIFAlpha(I_e=500.0, V_init=-56.0), n=3)]
    lif += [int(g) for g in net.add_cells(ns.models.LIFAlpha(I_e=500.0, V_init=-60.0), n=3)]
    unit = int(net.add_cells(ns.models.point_neuron("IntFire1", tau=5.0, refrac=1.0))[0])
    pre = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    pre.insert("hh", region="soma")
    pre.insert("pas", region="dend", g=1e-4, e=-65.0)
    pre.add_synapse((0, 0.5), "ExpSyn", label="syn", tau=2.0)
    pre.add_detector((0, 0.5), threshold=-20.0)
    post = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    post.insert("pas", g=1e-4, e=-65.0)
    post.add_synapse((1, 0.5), "GradedSyn", label="graded", vth=-40.0, gmax=0.01)
    a, b = int(net.add_cells(pre)[0]), int(net.add_cells(post)[0])
    for g in lif:
        net.connect(g, unit, weight=0.4, delay=0.5)
        net.connect(g, (a, "syn"), weight=0.05, delay=0.5)
    net.connect(lif[0], lif[3], weight=300.0, delay=0.5)
    net.connect(unit, lif[4], weight=300.0, delay=0.5)
    net.set_pointer((b, "graded"), "vpre", (a, (0, 0.5)))
    # Poisson drives, drawn in the event kernel on the GPU as on the CPU
    net.add_poisson_drive([(a, "syn")], rate=3000.0, weight=0.01)
    net.add_poisson_drive([lif[2]], rate=20000.0, weight=40.0, start=1.0)
    probes = [("V_m", None, lif[0]), ("V_m", None, lif[3]), ("v", (0, 0.5), a),
              ("v", (1, 0.5), b), ("s", "graded", b), ("V_m", None, lif[2]),
              ("g", "syn", a)]
    return net, lif + [unit, a, b], 5.0, 0.025, 6.3, probes


def main():
    models = {"network": network, "ring": ring, "allen": allen, "points": points}
    net, gids, tstop, dt, celsius, probes = models[sys.argv[1]]()
    out = {}
    runs = ["cpu", "cuda"] + (["float32"] if len(sys.argv) > 2 else [])
    for backend in runs:
        options = {"backend": "cuda", "precision": "float32"} if backend == "float32" \
            else {"backend": backend}
        sim = ns.Simulation(net, dt=dt, celsius=celsius, **options)
        spikes = sim.record_spikes()
        traces = [sim.record(var, loc, cell=g) for var, loc, g in probes]
        sim.run(tstop / 2)                        # two calls: state kept on the device
        sim.run(tstop)
        out[backend] = {"gids": spikes.gids.tolist(), "times": spikes.times.tolist(),
                        "traces": [t.values.tolist() for t in traces],
                        "compartments": sim.n_compartments}
        if backend != "cpu":          # cells solved by DHS, and how many of them a block
            out[backend]["dhs"] = [sim.backend.layout.cells, sim.backend.dhs_cells]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
