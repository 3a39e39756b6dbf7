"""NMODL's RANDOM (NEURON 9's per-instance Random123 streams) against NEURON, draw for draw:
every random_... function through FUNCTIONs and PROCEDUREs, the stream ids NEURON gives the
instances, set_ids and set_seq from Python and from NMODL (with NEURON's stale block after
set_ids), and draws inside a simulation: BEFORE BREAKPOINT and BREAKPOINT (evaluated twice a
step, as NEURON does), INITIAL and NET_RECEIVE (a stochastic spike source and a synapse of
random jumps).  NEURON runs in a subprocess on the same files (nrnivmodl)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import neurosim as ns
from neurosim.mechanisms import random123

FUNCS = """
NEURON {
    SUFFIX rndf
    RANDOM r1, r2
}
FUNCTION uni() { uni = random_uniform(r1) }
FUNCTION uni2(lo, hi) { uni2 = random_uniform(r1, lo, hi) }
FUNCTION nrm() { nrm = random_normal(r1) }
FUNCTION nrm2(m, s) { nrm2 = random_normal(r2, m, s) }
FUNCTION nexp() { nexp = random_negexp(r2) }
FUNCTION nexp2(m) { nexp2 = random_negexp(r2, m) }
FUNCTION ipk() { ipk = random_ipick(r1) }
FUNCTION dpk() { dpk = random_dpick(r2) }
PROCEDURE seq1(x) { random_setseq(r1, x) }
PROCEDURE ids1(a, b, c) { random_setids(r1, a, b, c) }
"""

NOISY = """
NEURON {
    SUFFIX noisy
    RANDOM rn, ru
    NONSPECIFIC_CURRENT i
    RANGE amp, inoise, u
}
PARAMETER { amp = 0.002 (mA/cm2) }
ASSIGNED { i (mA/cm2) inoise (mA/cm2) u }
BEFORE BREAKPOINT { inoise = amp * random_normal(rn) }
BREAKPOINT {
    u = random_uniform(ru)
    i = inoise
}
"""

SOURCE = """
NEURON {
    ARTIFICIAL_CELL rsrc
    RANDOM r
    RANGE interval
}
PARAMETER { interval = 2 (ms) }
INITIAL { net_send(random_negexp(r, interval), 1) }
NET_RECEIVE(w) {
    if (flag == 1) {
        net_event(t)
        net_send(random_negexp(r, interval), 1)
    }
}
"""

SYNAPSE = """
NEURON {
    POINT_PROCESS rsyn
    RANDOM r
    RANGE tau, e, i
    NONSPECIFIC_CURRENT i
}
PARAMETER {
    tau = 2 (ms)
    e = 0 (mV)
}
ASSIGNED { v (mV) i (nA) }
STATE { G (uS) }
INITIAL { G = 0 }
BREAKPOINT {
    SOLVE st METHOD cnexp
    i = G * (v - e)
}
DERIVATIVE st { G' = -G / tau }
NET_RECEIVE(w) { G = G + w * random_uniform(r) }
"""

FILES = {"rndf": FUNCS, "noisy": NOISY, "rsrc": SOURCE, "rsyn": SYNAPSE}
# (FUNCTION, arguments); every tenth round sets a stream (SETS)
CALLS = [("uni", ()), ("uni2", (-2.0, 3.0)), ("nrm", ()), ("nrm2", (1.0, 0.5)), ("nexp", ()),
         ("nexp2", (3.0,)), ("ipk", ()), ("dpk", ())]
SETS = {3: ("set_ids", "r1", (7, 8, 9)), 5: ("set_seq", "r2", (17 * 4 + 2,)),
        7: ("seq1", "r1", (5.0,)), 9: ("ids1", "r1", (3.0, 2.0, 1.0)),
        11: ("set_ids", "r2", (4294967295, 0, 12)), 13: ("set_seq", "r2", (4294967295 * 4 + 3,))}
ROUNDS = 16
DT, TSTOP = 0.025, 30.0

NEURON_HEAD = """
import json, sys
from neuron import h
import neuron
neuron.load_mechanisms(sys.argv[1])
h.load_file("stdrun.hoc")
out = {}
"""

NEURON_FUNCTIONS = NEURON_HEAD + """
calls, sets, rounds = %(calls)r, %(sets)r, %(rounds)r
s = h.Section(name="s")
s.nseg = 3
s.insert("rndf")
out["ids"] = [[list(getattr(seg.rndf, r).get_ids()) for r in ("r1", "r2")] for seg in s]
m = s(0.5).rndf
draws = []
for k in range(rounds):
    if k in sets:
        what, r, args = sets[k]
        if what in ("set_ids", "set_seq"):
            getattr(getattr(m, r), what)(*args)
        else:
            getattr(m, what)(*args)
    for name, args in calls:
        draws.append(getattr(m, name)(*args))
out["draws"] = draws
out["seq"] = [m.r1.get_seq(), m.r2.get_seq()]
"""

NEURON_SIMULATION = NEURON_HEAD + """
soma = h.Section(name="soma")
soma.L = soma.diam = 20
soma.nseg = 3
soma.insert("pas")
soma.g_pas, soma.e_pas = 1e-4, -65
soma.insert("noisy")
syn = h.rsyn(soma(0.5))
src = h.rsrc()
nc = h.NetCon(src, syn)
nc.weight[0], nc.delay = 0.01, 1.0
times = h.Vector()
rec = h.NetCon(src, None)
rec.record(times)
v = h.Vector().record(soma(0.5)._ref_v, %(dt)r)
u = h.Vector().record(soma(0.5).noisy._ref_u, %(dt)r)
h.dt = %(dt)r
h.finitialize(-65)
h.continuerun(%(tstop)r)
out["v"], out["u"], out["spikes"] = list(v), list(u), list(times)
out["sim_ids"] = [list(seg.noisy.rn.get_ids()) + list(seg.noisy.ru.get_ids()) for seg in soma]
out["sim_ids"] += [list(syn.r.get_ids()), list(src.r.get_ids())]
"""
# NEURON's libraries: rndf alone, and the simulation's mechanisms (rsyn's STATE makes NEURON
# take a stream when it loads it: see lowering.streams_at_load)
LIBRARIES = {"functions": (["rndf"], NEURON_FUNCTIONS),
             "simulation": (["noisy", "rsrc", "rsyn"], NEURON_SIMULATION)}


@pytest.fixture(scope="module")
def mods(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("random")
    for name, text in FILES.items():
        (tmp / f"{name}.mod").write_text(text)
    return tmp


@pytest.fixture(scope="module")
def neuron_values(mods):
    out = {}
    for lib, (names, script) in LIBRARIES.items():
        build = mods / lib
        build.mkdir()
        for name in names:
            (build / f"{name}.mod").write_text(FILES[name])
        run = subprocess.run(["nrnivmodl"], cwd=build, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        path = mods / f"{lib}.py"
        path.write_text(script % {"calls": CALLS, "sets": SETS, "rounds": ROUNDS, "dt": DT,
                                  "tstop": TSTOP} +
                        'json.dump(out, open(sys.argv[2], "w"))\n')
        run = subprocess.run([sys.executable, str(path), str(build), str(mods / f"{lib}.json")],
                             capture_output=True, text=True, cwd=mods)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        out.update(json.loads((mods / f"{lib}.json").read_text()))
    return out


def mech(mods, name):
    return ns.Mechanism.from_nmodl(str(mods / f"{name}.mod"))


def test_philox4x32_10_known_answers():
    """Random123's known-answer vectors for Philox4x32-10 (counter, key -> four words)."""
    kat = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
           ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6,
                                                    0x6D5451FD)),
           ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
            (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for counter, key, words in kat:
        assert random123.philox(*counter, *key) == words
        assert random123.philox.py_func(*counter, *key) == words


CALLED_FROM_A_CONTRACTING_KERNEL = """
import numpy as np
from numba import njit
from neurosim.mechanisms import random123

@njit(fastmath={"contract"})           # as the generated kernels are compiled
def draws(n):
    out = np.empty(n)
    s = (1.0, 0.0, 5.0, 0.0, 1.0, 0.0, 5.0)
    for k in range(n):
        out[k], s0, s1, s2, s3, s4, s5, s6 = random123.normal(0.0, 1.0, *s, 0.0)
        s = (s0, s1, s2, s3, s4, s5, s6)
    return out

s = (1.0, 0.0, 5.0, 0.0, 1.0, 0.0, 5.0)
exact = []
for k in range(2000):          # the same arithmetic in Python: no fused multiply-add
    x, *s = random123.normal.py_func(0.0, 1.0, *s, 0.0)
    exact.append(x)
print(int(np.sum(draws(2000) != np.array(exact))))
"""


def test_a_kernel_does_not_change_the_draws(tmp_path):
    """The draws are NEURON's whoever compiles them first: a kernel compiled with fused
    multiply-adds allowed (Numba passes a caller's fastmath to a callee that says none) must
    not make random_normal's u1*u1 + u2*u2 an FMA (CI once got a draw 5 ulp off NEURON)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", CALLED_FROM_A_CONTRACTING_KERNEL], env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "0"


def test_functions_draw_as_neuron(mods, neuron_values):
    """Every random_... function, the default ids of a 3-segment section's instances, and
    set_ids / set_seq from Python and from NMODL, interleaved: the same doubles as NEURON."""
    m = mech(mods, "rndf")
    cell = ns.Cell(ns.Morphology.cable(30.0, 2.0, type="soma"), discretization=ns.NSeg(3))
    cell.insert(m)
    sim = ns.Simulation(cell, dt=DT)
    ids = [[list(sim.random(f"rndf.{r}", (0, x)).get_ids()) for r in ("r1", "r2")]
           for x in (1 / 6, 0.5, 5 / 6)]
    assert ids == neuron_values["ids"]
    streams = {r: sim.random(f"{r}_rndf", (0, 0.5)) for r in ("r1", "r2")}
    draws = []
    for k in range(ROUNDS):
        if k in SETS:
            what, r, args = SETS[k]
            if what in ("set_ids", "set_seq"):
                getattr(streams[r], what)(*args)
            else:
                m.function(what)(*args, **streams)
        for name, args in CALLS:
            draws.append(m.function(name)(*args, **streams))
    assert draws == neuron_values["draws"]
    assert [streams["r1"].get_seq(), streams["r2"].get_seq()] == neuron_values["seq"]


def test_simulation_draws_as_neuron(mods, neuron_values):
    """A noisy current (a normal draw in BEFORE BREAKPOINT, a uniform one in BREAKPOINT,
    which runs twice a step), a stochastic spike source (negexp intervals from INITIAL and
    NET_RECEIVE) and a synapse whose jumps are uniform draws: the same spikes and voltage."""
    cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), discretization=ns.NSeg(3),
                   v_init=-65.0)
    cell.insert("pas", g=1e-4, e=-65.0)
    cell.insert(mech(mods, "noisy"))
    cell.add_synapse((0, 0.5), mech(mods, "rsyn"), label="syn")
    net = ns.Network()
    gid = net.add_cells(cell)[0]
    src = net.add_cells(mech(mods, "rsrc"))[0]
    net.connect(src, (gid, "syn"), 0.01, 1.0)
    sim = ns.Simulation(net, dt=DT)
    spikes = sim.record_spikes([src])
    v = sim.record("v", (0, 0.5), cell=gid)
    u = sim.record("u_noisy", (0, 0.5), cell=gid)
    ids = [list(sim.random(f"noisy.{r}", (0, x), cell=gid).get_ids()) for x in (1 / 6, 0.5, 5 / 6)
           for r in ("rn", "ru")]
    ids = [ids[k] + ids[k + 1] for k in (0, 2, 4)]
    ids += [list(sim.random("rsyn.r", "syn", cell=gid).get_ids()),
            list(sim.random("rsrc.r", None, cell=src).get_ids())]
    assert ids == neuron_values["sim_ids"]
    sim.run(TSTOP)
    ref = neuron_values
    assert len(ref["spikes"]) > 5
    np.testing.assert_allclose(spikes.times, ref["spikes"], rtol=0, atol=1e-9)
    # NEURON's recording ends a step early; neurosim's first sample precedes finitialize
    n = len(ref["v"])
    np.testing.assert_array_equal(u.values[1:n], ref["u"][1:])
    assert np.max(np.abs(v.values[:n] - np.array(ref["v"]))) < 1e-6
    assert np.ptp(v.values) > 1.0


def test_stream_ids_given_at_insert(mods):
    """Ids set where the mechanism is inserted are the instance's (NEURON's set_ids after
    insert: the first block still comes from the default ids, until set_seq)."""
    m = mech(mods, "rndf")
    cell = ns.Cell(ns.Morphology.cable(30.0, 2.0, type="soma"))
    cell.insert(m, r1_id1=5, r1_id2=6, r1_id3=7)
    sim = ns.Simulation(cell, dt=DT)
    r1 = sim.random("rndf.r1", (0, 0.5))
    assert r1.get_ids() == (5, 6, 7)
    uni = m.function("uni")
    stale = ns.Random123(1, 0, 1)             # NEURON's default for this first instance
    assert [uni(r1=r1) for _ in range(4)] == [stale.uniform() for _ in range(4)]
    fresh = ns.Random123(5, 6, 7).set_seq(4)
    assert [uni(r1=r1) for _ in range(4)] == [fresh.uniform() for _ in range(4)]


def test_refusals(mods, tmp_path):
    bad = {"RANDOM r is a stream": "FUNCTION f() { f = r }",
           "first argument must be a RANDOM": "FUNCTION f() { f = random_uniform(2) }",
           "takes a RANDOM variable and 0 or 1": "FUNCTION f() { f = random_negexp(r, 1, 2) }",
           "has no value": "FUNCTION f() { f = random_setseq(r, 0) }",
           "not in an equation": "STATE { x }\nBREAKPOINT { SOLVE d METHOD cnexp }\n"
                                 "DERIVATIVE d { x' = random_uniform(r) }",
           "'r_seq' is declared elsewhere (neurosim names the stream's ids and sequence "
           "r_id1 .. r_block_id3)": "ASSIGNED { r_seq }"}
    for expect, body in bad.items():
        path = tmp_path / "bad.mod"
        path.write_text("NEURON { SUFFIX bad RANDOM r }\n" + body + "\n")
        with pytest.raises(ns.NeurosimError) as err:
            ns.Mechanism.from_nmodl(str(path))
        assert expect in str(err.value), (expect, str(err.value))
        assert "bad.mod:" in str(err.value)
    with pytest.raises(ns.ParameterError, match="give the stream"):
        mech(mods, "rndf").function("uni")()


def test_random_is_refused_by_name_on_the_gpu(mods):
    """The streams' Philox runs in the CPU kernels only: named when GPU kernels are
    generated."""
    from neurosim.kernels.codegen_cuda import cuda_kernel_source
    with pytest.raises(ValueError, match="mechanism 'noisy': RANDOM rn .* CPU backend only"):
        cuda_kernel_source([mech(mods, "noisy")], [[]])


@pytest.mark.slow
def test_streams_survive_a_checkpoint(mods, tmp_path):
    """A stream's ids and sequence are parameters of its instance: a checkpoint holds them,
    and a restored run draws on where the first left off."""
    noisy = mech(mods, "noisy")

    def build():
        cell = ns.Cell(ns.Morphology.cable(20.0, 20.0, type="soma"), v_init=-65.0)
        cell.insert(noisy)
        return ns.Simulation(cell, dt=DT)

    whole = build()
    u = whole.record("u_noisy", (0, 0.5))
    whole.run(2.0)
    half = build()
    half.run(1.0)
    half.checkpoint(str(tmp_path / "state.h5"))
    again = ns.Simulation.restore(str(tmp_path / "state.h5"), mechanisms=[noisy])
    assert again.random("noisy.ru", (0, 0.5)).get_seq() == 2 * (1 + 40)
    rest = again.record("u_noisy", (0, 0.5))
    again.run(2.0)
    np.testing.assert_array_equal(rest.values, u.values[40:])
