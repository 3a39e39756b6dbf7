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
