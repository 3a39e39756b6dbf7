"""backend='cuda' under Numba's CUDA simulator (NumPy standing in for CuPy): the same spikes
and traces as the CPU backend within 1e-9 for a single Allen cell, the ring, and a network
of ring cells with a spike source, a synapse and a gap junction.  No GPU here: the simulator
executes the kernel source a GPU would compile, thread by thread (slowly: small models)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gpu_env import cuda_env

pytest.importorskip("numba.cuda", reason="numba-cuda is a dev dependency")
SCRIPT = os.path.join(os.path.dirname(__file__), "gpu", "compare.py")


def compare(*args):
    env = cuda_env(NEUROSIM_DHS_LANES="4")
    done = subprocess.run([sys.executable, SCRIPT, *args], env=env, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def check(cpu, gpu, spikes):
    assert gpu["gids"] == cpu["gids"] and len(cpu["gids"]) >= spikes
    np.testing.assert_allclose(gpu["times"], cpu["times"], rtol=0, atol=1e-9)
    for a, b in zip(cpu["traces"], gpu["traces"]):
        assert len(a) == len(b) > 40
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9)


def test_network_with_events_synapses_and_a_gap_junction_in_float64_and_float32():
    """float64: within 1e-9 of the CPU.  float32 (precision="float32"): the same spikes,
    their times within 2e-3 ms and voltages within 0.5 mV (the largest errors on a spike's
    upstroke, where a time shift of 1e-3 ms is a tenth of a millivolt)."""
    result = compare("network", "float32")
    cpu, gpu, single = result["cpu"], result["cuda"], result["float32"]
    check(cpu, gpu, spikes=4)              # the source, and each of the three cells
    assert sorted(cpu["gids"]) == [0, 1, 2, 3]
    assert single["gids"] == cpu["gids"]
    np.testing.assert_allclose(single["times"], cpu["times"], rtol=0, atol=2e-3)
    for a, b in zip(cpu["traces"][:3], single["traces"][:3]):
        np.testing.assert_allclose(b, a, rtol=0, atol=0.5)


@pytest.mark.slow
def test_the_ring():
    """The ring benchmark's network (smaller cells): spikes travel around it through
    ExpSyns, every cell solved by DHS, the three of them in one block of 3 x 4 threads."""
    result = compare("ring")
    cpu, gpu = result["cpu"], result["cuda"]
    check(cpu, gpu, spikes=3)
    assert cpu["gids"] == [3, 0, 1]        # the source, then the ring in order
    assert gpu["dhs"] == [3, 3]


@pytest.mark.slow
def test_a_single_allen_cell():
    result = compare("allen")
    cpu, gpu = result["cpu"], result["cuda"]
    check(cpu, gpu, spikes=1)
    assert gpu["dhs"] == [1, 1]
    assert max(cpu["traces"][0]) > 0.0     # the soma spiked: every channel was busy


@pytest.mark.slow
def test_point_neurons_intfire_and_a_graded_synapse_beside_cells():
    """Artificial cells on the GPU (NEST's iaf_psc_alpha, IntFire1: net_event spikes by an
    atomic counter), events between them and a cell, a POINTER-driven graded synapse,
    Poisson drives (the same draws as the CPU's: the synapse's conductance moves)."""
    result = compare("points")
    cpu, gpu = result["cpu"], result["cuda"]
    check(cpu, gpu, spikes=6)
    conductance = np.array(cpu["traces"][-1])
    assert np.count_nonzero(np.diff(conductance) > 0) >= 5      # driven: >= 5 jumps
    assert 6 in cpu["gids"] and 7 in cpu["gids"]     # the IntFire1 and the cell fired


BLOW_UP = """
import neurosim as ns
runaway = ns.Mechanism(name="runaway", parameters={"gneg": 0.05},
                       current="i = -gneg * (v + 65.0)\\ng = 0.0")
for backend in ("cpu", "cuda"):
    net = ns.Network()
    quiet = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    quiet.insert("pas", g=1e-4, e=-65.0)
    bad = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-64.0)
    bad.insert(runaway, region="soma")
    net.add_cells(quiet, n=3)
    net.add_cells(bad)
    net.add_cells(quiet, n=2)
    sim = ns.Simulation(net, backend=backend)
    try:
        sim.run(5.0)
    except ns.NumericalInstabilityError as e:
        print(e)
"""


@pytest.mark.slow
def test_a_blow_up_is_reported_as_on_the_cpu():
    """The same time, node, cell and voltage in the message: the earliest step, its lowest
    node, and v as it was at that step (the GPU stops writing v after it)."""
    env = cuda_env()
    done = subprocess.run([sys.executable, "-c", BLOW_UP], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    cpu, gpu = done.stdout.strip().splitlines()
    assert "blow-up at t = " in cpu and "(cell 3, section 0" in cpu, cpu
    assert gpu == cpu


GLIF = """
import numpy as np, neurosim as ns
res = {}
for backend in ("cpu", "cuda"):
    net = ns.Network()
    p = dict(spike_dependent_threshold=True, after_spike_currents=True, adapting_threshold=True,
             tau_syn=[2.0, 1.0, 5.5], th_voltage_index=0.02, th_voltage_decay=0.2,
             voltage_reset_fraction=0.4, voltage_reset_add=9.0, th_spike_add=2.5,
             th_spike_decay=0.05)
    (a,) = net.add_cells(ns.models.GLIF(**p), n=1)
    (b,) = net.add_cells(ns.models.GLIF(**p), n=1)
    e = net.add_spike_source(np.arange(2.0, 55.0, 0.7))
    net.connect(e, a, weight=[900.0, 1], delay=1.0)
    net.connect(e, b, weight=[180.0, 1], delay=1.0)
    net.connect(e, b, weight=[-100.0, 2], delay=1.5)
    net.connect(a, b, weight=[120.0, 3], delay=2.0)
    sim = ns.Simulation(net, dt=0.1, backend=backend)
    v = sim.record("V_m", None, cell=b)
    s = sim.record_spikes()
    sim.run(60.0)
    res[backend] = (np.array(v.values), np.array(s.times), np.array(s.gids))
    print(backend, len(s.times))
cpu, gpu = res["cpu"], res["cuda"]
print("RESULT", np.max(np.abs(cpu[0] - gpu[0])),
      np.array_equal(cpu[1], gpu[1]) and np.array_equal(cpu[2], gpu[2]), len(cpu[1]))
"""


@pytest.mark.slow
def test_glif_psc_on_the_gpu_as_on_the_cpu():
    """NEST's glif_psc (GLIF5, three receptor ports picked by the connections' second
    weight) on the GPU: the CPU's spikes and V_m."""
    done = subprocess.run([sys.executable, "-c", GLIF], env=cuda_env(), capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")][0].split()
    assert float(line[1]) <= 1e-9 and line[2] == "True" and int(line[3]) >= 20, line
