"""NMODL: bmtk's .mod files compile and agree with NEURON running the same files."""

import glob
import os

import numpy as np
import pytest

import neurosim as ns
from neurosim.mechanisms.nmodl.syntax import NmodlError

from peers import bmtk_mod_dir, build_from_morphology, compiled_mod_dir, h, run, spike_times

MOD_FILES = sorted(glob.glob(os.path.join(bmtk_mod_dir(), "*.mod")))
RUNNABLE = [f for f in MOD_FILES if not f.endswith("vecevent.mod")]
GBAR = {"NaTs": 0.5, "NaTa": 0.2, "Nap": 0.001, "Kv3_1": 0.3, "K_T": 0.01, "K_P": 0.01,
        "Kd": 0.01, "Kv2like": 0.01, "Im": 0.001, "Im_v2": 0.001, "SK": 0.001,
        "Ca_HVA": 0.0005, "Ca_LVA": 0.001, "Ih": 0.0001, "NaV": 0.02}


@pytest.fixture(scope="session")
def neuron_mechanisms(tmp_path_factory):
    return compiled_mod_dir(bmtk_mod_dir(), str(tmp_path_factory.mktemp("mods")))


def test_bmtk_has_17_mod_files_and_all_load():
    assert len(MOD_FILES) == 17
    found, refused = ns.load_catalogue(bmtk_mod_dir(), register=False)
    assert refused == {} and len(found) == 17
    assert found["VecStim"].kind == "artificial" and found["VecStim"].native == "spike_train"
    mechs = [ns.Mechanism.from_nmodl(f) for f in RUNNABLE]
    assert sorted(m.name for m in mechs) == sorted(os.path.basename(f)[:-4] for f in RUNNABLE)
    nav = next(m for m in mechs if m.name == "NaV")
    assert len(nav.states) == 12          # the kinetic scheme's states
    cad = next(m for m in mechs if m.name == "CaDynamics")
    assert cad.states == () and cad.ions[0].writes == ("cai",)   # cai lives in the ion


def test_a_catalogue_neither_replaces_a_builtin_nor_another_mechanism_silently(
        tmp_path, caplog, monkeypatch):
    """As NEURON refuses a .mod file redefining a built-in name, ``hh`` stays the built-in;
    a file replacing a different mechanism registered under its name says so."""
    from neurosim.mechanisms import catalogue
    monkeypatch.setattr(catalogue, "_REGISTRY", dict(catalogue._REGISTRY))
    leak = "NEURON {{ SUFFIX {} NONSPECIFIC_CURRENT i RANGE g }}\n" \
           "PARAMETER {{ g = {} (S/cm2) }}\nBREAKPOINT {{ i = g * (v + 70) }}\n"
    for folder, g in (("one", 0.001), ("two", 0.002)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "hh.mod").write_text(leak.format("hh", g))
        (tmp_path / folder / "leak.mod").write_text(leak.format("leak", g))
    found, _ = ns.load_catalogue(tmp_path / "one")
    assert ns.mechanisms.get("hh") is ns.mechanisms.builtin_mechanism("hh") is not found["hh"]
    assert "'hh' is built in" in caplog.text and "hh.mod" in caplog.text
    assert ns.mechanisms.get("leak") is found["leak"]
    assert "replaces" not in caplog.text
    ns.load_catalogue(tmp_path / "one")                 # the same files again: nothing to say
    assert "replaces" not in caplog.text
    found, _ = ns.load_catalogue(tmp_path / "two")
    assert ns.mechanisms.get("leak") is found["leak"]
    assert f"{tmp_path / 'two' / 'leak.mod'}: mechanism 'leak' replaces" in caplog.text
    resolve = ns.mechanisms.resolver({"leak": "the model's own"})
    assert resolve("leak") == "the model's own" and resolve("hh").name == "hh"


def test_verbatim_is_refused_where_it_is():
    """VecStim is run natively; any other file with its VERBATIM C is refused at its line."""
    path = next(f for f in MOD_FILES if f.endswith("vecevent.mod"))
    text = open(path).read().replace("ARTIFICIAL_CELL VecStim", "ARTIFICIAL_CELL MyStim")
    with pytest.raises(NmodlError, match=r"my\.mod:31:1: unsupported construct VERBATIM"):
        ns.Mechanism.from_nmodl_text(text, "my.mod")


def test_vecstim_drives_a_synapse_as_in_neuron(neuron_mechanisms):
    vecstim = ns.Mechanism.from_nmodl(next(f for f in MOD_FILES if f.endswith("vecevent.mod")))
    cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(3))
    cell.insert("hh", region="soma")
    cell.add_synapse((1, 0.5), "Exp2Syn", label="syn", tau1=0.5, tau2=3.0)
    net = ns.Network()
    gid = net.add_cells(cell)[0]
    (stim,) = net.add_cells(vecstim, n=1)
    times = [5.0, 5.5, 6.0, 30.0, 30.4]
    net.play(stim, times)
    net.connect(stim, (gid, "syn"), weight=0.01, delay=1.0)
    sim = ns.Simulation(net)
    spikes = sim.record_spikes([stim])
    v = sim.record("v", (0, 0.5), cell=gid)
    sim.run(50.0)
    np.testing.assert_array_equal(spikes.times, times)

    secs = build_from_morphology(cell.morphology, 3, ra=35.4, cm=1.0)
    secs[0].insert("hh")
    syn = h.Exp2Syn(secs[1](0.5))
    syn.tau1, syn.tau2 = 0.5, 3.0
    vs = h.VecStim()
    tvec = h.Vector(times)
    vs.play(tvec)
    nc = h.NetCon(vs, syn)
    nc.delay, nc.weight[0] = 1.0, 0.01
    _, (theirs,) = run(50.0, 0.025, -65.0, probes=[secs[0](0.5)])
    np.testing.assert_allclose(v.values, theirs, atol=1e-5)
    assert v.values.max() > 0.0                          # the synapse made it fire
    del nc, vs, syn, secs


def soma_with(mechs, ions=True):
    cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), cm=1.0, ra=100.0,
                   v_init=-70.0)
    cell.insert("pas", g=5e-5, e=-75.0)
    for m in mechs:
        cell.insert(m, **({"gbar": GBAR[m.name]} if m.name in GBAR else {}))
    if ions:
        cell.set_ion("na", e=53.0)
        cell.set_ion("k", e=-107.0)
    cell.add_iclamp((0, 0.5), delay=10.0, dur=100.0, amp=0.3)
    return cell


def neuron_soma_with(names):
    sec = h.Section(name="soma")
    h.pt3dadd(0, 0, 0, 20, sec=sec)
    h.pt3dadd(20, 0, 0, 20, sec=sec)
    sec.cm, sec.Ra = 1.0, 100.0
    sec.insert("pas")
    sec(0.5).pas.g, sec(0.5).pas.e = 5e-5, -75.0
    for name in names:
        sec.insert(name)
        if name in GBAR:
            setattr(sec(0.5), f"gbar_{name}", GBAR[name])
    if hasattr(sec(0.5), "ena"):
        sec(0.5).ena = 53.0
    if hasattr(sec(0.5), "ek"):
        sec(0.5).ek = -107.0
    stim = h.IClamp(sec(0.5))
    stim.delay, stim.dur, stim.amp = 10.0, 100.0, 0.3
    return sec, stim


@pytest.mark.parametrize("names", [
    None,                                         # every Allen mechanism in one compartment
    ["NaV", "Kv3_1"],                             # a kinetic scheme with LINEAR initial
    ["NaTs", "Kv3_1", "Ca_HVA", "CaDynamics", "SK"],   # calcium: current -> cai -> SK, eca
], ids=["all", "kinetic", "calcium"])
def test_mechanisms_match_neuron(neuron_mechanisms, names):
    files = RUNNABLE if names is None else \
        [f for f in RUNNABLE if os.path.basename(f)[:-4] in names]
    mechs = [ns.Mechanism.from_nmodl(f) for f in files]
    sim = ns.Simulation(soma_with(mechs), dt=0.025, celsius=34.0)
    v = sim.record("v", (0, 0.5))
    cai = sim.record("cai", (0, 0.5)) if any(m.name == "CaDynamics" for m in mechs) else None
    sim.run(150.0)

    sec, stim = neuron_soma_with([m.name for m in mechs])
    rec = h.Vector().record(sec(0.5)._ref_cai) if cai is not None else None
    t, (theirs,) = run(150.0, 0.025, -70.0, celsius=34.0, probes=[sec(0.5)])
    np.testing.assert_allclose(v.values, theirs, atol=1e-5)
    if cai is not None:
        np.testing.assert_allclose(cai.values, np.array(rec), rtol=1e-6, atol=1e-12)
    assert len(spike_times(t, theirs)) >= 1
    np.testing.assert_allclose(spike_times(t, v.values), spike_times(t, theirs), atol=1e-3)
    del sec, stim


KDR_NMODL = """
NEURON {
    SUFFIX kdr
    USEION k READ ek WRITE ik
    RANGE gbar
}
PARAMETER { gbar = 0.036 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) ninf ntau }
STATE { n }
BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar * n^4 * (v - ek)
}
INITIAL { rates(v) n = ninf }
DERIVATIVE states { rates(v) n' = (ninf - n) / ntau }
PROCEDURE rates(v (mV)) { LOCAL a, b
    a = 0.01 * vtrap(-(v + 55), 10)
    b = 0.125 * exp(-(v + 65) / 80)
    ninf = a / (a + b)
    ntau = 1 / (a + b)
}
FUNCTION vtrap(x, y) {
    if (fabs(x / y) < 1e-6) { vtrap = y * (1 - x / y / 2) } else { vtrap = x / (exp(x / y) - 1) }
}
"""


def test_python_front_end_equals_nmodl():
    python_kdr = ns.Mechanism.define(
        "kdr2",
        parameters={"gbar": 0.036},
        ions={"k": {"read": ["ek"], "write": ["ik"]}},
        rates="""
            a = 0.01 * vtrap(-(v + 55), 10)
            b = 0.125 * exp(-(v + 65) / 80)
            ninf = a / (a + b)
            ntau = 1 / (a + b)
        """,
        functions={"vtrap(x, y)": "if (fabs(x / y) < 1e-6) { vtrap = y * (1 - x / y / 2) } "
                                  "else { vtrap = x / (exp(x / y) - 1) }"},
        states={"n": "(ninf - n) / ntau"},
        currents={"ik": "gbar * n^4 * (v - ek)"},
    )
    nmodl_kdr = ns.Mechanism.from_nmodl_text(KDR_NMODL, "kdr.mod")
    traces = []
    for mech in (python_kdr, nmodl_kdr):
        cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(3))
        cell.insert("hh", region="soma", gkbar=0.0)
        cell.insert(mech, region="soma", gbar=0.04)
        cell.add_iclamp((0, 0.5), delay=2.0, dur=40.0, amp=0.4)
        sim = ns.Simulation(cell, celsius=6.3)
        traces.append(sim.record("v", (0, 0.5)))
        sim.run(50.0)
    np.testing.assert_array_equal(traces[0].values, traces[1].values)
    assert len(spike_times(traces[0].times, traces[0].values)) >= 2


def test_nmodl_hh_equals_builtin_hh():
    """NEURON's own hh.mod through the compiler against the built-in hh (tables off)."""
    path = os.path.join(os.path.dirname(__import__("neuron").__file__), ".data", "share",
                        "modfile", "hh.mod")
    if not os.path.exists(path):
        pytest.skip("this NEURON wheel does not ship hh.mod")
    text = open(path).read().replace("SUFFIX hh", "SUFFIX hhmod")
    mod_hh = ns.Mechanism.from_nmodl_text(text, path)
    out = []
    for mech in ("hh", mod_hh):
        cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(3))
        cell.insert(mech, region="soma")
        cell.add_iclamp((0, 0.5), delay=2.0, dur=40.0, amp=0.3)
        sim = ns.Simulation(cell, use_tables=False)
        out.append(sim.record("v", (0, 0.5)))
        sim.run(50.0)
    np.testing.assert_allclose(out[0].values, out[1].values, atol=1e-6)


def test_point_process_current_is_in_nanoamps():
    """A Python-defined point process injecting a constant current equals an IClamp."""
    inject = ns.Mechanism.define("inject", parameters={"amp": 0.0},
                                 currents={"i_inj": "-amp"}, point_process=True)
    traces = []
    for use_synapse in (True, False):
        cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(5))
        cell.insert("hh", region="soma")
        cell.insert("pas", region="dend", g=1e-4, e=-65.0)
        if use_synapse:
            assert cell.add_synapse((1, 0.7), inject, label="pump", amp=0.15) == "pump"
            cell.add_synapse((1, 0.7), inject, amp=0.15)      # two on one node add up
        else:
            cell.add_iclamp((1, 0.7), delay=0.0, dur=1e9, amp=0.3)
        sim = ns.Simulation(cell)
        traces.append(sim.record("v", (0, 0.5)))
        sim.run(30.0)
    np.testing.assert_allclose(traces[0].values, traces[1].values, atol=1e-9)
    assert np.ptp(traces[0].values) > 30.0
    cell = ns.Cell(ns.Morphology.ball_and_stick())
    with pytest.raises(ns.ParameterError, match="not a point process"):
        cell.add_synapse((0, 0.5), "hh")
    cell.add_synapse((0, 0.5), inject, label="a")
    with pytest.raises(ns.ParameterError, match="already used"):
        cell.add_synapse((0, 0.5), inject, label="a")


def test_expsyn_and_exp2syn_compile_as_point_processes():
    import neuron
    base = os.path.join(os.path.dirname(neuron.__file__), ".data", "share", "modfile")
    for name in ("expsyn.mod", "exp2syn.mod"):
        path = os.path.join(base, name)
        if not os.path.exists(path):
            pytest.skip("this NEURON wheel does not ship its modfiles")
        mech = ns.Mechanism.from_nmodl(path)
        assert mech.kind == "point" and "e" in mech.parameters


# ------------------------------------------------------------------ constructs of issue 19
BA_FEATURES = """\
NEURON {
    POINT_PROCESS bafeat
    USEION ca READ cai, cao WRITE ica
    NONSPECIFIC_CURRENT il
    RANGE scale, before_bp, after_solve, init_mark, nstep
}
INCLUDE "bafeat.inc"
ASSIGNED {
    v (mV) celsius (degC) cai (mM) cao (mM) ica (nA) il (nA)
    scale before_bp after_solve init_mark nstep
}
STATE { m }
CONSTRUCTOR { scale = 2 }
DESTRUCTOR { scale = 0 }
BEFORE INITIAL { init_mark = 1 }
INITIAL { m = 0.1  init_mark = init_mark + 1 }
AFTER INITIAL { init_mark = init_mark * 3 }
BEFORE BREAKPOINT { before_bp = m * 0.5 }
BREAKPOINT {
    SOLVE states METHOD cnexp
    MUTEXLOCK
    PROTECT il = 1e-3 * (init_mark / 6) * (v + 70) * (1 + after_solve) + 1e-4 * before_bp * (v + 60)
        + 1e-7 * nstep * (v + 80)
    MUTEXUNLOCK
    ica = scale * pbar * m * nrn_ghk(v, cai, cao, 2)
}
DERIVATIVE states { m' = (1 - m) / rate_tau(v) }
AFTER SOLVE { after_solve = m * m }
BEFORE STEP { nstep = nstep + 1 }
"""
BA_INCLUDE = """\
PARAMETER { pbar = 1e-4 }
FUNCTION rate_tau(v (mV)) (ms) { rate_tau = 3 + 2 / (1 + exp(-(v + 60) / 5)) }
"""


def test_include_protect_mutex_constructor_ghk_before_after_match_neuron(tmp_path):
    """INCLUDE (relative to the .mod file), PROTECT, MUTEXLOCK/UNLOCK, CONSTRUCTOR and
    DESTRUCTOR without VERBATIM, nrn_ghk, and BEFORE/AFTER INITIAL, BREAKPOINT, SOLVE, STEP
    in NEURON's order: the voltage as NEURON compiled from the same files."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "bafeat.mod"
    mod.write_text(BA_FEATURES)
    (tmp_path / "bafeat.inc").write_text(BA_INCLUDE)
    mech = ns.Mechanism.from_nmodl(str(mod))
    build = tmp_path / "neuron"
    (build / "nrnmech").mkdir(parents=True)
    (build / "nrnmech" / "bafeat.inc").write_text(BA_INCLUDE)   # beside the copied .mod
    theirs = neuron_traces(str(build), [(str(mod), mech)])["bafeat"]
    ours = neurosim_traces([(str(mod), mech)])["bafeat"]
    assert theirs.max() - theirs.min() > 5.0          # the currents move v
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_derivative_of_an_array_element_is_refused_by_name():
    text = ARRAYS.replace("m' = (s[0] - m) / 10", "s'[0] = -s[0]")
    with pytest.raises(NmodlError, match=r"a\.mod:22:5: unsupported construct derivative of an "
                                         r"array STATE element s'\[\.\.\.\]"):
        ns.Mechanism.from_nmodl_text(text, "a.mod")


def test_include_errors_name_the_included_file(tmp_path):
    mod = tmp_path / "inc.mod"
    mod.write_text('NEURON { SUFFIX inc }\nINCLUDE "missing.inc"\n')
    with pytest.raises(NmodlError, match=r"inc\.mod:2:1: INCLUDE 'missing\.inc': no such file"):
        ns.Mechanism.from_nmodl(str(mod))
    (tmp_path / "bad.inc").write_text("PARAMETER { a = 1 }\nBREAKPOINT { b = 2 }\n")
    mod.write_text('NEURON { SUFFIX inc }\nINCLUDE "bad.inc"\n')
    with pytest.raises(NmodlError, match=r"bad\.inc:2:14: assignment to undeclared name 'b'"):
        ns.Mechanism.from_nmodl(str(mod))


ARRAYS = """\
NEURON {
    SUFFIX arrs
    NONSPECIFIC_CURRENT i
    RANGE w, gsum
    GLOBAL s0
}
DEFINE NW 3
PARAMETER { gbar[2] (S/cm2)  s0 = 0.2  m0 = 0.5 }
ASSIGNED { v (mV) i (mA/cm2) w[NW] gsum (S/cm2) }
STATE { s[2] m }
INITIAL {
    gbar[0] = 2e-5  gbar[1] = 1e-5
    w[0] = 1  w[1] = 2  w[2] = 0.5
    s[1] = s[1] + 0.5
}
BREAKPOINT {
    SOLVE states METHOD derivimplicit
    gsum = gbar[0] * s[0] + gbar[1] * s[1] * m
    i = gsum * (w[0] + w[1] * w[2]) * (v + 80)
}
DERIVATIVE states {
    m' = (s[0] - m) / 10
}
"""


def test_array_variables_and_state_defaults_match_neuron(tmp_path):
    """Arrays with constant indices (PARAMETER, ASSIGNED, STATE, a DEFINEd size) and a STATE
    starting at its declared x0 (s0 for the array s, m0): the voltage as NEURON's."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "arrs.mod"
    mod.write_text(ARRAYS)
    mech = ns.Mechanism.from_nmodl(str(mod))
    assert "s[1]" in mech.states and "w[2]" in mech.assigned
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["arrs"]
    ours = neurosim_traces([(str(mod), mech)])["arrs"]
    assert theirs.max() - theirs.min() > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


ELECTRODE = """\
NEURON { POINT_PROCESS eclamp  ELECTRODE_CURRENT i  RANGE amp, gs }
PARAMETER { amp = 0.03 (nA)  gs = 0.0005 (uS) }
ASSIGNED { v (mV) i (nA) }
BREAKPOINT { i = amp - gs * (v + 65) }
"""


def test_electrode_current_depolarises_as_in_neuron(tmp_path):
    """ELECTRODE_CURRENT: positive current flows into the cell, as an electrode's."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "eclamp.mod"
    mod.write_text(ELECTRODE)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["eclamp"]
    ours = neurosim_traces([(str(mod), mech)])["eclamp"]
    assert theirs[-1] > theirs[0] + 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


NONLINEAR_MOD = """\
NEURON { SUFFIX nlin  NONSPECIFIC_CURRENT i  RANGE k, run_initial }
PARAMETER { k = 2  run_initial = 1 }
STATE { p q }   : (y would clash with C's Bessel y0 in NEURON)
ASSIGNED { v (mV) i (mA/cm2) }
INITIAL {
    p = 1  q = 1
    if (run_initial > 0) { SOLVE eq }
}
BREAKPOINT {
    SOLVE eq
    i = 1e-4 * p * (v + 70) + 1e-4 * q
}
NONLINEAR eq { LOCAL c
    c = (v + 100) / 10
    ~ p * p + q = c
    ~ p - k * q * q = 0.5
}
"""


def test_nonlinear_solve_matches_neuron(tmp_path):
    """SOLVE of a NONLINEAR block (no METHOD) in BREAKPOINT and, under a condition, in
    INITIAL: Newton's method from the states' values, as NEURON."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "nlin.mod"
    mod.write_text(NONLINEAR_MOD)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["nlin"]
    ours = neurosim_traces([(str(mod), mech)])["nlin"]
    assert theirs.max() - theirs.min() > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


AT_TIME = """\
NEURON { SUFFIX attime  NONSPECIFIC_CURRENT i  RANGE hits, tpulse }
PARAMETER { tpulse = 10 (ms) }
ASSIGNED { v (mV) i (mA/cm2) hits }
INITIAL { hits = 0 }
BREAKPOINT {
    hits = hits + at_time(tpulse) + twice_at(tpulse + 7.3)
    i = -2e-4 * hits
}
FUNCTION twice_at(te (ms)) { twice_at = 2 * at_time(te) }
"""


def test_at_time_is_true_in_one_step_as_in_neuron(tmp_path):
    """at_time(te) at fixed step: true in the one step whose (t - dt, t] holds te, with the
    BREAKPOINT's t (t + dt/2), from a BREAKPOINT and from a FUNCTION."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "attime.mod"
    mod.write_text(AT_TIME)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["attime"]
    ours = neurosim_traces([(str(mod), mech)])["attime"]
    assert theirs[-1] - theirs[0] > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


NET_MOVE = """\
NEURON { POINT_PROCESS evmove  NONSPECIFIC_CURRENT i  RANGE y, z }
ASSIGNED { v (mV) i (nA) y z }
INITIAL { y = 0  z = 0  net_send(1.8, 1) }
BREAKPOINT { i = -0.002 * (z + 2 * y) }
NET_RECEIVE(w) {
    if (flag == 1) {
        z = z + 1
        net_send(2.0, 2)
    } else if (flag == 2) {
        y = y + 1
        net_send(1.3, 1)
        net_move(t + 0.4)
    }
}
"""


def test_net_move_moves_the_self_event_as_in_neuron(tmp_path):
    """net_move(t + 0.4) right after net_send(1.3, 1): the event arrives 0.4 ms later."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "evmove.mod"
    mod.write_text(NET_MOVE)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["evmove"]
    ours = neurosim_traces([(str(mod), mech)])["evmove"]
    assert theirs[-1] - theirs[0] > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


POINTING = """\
NEURON { POINT_PROCESS pointing_gap  POINTER vpre  NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) vpre (mV) i (nA) }
BREAKPOINT { i = 0.002 * nrn_pointing(vpre) * (v - vpre) }
"""


def test_nrn_pointing_of_a_set_pointer_as_in_neuron(tmp_path):
    """nrn_pointing(p) is 1 for a set POINTER (neurosim runs only with every POINTER set)."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "pointing_gap.mod"
    mod.write_text(POINTING)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["pointing_gap"]
    ours = neurosim_traces([(str(mod), mech)])["pointing_gap"]
    assert theirs.max() - theirs.min() > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    with pytest.raises(NmodlError, match=r"p\.mod:3:26: nrn_pointing takes a POINTER"):
        ns.Mechanism.from_nmodl_text(POINTING.replace("nrn_pointing(vpre)", "nrn_pointing(v)"),
                                     "p.mod")


def test_a_file_without_suffix_is_named_after_the_file(tmp_path):
    """nocmodl names a mechanism without SUFFIX after its file; NEURON inserts it by that
    name (the corpus runs nmodl-usecases/suffix/no_suffix.mod against NEURON)."""
    mod = tmp_path / "leakish.mod"
    mod.write_text("NEURON { NONSPECIFIC_CURRENT i }\nASSIGNED { v (mV) i (mA/cm2) }\n"
                   "BREAKPOINT { i = 1e-4 * (v + 70) }\n")
    mech = ns.Mechanism.from_nmodl(str(mod))
    assert (mech.name, mech.kind) == ("leakish", "density")
    with pytest.raises(NmodlError, match=r"x\.txt:1:1: no SUFFIX"):
        ns.Mechanism.from_nmodl_text(mod.read_text(), "x.txt")


FUNCTION_WRITES = """\
NEURON { SUFFIX fwrite  NONSPECIFIC_CURRENT i  RANGE tau, c0 }
PARAMETER { c0 = 2 }
STATE { x }
ASSIGNED { v (mV) i (mA/cm2) tau (ms) }
INITIAL { x = solve_x() }
BREAKPOINT {
    LOCAL r
    r = rate(v)
    i = 1e-4 * r * x * (v + 70) + 1e-5 * tau
}
FUNCTION rate(vm (mV)) {
    tau = 2 + 1 / (1 + exp(-(vm + 50) / 4))
    rate = 1 / tau
}
FUNCTION solve_x() {
    x = 1
    SOLVE eq
    solve_x = x
}
NONLINEAR eq { ~ x * x = c0 }
"""


def test_functions_assigning_variables_match_neuron(tmp_path):
    """A FUNCTION that assigns a RANGE variable (tau) and one that assigns a STATE and
    SOLVEs a NONLINEAR block (as nmodl-usecases/nonlinear): as NEURON."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "fwrite.mod"
    mod.write_text(FUNCTION_WRITES)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["fwrite"]
    ours = neurosim_traces([(str(mod), mech)])["fwrite"]
    assert theirs.max() - theirs.min() > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    in_equation = FUNCTION_WRITES.replace("STATE { x }", "STATE { x y }").replace(
        "BREAKPOINT {", "BREAKPOINT {\n    SOLVE d METHOD cnexp") + \
        "DERIVATIVE d { y' = rate(v) - y }\n"
    with pytest.raises(NmodlError, match=r"f\.mod:2\d:\d+: FUNCTION rate assigns 'tau'"):
        ns.Mechanism.from_nmodl_text(in_equation, "f.mod")


AREA = """\
NEURON { SUFFIX byarea  NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) area (um2) }
BREAKPOINT { i = 1e-4 * (area / 1000) * (v + 80) }
"""


def test_area_in_a_density_mechanism_is_the_segment_area_as_in_neuron(tmp_path):
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "byarea.mod"
    mod.write_text(AREA)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["byarea"]
    ours = neurosim_traces([(str(mod), mech)])["byarea"]
    assert theirs[0] - theirs[-1] > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


VARIABLE_INDEX = """\
NEURON { SUFFIX varidx  NONSPECIFIC_CURRENT i  RANGE k, outside }
DEFINE N 4
PARAMETER { k = 2.7 }
ASSIGNED { v (mV) i (mA/cm2) w[N] outside }
INITIAL {
    FROM j = 0 TO N - 1 { w[j] = 2e-4 * (j + 1) }
    w[k] = w[k] * 3
    outside = w[k + 2]
}
BREAKPOINT { i = pick(v) * (v + 80) }
FUNCTION pick(v (mV)) {
    LOCAL j
    j = (v + 66) / 2
    if (j < 0) { j = 0 }
    if (j > N - 1) { j = N - 1 }
    pick = w[j]
}
"""


def test_array_elements_with_a_variable_index_match_neuron(tmp_path):
    """x[k] read and written with k computed (a FROM loop's variable, a PARAMETER, a
    FUNCTION's LOCAL: (int)k as NEURON's C); the voltage as NEURON's. An index outside the
    array (NEURON reads past it unchecked) reads NaN in neurosim."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "varidx.mod"
    mod.write_text(VARIABLE_INDEX)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["varidx"]
    ours = neurosim_traces([(str(mod), mech)])["varidx"]
    assert theirs[0] - theirs.min() > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    cell = ns.Cell(ns.Morphology.cable(20.0, 20.0), v_init=-65.0)
    cell.insert(mech)
    sim = ns.Simulation(cell, dt=0.025)
    outside = sim.record("varidx.outside", (0, 0.5))
    sim.run(0.1)
    assert np.isnan(outside.values).all()
    with pytest.raises(NmodlError, match=r"v\.mod:6:5: i\[\.\.\.\]: i is not an array"):
        ns.Mechanism.from_nmodl_text(VARIABLE_INDEX.replace("    FROM j", "    i[k] = 1\n"
                                                            "    FROM j"), "v.mod")


RECURSION = """\
NEURON { SUFFIX recur  NONSPECIFIC_CURRENT i  RANGE gunit, depth }
PARAMETER { gunit = 2e-5  depth = 6 }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = fibonacci(depth) * scaled(3) * (v + 80) }
FUNCTION fibonacci(n) {
    if (n == 0 || n == 1) {
        fibonacci = 1
    } else {
        fibonacci = fibonacci(n - 1) + fibonacci(n - 2)
    }
}
FUNCTION scaled(n) {
    if (n <= 0) { scaled = gunit } else { scaled = 0.5 * scaled(n - 1) + gunit * rest(n) }
}
FUNCTION rest(n) { if (n > 1) { rest = scaled(n - 2) / gunit } else { rest = 0 } }
"""


def test_recursive_functions_match_neuron(tmp_path):
    """nmodl-usecases/function/recursion.mod's fibonacci (fibonacci(6) = 13, as the use
    case checks 1 1 2 3 5 8), and mutually recursive FUNCTIONs reading a RANGE variable:
    the voltage as NEURON's."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "recur.mod"
    mod.write_text(RECURSION)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["recur"]
    ours = neurosim_traces([(str(mod), mech)])["recur"]
    assert theirs[0] - theirs.min() > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


FTABLE = """\
NEURON { SUFFIX ftab  NONSPECIFIC_CURRENT i }
ASSIGNED { v (mV) i (mA/cm2) }
FUNCTION_TABLE gtab(v (mV)) (S/cm2)
FUNCTION_TABLE scale(v, x)
FUNCTION_TABLE unused(v)
BREAKPOINT { i = g2(v) * (v + 80) }
FUNCTION g2(v) { g2 = gtab(v) * scale(v, 1.5 + v / 100) }
"""
FTABLE_NEURON = """
import numpy as np
from neuron import h
for sec in h.allsec():
    if sec.name().startswith("soma_ftab"):
        seg = sec(0.5)
gv, gt = h.Vector([-70, -60, -55, -40]), h.Vector([1e-4, 3e-4, 2e-4, 5e-4])
seg.ftab.table_gtab(gt, gv)
m = h.Matrix(3, 2)
m.from_vector(h.Vector(np.array([[1.0, 2.0], [0.5, 1.5], [3.0, 0.25]]).T.ravel()))
h.table_scale_ftab(m._ref_x[0][0], 3, -70, -50, 2, 0.8, 1.0)
_keep = (gv, gt, m)
"""


def test_function_table_matches_neuron(tmp_path):
    """FUNCTION_TABLE (nmodl-usecases/function_table): tables of one argument (over a
    vector, as table_gtab(values, axis)) and of two (a matrix over uniform axes, as
    table_scale(&m, 3, -70, -50, 2, 0.8, 1.0)), called in a FUNCTION; the voltage as
    NEURON's. A table the simulation calls but that was never given is refused by name; one
    never called need not be given."""
    import test_nmodl_corpus as corpus
    mod = tmp_path / "ftab.mod"
    mod.write_text(FTABLE)
    mech = ns.Mechanism.from_nmodl(str(mod))
    assert mech.function_tables_used == ("gtab", "scale")
    cell = ns.Cell(ns.Morphology.cable(20.0, 20.0), v_init=-65.0)
    cell.insert(mech.with_function_table("gtab", 1e-4))
    with pytest.raises(ns.NeurosimError, match="FUNCTION_TABLE scale was never given"):
        ns.Simulation(cell, dt=0.025)
    with pytest.raises(ns.NeurosimError, match="takes 2 arguments"):
        mech.with_function_table("scale", [1.0, 2.0], [0.0, 1.0])
    given = mech.with_function_table("gtab", [1e-4, 3e-4, 2e-4, 5e-4], [-70, -60, -55, -40])
    given = given.with_function_table("scale", [[1.0, 2.0], [0.5, 1.5], [3.0, 0.25]],
                                      np.linspace(-70, -50, 3), np.linspace(0.8, 1.0, 2))
    script = corpus.NEURON_SCRIPT.replace("        rec = h.Vector()",
                                          "        exec(%r)\n        rec = h.Vector()"
                                          % FTABLE_NEURON)
    old, corpus.NEURON_SCRIPT = corpus.NEURON_SCRIPT, script
    try:
        theirs = corpus.neuron_traces(str(tmp_path), [(str(mod), given)])["ftab"]
    finally:
        corpus.NEURON_SCRIPT = old
    ours = corpus.neurosim_traces([(str(mod), given)])["ftab"]
    assert theirs[0] - theirs.min() > 3.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


EXTERNAL_USE = """\
NEURON { SUFFIX extuse  NONSPECIFIC_CURRENT i  EXTERNAL gbl_src, param_src }
ASSIGNED { v (mV) i (mA/cm2) gbl_src param_src }
BREAKPOINT { i = 1e-6 * (gbl_src - param_src) * (v + 80) }
"""


def test_external_reads_a_value_set_from_python_as_neuron_reads_its_hoc_global(tmp_path):
    """EXTERNAL gbl_src, param_src (nmodl-usecases/external: the GLOBAL gbl and PARAMETER
    param of src.mod, hoc globals in NEURON: h.gbl_src = 321, param_src = 123 there) are
    parameters of the reading mechanism in neurosim, given on insert; the voltage as
    NEURON's. Assigning an EXTERNAL is refused by name."""
    import test_nmodl_corpus as corpus
    src = str(corpus.shared(*corpus.CORPORA["nmodl-usecases"], "external", "src.mod"))
    mod = tmp_path / "extuse.mod"
    mod.write_text(EXTERNAL_USE)
    mech = ns.Mechanism.from_nmodl(str(mod))
    assert mech.parameters == {"gbl_src": 0.0, "param_src": 0.0}
    script = corpus.NEURON_SCRIPT.replace("        rec = h.Vector()",
                                          "        h.gbl_src = 321.0\n        rec = h.Vector()")
    old, corpus.NEURON_SCRIPT = corpus.NEURON_SCRIPT, script
    try:
        theirs = corpus.neuron_traces(str(tmp_path), [(str(mod), mech),
                                                      (src, ns.Mechanism.from_nmodl(src))])
    finally:
        corpus.NEURON_SCRIPT = old
    cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), cm=1.0, ra=100.0,
                   v_init=-65.0)
    cell.insert("pas", g=1e-4, e=-65.0)
    cell.insert(mech, gbl_src=321.0, param_src=123.0)
    cell.add_iclamp((0, 0.5), delay=5.0, dur=20.0, amp=corpus.AMP)
    sim = ns.Simulation(cell, dt=corpus.DT)
    v = sim.record("v", (0, 0.5))
    sim.run(corpus.TSTOP)
    assert theirs["extuse"][0] - theirs["extuse"].min() > 5.0
    np.testing.assert_allclose(v.values, theirs["extuse"], atol=1e-6)
    with pytest.raises(NmodlError, match=r"e\.mod:1:48: EXTERNAL gbl_src is assigned"):
        ns.Mechanism.from_nmodl_text(EXTERNAL_USE.replace("BREAKPOINT {", "BREAKPOINT {\n"
                                                          "    gbl_src = 1"), "e.mod")


COMPARTMENT_ARRAY = """\
NEURON { SUFFIX cmparr  NONSPECIFIC_CURRENT i }
DEFINE N 3
PARAMETER { kf = 0.3 (/ms)  kb = 0.1 (/ms) }
ASSIGNED { v (mV) i (mA/cm2) vol[N] }
STATE { X[N] }
INITIAL {
    FROM j = 0 TO N - 1 {
        vol[j] = 1 / (j + 1)
        X[j] = 0
    }
    X[0] = 1
}
BREAKPOINT {
    SOLVE kin METHOD sparse
    i = 1e-3 * X[2] * (v + 80)
}
KINETIC kin {
    COMPARTMENT j, vol[j] {X}
    ~ X[0] <-> X[1] (kf, kb)
    ~ X[1] <-> X[2] (kf * (1 + (v + 65) / 30), kb)
}
"""


@pytest.mark.parametrize("compartment", ["COMPARTMENT j, vol[j] {X}", "COMPARTMENT 2 {X}"])
def test_compartment_of_array_states_matches_neuron(tmp_path, compartment):
    """COMPARTMENT i, vol[i] {X} (a volume per element, as nmodl-usecases'
    heat_eqn_array.mod declares) and COMPARTMENT v {X} over every element of an array
    STATE: the voltage as NEURON's."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "cmparr.mod"
    mod.write_text(COMPARTMENT_ARRAY.replace("COMPARTMENT j, vol[j] {X}", compartment))
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["cmparr"]
    ours = neurosim_traces([(str(mod), mech)])["cmparr"]
    assert theirs[0] - theirs.min() > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


CHAIN = """\
NEURON { SUFFIX chain  NONSPECIFIC_CURRENT i  RANGE kf, kb }
DEFINE N 4
PARAMETER { kf = 0.3 (/ms)  kb = 0.1 (/ms)  g = 0.002 (S/cm2) }
STATE { C[N] }
ASSIGNED { v (mV) i (mA/cm2) }
INITIAL { C[0] = 1 }
BREAKPOINT {
    SOLVE kin METHOD sparse
    i = g * C[N - 1] * (v - 0)
}
KINETIC kin {
    FROM k = 0 TO N - 2 {
        ~ C[k] <-> C[k + 1] (kf * exp((v + 65) / 20) * (k + 1), kb)
    }
}
"""


def test_reactions_of_array_elements_in_a_from_loop_match_neuron(tmp_path):
    """``FROM k = 0 TO N - 2 { ~ C[k] <-> C[k+1] (...) }``: unrolled into the reactions of
    every k (the rates read k and v); the current through C[3] depolarises the compartment."""
    from test_nmodl_corpus import neuron_traces, neurosim_traces
    mod = tmp_path / "chain.mod"
    mod.write_text(CHAIN)
    mech = ns.Mechanism.from_nmodl(str(mod))
    theirs = neuron_traces(str(tmp_path), [(str(mod), mech)])["chain"]
    ours = neurosim_traces([(str(mod), mech)])["chain"]
    assert theirs.max() - theirs.min() > 5.0
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    with pytest.raises(NmodlError, match=r"c\.mod:13:9: unsupported construct reaction of an "
                                         r"array element C\[\.\.\.\]"):
        ns.Mechanism.from_nmodl_text(CHAIN.replace("TO N - 2", "TO kf"), "c.mod")
