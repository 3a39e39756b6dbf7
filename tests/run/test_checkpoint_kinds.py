"""Checkpoints of every kind of simulation restore bitwise in the data-only format (issue 21):
threads, and the GPU backend in float64 and float32 (under Numba's CUDA simulator, in a
subprocess);
serial and MPI runs are tested in test_reliability.py and test_mpi.py.  Each run checkpoints
at 10 ms, goes on to 30 ms, and a simulation restored from the file in a new process gives
the same voltages and spikes, bit for bit."""

import json
import os
import subprocess
import sys

import pytest

from gpu_env import cuda_env

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPT = """
import json, sys
import numpy as np
sys.path.insert(0, {here!r})
import neurosim as ns
from test_reliability import small_sim
kind, path, phase = sys.argv[1], sys.argv[2], sys.argv[3]
options = {{"threads": dict(threads=2), "cuda": dict(backend="cuda"),
            "cuda-float32": dict(backend="cuda", precision="float32")}}[kind]
if phase == "write":
    net_sim, gids = small_sim()
    sim = ns.Simulation(net_sim.network, dt=0.025, **options)
    v = sim.record("v", (0, 0.5), cell=int(gids[1]))
    spikes = sim.record_spikes()
    sim.run(10.0)
    sim.checkpoint(path)
    sim.run(30.0)
else:
    sim = ns.Simulation.restore(path, threads=options.get("threads", 1))
    v = sim.record("v", (0, 0.5), cell=1)
    spikes = sim.record_spikes()
    sim.run(30.0)
print(json.dumps({{"v": [[round(float(t), 9), float(x)] for t, x in zip(v.times, v.values)],
                  "t": [float(x) for x in spikes.times], "gids": [int(g) for g in spikes.gids],
                  "backend": type(sim.backend).__name__}}))
"""


def _run(kind, path, phase):
    env = cuda_env() if kind.startswith("cuda") else dict(os.environ)
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(here=HERE), kind, str(path),
                           phase], capture_output=True, text=True, env=env, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["threads", "cuda", "cuda-float32"])
@pytest.mark.slow
def test_a_checkpoint_of_each_kind_restores_bitwise(tmp_path, kind):
    path = tmp_path / "state.h5"
    first = _run(kind, path, "write")
    again = _run(kind, path, "restore")
    after = {t: x for t, x in first["v"] if t >= 10.0}
    restored = {t: x for t, x in again["v"] if t >= 10.0}
    assert len(restored) == len(after) >= 800
    assert restored == after
    later = [(g, t) for g, t in zip(first["gids"], first["t"]) if t > 10.0]
    assert list(zip(again["gids"], again["t"])) == later
    assert later, "the run after the checkpoint should spike"
    if kind.startswith("cuda"):
        assert "Cuda" in first["backend"] and "Cuda" in again["backend"]
