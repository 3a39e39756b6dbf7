"""A test harness for the GPU's mechanism kernels alone: launches the generated
``numba.cuda`` kernels of every mechanism of a LoweredModel, phase by phase, on device arrays
(NumPy arrays under Numba's CUDA simulator), so a test can step them around a host cable
solve and compare with the CPU (tests/backends/test_cuda_kernels.py).  The GPU backend
itself is neurosim.backends.cuda.backend."""

import numpy as np

from neurosim.kernels.codegen import ions_of
from neurosim.kernels.codegen_cuda import load_cuda_kernels
from neurosim.lowering.cells import split_static

_R, _FARADAY = 8.31446261815324, 96485.33212331001


def _launch(kernel, n, *args):
    if n == 0:
        return
    threads = min(128, n)
    kernel[(n + threads - 1) // threads, threads](*args)


class CudaMechanisms:
    def __init__(self, model, *, dt, celsius, use_tables=True, to_device=np.asarray):
        self.model, self.dt, self.celsius = model, float(dt), float(celsius)
        self.tables, self.d_static, self.rhs_static = split_static(model)
        mechs = [t.mechanism for t in self.tables]
        self.aux = [t.mechanism.aux_arrays(self.celsius, use_tables) for t in self.tables]
        self.kernels = load_cuda_kernels(mechs, [list(a) for a in self.aux])
        dev = to_device
        self.ions = {ion: [dev(model.ions[ion].e.copy()), dev(model.ions[ion].ci.copy()),
                           dev(model.ions[ion].co.copy()), dev(np.zeros(model.n_nodes)),
                           dev(model.ions[ion].nernst), model.ions[ion].valence]
                     for ion in ions_of(mechs)}
        self.mech_arrays = []
        for t, aux in zip(self.tables, self.aux):
            arrays = [dev(t.nodes), dev(t.params), dev(t.states.copy()), dev(t.assigned.copy()),
                      dev(np.zeros((2 * len(t.mechanism.cnexp), len(t.nodes))))]
            if t.mechanism.uses_net_send:
                arrays += [dev(a.copy()) for a in t.self_event]
            if t.mechanism.pointers:
                arrays.append(dev(t.pointer_nodes))
            self.mech_arrays.append(arrays + [dev(a) for a in aux.values()])
        self.area = dev(model.area)
        self.clock = np.zeros(1, dtype=np.int64)         # the step (kernels read it)

    def _ion_args(self, mech):
        return [a for ion in ions_of([mech]) for a in self.ions[ion]]

    def _nernst(self):
        ktf = 1000.0 * _R * (self.celsius + 273.15) / _FARADAY
        for ion, arrays in sorted(self.ions.items()):
            _launch(getattr(self.kernels, f"nernst_{ion}"), len(arrays[4]), ktf, *arrays)

    def _phase(self, phase, v, step, shift, extra=()):
        """The kernels of ``phase`` at time (step + shift) dt."""
        self.clock[0] = step
        for j, arrays in enumerate(self.mech_arrays):
            kernel = getattr(self.kernels, f"m{j}_{phase}", None)
            if kernel is not None:
                _launch(kernel, len(self.tables[j].nodes), v, self.clock, shift, self.dt,
                        self.celsius, self.area, *extra,
                        *self._ion_args(self.tables[j].mechanism), *arrays)

    def initialize(self, v):
        self._nernst()
        self._phase("init", v, 0, 0.0)

    def currents(self, v, step, rhs, d):
        """Add every mechanism's current at the middle of ``step`` into ``rhs`` and its
        conductance into ``d`` (the v-solving form of the CPU kernel: rhs += g v - i)."""
        self._nernst()
        for ion, arrays in sorted(self.ions.items()):
            _launch(getattr(self.kernels, f"zero_current_{ion}"), len(arrays[3]), arrays[3])
        self._phase("current", v, step, 0.5, (rhs, d))

    def advance(self, v, step):
        """The states over ``step``, to its end."""
        self._phase("advance", v, step, 1.0)

    def states(self, j):
        return self.mech_arrays[j][2]
