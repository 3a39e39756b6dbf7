"""Backends run the step kernels on a LoweredModel: ``cpu`` (Numba) and ``cuda`` (numba.cuda
kernels on CuPy arrays; tested under Numba's CUDA simulator)."""

from neurosim.backends.cpu.backend import CpuBackend
from neurosim.errors import ParameterError


def _cuda_backend(model, **options):
    # imports numba.cuda: only when asked for
    from neurosim.backends.cuda.backend import CudaBackend
    return CudaBackend(model, **options)


BACKENDS = {"cpu": CpuBackend, "cuda": _cuda_backend}


def make_backend(name, model, **options):
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ParameterError(f"unknown backend {name!r}; available: {sorted(BACKENDS)}") from None
    return cls(model, **options)
