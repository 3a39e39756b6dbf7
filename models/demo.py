"""The README's demo: a reconstructed layer-4 neuron (Allen Scnn1a) driven by current steps.

Hodgkin–Huxley channels in soma and axon, a passive dendritic tree (NEURON's d_lambda rule),
three current steps into the soma; voltages at the soma, the axon and two dendritic tips.
"""

import neurosim as ns

from .allen import allen_morphology  # noqa: F401


def build_demo_cell():
    morph = ns.Morphology.from_swc(allen_morphology("Scnn1a"))
    cell = ns.Cell(morph, cm=1.0, ra=100.0, v_init=-65.0, discretization=ns.DLambda(0.1))
    cell.insert("pas", region=["dend", "apic"], g=3e-5, e=-65.0)
    cell.insert("hh", region=["soma", "axon"], gnabar=0.5, gkbar=0.1, gl=3e-5, el=-65.0)
    for k, amp in enumerate((0.15, 0.25, 0.35)):
        cell.add_iclamp((0, 0.5), delay=20.0 + 100.0 * k, dur=60.0, amp=amp)
    return cell


def probe_locations(morph):
    """Soma centre, the end of the first axon section, the ends of the farthest basal and
    apical sections."""
    types = morph.types
    start = morph.section_start_distances()
    locs = [(0, 0.5)]
    for code in (2, 3, 4):
        ids = [i for i in range(len(morph)) if types[i] == code]
        if ids:
            far = max(ids, key=lambda i: start[i] + morph[i].length) if code != 2 else ids[0]
            locs.append((far, 1.0))
    return locs


def run_demo(tstop=320.0, dt=0.025, celsius=20.0):
    cell = build_demo_cell()
    sim = ns.Simulation(cell, dt=dt, celsius=celsius)
    traces = [sim.record("v", loc) for loc in probe_locations(cell.morphology)]
    sim.run(tstop)
    return sim, traces
