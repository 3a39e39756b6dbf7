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


def arbor_ring(n, extra=10, depth=4, branch_nseg=10, seed=1):
    """The same ring as an Arbor simulation (its own discretisation: ``branch_nseg`` CVs
    per branch); returns the simulation, with spike recording on."""
    import arbor as A
    U = A.units
    morph = ring_cell(depth, branch_nseg).morphology
    tree = A.segment_tree()
    last = {}                     # section id -> its last segment
    for s in morph.sections:
        parent = A.mnpos if s.parent < 0 else last[s.parent]
        pts = s.points
        r = s.diameters / 2.0
        for k in range(len(pts) - 1):
            parent = tree.append(parent, A.mpoint(*pts[k], r[k]), A.mpoint(*pts[k + 1], r[k + 1]),
                                 tag=int(s.type))
        last[s.id] = parent
    src, tgt, w = ring_connections(n, extra, seed)
    incoming = {i: [] for i in range(n)}
    for s_, t_, w_ in zip(src, tgt, w):
        incoming[int(t_)].append((int(s_), float(w_)))

    class Ring(A.recipe):
        def __init__(self):
            A.recipe.__init__(self)
            self.props = A.neuron_cable_properties()

        def num_cells(self):
            return n

        def cell_kind(self, gid):
            return A.cell_kind.cable

        def cell_description(self, gid):
            decor = (A.decor()
                     .set_property(Vm=-65.0 * U.mV, cm=0.01 * U.F / U.m2, rL=100.0 * U.Ohm * U.cm)
                     .paint("(tag 1)", A.density("hh"))
                     .paint("(tag 3)", A.density("pas/e=-65", g=1e-3))
                     # Arbor's branches run across section ends (soma + trunk is one): place
                     # by segment, one per section here (soma 0, trunk 1)
                     .place("(on-components 0.5 (segment 1))",
                            A.synapse("expsyn", tau=TAU, e=0.0), "syn")
                     .place("(on-components 0.5 (segment 0))",
                            A.threshold_detector(-10.0 * U.mV), "det"))
            policy = A.cv_policy_max_extent(BRANCH_LENGTH / branch_nseg * U.um)
            return A.cable_cell(tree, decor, A.label_dict(), policy)

        def connections_on(self, gid):
            return [A.connection((s_, "det"), "syn", w_, DELAY * U.ms)
                    for s_, w_ in incoming[gid]]

        def event_generators(self, gid):
            if gid == 0:
                return [A.event_generator("syn", WEIGHT, A.explicit_schedule([2.0 * U.ms]))]
            return []

        def global_properties(self, kind):
            return self.props

    sim = A.simulation(Ring())
    sim.record(A.spike_recording.all)
    return sim
