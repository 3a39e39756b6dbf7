"""Poisson drives (net.add_poisson_drive): input spikes drawn in the kernel step by step."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import neurosim as ns
from neurosim.lowering.drive import drive_key, poisson_count

HERE = os.path.dirname(__file__)


@pytest.mark.parametrize("lam", [0.02, 0.7, 6.0, 45.0])
def test_counts_are_poisson(lam):
    n = 100_000
    x = np.array([poisson_count(lam, drive_key(1, 7, 0), s) for s in range(n)])
    se = np.sqrt(lam / n)
    assert abs(x.mean() - lam) < 5 * se
    assert abs(x.var() / lam - 1.0) < 0.05
    if lam < 10:                                   # P(0) = exp(-lam)
        assert abs(np.mean(x == 0) - np.exp(-lam)) < 5 * np.sqrt(np.exp(-lam) / n)
    other = np.array([poisson_count(lam, drive_key(1, 8, 0), s) for s in range(n)])
    assert abs(np.corrcoef(x, other)[0, 1]) < 0.02     # another target: independent


def lif_network():
    net = ns.Network(seed=3)
    lif = net.add_cells(ns.models.LIF(C_m=250.0, tau_m=10.0, tau_syn_ex=0.5, E_L=-65.0,
                                      V_th=1e9, V_init=-65.0), n=2)
    return net, [int(g) for g in lif]


def test_a_drive_gives_the_shot_noise_of_a_poisson_train():
    """A LIF without threshold under 10 kHz of 20 pA inputs: mean V = E_L + r w tau_s R
    (Campbell's theorem), and the same fluctuations as a Poisson train drawn ahead."""
    net, (a, b) = lif_network()
    net.add_poisson_drive([a], rate=10_000.0, weight=20.0)
    net.add_poisson(rate=10_000.0, n=1, stop=10_000.0, targets=[b], weight=20.0, delay=0.1)
    sim = ns.Simulation(net, dt=0.1)
    va, vb = sim.record("V_m", None, cell=[a, b])
    sim.run(10_000.0)
    xa, xb = va.values[1000:], vb.values[1000:]
    mean = -65.0 + 10_000.0 * 20.0 * 0.5e-3 * 10.0 / 250.0
    assert abs(xa.mean() - mean) < 0.02
    assert abs(xb.mean() - mean) < 0.02
    # stationary variance of shot noise through the two filters (tau_s, tau_m)
    ts, tm, r, w, c = 0.5, 10.0, 10.0, 20.0, 250.0                 # ms, ms, kHz, pA, pF
    var = r * w * w / (c * c) * (ts * tm) ** 2 / (ts - tm) ** 2 * \
        (ts / 2 + tm / 2 - 2 * ts * tm / (ts + tm))
    assert abs(xa.var() / var - 1.0) < 0.1 and abs(xb.var() / var - 1.0) < 0.1


def test_a_drive_starts_and_stops_and_checks_its_input():
    net, (a, b) = lif_network()
    net.add_poisson_drive([a], rate=5000.0, weight=50.0, start=20.0, stop=30.0)
    sim = ns.Simulation(net, dt=0.1)
    v = sim.record("V_m", None, cell=a)
    sim.run(60.0)
    t, x = v.times, v.values
    assert np.all(x[t <= 20.0] == -65.0) and x[(t > 25) & (t < 30)].min() > -64.0
    assert abs(x[-1] + 65.0) < 0.2                           # relaxed after the stop
    with pytest.raises(ns.ParameterError, match="stop"):
        net.add_poisson_drive([a], rate=10.0, weight=1.0, start=5.0, stop=5.0)
    with pytest.raises(ns.ParameterError, match="rate"):
        net.add_poisson_drive([a], rate=-1.0, weight=1.0)
    with pytest.raises(ns.ParameterError, match="no synapse labelled"):
        cell_net = ns.Network()
        g = cell_net.add_cells(ns.Cell(ns.Morphology.ball_and_stick()))[0]
        cell_net.add_poisson_drive([(int(g), "syn")], rate=10.0, weight=1.0)


@pytest.mark.slow
def test_drives_are_the_same_on_any_threads_and_ranks(tmp_path):
    sys.path.insert(0, os.path.join(HERE, "mpi"))
    import drive
    one = drive.run(threads=1)
    two = drive.run(threads=2)
    assert len(one["times"]) > 20 and np.isin(one["gids"], one["lif"]).sum() > 4
    for key in ("gids", "times", "v"):
        np.testing.assert_array_equal(one[key], two[key])
    out = tmp_path / "drive.npz"
    done = subprocess.run([shutil.which("mpiexec"), "-n", "3", sys.executable,
                           os.path.join(HERE, "mpi", "drive.py"), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    got = np.load(out)
    for key in ("gids", "times", "v"):
        np.testing.assert_array_equal(got[key], one[key])
