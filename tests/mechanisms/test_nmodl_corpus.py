"""Every .mod file of other projects' corpora through neurosim's NMODL frontend, and each
density mechanism / point process in one compartment against NEURON compiled from the same
file (nrnivmodl once per corpus, NEURON run once per corpus in a subprocess writing all its
traces; neurosim runs every mechanism of a corpus in one network: one kernel compile).

A file is either loaded or refused by name with ``file:line:column``."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import neurosim as ns
from neurosim.mechanisms.nmodl.syntax import NmodlError

from shared_data import BAAIWORM_MODS, NMODL_CORPUS, shared

CORPORA = {
    "nmodl-usecases": ("nmodl-corpus", "nmodl-usecases"),
    "hnn-core": ("nmodl-corpus", "hnn-core"),
    "baaiworm": ("baaiworm", "mechanism", "modfile"),
}
TSTOP, DT = 40.0, 0.025
AMP, PRE_AMP = 0.05, 0.2          # nA into the compartment, and into a POINTER's target

TC_CADECAY = """
NEURON {
    SUFFIX cadrec
    USEION ca READ ica, cai WRITE cai
    RANGE depth, taur, cainf, cai_rec
}
UNITS { (molar) = (1/liter) (mM) = (millimolar) (um) = (micron) (mA) = (milliamp)
        (msM) = (ms mM) FARADAY = (faraday) (coulomb) }
PARAMETER { depth = .1 (um) taur = 5 (ms) cainf = 2.4e-4 (mM) }
STATE { cai (mM) }
ASSIGNED { ica (mA/cm2) drive_channel (mM/ms) cai_rec (mM) }
INITIAL { cai = cainf + 1e-4  cai_rec = cai }
BREAKPOINT { SOLVE state METHOD cnexp }
DERIVATIVE state {
    drive_channel = - (10000) * ica / (2 * FARADAY * depth)
    if (drive_channel <= 0.) { drive_channel = 0. }
    cai' = drive_channel + (cainf - cai) / taur
    cai_rec = cai
}
"""


def corpus_files(name):
    root = shared(*CORPORA[name])
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
                  if f.endswith(".mod"))


def load(name):
    """(loaded [(path, Mechanism)], refused [(path, message)])"""
    loaded, refused = [], []
    for path in corpus_files(name):
        try:
            loaded.append((path, ns.Mechanism.from_nmodl(path)))
        except NmodlError as err:
            refused.append((path, str(err)))
    return loaded, refused


def _names_an_included_file(path, msg):
    """A refusal inside a file that ``path`` INCLUDEs names that file, beside ``path``."""
    m = re.match(r"(.+?):\d+:\d+: ", msg)
    if m is None or os.path.dirname(m.group(1)) != os.path.dirname(path):
        return False
    with open(path) as f:
        return f'INCLUDE "{os.path.basename(m.group(1))}"' in f.read()


def runnable(loaded):
    """The density mechanisms and point processes a one-compartment run exercises, one per
    mechanism name; a point process's POINTERs (gap junctions, graded synapses) point at the
    voltage of a second, stimulated compartment.  A mechanism that assigns its POINTERs
    (hnn-core's dipole) writes what it points at: tests/mechanisms/test_nmodl_pointers.py wires
    it as its project does."""
    seen, out = set(), []
    for path, m in loaded:
        if m.kind in ("density", "point") and not (m.pointers and m.kind == "density") \
                and not m.pointers_written and m.name not in seen and m.name != "nothing":
            # SUFFIX nothing: NEURON makes no mechanism of it (its functions are global)
            seen.add(m.name)
            out.append((path, m))
    return out


NEURON_SCRIPT = """
import sys, numpy as np
from neuron import h
import neuron
neuron.load_mechanisms(sys.argv[1])
h.load_file("stdrun.hoc")
out = {}
def soma(name, amp):
    sec = h.Section(name=name)
    h.pt3dadd(0, 0, 0, 20, sec=sec)
    h.pt3dadd(20, 0, 0, 20, sec=sec)
    sec.cm, sec.Ra = 1.0, 100.0
    sec.insert("pas")
    sec(0.5).pas.g, sec(0.5).pas.e = 1e-4, -65.0
    stim = h.IClamp(sec(0.5))
    stim.delay, stim.dur, stim.amp = 5.0, 20.0, amp
    return [sec, stim]
out = {}
h.dt = %(dt)r
h.steps_per_ms = 1.0 / h.dt
for spec in sys.argv[3:]:
    # each mechanism in a simulation of its own: one that fails does not stop the others
    name, kind, pointers = spec.split(":")
    keep = soma("soma_" + name, %(amp)r)
    sec = keep[0]
    try:
        if kind == "density":
            sec.insert(name)
        else:
            keep.append(getattr(h, name)(sec(0.5)))
        if pointers:
            pre = soma("pre_" + name, %(pre_amp)r)
            keep += pre
            for p in pointers.split(","):
                h.setpointer(pre[0](0.5)._ref_v, p, keep[2])
        if hasattr(h, "usetable_" + name):     # neurosim computes what a TABLE caches
            setattr(h, "usetable_" + name, 0)
        rec = h.Vector().record(sec(0.5)._ref_v)
        h.finitialize(-65.0)
        h.continuerun(%(tstop)r)
        out[name] = np.array(rec)
    except Exception as err:
        print("NEURON failed on", name, err)
    keep = sec = pre = rec = None
np.savez(sys.argv[2], **out)
"""


def neuron_traces(tmp, mechs):
    """Compile the files with one nrnivmodl and run NEURON once in a subprocess."""
    build = os.path.join(tmp, "nrnmech")
    os.makedirs(build, exist_ok=True)
    for path, m in mechs:
        shutil.copy(path, os.path.join(build, m.name + ".mod"))
        with open(path) as f:       # the files it INCLUDEs, beside it as nocmodl looks
            for inc in re.findall(r'^\s*INCLUDE\s+"([^"]+)"', f.read(), re.M):
                if os.path.isfile(os.path.join(os.path.dirname(path), inc)):
                    shutil.copy(os.path.join(os.path.dirname(path), inc), build)
    out = subprocess.run(["nrnivmodl"], cwd=build, capture_output=True, text=True,
                         env=dict(os.environ, MAKEFLAGS=f"-j{os.cpu_count() or 1}"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    script = os.path.join(tmp, "run_neuron.py")
    with open(script, "w") as f:
        f.write(NEURON_SCRIPT % {"dt": DT, "tstop": TSTOP, "amp": AMP,
                                "pre_amp": PRE_AMP})
    npz = os.path.join(tmp, "traces.npz")
    out = subprocess.run([sys.executable, script, build, npz] +
                         [f"{m.name}:{m.kind}:{','.join(m.pointers)}" for _, m in mechs],
                         capture_output=True, text=True, cwd=tmp)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return dict(np.load(npz))


def neurosim_traces(mechs):
    """Every mechanism in its own one-compartment cell of one network."""
    net = ns.Network()
    gids = {}
    for _, m in mechs:
        cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), cm=1.0, ra=100.0,
                       v_init=-65.0)
        cell.insert("pas", g=1e-4, e=-65.0)
        if m.kind == "density":
            cell.insert(m)
        else:
            cell.add_synapse((0, 0.5), m, label="pp")
        cell.add_iclamp((0, 0.5), delay=5.0, dur=20.0, amp=AMP)
        gids[m.name] = net.add_cells(cell)[0]
        if m.pointers:
            pre = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), cm=1.0, ra=100.0,
                          v_init=-65.0)
            pre.insert("pas", g=1e-4, e=-65.0)
            pre.add_iclamp((0, 0.5), delay=5.0, dur=20.0, amp=PRE_AMP)
            a = net.add_cells(pre)[0]
            for p in m.pointers:
                net.set_pointer((gids[m.name], "pp"), p.rstrip("_"), (a, (0, 0.5)))
    sim = ns.Simulation(net, dt=DT)
    recs = {n: sim.record("v", (0, 0.5), cell=g) for n, g in gids.items()}
    sim.run(TSTOP)
    return {n: r.values for n, r in recs.items()}


REPORT = {}
# (files, loaded, matched NEURON, run, refused by name) per corpus: docs/nmodl.md's table
EXPECTED = {
    "baaiworm": (23, 23, 23, 23, 0),
    "hnn-core": (10, 10, 7, 7, 0),
    "nmodl-usecases": (91, 86, 72, 73, 5),
}
# mechanisms NEURON itself cannot run at fixed step dt = 0.025 ms (why)
NEURON_FAILS = {
    "scalar": "cvode/derivative.mod: derivimplicit's Newton iteration does not converge for the "
              "stiff logistic equation (NEURON stops with a scopmath error); the use case runs "
              "it under CVODE",
}


@pytest.mark.parametrize("corpus", list(CORPORA))
def test_corpus_loads_or_refuses_by_name_and_matches_neuron(corpus, tmp_path):
    loaded, refused = load(corpus)
    assert loaded
    for path, msg in refused:
        assert re.match(rf"{re.escape(path)}:\d+:\d+: ", msg) or \
            _names_an_included_file(path, msg), msg
    mechs = runnable(loaded)
    t0 = time.time()
    theirs = neuron_traces(str(tmp_path), mechs)
    t1 = time.time()
    ours = neurosim_traces(mechs)
    print(f"\n{corpus}: NEURON (nrnivmodl + run) {t1 - t0:.0f} s, neurosim {time.time() - t1:.0f} s")
    matched, differ, neuron_failed = [], [], []
    for name, v in ours.items():
        ref = theirs.get(name)
        if ref is None and name in NEURON_FAILS:
            neuron_failed.append(name)
            assert np.all(np.isfinite(v)), name
            continue
        if ref is not None and len(ref) == len(v) and np.all(np.isfinite(v)) and \
                np.max(np.abs(v - ref)) < 1e-3:
            matched.append(name)
        else:
            err = np.nan if ref is None or len(ref) != len(v) else np.nanmax(np.abs(v - ref))
            differ.append((name, err))
    REPORT[corpus] = (len(loaded) + len(refused), len(loaded), len(matched), len(mechs),
                      len(refused), neuron_failed)
    print(f"\n{corpus}: {len(loaded) + len(refused)} files, {len(loaded)} loaded, "
          f"{len(matched)}/{len(mechs)} run match NEURON ({len(neuron_failed)} NEURON cannot "
          f"run: {neuron_failed}), {len(refused)} refused by name")
    for path, msg in refused:
        print("  refused:", msg.split("\n")[0])
    for name, err in differ:
        print(f"  differs from NEURON: {name} (max |dv| {err:.3g} mV)")
    assert not differ, differ
    assert REPORT[corpus][:5] == EXPECTED[corpus], (REPORT[corpus], EXPECTED[corpus])


@pytest.mark.slow
def test_statements_after_the_equations_of_a_derivative_block(tmp_path):
    """BluePyOpt's thalamocortical TC_cadecay.mod: ``cai_rec = cai`` after ``cai' = ...``
    (cnexp): the statement sees the updated state, as in NEURON."""
    mod = tmp_path / "cadrec.mod"
    mod.write_text(TC_CADECAY)
    m = ns.Mechanism.from_nmodl(str(mod))
    cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), v_init=-65.0)
    cell.insert(m)
    sim = ns.Simulation(cell, dt=DT)
    cai = sim.record("cai", (0, 0.5))
    rec = sim.record("cai_rec_cadrec", (0, 0.5))
    sim.run(10.0)
    np.testing.assert_allclose(rec.values[1:], cai.values[1:], rtol=1e-12)
    assert cai.values[-1] < cai.values[0]


def random_use_case_hashes():
    """nmodl-usecases/random/test_random_variable.py's check on neurosim: the sha256 of 1000
    negexp() draws at x = 0.34 and 0.74 of a 10-segment section (the streams NEURON gives
    those instances), and the use case's expected hashes (read from its script)."""
    folder = shared(*CORPORA["nmodl-usecases"], "random")
    expected = re.findall(r'"([0-9a-f]{64})"', (folder / "test_random_variable.py").read_text())
    m = ns.Mechanism.from_nmodl(str(folder / "random_variable.mod"))
    cell = ns.Cell(ns.Morphology.cable(100.0, 2.0, type="soma"), discretization=ns.NSeg(10))
    cell.insert(m)
    sim = ns.Simulation(cell, dt=DT)
    negexp = m.function("negexp")
    got = []
    for x in (0.34, 0.74):
        rng = sim.random("rng_random_variable", (0, x))
        text = " ".join(f"{negexp(rng=rng):.10e}" for _ in range(1000))
        got.append(hashlib.sha256(text.encode()).hexdigest())
    return got, expected


def test_random_use_case_draws_as_neuron():
    got, expected = random_use_case_hashes()
    assert len(expected) == 2 and got == expected


@pytest.mark.slow
def test_net_send_use_case_toggles_at_its_times():
    """nmodl-usecases/net_send/simulate.py's check on toggle.mod: net_send from INITIAL and
    from NET_RECEIVE; y counts the arrivals at 2.001 and 4.001 ms."""
    m = ns.Mechanism.from_nmodl(str(shared(*CORPORA["nmodl-usecases"], "net_send",
                                           "toggle.mod")))
    cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), v_init=-65.0)
    cell.add_synapse((0, 0.5), m, label="toggle")
    sim = ns.Simulation(cell, dt=DT)
    y = sim.record("y", "toggle")
    sim.run(5.0)
    t = np.arange(len(y.values)) * DT
    expected = np.zeros(len(t))
    for arrival in (2.001, 4.001):
        expected[t > arrival - 1e-8] += 1
    np.testing.assert_array_equal(y.values, expected)


@pytest.mark.parametrize("name", ["write_cai", "write_cao", "write_eca"])
@pytest.mark.slow
def test_useion_use_cases_set_the_ion_as_neuron(name):
    """nmodl-usecases/useion/style_ion.py's check: after initialisation eca is the Nernst
    potential of the concentrations the mechanism wrote (or the eca it wrote)."""
    m = ns.Mechanism.from_nmodl(str(shared(*CORPORA["nmodl-usecases"], "useion",
                                           name + ".mod")))
    cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), v_init=-65.0)
    cell.insert(m)
    sim = ns.Simulation(cell, dt=DT)
    rec = {k: sim.record(k, (0, 0.5)) for k in ("eca", "cai", "cao")}
    sim.run(DT)
    eca, cai, cao = (rec[k].values[0] for k in ("eca", "cai", "cao"))
    if name == "write_eca":
        assert eca == 1124.0
    else:
        assert (cai if name == "write_cai" else cao) == 1124.0
        r, faraday = 8.31446261815324, 96485.33212331001
        nernst = 1000.0 * r * (273.15 + 6.3) / (2 * faraday) * np.log(cao / cai)
        assert abs(eca - nernst) < 1e-10, (eca, nernst)


@pytest.mark.slow
def test_morphology_use_case_reads_diam():
    """nmodl-usecases/morphology/test_morphology.py's check on two_radii.mod: ten
    one-segment sections of diameters 1.1 .. 2.0 µm from (0,0,0) to (1,2,0); the mechanism
    reads diam and area (inv = 1 / (diam² + area)) and v relaxes to 20 mV at that rate."""
    m = ns.Mechanism.from_nmodl(str(shared(*CORPORA["nmodl-usecases"], "morphology",
                                           "two_radii.mod")))
    with pytest.raises(ns.NeurosimError, match="diam"):
        ns.Cell(ns.Morphology.cable(2.0, 1.0)).insert(m, diam=3.0)
    diams = 1.0 + 0.1 * np.arange(1, 11)
    length = np.sqrt(5.0)
    net = ns.Network()
    for d in diams:
        cell = ns.Cell(ns.Morphology.cable(length, d), v_init=-65.0)
        cell.insert(m)
        net.add_cells(cell)
    sim = ns.Simulation(net, dt=0.001)
    v = sim.record("v", (0, 0.5), cell=list(range(len(diams))))
    inv = sim.record("two_radii.inv", (0, 0.5), cell=list(range(len(diams))))
    sim.run(5.0)
    rates = diams ** 2 + np.pi * diams * length
    np.testing.assert_allclose([r.values[0] for r in inv], 1.0 / rates, rtol=1e-12)
    t = np.arange(len(v[0].values)) * 0.001
    for rec, c in zip(v, rates):
        exact = 20.0 + (-65.0 - 20.0) * np.exp(-c * t)
        assert np.max(np.abs(rec.values - exact)) < 0.01 * 65.0


def test_segment_diameter_is_neurons_mean_over_the_segment():
    """NEURON 9's seg.diam of a section with 3D points (0,0,0,1) (3,0,0,2) (10,0,0,5),
    nseg = 3: the mean of the interpolated diameter over each segment."""
    from neurosim.description.morphology import Section
    from neurosim.lowering.geometry import segment_diameters
    sec = Section(0, 3, np.array([[0, 0, 0], [3, 0, 0], [10, 0, 0]], dtype=float),
                  np.array([1.0, 2.0, 5.0]))
    np.testing.assert_allclose(segment_diameters(sec, 3),
                               [1.5571428571428572, 2.857142857142857, 4.285714285714285],
                               rtol=1e-13)


def _net_event_neurosim(delay):
    """nmodl-usecases/net_event/simulate.py in neurosim: a spike source (NEURON's NetStim:
    every 0.1 ms from 0.01 ms) drives ``spiker``, whose net_event (from 1.001 ms, once a
    millisecond) reaches ``receiver`` on another cell; returns (y trace, spiker's spikes)."""
    folder = shared(*CORPORA["nmodl-usecases"], "net_event")
    spiker = ns.Mechanism.from_nmodl(os.path.join(folder, "spiker.mod"))
    receiver = ns.Mechanism.from_nmodl(os.path.join(folder, "receiver.mod"))
    net = ns.Network()
    cells = []
    for mech in (spiker, receiver):
        cell = ns.Cell(ns.Morphology.cable(20.0, 20.0), v_init=-65.0)
        cell.add_synapse((0, 0.5), mech, label=mech.name)
        cells.append(net.add_cells(cell)[0])
    net.add_spike_source(0.01 + 0.1 * np.arange(100), targets=[(cells[0], "spiker")],
                         weight=0.0, delay=0.0)
    net.connect(cells[0], (cells[1], "receiver"), 0.0, delay)
    sim = ns.Simulation(net, dt=DT)
    y = sim.record("y", "receiver", cell=cells[1])
    spikes = sim.record_spikes([cells[0]])
    sim.run(5.0)
    return y.values, spikes.times


def test_net_event_of_a_point_process_reaches_its_netcons_as_in_neuron(tmp_path):
    """The use case's check on neurosim, and its y trace against NEURON's from the same
    files. neurosim's connections from cells take at least dt (the use case's NetCon has
    delay 0): both run with delay dt, so y steps up one step later than the use case's
    arrivals 1, 2, 3, 4 ms."""
    from peers import compiled_mod_dir, h
    y, times = _net_event_neurosim(DT)
    np.testing.assert_allclose(times, [1.01, 2.01, 3.01, 4.01], atol=1e-12)
    t = np.arange(len(y)) * DT
    expected = np.zeros(len(y))
    for arrival in np.arange(1, 5) + 0.01 + DT:
        expected[t > arrival + 1e-8] += 0.1
    np.testing.assert_allclose(y, expected, atol=1e-12)
    compiled_mod_dir(str(shared(*CORPORA["nmodl-usecases"], "net_event")), str(tmp_path))
    h.load_file("stdrun.hoc")
    s1, s2 = h.Section(name="ne_s1"), h.Section(name="ne_s2")
    spiker, receiver = h.spiker(s1(0.5)), h.receiver(s2(0.5))
    stim = h.NetStim()
    stim.interval, stim.number, stim.start = 0.1, 100, 0.01
    nc1 = h.NetCon(stim, spiker, 0, 0.0, 0.0)
    nc2 = h.NetCon(spiker, receiver, 0, DT, 0.0)
    rec = h.Vector().record(receiver._ref_y)
    h.dt, h.tstop = DT, 5.0
    h.stdinit()
    h.run()
    theirs = np.array(rec)
    del nc1, nc2, stim
    np.testing.assert_allclose(y, theirs[:len(y)], atol=1e-12)
    assert len(theirs) - len(y) <= 1
