"""Distributed runs: the same spikes on 1 to 4 ranks (mpiexec from the mpich wheel)."""

import glob
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(__file__)
SCRIPT = os.path.join(HERE, "mpi", "run_network.py")
MPIEXEC = shutil.which("mpiexec")
assert MPIEXEC, "mpiexec comes with the mpich wheel: pip install -e '.[dev]'"


def run(ranks, out, threads=1):
    cmd = [MPIEXEC, "-n", str(ranks), sys.executable, SCRIPT, str(out), str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": HERE})
    assert done.returncode == 0, done.stdout + done.stderr
    return np.load(out), done.stdout


def test_spikes_are_identical_on_1_2_and_3_ranks(tmp_path):
    sys.path.insert(0, os.path.join(HERE, "mpi"))
    import run_network
    import neurosim as ns
    net, gids = run_network.build()
    serial = ns.Simulation(net)
    spikes = serial.record_spikes()
    before = serial.weights()[:, 0]
    serial.run(80.0)
    assert len(spikes.times) > 10
    assert np.isin(spikes.gids, gids[-5:]).sum() >= 3          # the STDP cells fire too
    assert np.sum(serial.weights()[:, 0] != before) >= 5        # and learn
    for ranks in (1, 2, 3, 4):
        out = tmp_path / f"spikes_{ranks}.npz"
        got, stdout = run(ranks, out)
        assert int(got["size"]) == ranks
        np.testing.assert_array_equal(got["gids"], spikes.gids)
        np.testing.assert_array_equal(got["times"], spikes.times)
        if ranks > 1:
            assert f"on {ranks} ranks" in stdout            # the partition summary
        traces = glob.glob(str(tmp_path / f"spikes_{ranks}_v_rank*.npy"))
        assert len(traces) == 1                              # one rank owns the gid
    v_one = np.load(glob.glob(str(tmp_path / "spikes_1_v_rank*.npy"))[0])
    v_three = np.load(glob.glob(str(tmp_path / "spikes_3_v_rank*.npy"))[0])
    np.testing.assert_array_equal(v_one, v_three)


def test_ranks_and_threads_combine(tmp_path):
    one, _ = run(1, tmp_path / "a.npz")
    two, _ = run(2, tmp_path / "b.npz", threads=2)
    np.testing.assert_array_equal(one["gids"], two["gids"])
    np.testing.assert_array_equal(one["times"], two["times"])


def test_an_error_on_one_rank_ends_every_rank(tmp_path):
    """Only the rank owning the runaway cell raises: all ranks end, non-zero, promptly, and
    the message is printed once."""
    cmd = [MPIEXEC, "-n", "3", sys.executable, SCRIPT, "fail"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": HERE})
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert text.count("NumericalInstabilityError: numerical blow-up") == 1, text
