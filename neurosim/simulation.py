"""Simulation: lower a model, initialise it as NEURON's finitialize does, and advance it.

``run(t)`` advances to the absolute time t (NEURON's continuerun, Arbor's run); calling it
again goes on from there.  Probes added with ``record`` sample from the current time on.
"""

import numpy as np

from .backends import make_backend
from .cell import Cell
from .errors import LocationError, NumericalInstabilityError, ParameterError
from .events import Connections, EventQueue, check_delays
from .lowering import artificial_tables, lower
from .network import Network
from .parallel import default_comm, partition
from .recipe import Recipe, build_network
from .validate import finite

METHODS = ("backward_euler", "crank_nicolson")
_MAX_BUFFER = 8_000_000      # floats held per kernel call before traces are collected
_MAX_SPIKES = 1_000_000      # spike-buffer entries a kernel call may need at worst


class Trace:
    """Samples of one probe: ``times`` (ms) and ``values`` as numpy arrays (read back from the
    file when the simulation streams to one: ``sim.stream_to``)."""

    def __init__(self, variable, location, cell, interval):
        self.variable = variable
        self.location = location
        self.cell = cell
        self.interval = interval
        self._times = []
        self._values = []
        self._sink = None

    def _append(self, times, values):
        if self._sink is not None:
            self._sink.append(np.asarray(times, dtype=float), np.asarray(values, dtype=float))
            return
        self._times.append(np.asarray(times, dtype=float))
        self._values.append(np.asarray(values, dtype=float))

    def _stream(self, sink):
        """From now on samples go to ``sink``; those held so far go first."""
        if self._times:
            sink.append(np.concatenate(self._times), np.concatenate(self._values))
        self._times, self._values, self._sink = [], [], sink

    @property
    def times(self):
        if self._sink is not None:
            return self._sink.read()[0]
        return np.concatenate(self._times) if self._times else np.zeros(0)

    @property
    def values(self):
        if self._sink is not None:
            return self._sink.read()[1]
        return np.concatenate(self._values) if self._values else np.zeros(0)

    def __len__(self):
        if self._sink is not None:
            return len(self._sink)
        return sum(len(t) for t in self._times)

    def __repr__(self):
        return (f"Trace({self.variable!r} at {self.location} of cell {self.cell}, "
                f"{len(self)} samples)")


class Spikes:
    """Recorded spikes: ``gids`` and ``times`` (ms) as numpy arrays, in time order."""

    def __init__(self, gids=None):
        self.only = None if gids is None else set(int(g) for g in gids)
        self._gids, self._times = [], []
        self._sink = None

    def _append(self, gids, times):
        if self.only is not None:
            keep = np.isin(gids, list(self.only))
            gids, times = gids[keep], times[keep]
        if self._sink is not None:
            self._sink.append(np.asarray(gids, dtype=np.int64), np.asarray(times, dtype=float))
            return
        self._gids.append(np.asarray(gids, dtype=np.int64))
        self._times.append(np.asarray(times, dtype=float))

    def _stream(self, sink):
        if self._gids:
            sink.append(np.concatenate(self._gids), np.concatenate(self._times))
        self._gids, self._times, self._sink = [], [], sink

    def _sorted(self):
        if self._sink is not None:
            g, t = self._sink.read()
        else:
            g = np.concatenate(self._gids) if self._gids else np.zeros(0, dtype=np.int64)
            t = np.concatenate(self._times) if self._times else np.zeros(0)
        order = np.lexsort((g, t))
        return g[order], t[order]

    @property
    def gids(self):
        return self._sorted()[0]

    @property
    def times(self):
        return self._sorted()[1]

    def __len__(self):
        if self._sink is not None:
            return len(self._sink)
        return sum(len(g) for g in self._gids)


class Simulation:
    """``ns.Simulation(model, dt=0.025, method="backward_euler", celsius=6.3, threads=1)``.

    ``model`` is a Cell, a list of Cells, a Network or a Recipe (described gid by gid).
    ``use_tables`` makes mechanisms with NEURON TABLE statements (hh) use NEURON's
    interpolation tables, as NEURON does by default.
    ``threads``: cell groups advance on this many threads (results do not depend on it).
    ``comm``: the ranks (``neurosim.parallel``; default: MPI under an MPI launcher with
    several ranks, else serial).  Each rank builds and runs its own share of the gids;
    spikes are exchanged after every call of the kernel, and every rank records every
    spike: the same results for any number of ranks.
    """

    def __init__(self, model, dt=0.025, method="backward_euler", celsius=6.3,
                 use_tables=True, backend="cpu", threads=1, comm=None):
        self.dt = finite("dt", dt, positive=True)
        self.celsius = finite("celsius", celsius)
        if method not in METHODS:
            raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) \
                or threads < 1:
            raise ParameterError(f"threads must be a positive integer, got {threads!r}")
        if isinstance(model, Recipe):
            self.network = build_network(model)
        elif isinstance(model, Network):
            self.network = model
        else:
            cells = [model] if isinstance(model, Cell) else list(model)
            if not cells or not all(isinstance(c, Cell) for c in cells):
                raise ParameterError("Simulation needs a Cell, a list of Cells, a Network or a "
                                     "Recipe")
            self.network = Network()
            for cell in cells:
                self.network.add_cells(cell)
        net = self.network
        if len(net.cells) == 0 and not net.artificial:
            raise ParameterError("the network has no cells")
        self.comm = default_comm() if comm is None else comm
        self.local = self._partition()                  # the gids this rank runs
        self.gids = np.array(sorted(g for g in net.cells if g in self.local),
                             dtype=np.int64)            # cell index -> gid
        self._index_of = {int(g): i for i, g in enumerate(self.gids)}
        self.cells = [net.cells[int(g)] for g in self.gids]
        # cells that read each other's voltage every step share a cell group (and a rank)
        coupled = [(self._index_of[a], self._index_of[b])
                   for a, _, b, _, _ in net.gap_junctions if a in self._index_of]
        coupled += [(self._index_of[g], self._index_of[src])
                    for g, _, _, src, _ in net.pointers if g in self._index_of]
        self.model = lower(self.cells, coupled)
        self.model.mechanisms += artificial_tables(
            {g: v for g, v in net.artificial.items() if g in self.local})
        self.backend = make_backend(backend, self.model, dt=self.dt, celsius=self.celsius,
                                    method=method, use_tables=use_tables, threads=int(threads))
        self._step = 0
        self._traces = []
        self._probes = []       # (trace, kind, index...) in row order
        self._spike_records = []
        self._stream = None             # an open io.stream.Stream (stream_to)
        self._setup_events()
        self.backend.initialize()

    def _partition(self):
        """This rank's gids (every gid on one rank); rank 0 prints a summary."""
        net = self.network
        if self.comm.size == 1:
            return set(net.cells) | set(net.artificial)
        owned, loads = partition(net, self.comm.size)
        if self.comm.rank == 0:
            print(f"neurosim: {len(net.cells) + len(net.artificial)} cells on "
                  f"{self.comm.size} ranks, cost per rank {loads.min():.0f}-{loads.max():.0f} "
                  f"(imbalance {loads.max() / max(loads.mean(), 1e-12) - 1:.1%})")
        return set(int(g) for g in owned[self.comm.rank])

    def _setup_events(self):
        """Detectors of the cells, the connection tables and the event queue."""
        net, model = self.network, self.model
        det = [(self._index_of[g], c.detector) for g, c in net.cells.items()
               if c.detector is not None and g in self._index_of]
        self.backend.set_detectors([model.locate(d[0], ci) for ci, d in det],
                                   [d[1] for _, d in det],
                                   [self.gids[ci] for ci, _ in det])
        target = {}
        for j, table in enumerate(self.backend.tables):      # the kernel's table numbering
            if table.labels is not None:
                for k, (ci, label) in enumerate(table.labels):
                    target[(ci, label)] = (j, k)
            if table.gids is not None:                      # artificial cells, by gid
                for k, gid in enumerate(table.gids):
                    target[("gid", int(gid))] = (j, k)
        gaps = [(model.locate(la, self._index_of[ga]), model.locate(lb, self._index_of[gb]), g)
                for ga, la, gb, lb, g in net.gap_junctions if ga in self._index_of]
        self.backend.set_gap_junctions([x[0] for x in gaps], [x[1] for x in gaps],
                                       [x[2] for x in gaps])
        self._set_pointers(target)
        src, tgt, labels, weights, delays = net.connections()
        check_delays(delays, self.dt)
        # epochs: no spike made during the run can reach a target sooner than the minimum
        # delay of the connections leaving cells (spike sources' times are known beforehand:
        # their events are queued before their epoch, whatever their delay); the same on
        # every rank
        made = ~np.isin(src, np.fromiter(net.spike_sources, dtype=np.int64))
        min_delay = float(delays[made].min()) if made.any() else np.inf
        if self.comm.size > 1:          # this rank's share: connections onto its gids
            mine = np.isin(tgt, np.fromiter(self.local, dtype=np.int64))
            src, tgt, delays = src[mine], tgt[mine], delays[mine]
            labels = [lab for lab, m in zip(labels, mine) if m]
            weights = [w for w, m in zip(weights, mine) if m]
        tables, insts = self._resolve_targets(target, tgt, labels)
        # one row per connection, a column per NET_RECEIVE argument of any target
        lengths = np.fromiter((len(w) for w in weights), dtype=np.int64, count=len(weights))
        width = max([int(lengths.max()) if len(lengths) else 1, 1] +
                    [len(t.mechanism.net_receive_args) for t in model.mechanisms])
        for j in np.unique(tables):
            mech = self.backend.tables[j].mechanism
            rows = np.flatnonzero(tables == j)
            if not mech.net_receive:
                c = rows[0]
                raise ParameterError(f"connection to gid {tgt[c]} synapse {labels[c]!r}: "
                                     f"{mech.name} has no NET_RECEIVE and cannot take events")
            too_many = rows[lengths[rows] > max(1, len(mech.net_receive_args))]
            if len(too_many):
                c = too_many[0]
                raise ParameterError(f"connection to gid {tgt[c]} synapse {labels[c]!r}: "
                                     f"{len(weights[c])} weights for {mech.name}'s NET_RECEIVE"
                                     f"{mech.net_receive_args}")
        wmat = np.zeros((len(src), width))
        if len(src) and np.all(lengths == 1):
            wmat[:, 0] = np.concatenate(weights)
        else:
            for c, w in enumerate(weights):
                wmat[c, :len(w)] = w
        self.connections = Connections(src, delays, tables, insts, wmat)
        for j, table in enumerate(self.backend.tables):       # FOR_NETCONS: rows by instance
            if table.mechanism.uses_for_netcons:
                rows = np.flatnonzero(np.asarray(tables, dtype=np.int64) == j)
                inst = np.asarray(insts, dtype=np.int64)[rows]
                order = np.argsort(inst, kind="stable")
                ptr = np.zeros(len(table.nodes) + 1, dtype=np.int64)
                np.add.at(ptr, inst + 1, 1)
                table.incoming = (np.cumsum(ptr), rows[order].astype(np.int64))
        self.backend.set_connections(self.connections.weights, self.connections.target_table,
                                     self.connections.target_instance)
        self.events = EventQueue(self.connections, self.dt)
        self.epoch_steps = max(1, int(np.floor(min_delay / self.dt + 1e-9))) \
            if np.isfinite(min_delay) else None
        # every spike-source spike in one time-sorted table, queued chunk by chunk
        trains = sorted(net.spike_sources.items())
        times = np.concatenate([t for _, t in trains] + [np.zeros(0)])
        gids = np.concatenate([np.full(len(t), g, dtype=np.int64) for g, t in trains] +
                              [np.zeros(0, dtype=np.int64)])
        order = np.lexsort((gids, times))
        self._source_times, self._source_gids = times[order], gids[order]
        self._source_next = 0          # index of the first source spike not yet queued

    def _resolve_targets(self, target, tgt, labels):
        """(table, instance) of every connection's target, label by label, without a Python
        step per connection: (cell index, label) for synapses, ("gid", gid) for artificial
        cells."""
        tables = np.full(len(tgt), -1, dtype=np.int64)
        insts = np.full(len(tgt), -1, dtype=np.int64)
        by_label = {}
        for c, label in enumerate(labels):
            by_label.setdefault(label, []).append(c)
        for label, rows in by_label.items():
            rows = np.asarray(rows, dtype=np.int64)
            gids, which = np.unique(tgt[rows], return_inverse=True)
            found = np.array([target[("gid", int(g)) if label is None else
                                     (self._index_of[int(g)], label)] for g in gids],
                             dtype=np.int64).reshape(len(gids), 2)
            tables[rows], insts[rows] = found[which, 0], found[which, 1]
        return tables, insts

    def _set_pointers(self, target):
        """Each POINTER's node; every POINTER of every instance must be set."""
        for gid, label, pointer, src, loc in self.network.pointers:
            if gid not in self._index_of:
                continue
            j, k = target[(self._index_of[gid], label)]
            table = self.backend.tables[j]
            row = table.mechanism.pointers.index(pointer)
            table.pointer_nodes[row, k] = self.model.locate(loc, self._index_of[src])
        for table in self.backend.tables:
            unset = np.argwhere(table.pointer_nodes < 0)
            if len(unset):
                row, k = unset[0]
                ci, label = table.labels[k]
                raise ParameterError(
                    f"POINTER {table.mechanism.pointers[row]} of {table.name} {label!r} on "
                    f"gid {self.gids[ci]} is not set: net.set_pointer(({self.gids[ci]}, "
                    f"{label!r}), {table.mechanism.pointers[row]!r}, (source_gid, location))")

    def weights(self):
        """The connections' weight vectors now, in connection order (rows: connections,
        columns: NET_RECEIVE arguments): plastic synapses change them during a run."""
        return self.connections.weights.copy()

    def record_spikes(self, gids=None):
        """Record the spikes of ``gids`` (default: every cell with a detector and every spike
        source) from now on; returns a Spikes object with ``.gids`` and ``.times``."""
        rec = Spikes(gids)
        if self._stream is not None:
            rec._stream(self._stream.spike_sink())
        self._spike_records.append(rec)
        return rec

    def stream_to(self, path):
        """Write every probe's samples and every spike record to the HDF5 file ``path`` as
        the run goes (``neurosim.io.stream``): memory then holds one epoch of samples, not
        the whole run, and the file is flushed after every epoch.  Traces and spike records
        read back from the file; ``close()`` closes it."""
        from neurosim.io.stream import Stream
        self.close()
        self._stream = Stream(path, dt=self.dt, celsius=self.celsius)
        for trace in self._traces:
            trace._stream(self._stream.trace_sink(trace))
        for rec in self._spike_records:
            rec._stream(self._stream.spike_sink())
        return self

    def close(self):
        """Close the file of ``stream_to``, if any (read it with ``neurosim.io.traces.
        read_traces``); traces and spike records go on in memory, empty."""
        if getattr(self, "_stream", None) is not None:
            for rec in self._traces + self._spike_records:
                rec._sink = None
            self._stream.close()
            self._stream = None

    # ------------------------------------------------------------------ time
    @property
    def t(self):
        return self._step * self.dt

    @property
    def n_compartments(self):
        return self.model.n_compartments

    # ------------------------------------------------------------------ probes
    def record(self, variable, location, cell=0, interval=None):
        """Record every ``interval`` ms (default dt), from now on.

        ``variable``: ``"v"``; an ion variable (``"cai"``, ``"ena"``, ``"ica"``); a state or
        assigned variable (a current, a conductance) of a mechanism, ``"m_hh"`` (NEURON style)
        or ``"hh.m"``.  ``location``: ``(section_id, x)``, or a point process's label, then
        ``variable`` names one of its variables (``sim.record("i", "syn", cell=3)``: the
        synapse's current, nA).  ``cell``: a gid, or a list of gids for one trace each (a list
        comes back).  A point neuron (an artificial cell) records a state (``"V_m"``) with
        location None."""
        interval = self.dt if interval is None else finite("interval", interval, positive=True)
        every = int(round(interval / self.dt))
        if every < 1 or abs(every * self.dt - interval) > 1e-9 * max(1.0, interval):
            raise ParameterError(f"record interval {interval} ms must be a multiple of "
                                 f"dt = {self.dt} ms")
        if np.ndim(cell):
            traces = [self._add_probe(variable, location, int(g), every) for g in cell]
        else:
            traces = self._add_probe(variable, location, int(cell), every)
        self._set_probes()
        return traces

    def _add_probe(self, variable, location, gid, every):
        if gid not in self.local and (gid in self.network.cells or
                                      gid in self.network.artificial):
            # another rank's gid: it records there; this rank's trace stays empty
            return Trace(variable, location, gid, every * self.dt)
        if gid in self.network.artificial:
            j, row, inst = self._find_artificial(variable, gid)
            probe, trace = ("state", j, row, inst), Trace(variable, None, gid, every * self.dt)
        elif gid not in self._index_of:
            raise ParameterError(f"cell {gid} is not a cell of the network")
        elif isinstance(location, str):
            j, row, inst = self._find_labelled(variable, gid, location)
            probe, trace = ("state", j, row, inst), Trace(variable, location, gid,
                                                           every * self.dt)
        else:
            node = self.model.locate(location, self._index_of[gid])
            trace = Trace(variable, tuple(location), gid, every * self.dt)
            ion_field = self._ion_field(variable)
            if variable == "v":
                probe = ("v", node)
            elif ion_field is not None:
                probe = ("ion", *ion_field, node)
            else:
                probe = ("state", *self._find_variable(variable, node, location))
        if self._stream is not None:
            trace._stream(self._stream.trace_sink(trace))
        trace._append([self.t], [self._probe_value(probe)])
        self._probes.append((trace, every, probe))
        self._traces.append(trace)
        return trace

    def _probe_value(self, probe):
        if probe[0] == "v":
            return self.backend.v[probe[1]]
        if probe[0] == "ion":
            return self.backend.ions[probe[1]][probe[2]][probe[3]]
        _, j, row, inst = probe
        table = self.backend.tables[j]
        return table.states[row, inst] if row >= 0 else table.assigned[-1 - row, inst]

    def _find_artificial(self, variable, gid):
        for j, table in enumerate(self.backend.tables):
            if table.gids is not None and gid in table.gids:
                row = table.mechanism.resolve_variable(variable.split(".")[-1])
                return j, row, int(np.flatnonzero(table.gids == gid)[0])
        raise ParameterError(f"gid {gid} is not an artificial cell")

    def _find_labelled(self, variable, gid, label):
        ci = self._index_of[gid]
        for j, table in enumerate(self.backend.tables):
            if table.labels is None:
                continue
            for k, (c, lab) in enumerate(table.labels):
                if c == ci and lab == label:
                    return j, table.mechanism.resolve_variable(variable.split(".")[-1]), k
        raise LocationError(f"cell {gid} has no point process labelled {label!r} (a location "
                            "is (section_id, x) or a point process's label)")

    def _set_probes(self):
        probes = list(enumerate(p for _, _, p in self._probes))
        self.backend.set_probes([(r, p[1]) for r, p in probes if p[0] == "v"],
                                [(r,) + p[1:] for r, p in probes if p[0] == "state"],
                                [(r,) + p[1:] for r, p in probes if p[0] == "ion"])

    def _ion_field(self, variable):
        """(ion, field index) for an ion variable such as ``cai``, ``ena`` or ``ica``."""
        from .codegen import ION_FIELDS
        for ion in self.backend.ions:
            names = {f"e{ion}": "e", f"{ion}i": "ci", f"{ion}o": "co", f"i{ion}": "i"}
            if variable in names:
                return ion, ION_FIELDS.index(names[variable])
        return None

    def _find_variable(self, variable, node, location):
        if "." in variable:
            mech_name, state = variable.split(".", 1)
        elif "_" in variable:
            state, mech_name = variable.rsplit("_", 1)
        else:
            raise ParameterError(f"cannot record {variable!r}: use 'v', 'state_mech' (NEURON "
                                 "style, e.g. 'm_hh') or 'mech.state'")
        for j, table in enumerate(self.backend.tables):
            if table.name == mech_name:
                row = table.mechanism.resolve_variable(state)
                hit = np.flatnonzero(table.nodes == node)
                if len(hit) == 0:
                    raise ParameterError(f"cannot record {variable!r}: mechanism "
                                         f"{mech_name!r} is not inserted at {location}")
                return j, row, int(hit[0])
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
        # the spike buffer holds a call's worst case: a detector crossing every second
        # step, an artificial cell spiking twice a step; a call is kept short enough
        n_det = len(self.backend.det_node)
        if n_det:
            chunk = min(chunk, max(2, 2 * _MAX_SPIKES // n_det))
        if self.backend.n_artificial:
            chunk = min(chunk, max(1, _MAX_SPIKES // (2 * self.backend.n_artificial)))
        chunk = self.comm.min(chunk)    # every rank makes the same calls (and exchanges)
        try:
            self._run_to(target, chunk, rows, every)
        except Exception as err:
            if self.comm.size > 1:      # the other ranks would wait in the next exchange
                self.comm.abort(f"{type(err).__name__}: {err}")
            raise
        return self

    def _run_to(self, target, chunk, rows, every):
        while self._step < target:
            # a call never crosses an epoch boundary: spikes of this epoch reach their
            # targets in a later one, so the cell groups are independent within it
            end = min(target, self._step + chunk)
            if self.epoch_steps is not None:
                end = min(end, (self._step // self.epoch_steps + 1) * self.epoch_steps)
            self._queue_source_spikes(end)
            events = self.events.pop_before(end)
            n = end - self._step
            count = np.zeros(max(rows, 1), dtype=np.int64)
            out = np.empty((max(rows, 1), n // int(every.min()) + 1))
            done, code = self.backend.advance(self._step, n, every, count, out, events)
            if code >= 0:           # the state is lost: stop at the failing step
                v = self.backend.v[code]
                self._step += done
                raise NumericalInstabilityError(
                    f"numerical blow-up at t = {self.t:.6g} ms: "
                    f"v = {v:.6g} mV at node {code} ({self.model.describe_node(code)}); "
                    "reduce dt or check parameters")
            self._collect(self._step, n, every, count, out)
            self._step = end
            self._take_spikes()
            if self._stream is not None:
                self._stream.flush()

    def _take_spikes(self):
        gids, times, exact = self.comm.allgather_spikes(*self.backend.take_spikes())
        if len(gids):
            self.events.push_spikes(gids[~exact], times[~exact])
            self.events.push_spikes(gids[exact], times[exact], detected=False)
            for rec in self._spike_records:
                rec._append(gids, times)

    def _queue_source_spikes(self, end_step):
        """Spike-source spikes before the end of this call become events (and are recorded)."""
        stop = int(np.searchsorted(self._source_times, end_step * self.dt, side="left"))
        if stop > self._source_next:
            sl = slice(self._source_next, stop)
            g, t = self._source_gids[sl], self._source_times[sl]
            self.events.push_spikes(g, t, detected=False)
            for rec in self._spike_records:
                rec._append(g, t)
            self._source_next = stop

    def _collect(self, step0, done, every, count, out):
        for r, (trace, e, _) in enumerate(self._probes):
            k = int(count[r])
            if k:
                first = (step0 // e + 1) * e
                trace._append((first + e * np.arange(k)) * self.dt, out[r, :k].copy())
