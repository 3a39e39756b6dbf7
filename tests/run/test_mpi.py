"""Distributed runs: the same spikes on 1 to 4 ranks (mpiexec from the mpich wheel)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from gpu_env import cuda_env

HERE = os.path.dirname(__file__)
TESTS = os.path.dirname(os.path.abspath(HERE))           # the helpers (gpu_env, peers)
SCRIPT = os.path.join(HERE, "mpi", "run_network.py")
MPIEXEC = shutil.which("mpiexec")
assert MPIEXEC, "mpiexec comes with the mpich wheel: pip install -e '.[dev]'"


def launch(ranks, *args, timeout=600):
    return launch_script(ranks, SCRIPT, *args, timeout=timeout)


def launch_script(ranks, script, *args, timeout=600):
    cmd = [MPIEXEC, "-n", str(ranks), sys.executable, script, *map(str, args)]
    # the tests' folder first (the scripts import their helpers by name), then the caller's
    # path (a checkout run with PYTHONPATH pointing at it stays that checkout)
    path = os.pathsep.join(p for p in (TESTS, os.environ.get("PYTHONPATH")) if p)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": path})


def run(ranks, out, *options):
    done = launch(ranks, out, *options)
    assert done.returncode == 0, done.stdout + done.stderr
    return np.load(out), done.stdout


def h5_content(path):
    """Every dataset and attribute of an HDF5 file, by path."""
    out = {}
    with h5py.File(path, "r") as f:
        out["/"] = dict(f.attrs)

        def visit(name, obj):
            out[name] = (np.asarray(obj) if isinstance(obj, h5py.Dataset) else None,
                         dict(obj.attrs))
        f.visititems(visit)
    return out


@pytest.mark.slow
def test_spikes_are_identical_on_1_to_4_ranks(tmp_path):
    sys.path.insert(0, os.path.join(HERE, "mpi"))
    import run_network

    import neurosim as ns
    net, gids = run_network.build()
    serial = ns.Simulation(net)
    spikes = serial.record_spikes()
    v = serial.record("v", (0, 0.5), cell=int(gids[-1]))
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
        np.testing.assert_array_equal(got["v"], v.values)      # rank 0 holds every trace
        if ranks > 1:
            summary = next(line for line in stdout.splitlines() if "ranks (" in line)
            assert f"17 cells, {serial.n_compartments} compartments on {ranks} ranks" \
                in summary                                  # the partition summary


@pytest.mark.slow
def test_the_microcircuit_spikes_are_identical_on_1_to_3_ranks(tmp_path):
    """Potjans & Diesmann at scale 0.03 (2 316 neurons, fixed_total_number projections
    drawn whole on every rank, a Poisson drive per neuron): every rank count gives the
    serial run's spikes."""
    sys.path.insert(0, os.path.join(HERE, "mpi"))
    import run_microcircuit

    import neurosim as ns
    from neurosim.models import microcircuit as mc
    net, pops = run_microcircuit.build()
    serial = ns.Simulation(net, dt=0.1)
    spikes = serial.record_spikes(np.concatenate([pops[p] for p in mc.POPULATIONS]))
    serial.run(300.0)
    assert len(spikes.times) > 500
    for ranks in (1, 2, 3):
        out = tmp_path / f"mc_{ranks}.npz"
        done = launch_script(ranks, os.path.join(HERE, "mpi", "run_microcircuit.py"), out)
        assert done.returncode == 0, done.stdout + done.stderr
        got = np.load(out)
        assert int(got["size"]) == ranks
        np.testing.assert_array_equal(got["gids"], spikes.gids)
        np.testing.assert_array_equal(got["times"], spikes.times)


@pytest.mark.slow
def test_two_ranks_on_the_gpu_backend_give_the_serial_spikes(tmp_path):
    """backend='cuda' under MPI (the CUDA simulator standing in for one GPU per rank): the
    single-process CPU run's spikes and trace within 1e-9, and each rank names the GPU of
    its node-local rank."""
    pytest.importorskip("numba.cuda", reason="numba-cuda is a dev dependency")
    sys.path.insert(0, os.path.join(HERE, "mpi"))
    import run_network

    import neurosim as ns
    net, gids = run_network.build()
    serial = ns.Simulation(net)
    spikes = serial.record_spikes()
    v = serial.record("v", (0, 0.5), cell=int(gids[-1]))
    serial.run(5.0)
    assert len(spikes.times) >= 5
    out = tmp_path / "gpu.npz"
    cmd = [MPIEXEC, "-n", "2", sys.executable, SCRIPT, out, "--backend", "cuda",
           "--until", "5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env=cuda_env(PYTHONPATH=TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    # (the ranks' lines may interleave in the shared stdout)
    assert set(re.findall(r"LOCAL RANK (\d+) (\d+)", done.stdout)) == {("0", "0"), ("1", "1")}
    got = np.load(out)
    assert int(got["size"]) == 2
    np.testing.assert_array_equal(got["gids"], spikes.gids)
    np.testing.assert_allclose(got["times"], spikes.times, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["v"], v.values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["weights"], serial.weights(), rtol=0, atol=1e-9)


def test_the_exchanges_on_known_spikes():
    for ranks in (2, 3):
        done = launch_script(ranks, os.path.join(HERE, "mpi", "exchange.py"))
        assert done.returncode == 0 and "OK" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
def test_alltoall_overlap_threads_and_a_recipe_give_the_same_spikes(tmp_path):
    sys.path.insert(0, os.path.join(HERE, "mpi"))
    import run_network
    by_target = np.argsort(run_network.build()[0].connections()[1], kind="stable")
    one, _ = run(1, tmp_path / "a.npz")
    for options in (["--threads", 2], ["--exchange", "alltoall"], ["--recipe"],
                    ["--recipe", "--exchange", "alltoall"], ["--overlap"]):
        two, _ = run(3, tmp_path / "b.npz", *options)
        assert str(two["exchange"]) == ("alltoall" if "alltoall" in options else "allgather")
        assert bool(two["overlap"]) == ("--overlap" in options)
        np.testing.assert_array_equal(one["gids"], two["gids"])
        np.testing.assert_array_equal(one["times"], two["times"])
        np.testing.assert_array_equal(one["v"], two["v"])
        # weights gathered from the ranks in connection order: a Recipe's is target by target
        expected = one["weights"][by_target] if "--recipe" in options else one["weights"]
        np.testing.assert_array_equal(two["weights"], expected)


@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.slow
def test_checkpoint_at_half_time_and_restore_in_a_new_process(tmp_path, ranks):
    """Run to 40 ms, checkpoint, stop; a new process restores and runs to 80 ms: the spikes
    of the two halves are those of one straight run, the trace and the plastic weights at
    the end too."""
    straight, _ = run(1, tmp_path / "straight.npz")
    ck = tmp_path / "state.h5"
    first, _ = run(ranks, tmp_path / "first.npz", "--until", 40, "--checkpoint", ck)
    second, _ = run(ranks, tmp_path / "second.npz", "--restore", ck)
    assert len(first["times"]) > 3 and len(second["times"]) > 3
    np.testing.assert_array_equal(np.concatenate([first["gids"], second["gids"]]),
                                  straight["gids"])
    np.testing.assert_array_equal(np.concatenate([first["times"], second["times"]]),
                                  straight["times"])
    np.testing.assert_array_equal(second["v"], straight["v"][-len(second["v"]):])
    np.testing.assert_array_equal(second["weights"], straight["weights"])


def test_a_recipe_run_under_mpi_refuses_to_checkpoint(tmp_path):
    done = launch(2, tmp_path / "x.npz", "--recipe", "--until", 5, "--checkpoint",
                  tmp_path / "state.h5", timeout=120)
    assert done.returncode != 0
    assert "checkpoints of Recipe runs under MPI" in done.stdout + done.stderr
    assert not (tmp_path / "state.h5").exists()


def test_one_output_file_with_the_same_content_for_any_rank_count(tmp_path):
    files = {}
    for ranks in (1, 3):
        files[ranks] = tmp_path / f"run{ranks}.h5"
        run(ranks, tmp_path / "x.npz", "--stream", files[ranks])
    assert not list(tmp_path.glob("run*.h5.*"))             # no file per rank
    one, three = h5_content(files[1]), h5_content(files[3])
    assert one.keys() == three.keys()
    assert sum(1 for k in one if k.endswith("/data")) == 6   # 6 traces
    for key in one:
        if key == "/":
            assert one[key] == three[key]
            continue
        (a, attrs_a), (b, attrs_b) = one[key], three[key]
        assert attrs_a == attrs_b, key
        if a is not None:
            assert len(a) > 0, key
            np.testing.assert_array_equal(a, b, err_msg=key)


def test_an_error_on_one_rank_ends_every_rank(tmp_path):
    """Only the rank owning the runaway cell raises: all ranks end, non-zero, promptly, and
    the message is printed once."""
    done = launch(3, "fail", timeout=60)
    ended = time.time()
    assert done.returncode != 0
    text = done.stdout + done.stderr
    started = float(re.search(r"RUN (\d+\.\d+)", text).group(1))   # sim.run starts
    assert ended - started < 10.0
    assert text.count("NumericalInstabilityError: numerical blow-up") == 1, text


def test_an_exception_in_a_users_script_on_one_rank_ends_the_job(tmp_path):
    """Outside neurosim's own calls (rank 1 raises between two sim.run): the excepthook
    neurosim installs under MPI aborts the communicator; the job does not hang."""
    started = time.time()
    done = launch(2, "userraise", timeout=120)
    assert done.returncode != 0
    assert time.time() - started < 60.0
    text = done.stdout + done.stderr
    assert text.count("ValueError: a user's own error on rank 1") == 1, text
    assert "neurosim rank 1: uncaught ValueError" in text, text


def test_a_bad_probe_on_one_rank_ends_every_rank():
    done = launch(3, "badprobe", timeout=60)
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert text.count("has no point process labelled 'no_such_synapse'") == 1, text


def test_a_missing_morphology_on_one_rank_gives_the_serial_error(tmp_path):
    sys.path.insert(0, os.path.join(HERE, "mpi"))
    import run_network

    import neurosim as ns
    net, gids = run_network.build()
    with pytest.raises(ns.MorphologyError) as serial:
        ns.Simulation(run_network.Described(net, missing=int(gids[-2])))
    done = launch(3, "missing", timeout=60)
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert text.count(str(serial.value)) == 1, text
    assert "missing.swc" in str(serial.value)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_rank_cleanly(tmp_path, sig):
    """SIGTERM or Ctrl-C to mpiexec (which forwards it): every rank stops at the same step
    within seconds, the message is printed once, and the streamed file holds every sample
    up to there."""
    path = tmp_path / "run.h5"
    cmd = [MPIEXEC, "-n", "2", sys.executable, SCRIPT, "forever", "--stream", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": TESTS})
    while "RUNNING" not in proc.stdout.readline():
        pass
    time.sleep(2.0)
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10.0
    assert proc.returncode != 0
    text = out + err
    name = signal.Signals(sig).name
    assert text.count(f"{name}: run stopped at t = ") == 1, text
    stopped = float(text.split("run stopped at t = ")[1].split()[0])
    assert stopped > 1.0
    content = h5_content(path)
    v_last = [k for k in content if k.endswith("/time")]
    assert len(v_last) == 6
    for key in v_last:                                     # every trace reaches the stop
        assert abs(content[key][0][-1] - stopped) < 0.1 + 1e-9, key
