"""Compile the GPU backend's kernels for a real GPU, on a machine without one.

Numba's CUDA simulator, the tests' stand-in for a GPU, runs a kernel's source as Python: it
accepts code that NVVM rejects (a NumPy allocation, a list, a type that does not unify) and
says nothing of registers or spills.  Here a Simulation with ``backend="cuda"`` runs on a
backend whose launches are *recorded*, not executed (:func:`recording`); every kernel is
then compiled with the very argument types it was launched with (:func:`build_kernels`):
by NVVM to PTX for a compute capability, and by ``ptxas`` to machine code, which reports
registers, stack, spills and the bytes of kernel parameters.  Needs the CUDA compilers
from PyPI (``pip install "numba-cuda[cu12]"``: NVVM, NVRTC, ptxas), no GPU and no driver.
"""

import contextlib
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass

import numba
import numpy as np

from neurosim.backends import BACKENDS
from neurosim.backends.cuda.backend import CudaBackend, simulated
from neurosim.errors import NeurosimError

H100 = (9, 0)               # the compute capability the performance target names


class KernelCompileError(NeurosimError):
    """A kernel that NVVM or ptxas rejects (it may still run under the simulator)."""


@dataclass
class KernelBuild:
    name: str                 # the kernel, or mechanism.phase for a generated one
    threads: int              # threads per block it is launched with
    launches: float           # launches per time step
    arrays: int               # array arguments (each marshalled by numba-cuda per launch)
    registers: int
    stack_bytes: int
    spill_bytes: int          # spill stores + spill loads
    param_bytes: int          # kernel parameters (numba passes an array as 5 + 2 ndim words)
    seconds: float            # NVVM + ptxas


class OnDevice(np.ndarray):
    """A host array standing in for a device array: one that came through ``to_device``."""


class RecordingBackend(CudaBackend):
    """The GPU backend with the host's arrays standing in for the device's and each kernel
    launch recorded (kernel, argument types, block size) instead of run.  It computes
    nothing: a Simulation on it runs its host side only (events, epochs, probes).
    ``host_arguments`` lists the launches given a host array (numba-cuda would copy it to
    the device and back at every launch)."""

    def __init__(self, model, **options):
        self.launches = {}          # (kernel, argument types) -> [threads, launches]
        self.calls = []             # per advance(): (steps, transfers to and from device)
        self.host_arguments = []    # (kernel, argument index) given a host array
        self._moved = 0
        self.steps = 0              # steps advanced (launches are counted per step)
        super().__init__(model, **options)

    def _transfers(self):
        def to_device(a):
            self._moved += 1
            return np.array(a).view(OnDevice)       # a copy, as a transfer makes

        def to_host(a):
            self._moved += 1
            return np.array(a)
        return to_device, to_host, 0            # no stream: nothing is launched

    @property
    def graphs(self):                           # launches are recorded step by step
        return False

    @graphs.setter
    def graphs(self, value):
        pass

    def _run(self, kernel, blocks, threads, args):
        key = (kernel, tuple(numba.typeof(a) for a in args))
        entry = self.launches.setdefault(key, [int(np.prod(threads)), 0])
        entry[1] += 1
        self.host_arguments += [(self.kernel_name(kernel), i) for i, a in enumerate(args)
                                if isinstance(a, np.ndarray) and not isinstance(a, OnDevice)]

    def advance(self, step0, nsteps, rec_every, rec_count, rec_out, events):
        moved = self._moved
        result = super().advance(step0, nsteps, rec_every, rec_count, rec_out, events)
        self.calls.append((nsteps, self._moved - moved))
        self.steps += nsteps
        return result

    def kernel_name(self, kernel):
        name = kernel.py_func.__name__
        generated = re.fullmatch(r"m(\d+)_(\w+)", name)
        if generated:
            j, phase = generated.groups()
            return f"{self.tables[int(j)].mechanism.name}.{phase}"
        return name


@contextlib.contextmanager
def recording():
    """Within it, ``Simulation(..., backend="cuda")`` builds a :class:`RecordingBackend`;
    yields the list of the backends made."""
    if simulated():
        raise NeurosimError("compiling for a GPU needs numba.cuda itself: unset "
                            "NUMBA_ENABLE_CUDASIM")
    made, previous = [], BACKENDS["cuda"]

    def make(model, **options):
        made.append(RecordingBackend(model, **options))
        return made[-1]
    BACKENDS["cuda"] = make
    try:
        yield made
    finally:
        BACKENDS["cuda"] = previous


@contextlib.contextmanager
def _compute_capability(cc):
    """numba-cuda compiles a device function a kernel calls for the *current device's*
    compute capability, which needs a driver; without one, answer ``cc`` instead."""
    from numba.cuda import dispatcher
    if not hasattr(dispatcher, "get_current_device"):
        raise NeurosimError(f"this numba-cuda ({getattr(numba.cuda, '__version__', '?')}) "
                            "compiles device functions differently; update cuda_compile.py")

    class Device:
        compute_capability = cc
    current = dispatcher.get_current_device
    dispatcher.get_current_device = Device
    try:
        yield
    finally:
        dispatcher.get_current_device = current


def _ptxas():
    from cuda.pathfinder import find_nvidia_binary_utility
    path = find_nvidia_binary_utility("ptxas")
    if path is None:
        raise NeurosimError("ptxas not found: pip install \"numba-cuda[cu12]\"")
    return path


def _param_bytes(ptx):
    """The bytes of the entry's parameters, from its PTX declaration."""
    entry = ptx[ptx.index(".entry"):]
    entry = entry[:entry.index(")")]
    return sum(int(bits) // 8 * int(count or 1) for bits, count in
               re.findall(r"\.param\s+\.[bfsu](\d+)\s+\S+?(?:\[(\d+)\])?\s*[,\n)]",
                          entry + "\n"))


def build_kernel(kernel, types, cc=H100, name=None):
    """Compile one kernel (a ``cuda.jit`` dispatcher) for argument ``types`` and compute
    capability ``cc``: ``(registers, stack bytes, spill bytes, parameter bytes,
    seconds)``.  Raises :class:`KernelCompileError` naming the kernel."""
    from numba import cuda
    name = name or kernel.py_func.__name__
    t0 = time.perf_counter()
    try:
        with _compute_capability(cc):
            ptx, _ = cuda.compile_ptx(kernel.py_func, types, cc=cc)
    except Exception as e:
        raise KernelCompileError(f"kernel {name} does not compile for sm_{cc[0]}{cc[1]} "
                                 f"({type(e).__name__}): {e}") from None
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "kernel.ptx")
        with open(source, "w") as f:
            f.write(ptx)
        done = subprocess.run([_ptxas(), f"-arch=sm_{cc[0]}{cc[1]}", "-v", source, "-o",
                               os.path.join(tmp, "kernel.cubin")], capture_output=True,
                              text=True)
    if done.returncode:
        raise KernelCompileError(f"ptxas rejects kernel {name} for sm_{cc[0]}{cc[1]}: "
                                 f"{done.stderr[-2000:]}")
    info = done.stderr

    def number(pattern):
        found = re.search(pattern, info)
        return int(found.group(1)) if found else 0
    spills = number(r"(\d+) bytes spill stores") + number(r"(\d+) bytes spill loads")
    return (number(r"Used (\d+) registers"), number(r"(\d+) bytes stack frame"), spills,
            _param_bytes(ptx), time.perf_counter() - t0)


def build_kernels(backend, cc=H100):
    """Every kernel a RecordingBackend saw launched, compiled for ``cc``: a list of
    :class:`KernelBuild` in launch order.  Raises :class:`KernelCompileError` listing every
    kernel that does not compile."""
    builds, errors = [], []
    steps = max(backend.steps, 1)
    for (kernel, types), (threads, launches) in backend.launches.items():
        name = backend.kernel_name(kernel)
        try:
            built = build_kernel(kernel, types, cc, name)
        except KernelCompileError as e:
            errors.append(str(e))
            continue
        arrays = sum(isinstance(t, numba.types.Array) for t in types)
        builds.append(KernelBuild(name, threads, launches / steps, arrays, *built))
    if errors:
        raise KernelCompileError("\n".join(errors))
    return builds


def occupancy(registers, threads, sm_registers=65536, sm_threads=2048, sm_blocks=32):
    """The fraction of an SM's warps (64 on an H100) that blocks of ``threads`` threads using
    ``registers`` registers each can keep resident (registers allocated 256 per warp)."""
    warps = -(-threads // 32)
    per_warp = -(-max(registers, 1) * 32 // 256) * 256
    blocks = min(sm_blocks, sm_threads // (warps * 32), sm_registers // (per_warp * warps))
    return blocks * warps / (sm_threads // 32)
