"""Backends run the step kernels on a LoweredModel: ``cpu`` (Numba); ``cuda`` is being built
(issue 7: its mechanism kernels and DHS cable solve exist and are tested under Numba's CUDA
simulator; the step loop around them does not yet)."""

from .cpu import CpuBackend


def _cuda_backend(model, **options):
    from ..errors import ParameterError
    try:
        import cupy
        gpus = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:          # no CuPy, no driver, no device: all the same to a user
        raise ParameterError(f"backend 'cuda' needs an NVIDIA GPU and CuPy (pip install "
                             f"'neurosim[gpu]'); here: {type(e).__name__}: {e}") from None
    raise ParameterError(f"backend 'cuda' ({gpus} GPU(s) found): its step loop is not "
                         "finished yet; use backend='cpu'")


BACKENDS = {"cpu": CpuBackend, "cuda": _cuda_backend}


def make_backend(name, model, **options):
    from ..errors import ParameterError
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ParameterError(f"unknown backend {name!r}; available: {sorted(BACKENDS)}") from None
    return cls(model, **options)
