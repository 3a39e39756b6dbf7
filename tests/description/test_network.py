"""Networks: detectors, connections, spike sources and synaptic events, against NEURON."""

import numpy as np
import pytest

import neurosim as ns

from peers import build_from_morphology, clear, h


def ball_and_stick(tau=2.0):
    cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(5))
    cell.insert("hh", region="soma")
    cell.insert("pas", region="dend", g=1e-4, e=-65.0)
    cell.add_synapse((1, 0.5), "ExpSyn", label="syn", tau=tau, e=0.0)
    cell.add_detector((0, 0.5), threshold=-10.0)
    return cell


def neuron_ball_and_stick(morph, tau=2.0):
    secs = build_from_morphology(morph, 5, ra=35.4, cm=1.0)
    secs[0].insert("hh")
    secs[1].insert("pas")
    for seg in secs[1]:
        seg.pas.g, seg.pas.e = 1e-4, -65.0
    syn = h.ExpSyn(secs[1](0.5))
    syn.tau, syn.e = tau, 0.0
    return secs, syn


def test_pair_with_spike_source_matches_neuron():
    net = ns.Network()
    a, b = ball_and_stick(), ball_and_stick()
    a.add_iclamp((0, 0.5), delay=5.0, dur=40.0, amp=0.3)
    ga, gb = net.add_cells(a)[0], net.add_cells(b)[0]
    net.connect(ga, (gb, "syn"), weight=0.02, delay=3.0)
    src = net.add_spike_source([2.0, 30.0], targets=[(ga, "syn")], weight=0.01, delay=1.0)
    sim = ns.Simulation(net, dt=0.025)
    spikes = sim.record_spikes()
    vb = sim.record("v", (0, 0.5), cell=gb)
    sim.run(60.0)

    clear()
    A, syn_a = neuron_ball_and_stick(a.morphology)
    B, syn_b = neuron_ball_and_stick(b.morphology)
    stim = h.IClamp(A[0](0.5))
    stim.delay, stim.dur, stim.amp = 5.0, 40.0, 0.3
    nc = h.NetCon(A[0](0.5)._ref_v, syn_b, sec=A[0])
    nc.threshold, nc.delay, nc.weight[0] = -10.0, 3.0, 0.02
    drive = h.NetCon(None, syn_a)
    drive.delay, drive.weight[0] = 1.0, 0.01
    rec_a, rec_b = h.Vector(), h.Vector()
    nc.record(rec_a)
    watch_b = h.NetCon(B[0](0.5)._ref_v, None, sec=B[0])
    watch_b.threshold = -10.0
    watch_b.record(rec_b)
    v_b = h.Vector().record(B[0](0.5)._ref_v)
    fih = h.FInitializeHandler(lambda: [drive.event(t) for t in (2.0 + 1.0, 30.0 + 1.0)])
    h.dt, h.celsius, h.secondorder = 0.025, 6.3, 0     # NEURON's globals: other tests set them
    h.finitialize(-65.0)
    h.continuerun(60.0)

    np.testing.assert_allclose(vb.values, np.array(v_b), atol=1e-5)
    for gid, theirs in ((ga, rec_a), (gb, rec_b)):
        mine = spikes.times[spikes.gids == gid]
        theirs = np.array(theirs)
        assert len(mine) == len(theirs) >= 3
        # NEURON's fixed step reports the end of the crossing step; ours is interpolated
        assert np.all((theirs - mine >= 0) & (theirs - mine <= 0.025 + 1e-9))
    np.testing.assert_array_equal(spikes.times[spikes.gids == src], [2.0, 30.0])
    del fih
    clear()


def test_exp2syn_peak_conductance_equals_weight():
    cell = ns.Cell(ns.Morphology.cable(10.0, 10.0, type="soma"))
    cell.insert("pas", g=1e-4, e=-65.0)
    cell.add_synapse((0, 0.5), "Exp2Syn", label="s", tau1=0.5, tau2=5.0, e=0.0)
    net = ns.Network()
    gid = net.add_cells(cell)[0]
    net.add_spike_source([1.0], targets=[(gid, "s")], weight=0.004, delay=1.0)
    sim = ns.Simulation(net, dt=0.01)
    a, b = sim.record("A_Exp2Syn", (0, 0.5)), sim.record("B_Exp2Syn", (0, 0.5))
    sim.run(30.0)
    g = b.values - a.values
    assert g.max() == pytest.approx(0.004, rel=2e-3)
    tpeak = 0.5 * 5.0 / (5.0 - 0.5) * np.log(5.0 / 0.5)
    assert b.times[np.argmax(g)] == pytest.approx(2.0 + tpeak, abs=0.02)


def test_network_bad_input():
    net = ns.Network()
    cell = ball_and_stick()
    quiet = ns.Cell(ns.Morphology.ball_and_stick())
    quiet.add_synapse((1, 0.5), "ExpSyn", label="syn")
    g0, g1 = net.add_cells(cell, n=2)
    g2 = net.add_cells(quiet)[0]
    with pytest.raises(ns.ParameterError, match="unknown target gid 7"):
        net.connect(g0, (7, "syn"), weight=0.1, delay=1.0)
    with pytest.raises(ns.ParameterError, match="unknown source gid -1"):
        net.connect(-1, (g1, "syn"), weight=0.1, delay=1.0)
    with pytest.raises(ns.ParameterError, match="no synapse labelled 'ampa'"):
        net.connect(g0, (g1, "ampa"), weight=0.1, delay=1.0)
    with pytest.raises(ns.ParameterError, match="no spike detector"):
        net.connect(g2, (g1, "syn"), weight=0.1, delay=1.0)
    with pytest.raises(ns.ParameterError, match="weight must be finite"):
        net.connect(g0, (g1, "syn"), weight=float("nan"), delay=1.0)
    with pytest.raises(ns.ParameterError, match="delay"):
        net.connect(g0, (g1, "syn"), weight=0.1, delay=-1.0)
    net.connect(g0, (g1, "syn"), weight=0.1, delay=0.01)
    with pytest.raises(ns.ParameterError, match="shorter than dt"):
        ns.Simulation(net, dt=0.025)
    # negative conductances: a gap junction, a channel density, an NMODL synapse's (uS)
    with pytest.raises(ns.ParameterError, match="gap junction g must be >= 0"):
        net.add_gap_junction((g0, (0, 0.5)), (g1, (0, 0.5)), g=-0.001)
    with pytest.raises(ns.ParameterError, match="pas.g .* must be >= 0"):
        cell.insert("pas", g=-1e-4)
    with pytest.raises(ns.ParameterError, match="GradedSyn.gmax .* must be >= 0"):
        cell.add_synapse((1, 0.5), "GradedSyn", gmax=-0.001)
    leak = ns.Mechanism.from_nmodl_text(
        "NEURON { SUFFIX leak3 NONSPECIFIC_CURRENT i RANGE gbar }\n"
        "PARAMETER { gbar = 0.001 (S/cm2) e = -70 (mV) }\n"
        "ASSIGNED { v (mV) i (mA/cm2) }\nBREAKPOINT { i = gbar * (v - e) }\n", "leak3.mod")
    with pytest.raises(ns.ParameterError, match="leak3.gbar .* must be >= 0"):
        cell.insert(leak, gbar=-1.0)


def test_ring_of_branched_hh_cells_matches_neuron():
    from neurosim.models.ring import ring_network
    from peer_models import neuron_ring
    n, tstop = 8, 120.0
    net, gids = ring_network(n, extra=10)
    sim = ns.Simulation(net, dt=0.025)
    spikes = sim.record_spikes(gids)
    sim.run(tstop)

    clear()
    keep, times, ids = neuron_ring(h, n, extra=10)
    h.dt, h.celsius, h.secondorder = 0.025, 6.3, 0
    h.finitialize(-65.0)
    h.continuerun(tstop)
    theirs = sorted(zip(np.array(ids).astype(int), np.array(times)))
    mine = sorted(zip(spikes.gids.tolist(), spikes.times.tolist()))
    assert len(mine) == len(theirs) >= 2 * n            # the wave went round twice
    for (g1, t1), (g2, t2) in zip(mine, theirs):
        assert g1 == g2
        assert 0.0 <= t2 - t1 <= 0.025 + 1e-9           # within one dt (step end vs crossing)
    del keep
    clear()

    # Arbor discretises its own way (CVs of at most 10 µm, no zero-area nodes): the same
    # spikes of the same cells in the same order; its hop from cell to cell is ~1 % shorter,
    # so the times drift apart by ~0.1 ms a hop
    arbor = pytest.importorskip("arbor")
    from peer_models import arbor_ring
    arb = arbor_ring(n, extra=10)
    arb.run(tstop * arbor.units.ms, 0.025 * arbor.units.ms)
    theirs = sorted((int(s[0][0]), float(s[1])) for s in arb.spikes())
    assert [g for g, _ in theirs] == [g for g, _ in mine]
    hop_mine = np.median(np.diff(sorted(t for _, t in mine)))
    hop_arbor = np.median(np.diff(sorted(t for _, t in theirs)))
    assert hop_arbor == pytest.approx(hop_mine, rel=0.03)


DELAYED_SYN = """
NEURON {
    POINT_PROCESS DelayedSyn
    RANGE tau, e, lag
    NONSPECIFIC_CURRENT i
}
PARAMETER { tau = 2 (ms) e = 0 (mV) lag = 2.5 (ms) }
ASSIGNED { v (mV) i (nA) }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT {
    SOLVE decay METHOD cnexp
    i = g * (v - e)
}
DERIVATIVE decay { g' = -g / tau }
NET_RECEIVE(weight (uS)) {
    if (flag == 0) {
        net_send(lag, 1)       : act later, through a self-event
    } else {
        g = g + weight
    }
}
"""


def test_net_send_self_events_match_neuron(tmp_path):
    from peers import compiled_mod_dir, run
    mod_dir = tmp_path / "delayed"
    mod_dir.mkdir()
    (mod_dir / "delayedsyn.mod").write_text(DELAYED_SYN)
    compiled_mod_dir(str(mod_dir), str(tmp_path))
    mech = ns.Mechanism.from_nmodl(str(mod_dir / "delayedsyn.mod"))
    assert mech.uses_net_send
    cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(3))
    cell.insert("hh", region="soma")
    cell.add_synapse((1, 0.5), mech, label="syn")
    net = ns.Network()
    gid = net.add_cells(cell)[0]
    times = [2.0, 10.0, 10.013, 30.0]       # events spaced more than lag apart
    net.add_spike_source(times[:2] + times[3:], targets=[(gid, "syn")], weight=0.02,
                         delay=1.0)
    sim = ns.Simulation(net)
    v = sim.record("v", (0, 0.5), cell=gid)
    g = sim.record("g_DelayedSyn", (1, 0.5), cell=gid)
    sim.run(50.0)

    clear()
    secs = build_from_morphology(cell.morphology, 3, ra=35.4, cm=1.0)
    secs[0].insert("hh")
    syn = h.DelayedSyn(secs[1](0.5))
    nc = h.NetCon(None, syn)
    nc.delay, nc.weight[0] = 1.0, 0.02
    fih = h.FInitializeHandler(lambda: [nc.event(t + 1.0) for t in (2.0, 10.0, 30.0)])
    _, (theirs,) = run(50.0, 0.025, -65.0, probes=[secs[0](0.5)])
    np.testing.assert_allclose(v.values, theirs, atol=1e-5)
    first = np.argmax(g.values > 0)
    assert g.times[first] == pytest.approx(2.0 + 1.0 + 2.5, abs=0.03)   # delay + lag
    del fih, nc, syn
    clear()


COUNTING_SYN = """
NEURON { POINT_PROCESS CountSyn  NONSPECIFIC_CURRENT i }
PARAMETER { tau = 2 (ms) }
ASSIGNED { v (mV) i (nA) }
STATE { g (uS) }
INITIAL { g = 0 }
BREAKPOINT {
    SOLVE decay METHOD cnexp
    i = g * v
}
DERIVATIVE decay { g' = -g / tau }
NET_RECEIVE(w (uS), count, last (ms)) {
    INITIAL { count = 100  last = -1 }
    count = count + 1
    last = t
    g = g + w
}
"""


def test_connection_state_is_written_back_and_initialised():
    """NET_RECEIVE arguments beyond the weight are per-connection state (as in NEURON):
    initialised by NET_RECEIVE's INITIAL, updated by each event, readable after the run."""
    mech = ns.Mechanism.from_nmodl_text(COUNTING_SYN, "count.mod")
    assert mech.net_receive_init
    cell = ns.Cell(ns.Morphology.cable(10.0, 10.0, type="soma"))
    cell.insert("pas", g=1e-4, e=-65.0)
    cell.add_synapse((0, 0.5), mech, label="s")
    net = ns.Network()
    gid = net.add_cells(cell)[0]
    a = net.add_spike_source([1.0, 2.0, 3.0])
    b = net.add_spike_source([4.0])
    net.connect(a, (gid, "s"), weight=1e-4, delay=1.0)
    net.connect(b, (gid, "s"), weight=[2e-4, 7.0, 7.0], delay=2.0)
    net.connect(a, (gid, "s"), weight=0.0, delay=5.0)
    sim = ns.Simulation(net)
    np.testing.assert_array_equal(sim.weights()[:, 1:], [[100, -1]] * 3)   # INITIAL ran
    sim.run(20.0)
    w = sim.weights()
    np.testing.assert_array_equal(w[:, 0], [1e-4, 2e-4, 0.0])       # weights unchanged
    np.testing.assert_array_equal(w[:, 1], [103, 101, 103])         # events per connection
    np.testing.assert_allclose(w[:, 2], [3.0 + 1.0, 4.0 + 2.0, 3.0 + 5.0])   # last event time


LEAKY_INT_FIRE = """
NEURON { ARTIFICIAL_CELL LeakyIntFire  RANGE tau, refrac, m }
PARAMETER { tau = 10 (ms)  refrac = 5 (ms) }
ASSIGNED { m  t0 (ms)  refractory }
INITIAL { m = 0  t0 = t  refractory = 0 }
NET_RECEIVE (w) {
    if (refractory == 0) {
        m = m * exp(-(t - t0) / tau)     : decayed since the last input, computed exactly
        t0 = t
        m = m + w
        if (m > 1) {
            refractory = 1
            net_send(refrac, 1)
            net_event(t)
        }
    } else if (flag == 1) {
        refractory = 0
        m = 0
        t0 = t
    }
}
"""


def test_artificial_cell_with_net_event_matches_neuron(tmp_path):
    from peers import compiled_mod_dir, run
    mod_dir = tmp_path / "lif"
    mod_dir.mkdir()
    (mod_dir / "lif.mod").write_text(LEAKY_INT_FIRE)
    compiled_mod_dir(str(mod_dir), str(tmp_path))
    lif = ns.Mechanism.from_nmodl(str(mod_dir / "lif.mod"))
    assert lif.kind == "artificial"
    inputs = [1.0, 2.0, 3.0, 4.5, 6.0, 9.0, 9.5, 10.0, 30.0, 31.0, 31.5, 32.0]

    net = ns.Network()
    cell = ball_and_stick()
    gid = net.add_cells(cell)[0]
    (unit,) = net.add_cells(lif, n=1, tau=8.0)
    src = net.add_spike_source(inputs)
    net.connect(src, unit, weight=0.4, delay=1.0)
    net.connect(unit, (gid, "syn"), weight=0.05, delay=2.0)
    sim = ns.Simulation(net)
    spikes = sim.record_spikes([unit, gid])
    v = sim.record("v", (0, 0.5), cell=gid)
    sim.run(50.0)

    clear()
    secs, syn = neuron_ball_and_stick(cell.morphology)
    unit_n = h.LeakyIntFire()
    unit_n.tau = 8.0
    drive = h.NetCon(None, unit_n)
    drive.delay, drive.weight[0] = 1.0, 0.4
    out = h.NetCon(unit_n, syn)
    out.delay, out.weight[0] = 2.0, 0.05
    times = h.Vector()
    out.record(times)
    fih = h.FInitializeHandler(lambda: [drive.event(t + 1.0) for t in inputs])
    _, (theirs,) = run(50.0, 0.025, -65.0, probes=[secs[0](0.5)])
    mine = spikes.times[spikes.gids == unit]
    assert len(mine) >= 2
    np.testing.assert_allclose(mine, np.array(times), atol=1e-9)     # event times are exact
    np.testing.assert_allclose(v.values, theirs, atol=1e-5)
    del fih, drive, out, unit_n, syn, secs
    clear()


def test_builtin_intfire1_matches_neurons():
    """neurosim's IntFire1 (own text) against NEURON's built-in IntFire1: the same output
    spike times for inputs that sum, decay, fire and fall in the refractory period."""
    from peers import run
    inputs = [1.0, 1.5, 2.0, 2.2, 3.0, 4.0, 4.1, 9.0, 10.0, 10.3, 10.6, 20.0, 20.5, 21.0,
              21.2, 40.0, 40.2, 40.4, 41.0]
    net = ns.Network()
    (unit,) = net.add_cells(ns.models.point_neuron("IntFire1", tau=6.0, refrac=3.0))
    net.add_spike_source(inputs, targets=[unit], weight=0.35, delay=1.0)
    sim = ns.Simulation(net)
    spikes = sim.record_spikes([unit])
    sim.run(50.0)

    clear()
    unit_n = h.IntFire1()
    unit_n.tau, unit_n.refrac = 6.0, 3.0
    drive = h.NetCon(None, unit_n)
    drive.delay, drive.weight[0] = 1.0, 0.35
    times = h.Vector()
    out = h.NetCon(unit_n, None)
    out.record(times)
    fih = h.FInitializeHandler(lambda: [drive.event(t + 1.0) for t in inputs])
    anchor = h.Section(name="anchor")                  # peers.run records t on a section
    run(50.0, 0.025, -65.0)
    assert len(times) >= 4
    np.testing.assert_allclose(spikes.times, np.array(times), atol=1e-9)
    del fih, drive, out, unit_n, anchor
    clear()


def test_nsuite_rc_expsyn_against_the_exact_solution():
    """nsuite's rc-expsyn: one compartment, 100 MΩ, 0.01 nF, E = v0 = -65 mV, an ExpSyn
    (τ 1 ms, e 0 mV, weight 0.01 µS) triggered once.  The ODE C dV/dt = -(V-E)/R - g(t)(V-e)
    with g = w exp(-t/τ) is linear in V: solved exactly by its integrating factor (quadrature
    on a fine grid).  Accept: within 1 % of the deflection at every sample up to 10 ms."""
    R, C, E, tau, w, trigger = 100.0, 0.01, -65.0, 1.0, 0.01, 1.0     # MΩ, nF, mV, ms, µS
    side = 10.0
    area_cm2 = np.pi * side * side * 1e-8
    cell = ns.Cell(ns.Morphology.cable(side, side, type="soma"), v_init=E,
                   cm=C * 1e-3 / area_cm2)                   # nF -> µF, per cm²
    cell.insert("pas", g=1.0 / (R * 1e6 * area_cm2), e=E)
    cell.add_synapse((0, 0.5), "ExpSyn", label="syn", tau=tau, e=0.0)
    net = ns.Network()
    gid = net.add_cells(cell)[0]
    net.add_spike_source([0.0], targets=[(gid, "syn")], weight=w, delay=trigger)
    sim = ns.Simulation(net, dt=0.025)
    v = sim.record("v", (0, 0.5))
    sim.run(trigger + 10.0)

    # exact: with s = t - trigger, dV/ds = -(a + b(s)) V + c(s)
    s = np.linspace(0.0, 10.0, 200001)
    a, b = 1.0 / (R * C), w * np.exp(-s / tau) / C
    c = E / (R * C)                                          # e = 0: the synapse adds b*0
    phi = a * s + (w * tau / C) * (1.0 - np.exp(-s / tau))
    integrand = c * np.exp(phi)
    integral = np.concatenate([[0.0], np.cumsum((integrand[1:] + integrand[:-1]) / 2
                                                 * np.diff(s))])
    exact = np.exp(-phi) * (E + integral)
    after = v.times >= trigger
    want = np.interp(v.times[after] - trigger, s, exact)
    deflection = np.max(np.abs(exact - E))
    assert deflection > 1.0
    assert np.max(np.abs(v.values[after] - want)) < 0.01 * deflection
    np.testing.assert_allclose(v.values[~after], E, atol=1e-9)


def test_gap_junction_coupling_coefficient_is_analytic():
    """Two passive compartments (leak G each) joined by g, a steady current into the first:
    V2/V1 (deflections) = g / (G + g), V1 = I (G + g) / (G^2 + 2 G g)."""
    side, gpas, E, I, g = 10.0, 1e-4, -65.0, 0.01, 0.002          # µm, S/cm², mV, nA, µS
    G = gpas * np.pi * side * side * 1e-8 * 1e6                     # S/cm² * cm² -> µS
    cell = ns.Cell(ns.Morphology.cable(side, side, type="soma"), v_init=E)
    cell.insert("pas", g=gpas, e=E)
    net = ns.Network()
    a, b = net.add_cells(cell, n=2)
    stimulated = ns.Cell(ns.Morphology.cable(side, side, type="soma"), v_init=E)
    stimulated.insert("pas", g=gpas, e=E)
    stimulated.add_iclamp((0, 0.5), delay=0.0, dur=1e9, amp=I)
    c = net.add_cells(stimulated)[0]
    net.add_gap_junction((c, (0, 0.5)), (a, (0, 0.5)), g=g)        # b stays uncoupled
    for method in ("backward_euler", "crank_nicolson"):
        sim = ns.Simulation(net, dt=0.025, method=method)
        v1, v2, v3 = (sim.record("v", (0, 0.5), cell=k) for k in (c, a, b))
        sim.run(400.0)                                             # 40 membrane time constants
        d1, d2 = v1.values[-1] - E, v2.values[-1] - E
        assert d2 / d1 == pytest.approx(g / (G + g), rel=1e-6)
        assert d1 == pytest.approx(I * (G + g) / (G * G + 2 * G * g), rel=1e-6)
        np.testing.assert_allclose(v3.values, E, atol=1e-12)
        assert np.all(np.diff(v2.values) >= -1e-9)                 # no oscillation on the way
    with pytest.raises(ns.ParameterError, match="gap junction g"):
        net.add_gap_junction((a, (0, 0.5)), (b, (0, 0.5)), g=-1.0)


@pytest.mark.parametrize("multiplicative", [0, 1], ids=["additive", "multiplicative"])
@pytest.mark.parametrize("pre_time", [10.0, 40.0], ids=["pre-before-post", "post-before-pre"])
def test_stdp_pair_protocol_matches_the_analytic_change(multiplicative, pre_time):
    p = dict(tau_plus=16.8, tau_minus=33.7, a_plus=0.0002, a_minus=0.00021, wmax=0.002)
    w0, delay, dt = 0.0005, 1.0, 0.025                  # too weak to make the cell fire
    post = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(3))
    post.insert("hh", region="soma")
    post.add_synapse((1, 0.5), "ExpSynSTDP", label="stdp", multiplicative=multiplicative, **p)
    post.add_detector((0, 0.5), threshold=-10.0)
    post.add_iclamp((0, 0.5), delay=25.0, dur=1.0, amp=1.0)       # one postsynaptic spike
    net = ns.Network()
    gid = net.add_cells(post)[0]
    pre = net.add_spike_source([pre_time])
    net.connect(pre, (gid, "stdp"), weight=w0, delay=delay)         # connection 0
    net.connect(gid, (gid, "stdp"), weight=-1.0, delay=dt)          # its own spikes: "post"
    sim = ns.Simulation(net, dt=dt)
    spikes = sim.record_spikes([gid])
    sim.run(80.0)
    assert len(spikes) == 1
    t_post = np.ceil(spikes.times[0] / dt - 1e-9) * dt + dt       # when the synapse hears it
    t_pre = pre_time + delay
    lag = t_post - t_pre
    if lag > 0:      # pre then post: potentiation
        dw = p["a_plus"] * np.exp(-lag / p["tau_plus"])
        dw *= (p["wmax"] - w0) / p["wmax"] if multiplicative else 1.0
    else:            # post then pre: depression
        dw = -p["a_minus"] * np.exp(lag / p["tau_minus"])
        dw *= w0 / p["wmax"] if multiplicative else 1.0
    w = sim.weights()
    assert w[0, 0] == pytest.approx(w0 + dw, rel=1e-12)
    assert w[1, 0] == -1.0                                        # the post connection stays


def test_nsuite_rc_exp2syn_spike_graded_delays():
    """nsuite's rc-exp2syn-spike: one source cell drives 100 targets through delays
    d0 + {k φ} (φ the golden ratio's fractional part); single passive compartments with an
    Exp2Syn.  Spike times within 3 dt of the exact ones: t0 = L and t_k = t0 + d_k + L,
    where L, the latency from input to threshold, comes from the exact ODE solved finely."""
    R, C, E, thresh, w, d0, dt = 100.0, 0.01, -65.0, -40.0, 0.02, 1.0, 0.025
    tau1, tau2 = 0.5, 4.0
    side = 10.0
    area = np.pi * side * side * 1e-8
    cell = ns.Cell(ns.Morphology.cable(side, side, type="soma"), v_init=E, cm=C * 1e-3 / area)
    cell.insert("pas", g=1.0 / (R * 1e6 * area), e=E)
    cell.add_synapse((0, 0.5), "Exp2Syn", label="syn", tau1=tau1, tau2=tau2, e=0.0)
    cell.add_detector((0, 0.5), threshold=thresh)
    net = ns.Network()
    gids = net.add_cells(cell, n=101)
    phi = (np.sqrt(5.0) - 1.0) / 2.0
    delays = d0 + np.mod(np.arange(1, 101) * phi, 1.0)
    for k, d in zip(gids[1:], delays):
        net.connect(int(gids[0]), (int(k), "syn"), weight=w, delay=float(d))
    net.add_spike_source([0.0], targets=[(int(gids[0]), "syn")], weight=w, delay=dt)
    sim = ns.Simulation(net, dt=dt, spike_times="interpolated")   # exact times: the crossing
    spikes = sim.record_spikes(gids)
    sim.run(15.0)

    # exact latency: C dV/dt = -(V - E)/R - g(t) (V - 0), g = w f (exp(-t/tau2) - exp(-t/tau1))
    tp = tau1 * tau2 / (tau2 - tau1) * np.log(tau2 / tau1)
    f = 1.0 / (np.exp(-tp / tau2) - np.exp(-tp / tau1))
    h_, v, t = 1e-5, E, 0.0
    while v < thresh:                       # RK2 on a 1e-5 ms grid: error far below dt
        def dv(tt, vv):
            g = w * f * (np.exp(-tt / tau2) - np.exp(-tt / tau1))
            return (-(vv - E) / R - g * vv) / C
        mid = v + 0.5 * h_ * dv(t, v)
        v, t = v + h_ * dv(t + 0.5 * h_, mid), t + h_
    latency = t
    t0 = dt + latency
    mine = {int(g): spikes.times[spikes.gids == g] for g in gids}
    assert all(len(s) == 1 for s in mine.values())
    assert abs(mine[int(gids[0])][0] - t0) < 3 * dt
    want = t0 + delays + latency
    got = np.array([mine[int(k)][0] for k in gids[1:]])
    assert np.max(np.abs(got - want)) < 3 * dt


@pytest.mark.parametrize("U,tau_facil", [(0.4, 0.0), (0.1, 300.0)],
                         ids=["depressing", "facilitating"])
def test_tsodyks_markram_amplitudes_follow_the_recurrence(U, tau_facil):
    tau_rec, w, rate, n = 500.0, 1e-3, 20.0, 12
    cell = ns.Cell(ns.Morphology.cable(10.0, 10.0, type="soma"))
    cell.insert("pas", g=1e-4, e=-65.0)
    cell.add_synapse((0, 0.5), "TsodyksMarkram", label="tm", tau=1e9, U=U, tau_rec=tau_rec,
                     tau_facil=tau_facil)             # tau huge: g sums the jumps
    net = ns.Network()
    gid = net.add_cells(cell)[0]
    times = 10.0 + np.arange(n) * 1000.0 / rate
    net.add_spike_source(times, targets=[(gid, "tm")], weight=w, delay=1.0)
    sim = ns.Simulation(net, dt=0.025)
    g = sim.record("g_TsodyksMarkram", (0, 0.5))
    sim.run(times[-1] + 20.0)
    jumps = np.diff(np.concatenate([[0.0], np.interp(times + 1.0 + 10.0, g.times, g.values)]))
    R, u, want = 1.0, U, []
    for k in range(n):
        if k:
            gap = 1000.0 / rate
            R = 1 + (R * (1 - u) - 1) * np.exp(-gap / tau_rec)
            u = U + u * (1 - U) * np.exp(-gap / tau_facil) if tau_facil > 0 else U
        want.append(w * u * R)
    np.testing.assert_allclose(jumps, want, rtol=1e-6)
    if tau_facil == 0:
        e = np.exp(-50.0 / tau_rec)
        steady = (1 - e) / (1 - (1 - U) * e)              # the train's steady-state R
        assert jumps[-1] / (w * U) == pytest.approx(steady, rel=0.02)
        assert jumps[-1] < jumps[0]
    else:
        assert jumps[1] > jumps[0]


def test_threads_give_the_same_spikes_and_traces():
    """Cell groups advance on two threads: bitwise the same results as on one."""
    from neurosim.models.ring import ring_network
    results = []
    for threads in (1, 2):
        net, gids = ring_network(48, extra=3, depth=3, branch_nseg=5)
        sim = ns.Simulation(net, threads=threads)
        assert sim.backend.n_groups >= 3           # several groups to spread over threads
        spikes = sim.record_spikes()
        v = sim.record("v", (0, 0.5), cell=[int(g) for g in gids[::5]])
        sim.run(60.0)
        results.append((spikes.gids, spikes.times, [t.values for t in v]))
    (g1, t1, v1), (g2, t2, v2) = results
    assert len(t1) > 5
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(t1, t2)
    for a, b in zip(v1, v2):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ns.ParameterError, match="threads must be a positive integer"):
        ns.Simulation(ball_and_stick(), threads=0)
