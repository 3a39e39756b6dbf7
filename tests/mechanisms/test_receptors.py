"""Receptor synapses (AMPA, NMDA with Mg block, GABA_A, GABA_B) against NEURON running the
same NMODL text, and current/conductance probes."""

import numpy as np
import pytest

import neurosim as ns
from neurosim.mechanisms.builtin import receptors

from peers import build_from_morphology, clear, compiled_mod_dir, h, run

RECEPTORS = {"AMPA": receptors.AMPA, "NMDA": receptors.NMDA, "GABA_A": receptors.GABA_A,
             "GABA_B": receptors.GABA_B, "GradedSyn": receptors.GRADED}
# (section, x, weight, spike times) per receptor; GABA_B's weight is a release count
INPUTS = {"AMPA": (1, 0.3, 0.004, [2.0, 4.0, 20.0, 21.0]),
          "NMDA": (1, 0.6, 0.003, [3.0, 5.0, 7.0, 9.0]),
          "GABA_A": (1, 0.9, 0.002, [30.0, 31.0]),
          "GABA_B": (0, 0.5, 1.0, [40.0 + 2.0 * k for k in range(10)])}


@pytest.fixture(scope="module")
def neuron_receptors(tmp_path_factory):
    mod_dir = tmp_path_factory.mktemp("receptor_mods")
    for name, text in RECEPTORS.items():      # GradedSyn: NEURON's POINTER, setpointer
        (mod_dir / f"{name}.mod").write_text(text)
    return compiled_mod_dir(str(mod_dir), str(tmp_path_factory.mktemp("receptor_build")))


def test_receptors_match_neuron(neuron_receptors):
    cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(5))
    cell.insert("hh", region="soma")
    cell.insert("pas", region="dend", g=1e-4, e=-65.0)
    cell.add_synapse((0, 0.5), "GABA_B", label="GABA_B", gmax=0.01)
    for name, (sec, x, _, _) in INPUTS.items():
        if name != "GABA_B":
            cell.add_synapse((sec, x), name, label=name)
    net = ns.Network()
    gid = net.add_cells(cell)[0]
    for name, (_, _, w, times) in INPUTS.items():
        net.add_spike_source(times, targets=[(gid, name)], weight=w, delay=1.0)
    sim = ns.Simulation(net)
    v = sim.record("v", (0, 0.5), cell=gid)
    conductance = {name: sim.record("g", name, cell=gid) for name in INPUTS}
    current = {name: sim.record("i", name, cell=gid) for name in INPUTS}
    sim.run(300.0)

    clear()
    secs = build_from_morphology(cell.morphology, 5, ra=35.4, cm=1.0)
    secs[0].insert("hh")
    secs[1].insert("pas")
    for seg in secs[1]:
        seg.pas.g, seg.pas.e = 1e-4, -65.0
    keep, drives, g_theirs, i_theirs = [], [], {}, {}
    for name, (sec, x, w, times) in INPUTS.items():
        syn = getattr(h, name)(secs[sec](x))
        if name == "GABA_B":
            syn.gmax = 0.01
        nc = h.NetCon(None, syn)
        nc.delay, nc.weight[0] = 1.0, w
        g_theirs[name] = h.Vector().record(syn._ref_g)
        i_theirs[name] = h.Vector().record(syn._ref_i)
        keep += [syn, nc]
        drives += [(nc, t + 1.0) for t in times]
    fih = h.FInitializeHandler(lambda: [con.event(t) for con, t in drives])
    _, (v_theirs,) = run(300.0, 0.025, -65.0, probes=[secs[0](0.5)])
    assert v_theirs.max() > 0.0                     # the inputs make the cell fire
    np.testing.assert_allclose(v.values, v_theirs, atol=1e-4)
    for name in INPUTS:
        g_ref = np.array(g_theirs[name])
        assert g_ref.max() > 0.0
        np.testing.assert_allclose(conductance[name].values[1:], g_ref[1:],
                                   atol=1e-6 * g_ref.max(), err_msg=name)
        np.testing.assert_allclose(current[name].values[1:], np.array(i_theirs[name])[1:],
                                   atol=1e-5 * np.abs(i_theirs[name]).max(), err_msg=name)
    del fih, keep, drives
    clear()


def test_nmda_current_follows_the_magnesium_block():
    """i = g B(v) (v - e) with B(v) = 1 / (1 + exp(-0.062 v) [Mg]/3.57) (Jahr & Stevens)."""
    mg = 1.5
    cell = ns.Cell(ns.Morphology.cable(length=10.0, diameter=10.0), discretization=ns.NSeg(1))
    cell.insert("pas", g=1e-4, e=-70.0)
    cell.add_synapse((0, 0.5), "NMDA", label="nmda", mg=mg)
    cell.add_iclamp((0, 0.5), delay=5.0, dur=100.0, amp=0.05)   # sweeps v upward
    net = ns.Network()
    gid = net.add_cells(cell)[0]
    net.add_spike_source([1.0], targets=[(gid, "nmda")], weight=0.0005, delay=1.0)
    sim = ns.Simulation(net)
    v = sim.record("v", (0, 0.5), cell=gid)
    rise, decay = sim.record("A", "nmda", cell=gid), sim.record("B", "nmda", cell=gid)
    i = sim.record("i", "nmda", cell=gid)
    sim.run(100.0)
    # a current sampled at t + dt was computed from v and the states at t
    v_then, open_g = v.values[:-1], decay.values[:-1] - rise.values[:-1]
    expected = open_g / (1.0 + np.exp(-0.062 * v_then) * mg / 3.57) * (v_then - 0.0)
    after = i.times[1:] > 2.1                       # the event arrives at 2 ms
    assert v_then[after].min() < -60.0 and v_then[after].max() > 20.0   # a wide sweep
    np.testing.assert_allclose(i.values[1:][after], expected[after], rtol=1e-9, atol=1e-15)


def test_recording_many_cells_and_bad_probe_names():
    cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(3))
    cell.insert("hh", region="soma")
    cell.add_synapse((1, 0.5), "ExpSyn", label="syn", tau=2.0)
    net = ns.Network()
    gids = net.add_cells(cell, n=3)
    src = net.add_spike_source([1.0])
    for g, w in zip(gids, [0.0, 0.01, 0.02]):
        net.connect(src, (g, "syn"), weight=w, delay=1.0)
    sim = ns.Simulation(net)
    traces = sim.record("i", "syn", cell=gids)
    sim.run(10.0)
    peaks = [np.abs(t.values).max() for t in traces]
    assert peaks[0] == 0.0 and 0.0 < peaks[1] < peaks[2]
    with pytest.raises(ns.LocationError, match="no point process labelled 'nope'"):
        sim.record("i", "nope", cell=gids[0])
    with pytest.raises(ns.ParameterError, match="no state or assigned variable 'q'"):
        sim.record("q", "syn", cell=gids[0])


def _graded_pair(pre_amp):
    """A spiking presynaptic ball-and-stick and a passive postsynaptic one joined by a
    GradedSyn on the postsynaptic dendrite reading the presynaptic soma's voltage."""
    pre = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(5))
    pre.insert("hh", region="soma")
    pre.insert("pas", region="dend", g=1e-4, e=-65.0)
    pre.add_iclamp((0, 0.5), delay=20.0, dur=60.0, amp=pre_amp)
    post = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(5))
    post.insert("pas", g=1e-4, e=-65.0)
    post.add_synapse((1, 0.5), "GradedSyn", label="graded", gmax=0.002, vth=-45.0,
                     vslope=4.0, tau=3.0)
    net = ns.Network()
    (a,) = net.add_cells(pre)
    (b,) = net.add_cells(post)
    net.set_pointer((b, "graded"), "vpre", (a, (0, 0.5)))
    return net, a, b


def test_graded_synapse_matches_neuron(neuron_receptors):
    net, a, b = _graded_pair(0.15)
    sim = ns.Simulation(net)
    v_pre = sim.record("v", (0, 0.5), cell=a)
    v_post = sim.record("v", (1, 0.5), cell=b)
    g = sim.record("g", "graded", cell=b)
    sim.run(100.0)

    clear()
    cells = [net.cells[a], net.cells[b]]
    pre = build_from_morphology(cells[0].morphology, 5, ra=35.4, cm=1.0)
    post = build_from_morphology(cells[1].morphology, 5, ra=35.4, cm=1.0)
    pre[0].insert("hh")
    for sec in [pre[1]] + post:
        sec.insert("pas")
        for seg in sec:
            seg.pas.g, seg.pas.e = 1e-4, -65.0
    stim = h.IClamp(pre[0](0.5))
    stim.delay, stim.dur, stim.amp = 20.0, 60.0, 0.15
    syn = h.GradedSyn(post[1](0.5))
    syn.gmax, syn.vth, syn.vslope, syn.tau = 0.002, -45.0, 4.0, 3.0
    h.setpointer(pre[0](0.5)._ref_v, "vpre", syn)
    g_theirs = h.Vector().record(syn._ref_g)
    _, (pre_theirs, post_theirs) = run(100.0, 0.025, -65.0,
                                       probes=[pre[0](0.5), post[1](0.5)])
    assert pre_theirs.max() > 0.0 and post_theirs.max() > -60.0    # spikes pass on graded
    np.testing.assert_allclose(v_pre.values, pre_theirs, atol=1e-5)
    np.testing.assert_allclose(v_post.values, post_theirs, atol=1e-5)
    np.testing.assert_allclose(g.values[1:], np.array(g_theirs)[1:], atol=1e-9)
    del stim, syn, g_theirs
    clear()


def test_graded_synapse_follows_its_transfer_curve():
    """Presynaptic voltages held at several levels by constant currents into passive
    cells: the synapse's open fraction settles on s_inf(vpre) = 1/(1+exp(-(vpre-vth)/k))
    and the postsynaptic cell on the ohmic balance of leak and synapse."""
    vth, k, gmax, area_um2 = -40.0, 5.0, 0.0002, np.pi * 20.0 * 20.0
    net = ns.Network()
    pairs = []
    for amp in np.linspace(0.0, 0.06, 13):
        pre = ns.Cell(ns.Morphology.cable(length=20.0, diameter=20.0), discretization=ns.NSeg(1))
        pre.insert("pas", g=1e-4, e=-70.0)
        pre.add_iclamp((0, 0.5), delay=0.0, dur=1e9, amp=float(amp))
        post = ns.Cell(ns.Morphology.cable(length=20.0, diameter=20.0), discretization=ns.NSeg(1))
        post.insert("pas", g=1e-4, e=-70.0)
        post.add_synapse((0, 0.5), "GradedSyn", label="graded", gmax=gmax, vth=vth,
                         vslope=k, tau=5.0, e=0.0)
        (a,) = net.add_cells(pre)
        (b,) = net.add_cells(post)
        net.set_pointer((b, "graded"), "vpre", (a, (0, 0.5)))
        pairs.append((a, b))
    sim = ns.Simulation(net)
    v_pre = sim.record("v", (0, 0.5), cell=[a for a, _ in pairs], interval=1.0)
    v_post = sim.record("v", (0, 0.5), cell=[b for _, b in pairs], interval=1.0)
    s = sim.record("s", "graded", cell=[b for _, b in pairs], interval=1.0)
    sim.run(300.0)                                   # 30 membrane time constants
    vp = np.array([t.values[-1] for t in v_pre])
    assert vp.min() < vth - 2 * k and vp.max() > vth + 2 * k     # across the curve
    s_end = np.array([t.values[-1] for t in s])
    np.testing.assert_allclose(s_end, 1.0 / (1.0 + np.exp(-(vp - vth) / k)), rtol=1e-6)
    g_leak = 1e-4 * area_um2 * 1e-8 * 1e6                        # µS
    v_balance = (g_leak * -70.0 + gmax * s_end * 0.0) / (g_leak + gmax * s_end)
    np.testing.assert_allclose([t.values[-1] for t in v_post], v_balance, atol=1e-4)


def test_unset_and_bad_pointers_are_errors():
    net, a, b = _graded_pair(0.1)
    net.pointers.clear()
    with pytest.raises(ns.ParameterError, match="POINTER vpre of GradedSyn 'graded' on gid"):
        ns.Simulation(net)
    with pytest.raises(ns.ParameterError, match="has no POINTER 'vpost'"):
        net.set_pointer((b, "graded"), "vpost", (a, (0, 0.5)))
    with pytest.raises(ns.ParameterError, match="no point process labelled 'nope'"):
        net.set_pointer((b, "nope"), "vpre", (a, (0, 0.5)))
    with pytest.raises(ns.LocationError):
        net.set_pointer((b, "graded"), "vpre", (a, (7, 0.5)))
