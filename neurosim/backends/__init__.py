"""Backends run the step kernels on a LoweredModel: ``cpu`` (Numba) and ``cuda`` (numba.cuda
kernels on CuPy arrays; tested under Numba's CUDA simulator)."""

from .cpu import CpuBackend


def _cuda_backend(model, **options):
    from .cuda import CudaBackend            # imports numba.cuda: only when asked for
    return CudaBackend(model, **options)


BACKENDS = {"cpu": CpuBackend, "cuda": _cuda_backend}


def make_backend(name, model, **options):
    from ..errors import ParameterError
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ParameterError(f"unknown backend {name!r}; available: {sorted(BACKENDS)}") from None
    return cls(model, **options)
