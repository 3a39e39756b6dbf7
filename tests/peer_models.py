"""neurosim's models built in the peers, for the tests and the benchmarks that compare with
them: the ring in NEURON and in Arbor (``neurosim.models.ring``), the Allen cell models in NEURON
as bmtk builds them (``neurosim.models.allen``).  Not part of neurosim: a peer's model is the
test's, not the library's."""

import json
from pathlib import Path

from neurosim.models.ring import BRANCH_LENGTH, DELAY, TAU, WEIGHT, ring_cell, ring_connections


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


def neuron_perisomatic_cell(h, fit, dl=20.0):
    """The same model in NEURON, for validation and benchmarks: bmtk's fix_axon_peri,
    set_segment_dl and set_params_peri applied to the sections NEURON holds (an SWC just
    instantiated with Import3d).  Returns ``(soma section, conditions)``."""
    params = fit if isinstance(fit, dict) else json.loads(Path(fit).read_text())
    secs = _neuron_axon_stub(h, (1.0, 1.0), 0.5, dl)
    passive, conditions = params["passive"][0], params["conditions"][0]
    cm = {c["section"]: c["cm"] for c in passive["cm"]}
    for sec in secs:
        sec.Ra = passive["ra"]
        sec.cm = cm[sec.name()[:4]]
        sec.insert("pas")
        for seg in sec:
            seg.pas.e = passive["e_pas"]
    _neuron_genome(secs, params["genome"], conditions)
    return h.soma[0], conditions


def neuron_allactive_cell(h, fit, dl=20.0):
    """The same all-active model in NEURON (bmtk's fix_axon_allactive, set_segment_dl and
    set_params_allactive) on the sections of an SWC just instantiated with Import3d."""
    params = fit if isinstance(fit, dict) else json.loads(Path(fit).read_text())
    axons = [s for s in h.allsec() if s.name().startswith("axon")]
    secs = _neuron_axon_stub(h, (axons[0].diam, axons[-1].diam), 1.0, dl)
    passive, conditions = params["passive"][0], params["conditions"][0]
    for sec in secs:
        sec.insert("pas")
        if "e_pas" in passive:
            for seg in sec:
                seg.pas.e = passive["e_pas"]
        if "ra" in passive:
            sec.Ra = passive["ra"]
    for c in passive.get("cm", []):
        for sec in [s for s in secs if s.name()[:4] == c["section"]]:
            sec.cm = c["cm"]
    _neuron_genome(secs, params["genome"], conditions)
    return h.soma[0], conditions


def _neuron_axon_stub(h, diams, parent_x, dl):
    """bmtk's axon replacement in NEURON (two 30 µm sections at soma(parent_x)) and its nseg
    rule; returns every section."""
    for sec in [s for s in h.allsec() if s.name().startswith("axon")]:
        h.delete_section(sec=sec)
    h("create axon[2]")
    for sec, d in zip((h.axon[0], h.axon[1]), diams):
        sec.L, sec.diam = 30.0, d
    h.axon[0].connect(h.soma[0](parent_x), 0)
    h.axon[1].connect(h.axon[0](1.0), 0)
    h.define_shape()
    secs = list(h.allsec())
    for sec in secs:
        sec.nseg = 1 + 2 * int(sec.L / (2 * dl))
    return secs


def _neuron_genome(secs, genome, conditions):
    """bmtk's genome and reversal potentials on NEURON sections (by section-name prefix)."""
    for gene in genome:
        for sec in [s for s in secs if s.name()[:4] == gene["section"]]:
            if gene.get("mechanism"):
                sec.insert(gene["mechanism"])
            setattr(sec, gene["name"], float(gene["value"]))
    for erev in conditions["erev"]:
        for sec in [s for s in secs if s.name()[:4] == erev["section"]]:
            sec.ena, sec.ek = erev["ena"], erev["ek"]
