"""The ring benchmark (as in Arbor's and NEURON's ring examples).

Each cell: a soma with ``hh`` and a depth-4 binary dendritic tree (passive, ``branch_nseg``
compartments per branch); an ExpSyn on the first dendrite; a detector at the soma.  Cell i
excites cell i+1 (mod n); ``extra`` zero-weight connections per cell from random cells load the
event system without changing the dynamics; a spike source kicks cell 0 at t = 1 ms.
"""

import numpy as np

import neurosim as ns

SOMA_DIAM, BRANCH_LENGTH, BRANCH_DIAM = 12.6157, 100.0, 1.0
WEIGHT, DELAY, TAU = 0.05, 5.0, 2.0


def ring_cell(depth=4, branch_nseg=10):
    morph = ns.Morphology.tree(depth, length=BRANCH_LENGTH, diameter=BRANCH_DIAM,
                               soma_diameter=SOMA_DIAM, length_ratio=1.0, diameter_ratio=1.0)
    cell = ns.Cell(morph, cm=1.0, ra=100.0, v_init=-65.0, discretization=ns.NSeg(branch_nseg))
    cell.set_discretization(ns.NSeg(1), region="soma")
    cell.insert("hh", region="soma")
    cell.insert("pas", region="dend", g=1e-3, e=-65.0)
    cell.add_synapse((1, 0.5), "ExpSyn", label="syn", tau=TAU, e=0.0)
    cell.add_detector((0, 0.5), threshold=-10.0)
    return cell


def ring_connections(n, extra=10, seed=1):
    """(source, target, weight) of the ring and of ``extra`` zero-weight links per cell."""
    rng = np.random.default_rng(seed)
    src = list(range(n))
    tgt = [(i + 1) % n for i in range(n)]
    w = [WEIGHT] * n
    for i in range(n):
        for s in rng.integers(0, n, size=extra):
            src.append(int(s))
            tgt.append(i)
            w.append(0.0)
    return np.array(src), np.array(tgt), np.array(w)


def ring_network(n, extra=10, depth=4, branch_nseg=10, seed=1):
    net = ns.Network(seed=seed)
    gids = net.add_cells(ring_cell(depth, branch_nseg), n=n)
    src, tgt, w = ring_connections(n, extra, seed)
    for s, t, weight in zip(src, tgt, w):
        net.connect(int(gids[s]), (int(gids[t]), "syn"), weight=float(weight), delay=DELAY)
    net.add_spike_source([1.0], targets=[(int(gids[0]), "syn")], weight=WEIGHT, delay=1.0)
    return net, gids


def neuron_ring(h, n, extra=10, depth=4, branch_nseg=10, seed=1):
    """The same ring in NEURON (sections through the same 3D points); returns the objects to
    keep alive, the spike time and gid vectors."""
    template = ring_cell(depth, branch_nseg)
    morph = template.morphology
    keep, syns, somas = [], [], []
    for _ in range(n):
        secs = []
        for s in morph.sections:
            sec = h.Section()
            for p, d in zip(s.points, s.diameters):
                h.pt3dadd(*map(float, p), float(d), sec=sec)
            sec.nseg = 1 if s.type == 1 else branch_nseg
            sec.Ra, sec.cm = 100.0, 1.0
            secs.append(sec)
        for s in morph.sections:
            if s.parent >= 0:
                secs[s.id].connect(secs[s.parent](s.parent_x), 0)
        secs[0].insert("hh")
        for sec in secs[1:]:
            sec.insert("pas")
            for seg in sec:
                seg.pas.g, seg.pas.e = 1e-3, -65.0
        syn = h.ExpSyn(secs[1](0.5))
        syn.tau, syn.e = TAU, 0.0
        keep += secs
        syns.append(syn)
        somas.append(secs[0])
    times, gids = h.Vector(), h.Vector()
    src, tgt, w = ring_connections(n, extra, seed)
    detectors = []
    for i, soma in enumerate(somas):
        nc = h.NetCon(soma(0.5)._ref_v, None, sec=soma)
        nc.threshold = -10.0
        nc.record(times, gids, i)
        detectors.append(nc)
    ncs = []
    for s, t, weight in zip(src, tgt, w):
        nc = h.NetCon(somas[s](0.5)._ref_v, syns[t], sec=somas[s])
        nc.threshold, nc.delay, nc.weight[0] = -10.0, DELAY, weight
        ncs.append(nc)
    kick = h.NetCon(None, syns[0])
    kick.delay, kick.weight[0] = 1.0, WEIGHT
    handler = h.FInitializeHandler(lambda: kick.event(1.0 + 1.0))
    return (keep, syns, detectors, ncs, kick, handler), times, gids
