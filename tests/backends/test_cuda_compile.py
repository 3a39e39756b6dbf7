"""The GPU backend's kernels compiled for a real GPU (an H100, sm_90) by NVVM and ptxas, on
this machine without one.  The simulator tests (test_cuda_backend.py) run the kernels'
source as Python, which accepts what a GPU compiler rejects; these compile every kernel that
three models launch, with the argument types they are launched with, in float64 and float32.
"""

import json
import os
import subprocess
import sys

import pytest

from gpu_env import compiler_env

pytest.importorskip("numba.cuda", reason="numba-cuda is a dev dependency")
SCRIPT = os.path.join(os.path.dirname(__file__), "gpu", "compile_kernels.py")

# the per-step stages every model below launches (events: only where there are some)
STAGES = {"assemble", "set_voltage", "detect", "probe_voltage"}


def compile_model(*args):
    env = compiler_env()
    done = subprocess.run([sys.executable, SCRIPT, *args], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def check(result, expected):
    kernels = {k["name"]: k for k in result["kernels"]}
    assert STAGES | expected <= set(kernels), sorted(kernels)
    for k in result["kernels"]:
        assert 0 < k["registers"] <= 255, k
        assert k["spill_bytes"] == 0, k               # no kernel spills registers
        # above 4 KiB of parameters a launch needs a driver of CUDA >= 12.1 (Volta and later)
        assert 0 < k["param_bytes"] <= 32764, k
    assert all(k["launches"] > 0 for k in result["kernels"])
    # host <-> device traffic once per call of advance: as many transfers in a call of 10
    # steps as in one of 20, none per step; and no kernel is given a host array (numba-cuda
    # would copy it to the device and back at every launch)
    steps = {n for n, _ in result["calls"]}
    transfers = {m for _, m in result["calls"]}
    assert len(steps) > 1 and len(transfers) == 1, result["calls"]
    assert result["host_arguments"] == []
    return kernels


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.slow
def test_ring_cells_with_synapses_and_a_gap_junction_compile(precision):
    kernels = check(compile_model("network", precision),
                    {"deliver", "hh.current", "hh.advance", "ExpSyn.current",
                     "gap_junctions", "interleaved_solve", "probe_state"})
    # the event kernel runs in the calls that have events, not in the others
    assert 0 < kernels["deliver"]["launches"] < 1


@pytest.mark.slow
def test_the_allen_cell_compiles_with_its_dhs_solve():
    """18 mechanisms (rate functions, ions, Nernst), a cell large enough for DHS lanes; no
    events, so no event kernel."""
    kernels = check(compile_model("allen"), {"dhs_solve", "NaTs.current", "Ca_HVA.advance",
                                             "CaDynamics.current", "nernst_ca", "clamps",
                                             "probe_ion"})
    assert kernels["dhs_solve"]["threads"] == int(os.environ.get("NEUROSIM_DHS_LANES", 16))
    assert "deliver" not in kernels


@pytest.mark.slow
def test_point_neurons_and_a_pointer_synapse_compile():
    check(compile_model("points"), {"deliver", "iaf_psc_alpha.advance", "GradedSyn.current"})


def test_the_event_kernel_takes_only_the_arrays_of_mechanisms_that_receive_events():
    from neurosim.kernels.codegen_cuda import deliver_source, event_tables
    from neurosim.mechanisms import get
    mechs = [get("hh"), get("ExpSyn"), get("pas"), get("Exp2Syn")]
    aux = [list(m.aux_arrays(6.3, True)) for m in mechs]
    assert event_tables(mechs) == [1, 3]
    signature = deliver_source(mechs, aux).splitlines()[1]
    assert "_m1_" in signature and "_m3_" in signature
    assert "_m0_" not in signature and "_m2_" not in signature


def test_a_kernel_the_simulator_would_run_but_a_gpu_cannot_is_named():
    """A NumPy allocation inside a kernel runs under the simulator; NVVM refuses it, and the
    error names the kernel."""
    script = """
import numpy as np
from numba import cuda, types
from neurosim.backends.cuda.compile import KernelCompileError, build_kernel

@cuda.jit
def allocates(x):
    i = cuda.grid(1)
    work = np.zeros(3)
    x[i] = work[0]

@cuda.jit
def fine(x):
    i = cuda.grid(1)
    x[i] = 2.0 * x[i]

registers = build_kernel(fine, (types.float64[::1],))[0]
assert registers > 0
try:
    build_kernel(allocates, (types.float64[::1],))
except KernelCompileError as e:
    print(e)
"""
    env = compiler_env()
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("kernel allocates does not compile for sm_90"), done.stdout


def test_a_host_array_given_to_a_kernel_is_caught():
    """The check above can fail: a launch given a host array instead of a device one."""
    script = """
import numpy as np
import neurosim as ns
from neurosim.backends.cuda.compile import recording
cell = ns.Cell(ns.Morphology.ball_and_stick())
cell.insert("hh")
with recording() as made:
    sim = ns.Simulation(cell, backend="cuda")
    sim.run(0.1)
backend = made[0]
assert backend.host_arguments == []
backend._launch(backend.k.assemble, 4, backend.d_v, backend.v, 1.0, *[backend.d_v] * 4)
print(backend.host_arguments)
"""
    env = compiler_env()
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[('assemble', 1)]"


def test_occupancy_follows_the_h100_limits():
    """Worked by hand from an SM's limits (65 536 registers allocated 256 a warp, 2048
    threads, 32 blocks): 128 threads at 32 registers fill it (16 blocks of 4 warps); at 44
    registers a warp takes 1536, so 10 blocks fit: 40 of 64 warps; 16-thread blocks stop at
    32 blocks, half the warps."""
    from neurosim.backends.cuda.compile import occupancy
    assert occupancy(32, 128) == 1.0
    assert occupancy(44, 128) == 40 / 64
    assert occupancy(28, 16) == 0.5
    assert occupancy(255, 128) == 8 / 64        # 255 -> 8192 a warp: 2 blocks
