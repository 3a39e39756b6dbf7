"""Simulation: lower a model, initialise it as NEURON's finitialize does, and advance it.

``run(t)`` advances to the absolute time t (NEURON's continuerun, Arbor's run); calling it
again goes on from there.  Probes added with ``record`` sample from the current time on.
"""

import numpy as np

from .backends import make_backend
from .cell import Cell
from .errors import NumericalInstabilityError, ParameterError
from .lowering import lower
from .validate import finite

METHODS = ("backward_euler", "crank_nicolson")
_MAX_BUFFER = 8_000_000      # floats held per kernel call before traces are collected


class Trace:
    """Samples of one probe: ``times`` (ms) and ``values`` as numpy arrays."""

    def __init__(self, variable, location, cell, interval):
        self.variable = variable
        self.location = location
        self.cell = cell
        self.interval = interval
        self._times = []
        self._values = []

    def _append(self, times, values):
        self._times.append(np.asarray(times, dtype=float))
        self._values.append(np.asarray(values, dtype=float))

    @property
    def times(self):
        return np.concatenate(self._times) if self._times else np.zeros(0)

    @property
    def values(self):
        return np.concatenate(self._values) if self._values else np.zeros(0)

    def __len__(self):
        return sum(len(t) for t in self._times)

    def __repr__(self):
        return (f"Trace({self.variable!r} at {self.location} of cell {self.cell}, "
                f"{len(self)} samples)")


class Simulation:
    """``ns.Simulation(cell, dt=0.025, method="backward_euler", celsius=6.3)``.

    ``model`` is a Cell or a list of Cells.  ``use_tables`` makes mechanisms with NEURON TABLE
    statements (hh) use NEURON's interpolation tables, as NEURON does by default.
    """

    def __init__(self, model, dt=0.025, method="backward_euler", celsius=6.3,
                 use_tables=True, backend="cpu"):
        self.dt = finite("dt", dt, positive=True)
        self.celsius = finite("celsius", celsius)
        if method not in METHODS:
            raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        cells = [model] if isinstance(model, Cell) else list(model)
        if not cells or not all(isinstance(c, Cell) for c in cells):
            raise ParameterError("Simulation needs a Cell or a list of Cells")
        self.cells = cells
        self.model = lower(cells)
        self.backend = make_backend(backend, self.model, dt=self.dt, celsius=self.celsius,
                                    method=method, use_tables=use_tables)
        self._step = 0
        self._traces = []
        self._probes = []       # (trace, kind, index...) in row order
        self.backend.initialize()

    # ------------------------------------------------------------------ time
    @property
    def t(self):
        return self._step * self.dt

    @property
    def n_compartments(self):
        return self.model.n_compartments

    # ------------------------------------------------------------------ probes
    def record(self, variable, location, cell=0, interval=None):
        """Record ``"v"``, an ion variable (``"cai"``, ``"ena"``, ``"ica"``) or a mechanism
        state (``"m_hh"`` or ``"hh.m"``) at
        ``location = (section_id, x)`` of cell ``cell`` every ``interval`` ms (default dt)."""
        if not 0 <= int(cell) < len(self.cells):
            raise ParameterError(f"cell {cell} does not exist (there are {len(self.cells)})")
        interval = self.dt if interval is None else finite("interval", interval, positive=True)
        every = int(round(interval / self.dt))
        if every < 1 or abs(every * self.dt - interval) > 1e-9 * max(1.0, interval):
            raise ParameterError(f"record interval {interval} ms must be a multiple of "
                                 f"dt = {self.dt} ms")
        node = self.model.locate(location, cell)
        trace = Trace(variable, tuple(location), int(cell), every * self.dt)
        ion_field = self._ion_field(variable)
        if variable == "v":
            probe = ("v", node)
            value = self.backend.v[node]
        elif ion_field is not None:
            ion, k = ion_field
            probe = ("ion", ion, k, node)
            value = self.backend.ions[ion][k][node]
        else:
            j, state, inst = self._find_state(variable, node, location)
            probe = ("state", j, state, inst)
            value = self.backend.tables[j].states[state, inst]
        trace._append([self.t], [value])
        self._probes.append((trace, every, probe))
        self._traces.append(trace)
        probes = list(enumerate(p for _, _, p in self._probes))
        self.backend.set_probes([(r, p[1]) for r, p in probes if p[0] == "v"],
                                [(r,) + p[1:] for r, p in probes if p[0] == "state"],
                                [(r,) + p[1:] for r, p in probes if p[0] == "ion"])
        return trace

    def _ion_field(self, variable):
        """(ion, field index) for an ion variable such as ``cai``, ``ena`` or ``ica``."""
        from .codegen import ION_FIELDS
        for ion in self.backend.ions:
            names = {f"e{ion}": "e", f"{ion}i": "ci", f"{ion}o": "co", f"i{ion}": "i"}
            if variable in names:
                return ion, ION_FIELDS.index(names[variable])
        return None

    def _find_state(self, variable, node, location):
        if "." in variable:
            mech_name, state = variable.split(".", 1)
        elif "_" in variable:
            state, mech_name = variable.rsplit("_", 1)
        else:
            raise ParameterError(f"cannot record {variable!r}: use 'v', 'state_mech' (NEURON "
                                 "style, e.g. 'm_hh') or 'mech.state'")
        for j, table in enumerate(self.backend.tables):
            if table.name == mech_name:
                s = table.mechanism.resolve_state(state)
                hit = np.flatnonzero(table.nodes == node)
                if len(hit) == 0:
                    raise ParameterError(f"cannot record {variable!r}: mechanism "
                                         f"{mech_name!r} is not inserted at {location}")
                return j, s, int(hit[0])
        raise ParameterError(f"cannot record {variable!r}: no mechanism {mech_name!r} in the "
                             f"model (present: {[t.name for t in self.backend.tables]})")

    # ------------------------------------------------------------------ running
    def run(self, t_stop):
        """Advance to absolute time ``t_stop`` (ms)."""
        t_stop = finite("t_stop", t_stop)
        target = int(round(t_stop / self.dt))
        if target < self._step:
            raise ParameterError(f"run({t_stop}): the simulation is already at t = {self.t} ms")
        rows = len(self._probes)
        every = np.array([e for _, e, _ in self._probes] or [1], dtype=np.int64)
        chunk = max(1, min(target - self._step, _MAX_BUFFER // max(rows, 1)))
        while self._step < target:
            n = min(chunk, target - self._step)
            slots = n // int(every.min()) + 1
            count = np.zeros(max(rows, 1), dtype=np.int64)
            out = np.empty((max(rows, 1), slots))
            done, bad = self.backend.advance(self._step, n, every, count, out)
            self._collect(self._step, done, every, count, out)
            self._step += done
            if bad >= 0:
                v = self.backend.v[bad]
                raise NumericalInstabilityError(
                    f"numerical blow-up at t = {self.t:.6g} ms: v = {v:.6g} mV at node {bad} "
                    f"({self.model.describe_node(bad)}); reduce dt or check parameters")
        return self

    def _collect(self, step0, done, every, count, out):
        for r, (trace, e, _) in enumerate(self._probes):
            k = int(count[r])
            if k:
                first = (step0 // e + 1) * e
                trace._append((first + e * np.arange(k)) * self.dt, out[r, :k].copy())
