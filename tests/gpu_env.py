"""Where the GPU backend's tests run its kernels: under Numba's CUDA simulator (no GPU
here), or on a real GPU when NEUROSIM_TEST_GPU=1 (the same comparisons, tolerances and
all, on a machine that has one: docs/gpu.md says how)."""

import os

ON_GPU = os.environ.get("NEUROSIM_TEST_GPU") == "1"


def cuda_env(**extra):
    """The environment of a subprocess that runs CUDA kernels."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    if not ON_GPU:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    env.update(extra)
    return env


def compiler_env():
    """The environment of a subprocess that compiles kernels for a GPU (never simulated)."""
    return {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
