"""Where a GPU step's time goes: each kernel launch of backend 'cuda' timed on the device
(a CUDA event before and after it) and on the host (the launch call itself: numba-cuda's
argument marshalling and the enqueue), summed by stage.

    with StageTimer(sim.backend) as timer:
        sim.run(sim.t + 1.0)
    timer.report(steps, compartments)

Used by ``bench_gpu.py --stages``.  Host times include nothing of the events' own
recording.  Where the host launches slower than the GPU runs, the time between a kernel's
events includes the GPU's wait for the launch: ``hold`` seconds of a sleeping kernel first
let the host queue every launch before the GPU starts on them (a first pass measures the
host's time, a second, so held, the GPU's).  Events cost the host a few microseconds each,
so the step's wall time is measured without them, separately.
"""

import functools
import os
import time
from collections import Counter, defaultdict

import numpy as np

STAGES = ("events", "ions", "assembly", "currents", "solve", "voltage", "states",
          "detection", "sampling")


def kernel_name(kernel):
    """The Python name of a numba.cuda kernel (its dispatcher, or the simulator's)."""
    function = getattr(kernel, "py_func", None) or getattr(kernel, "fn", None)
    return getattr(function, "__name__", type(kernel).__name__)


def stage_of(name):
    """The stage of the step (NEURON's order) a kernel belongs to."""
    if name == "deliver":
        return "events"
    if name.startswith(("nernst_", "zero_current_")):
        return "ions"
    if name == "assemble":
        return "assembly"
    if name.endswith("_current") or name in ("gap_junctions", "clamps"):
        return "currents"
    if name in ("dhs_solve", "interleaved_solve"):
        return "solve"
    if name == "set_voltage":
        return "voltage"
    if name.endswith("_advance"):
        return "states"
    if name == "detect":
        return "detection"
    if name.startswith("probe_"):
        return "sampling"
    return name


@functools.lru_cache(maxsize=None)
def _sleep():
    """A kernel that keeps the GPU busy for about its argument in microseconds."""
    from numba import cuda

    @cuda.jit
    def sleep(microseconds):
        for _ in range(microseconds):
            cuda.nanosleep(np.uint32(1000))      # PTX nanosleep takes a u32
    return sleep


def model_bytes(args, threads):
    """Bytes of the arrays a launch is given that scale with its threads (size at least
    half the threads: the model's per-node and per-instance arrays, not rate tables,
    spike buffers or probe rows), each counted once: a lower bound of its memory traffic."""
    total = 0
    for a in args:
        size = getattr(a, "size", None)
        if size is not None and not isinstance(a, (int, float)) and getattr(a, "ndim", 0) \
                and size >= threads / 2:
            total += int(a.nbytes)
    return total


class StageTimer:
    """Times every launch of ``backend`` while in a ``with`` block (see the module)."""

    def __init__(self, backend, hold=0.0):
        from numba import cuda
        self.cuda = cuda
        self.backend = backend
        self.hold = hold
        self.gpu = defaultdict(float)      # kernel name -> seconds on the device
        self.host = defaultdict(float)     # kernel name -> seconds in the launch call
        self.launches = Counter()
        self.arrays = Counter()            # array arguments marshalled
        self.bytes = Counter()             # model_bytes
        self._pending = []

    def __enter__(self):
        # kernel by kernel (no CUDA graph: its launches could not be timed one by one)
        self._graphs, self.backend.graphs = self.backend.graphs, False
        self._original = self.backend._run
        self.backend._run = self._run
        if self.hold > 0 and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
            _sleep()[1, 1, self.backend.stream](int(self.hold * 1e6))
        return self

    def __exit__(self, *exc):
        del self.backend._run              # the class's own again
        self.backend.graphs = self._graphs
        self.cuda.synchronize()
        for name, start, end in self._pending:
            self.gpu[name] += start.elapsed_time(end) * 1e-3      # ms
        self._pending = []

    def _run(self, kernel, blocks, threads, args):
        name = kernel_name(kernel)
        start, end = self.cuda.event(), self.cuda.event()
        stream = self.backend.stream
        start.record(stream)
        t0 = time.perf_counter()
        self._original(kernel, blocks, threads, args)
        self.host[name] += time.perf_counter() - t0
        end.record(stream)
        self._pending.append((name, start, end))
        n = blocks * (threads if isinstance(threads, int) else threads[0] * threads[1])
        self.launches[name] += 1
        self.arrays[name] += sum(1 for a in args if getattr(a, "ndim", 0))
        self.bytes[name] += model_bytes(args, n)

    def by_stage(self):
        """stage -> (device s, host s, launches, arrays, bytes), in the step's order."""
        rows = {}
        for name in self.launches:
            s = stage_of(name)
            old = rows.get(s, (0.0, 0.0, 0, 0, 0))
            rows[s] = (old[0] + self.gpu[name], old[1] + self.host[name],
                       old[2] + self.launches[name], old[3] + self.arrays[name],
                       old[4] + self.bytes[name])
        order = {s: i for i, s in enumerate(STAGES)}
        return dict(sorted(rows.items(), key=lambda kv: order.get(kv[0], len(order))))

    def totals(self, steps):
        """(device, host) seconds a step."""
        return sum(self.gpu.values()) / steps, sum(self.host.values()) / steps

    def report(self, steps, compartments, out=print):
        """A table: per stage, device and host microseconds per step, launches and arrays
        per step, and the bandwidth of model_bytes over the device time."""
        rows = self.by_stage()
        out(f"  {'stage':10s} {'GPU us/step':>11s} {'share':>6s} {'host us/step':>12s} "
            f"{'launch/step':>11s} {'arrays/step':>11s} {'GB/s (lower bound)':>18s}")
        gpu_total = sum(r[0] for r in rows.values())
        for stage, (gpu, host, launches, arrays, nbytes) in rows.items():
            out(f"  {stage:10s} {gpu / steps * 1e6:11.1f} {gpu / max(gpu_total, 1e-30):6.1%} "
                f"{host / steps * 1e6:12.1f} {launches / steps:11.1f} {arrays / steps:11.1f} "
                f"{nbytes / max(gpu, 1e-30) / 1e9:18.0f}")
        host_total = sum(r[1] for r in rows.values())
        nbytes = sum(r[4] for r in rows.values())
        out(f"  {'total':10s} {gpu_total / steps * 1e6:11.1f} {'':6s} "
            f"{host_total / steps * 1e6:12.1f} "
            f"{sum(r[2] for r in rows.values()) / steps:11.1f} "
            f"{sum(r[3] for r in rows.values()) / steps:11.1f} "
            f"{nbytes / max(gpu_total, 1e-30) / 1e9:18.0f}")
        out(f"  kernels alone: {compartments * steps / max(gpu_total, 1e-30):.3e} "
            f"compartment-steps/s; model bytes {nbytes / steps / compartments:.0f} B per "
            f"compartment-step")
        if host_total > 0.5 * gpu_total:
            out("  (the host launches about as slowly as the GPU runs: these GPU times "
                "include waits for launches, upper bounds)")
        return gpu_total / steps, host_total / steps
