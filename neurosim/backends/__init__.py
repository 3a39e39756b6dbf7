"""Backends run the step kernels on a LoweredModel: ``cpu`` (Numba) and ``cuda`` (numba.cuda
kernels on CuPy arrays; tested under Numba's CUDA simulator)."""

from neurosim.backends.cpu.backend import CpuBackend
from neurosim.errors import ParameterError


def _cuda_backend(model, **options):
    # imports numba.cuda: only when asked for
    from neurosim.backends.cuda.backend import CudaBackend
    return CudaBackend(model, **options)


def _cuda_node_order():
    from neurosim.backends.cuda.backend import CudaBackend
    return CudaBackend.node_order()


BACKENDS = {"cpu": CpuBackend, "cuda": _cuda_backend}
# the node order each backend's kernels need: a policy lowering applies (lower(node_order=))
NODE_ORDERS = {"cpu": CpuBackend.node_order, "cuda": _cuda_node_order}


def node_order(name):
    """The node-order policy of backend ``name`` (None: lowering's cell-group order)."""
    try:
        return NODE_ORDERS[name]()
    except KeyError:
        raise ParameterError(f"unknown backend {name!r}; available: {sorted(BACKENDS)}") from None


def make_backend(name, model, **options):
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ParameterError(f"unknown backend {name!r}; available: {sorted(BACKENDS)}") from None
    return cls(model, **options)
