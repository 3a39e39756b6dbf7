"""backend='cuda' under Numba's CUDA simulator (NumPy standing in for CuPy): the same spikes
and traces as the CPU backend within 1e-9 for a single Allen cell and for a network of
ring cells with a spike source, a synapse and a gap junction.  No GPU here: the simulator
executes the kernel source a GPU would compile, thread by thread (slowly: small models)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is a dev dependency")
SCRIPT = os.path.join(os.path.dirname(__file__), "gpu", "compare.py")


def compare(model):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NEUROSIM_DHS_LANES="4")
    done = subprocess.run([sys.executable, SCRIPT, model], env=env, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    return result["cpu"], result["cuda"]


def check(cpu, gpu, spikes):
    assert gpu["gids"] == cpu["gids"] and len(cpu["gids"]) >= spikes
    np.testing.assert_allclose(gpu["times"], cpu["times"], rtol=0, atol=1e-9)
    for a, b in zip(cpu["traces"], gpu["traces"]):
        assert len(a) == len(b) > 40
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9)


def test_network_with_events_synapses_and_a_gap_junction():
    cpu, gpu = compare("network")
    check(cpu, gpu, spikes=4)              # the source, and each of the three cells
    assert sorted(cpu["gids"]) == [0, 1, 2, 3]


def test_a_single_allen_cell():
    cpu, gpu = compare("allen")
    check(cpu, gpu, spikes=1)
    assert max(cpu["traces"][0]) > 0.0     # the soma spiked: every channel was busy
