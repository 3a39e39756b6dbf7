"""Backends run the step kernels on a LoweredModel: ``cpu`` (Numba); ``cuda`` comes later."""

from .cpu import CpuBackend

BACKENDS = {"cpu": CpuBackend}


def make_backend(name, model, **options):
    from ..errors import ParameterError
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ParameterError(f"unknown backend {name!r}; available: {sorted(BACKENDS)}") from None
    return cls(model, **options)
