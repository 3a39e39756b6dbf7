"""POINTERs that a mechanism assigns, against NEURON: hnn-core's dipole (a density mechanism)
sums each segment's axial current times its length into the ``Qsum`` of its section's
``Dipole`` point process and into a cell total, wired as hnn-core's ``_insert_dipole``
wires them (``pv``: the previous segment's voltage, the parent segment's for the first)."""

import shutil

import numpy as np
import pytest

import neurosim as ns

from shared_data import NMODL_CORPUS

DT, TSTOP, NSEG = 0.025, 30.0, 3
# NEURON's dipole sums into a hoc Vector element; neurosim has no free-standing doubles,
# so a point process's ASSIGNED variable stands in for it (in both simulators)
HOLDER = """\
NEURON { POINT_PROCESS PtrHolder  RANGE x }
ASSIGNED { x }
INITIAL { x = 0 }
"""
MORPH = ns.Morphology.from_sections([-1, 0, 1], [20.0, 150.0, 100.0], [20.0, 2.0, 1.5],
                                    types=["soma", "dend", "dend"])
XS = (np.arange(NSEG) + 0.5) / NSEG


def ztan(d):                      # µm: a function of path distance, the same in both
    return 1.0 + 0.05 * d


def ri(d):                        # MΩ
    return 0.2 + 0.002 * d


@pytest.fixture(scope="module")
def mods(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dipole")
    for f in ("dipole.mod", "dipole_pp.mod"):
        shutil.copy(NMODL_CORPUS / "hnn-core" / f, folder)
    (folder / "holder.mod").write_text(HOLDER)
    return folder


def _neurosim(mods):
    m = {f: ns.Mechanism.from_nmodl(str(mods / f"{f}.mod"))
         for f in ("dipole", "dipole_pp", "holder")}
    cell = ns.Cell(MORPH, cm=1.0, ra=100.0, v_init=-65.0, discretization=ns.NSeg(NSEG))
    cell.insert("pas", g=1e-4, e=-65.0)
    cell.insert("hh", region="soma")
    cell.insert(m["dipole"], region=[1, 2], ztan=ztan, ri=ri)
    cell.add_iclamp((0, 0.5), delay=2.0, dur=20.0, amp=0.3)
    for s in (1, 2):
        cell.add_synapse((s, 1.0), m["dipole_pp"], label=f"dpp{s}", ri=1.5, ztan=4.0)
    cell.add_synapse((0, 0.5), m["holder"], label="total")
    net = ns.Network()
    g = net.add_cells(cell)[0]
    for s in (1, 2):
        net.set_pointer((g, f"dpp{s}"), "pv", (g, (s, XS[-1])))
        net.set_pointer((g, f"dpp{s}"), "Qtotal", (g, "total", "x"))
        for i, x in enumerate(XS):
            prev = (s, XS[i - 1]) if i else (s - 1, 1.0)
            net.set_pointer((g, (s, x), "dipole"), "pv", (g, prev))
            net.set_pointer((g, (s, x), "dipole"), "Qsum", (g, f"dpp{s}", "Qsum"))
            net.set_pointer((g, (s, x), "dipole"), "Qtotal", (g, "total", "x"))
    return net, g


def _neuron(mods, tmp_path):
    from peers import build_from_morphology, clear, compiled_mod_dir, h
    compiled_mod_dir(str(mods), str(tmp_path))
    clear()
    secs = build_from_morphology(MORPH, NSEG, 100.0, 1.0)
    for sec in secs:
        sec.insert("pas")
        for seg in sec:
            seg.pas.g, seg.pas.e = 1e-4, -65.0
    secs[0].insert("hh")
    stim = h.IClamp(secs[0](0.5))
    stim.delay, stim.dur, stim.amp = 2.0, 20.0, 0.3
    total = h.PtrHolder(secs[0](0.5))
    dpps = []
    for s in (1, 2):                      # hnn-core's cell._insert_dipole
        sec = secs[s]
        sec.insert("dipole")
        dpp = h.Dipole(sec(1.0))
        dpp.ri, dpp.ztan = 1.5, 4.0
        dpp._ref_pv = sec(XS[-1])._ref_v
        dpp._ref_Qtotal = total._ref_x
        dpps.append(dpp)
        segs = list(sec)
        for i, seg in enumerate(segs):
            d = h.distance(secs[0](0.5), seg)
            seg.dipole.ztan, seg.dipole.ri = ztan(d), ri(d)
            seg.dipole._ref_pv = segs[i - 1]._ref_v if i else sec.parentseg()._ref_v
            seg.dipole._ref_Qsum = dpp._ref_Qsum
            seg.dipole._ref_Qtotal = total._ref_x
    vecs = [h.Vector().record(d._ref_Qsum) for d in dpps] + [
        h.Vector().record(total._ref_x), h.Vector().record(secs[1](XS[1]).dipole._ref_Q)]
    h.dt, h.steps_per_ms, h.celsius = DT, 1.0 / DT, 6.3
    h.finitialize(-65.0)
    h.continuerun(TSTOP)
    out = [np.array(v) for v in vecs]
    clear()
    del stim, total, dpps
    return out


def test_hnn_core_dipole_writes_through_its_pointers_as_neuron(mods, tmp_path):
    """Qsum of each section's Dipole (zeroed by its BEFORE BREAKPOINT, summed by every
    segment's AFTER SOLVE), the cell total two point processes and six segments write into,
    and one segment's Q, over 30 ms with a somatic hh spike train."""
    net, g = _neurosim(mods)
    sim = ns.Simulation(net, dt=DT)
    recs = [sim.record("Qsum", f"dpp{s}", cell=g) for s in (1, 2)] + [
        sim.record("x", "total", cell=g), sim.record("dipole.Q", (1, XS[1]), cell=g)]
    sim.run(TSTOP)
    theirs = _neuron(mods, tmp_path)
    for name, rec, ref in zip(("dpp1.Qsum", "dpp2.Qsum", "total", "Q"), recs, theirs):
        assert np.ptp(ref) > 100.0, name         # fAm: the dipole moves
        assert ref[0] == 0.0 and rec.values[0] == 0.0, name   # finitialize's BEFORE BREAKPOINT
        np.testing.assert_allclose(rec.values, ref[:len(rec.values)], rtol=0,
                                   atol=1e-6 * np.ptp(ref), err_msg=name)


def test_pointer_targets_are_checked(mods):
    net, g = _neurosim(mods)
    with pytest.raises(ns.ParameterError, match="Dipole has no variable 'nope'"):
        net.set_pointer((g, "dpp1"), "Qtotal", (g, "dpp2", "nope"))
    with pytest.raises(ns.ParameterError, match="no density mechanism 'dipol'"):
        net.set_pointer((g, (1, XS[0]), "dipol"), "pv", (g, (0, 0.5)))
    with pytest.raises(ns.ParameterError, match="folded into the matrix"):
        net.set_pointer((g, "dpp1"), "Qtotal", (g, (1, XS[0]), "pas.g"))
    # one kind of variable per POINTER of a mechanism: the kernel is made for it
    net.set_pointer((g, "dpp2"), "Qtotal", (g, (1, XS[0]), "dipole.Q"))
    with pytest.raises(ns.ParameterError, match="POINTER Qtotal of Dipole points at"):
        ns.Simulation(net, dt=DT)
    net, g = _neurosim(mods)
    net.pointers = [p for p in net.pointers if not (p[1] == ((2, XS[1]), "dipole") and
                                                    p[2] == "Qsum")]
    with pytest.raises(ns.ParameterError, match=r"POINTER Qsum of dipole at cell 0, section 2"):
        ns.Simulation(net, dt=DT)


def test_pointers_into_mechanism_variables_are_refused_on_the_gpu(mods):
    """The GPU kernels of one mechanism do not take another's arrays (and concurrent sums
    into one Qsum would race): named when the GPU kernels are generated."""
    from dataclasses import replace

    from neurosim.kernels.codegen_cuda import cuda_kernel_source
    dipole = ns.Mechanism.from_nmodl(str(mods / "dipole.mod"))
    pp = ns.Mechanism.from_nmodl(str(mods / "dipole_pp.mod"))
    bound = replace(dipole, pointer_targets=(None, ("Dipole", "a", 2), ("Dipole", "a", 2)))
    with pytest.raises(ValueError, match="POINTER Qsum points at a variable of Dipole: "
                                         "supported on the CPU backend only"):
        cuda_kernel_source([bound, pp], [[], []])
    assert "_v[_m0_ptr[0, _k]]" in cuda_kernel_source([dipole, pp], [[], []])
