"""Simulation: lower a model, initialise it as NEURON's finitialize does, and advance it.

``run(t)`` advances to the absolute time t (NEURON's continuerun, Arbor's run); calling it
again goes on from there.  Probes added with ``record`` sample from the current time on.
"""

import functools
import signal
import sys
import threading

import numpy as np

from neurosim.backends import make_backend
from neurosim.description.cell import Cell
from neurosim.description.network import Network
from neurosim.description.recipe import Recipe, build_network
from neurosim.errors import LocationError, NumericalInstabilityError, ParameterError
from neurosim.kernels import epochs
from neurosim.kernels.codegen import ION_FIELDS
from neurosim.lowering import pointers, wiring
from neurosim.lowering.cells import artificial_tables, lower, streams_at_load
from neurosim.lowering.connections import (by_source, check_delays, check_lead_delays, nest_stamps,
                                           nest_timing)
from neurosim.lowering.memory import check, estimate
from neurosim.lowering.partition import build_local, owner_of, partition
from neurosim.mechanisms.random123 import N_VARS, Random123
from neurosim.run import checkpoint as checkpoints
from neurosim.run.events import EventQueue
from neurosim.run.extracellular import Ecp, transfer_matrix
from neurosim.run.parallel import SpikeRoute, default_comm
from neurosim.run.recording import Spikes, Trace, share
from neurosim.validate import finite

METHODS = ("backward_euler", "crank_nicolson")
_MAX_BUFFER = 8_000_000      # floats held per kernel call before traces are collected
_MAX_SPIKES = 1_000_000      # spike-buffer entries a kernel call may need at worst
_MAX_STEPS = 4096            # steps per kernel call at most: a signal is answered soon
EXCHANGES = ("auto", "allgather", "alltoall")


def _state_or_param(j, row, inst):
    """The probe of a mechanism variable (``Mechanism.resolve_variable``'s row): a state or
    assigned variable the kernel samples, or a parameter no block writes (a constant, as
    NEURON records a synapse's ``tau1``)."""
    if isinstance(row, tuple):
        return ("param", j, row[1], inst)
    return ("state", j, row, inst)


def _on_every_rank(method):
    """A method every rank calls at the same point: an error on one rank ends every rank
    (message once, non-zero exit) instead of leaving the others waiting in a collective."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as err:
            if self.comm.size > 1:
                self.comm.abort(f"{type(err).__name__}: {err}")
            raise
    return guarded


SPIKE_TIMES = ("step", "interpolated")


class Simulation:
    """``ns.Simulation(model, dt=0.025, method="backward_euler", celsius=6.3, threads=1)``.

    ``model`` is a Cell, a list of Cells, a Network or a Recipe (described gid by gid).
    ``use_tables`` makes mechanisms with NEURON TABLE statements (hh) use NEURON's
    interpolation tables, as NEURON does by default.
    ``threads``: cell groups advance on this many threads (results do not depend on it).
    ``backend``: "cpu", or "cuda" (numba.cuda kernels on CuPy arrays; ``precision``
    "float64" or "float32" there).
    ``comm``: the ranks (``neurosim.run.parallel``; default: MPI under an MPI launcher with
    several ranks, else serial).  Each rank builds and runs its own share of the gids (of a
    Recipe, it describes only those); spikes are exchanged after every call of the kernel:
    ``exchange`` "allgather", "alltoall" (to the ranks holding targets only) or "auto" (the
    one moving fewer bytes); ``overlap=True`` sends a call's spikes while the next call
    computes (calls half as long; it pays where an exchange costs a noticeable part of a
    call).  ``spike_times``: "step" (default) stamps a threshold crossing with the time at
    the end of the step that holds it, and its events leave then, as NEURON's fixed-step
    run does by default; "interpolated" records the crossing linearly interpolated within
    the step and its events leave at that time (NEURON's ``cvode.condition_order(2)``).
    An artificial cell's net_event is its exact time either way.  After each ``run`` spike
    records hold every rank's spikes and rank 0 every trace: the same results for any number
    of ranks.  Every rank must make the same calls (record, run, stream_to, checkpoint) in the
    same order.  The memory a model needs is estimated before anything is allocated
    (``neurosim.lowering.memory``) and a model that does not fit the machine is refused;
    ``force=True`` goes on anyway.
    """

    def __init__(self, model, dt=0.025, method="backward_euler", celsius=6.3,
                 use_tables=True, backend="cpu", threads=1, comm=None, exchange="auto",
                 overlap=False, precision="float64", force=False, spike_times="step"):
        self.comm = default_comm() if comm is None else comm
        if spike_times not in SPIKE_TIMES:
            raise ParameterError(f"spike_times must be one of {SPIKE_TIMES}, got "
                                 f"{spike_times!r}")
        self.spike_times = spike_times
        self._build(model, dt, method, celsius, use_tables, backend, threads, exchange,
                    overlap, precision, force)

    @_on_every_rank
    def _build(self, model, dt, method, celsius, use_tables, backend, threads, exchange,
               overlap, precision, force):
        self.dt = finite("dt", dt, positive=True)
        self.celsius = finite("celsius", celsius)
        if method not in METHODS:
            raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) \
                or threads < 1:
            raise ParameterError(f"threads must be a positive integer, got {threads!r}")
        if exchange not in EXCHANGES:
            raise ParameterError(f"exchange must be one of {EXCHANGES}, got {exchange!r}")
        self._settings = dict(use_tables=use_tables, backend=backend, exchange=exchange,
                              overlap=overlap, precision=precision)   # for a checkpoint
        if precision != "float64" and backend != "cuda":
            raise ParameterError(f"precision={precision!r} is for backend='cuda'; the CPU "
                                 "backend computes in float64")
        extra = {"precision": precision} if backend == "cuda" else {}
        owned = None
        if isinstance(model, Recipe) and self.comm.size > 1:
            self.network, owned, loads = build_local(model, self.comm)
        elif isinstance(model, Recipe):
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
        if owned is None:
            if len(net.cells) == 0 and not net.artificial:
                raise ParameterError("the network has no cells")
            owned, loads = self._partition()
        self.owner = owner_of(owned, 1 + max(int(max(o, default=-1)) for o in owned))
        self.local = set(int(g) for g in owned[self.comm.rank])   # the gids this rank runs
        self.gids = np.array(sorted(g for g in net.cells if g in self.local),
                             dtype=np.int64)            # cell index -> gid
        self._index_of = {int(g): i for i, g in enumerate(self.gids)}
        self.cells = [net.cells[int(g)] for g in self.gids]
        # cells that read each other's voltage every step share a cell group (and a rank)
        coupled = [(self._index_of[a], self._index_of[b])
                   for a, _, b, _, _ in net.gap_junctions if a in self._index_of]
        coupled += [(self._index_of[g], self._index_of[src])
                    for g, _, _, src, _ in net.pointers if g in self._index_of]
        if not force:                   # refused before anything large is allocated
            share = net.n_connections // self.comm.size
            check(estimate(self.cells, len(self.local) - len(self.cells), share), self.comm)
        cells = {id(c): c for c in net.cells.values()}.values()
        used = [x.mechanism for c in cells for x in getattr(c, "inserts", []) +
                getattr(c, "synapses", [])] + [m for m, _ in net.artificial.values()]
        used = {m.name: m for m in used}.values()
        self.model = lower(self.cells, coupled, streams=streams_at_load(used))
        self.model.mechanisms += artificial_tables(
            {g: v for g, v in net.artificial.items() if g in self.local}, self.model.streams)
        for t in self.model.mechanisms:
            if t.mechanism.uses_net_event:   # its net_event is a spike of its cell's gid
                t.event_gids = self.gids[self.model.node_cell[t.nodes]].astype(np.int64)
        # the kind of variable each POINTER points at shapes the kernel: bound before it
        pointers.bind(net, self.model.mechanisms, self.local)
        self.backend = make_backend(backend, self.model, dt=self.dt, celsius=self.celsius,
                                    method=method, use_tables=use_tables, threads=int(threads),
                                    **extra)
        if self.comm.size > 1:
            self._summary(owned, loads)
        self._step = 0
        self._traces = []
        self._probes = []       # (trace, kind, index...) in row order
        self._spike_records = []
        self._stream = None             # an open io.stream.Stream (stream_to)
        self._signal = 0                # a signal received during run (SIGINT, SIGTERM)
        self._setup_events(exchange, overlap)
        self.backend.initialize()
        if self._compiled_epochs():     # its kernel loaded (or compiled) now, not in run
            self._run_epochs(np.zeros(0, dtype=np.int64), 0, np.ones(1, dtype=np.int64))

    def _summary(self, owned, loads):
        """One line at start (rank 0): cells, compartments, the load per rank."""
        nodes = self.comm.allgather(int(self.model.n_compartments))
        if self.comm.rank == 0:
            print(f"neurosim: {sum(len(o) for o in owned)} cells, {sum(nodes)} compartments "
                  f"on {self.comm.size} ranks ({min(nodes)}-{max(nodes)} per rank), cost per "
                  f"rank {loads.min():.0f}-{loads.max():.0f} (imbalance "
                  f"{loads.max() / max(loads.mean(), 1e-12) - 1:.1%})", flush=True)

    def _partition(self):
        """Every rank's gids (each gid on one rank) and each rank's load."""
        net = self.network
        if self.comm.size == 1:
            gids = np.array(sorted(set(net.cells) | set(net.artificial)), dtype=np.int64)
            return [gids], np.ones(1)
        return partition(net, self.comm.size)

    def _setup_events(self, exchange, overlap):
        """Detectors of the cells, the connection tables, the event queue and the routes of
        spikes between ranks."""
        net, model = self.network, self.model
        det = [(self._index_of[g], c.detector) for g, c in net.cells.items()
               if c.detector is not None and g in self._index_of]
        self.backend.set_detectors([model.locate(d[0], ci) for ci, d in det],
                                   [d[1] for _, d in det],
                                   [self.gids[ci] for ci, _ in det])
        target = wiring.point_processes(self.backend.tables)
        gaps = [(model.locate(la, self._index_of[ga]), model.locate(lb, self._index_of[gb]), g)
                for ga, la, gb, lb, g in net.gap_junctions if ga in self._index_of]
        self.backend.set_gap_junctions([x[0] for x in gaps], [x[1] for x in gaps],
                                       [x[2] for x in gaps])
        pointers.set_indices(net, model, self.backend.tables, target, self._index_of,
                             self.gids)
        # the network's columns, not copies: a connection costs ~24 bytes here beyond the
        # network's own (no int64 sorts, no object labels, no per-connection temporaries)
        src, tgt, codes, labels, weights, delays = net._edges.columns()
        # where this rank's connections stand in the whole network's connection order: the
        # index when every rank holds the whole Network (None: the identity); a Recipe lists
        # them target gid by target gid (build_network), so there the order is the targets'
        self._conn_order = None if net.remote_kinds is None else tgt
        if self.comm.size > 1:          # this rank's share: connections onto its gids
            mine = np.isin(tgt, np.fromiter(self.local, dtype=np.int64))
            self._conn_order = np.flatnonzero(mine) if self._conn_order is None else \
                self._conn_order[mine]
            src, tgt, delays = src[mine], tgt[mine], delays[mine]
            codes, weights = codes[mine], weights[mine]
        # epochs: no spike made during the run can reach a target sooner than the minimum
        # delay of the connections leaving cells (spike sources' times are known beforehand:
        # their events are queued before their epoch, whatever their delay); the same on
        # every rank
        made = ~np.isin(src, np.fromiter(net.spike_sources, dtype=np.int64)) \
            if net.spike_sources else np.ones(len(src), dtype=bool)
        # a spike source's events may take less than a step (even 0 ms): its spikes are
        # queued before the call that delivers them; a cell's spike leaves after its step
        check_delays(delays, self.dt, made, src, tgt)
        min_delay = self.comm.min(float(np.min(delays, where=made, initial=np.inf)))
        self.route = None               # Allgatherv
        if self.comm.size > 1 and exchange != "allgather":
            route = SpikeRoute(self.comm, self.owner, src[made])
            # Alltoallv where each spike goes to at most half the ranks on average
            if exchange == "alltoall" or \
                    route.mean_destinations(self.comm) <= self.comm.size / 2:
                self.route = route
        del made
        self.exchange = "allgather" if self.route is None else "alltoall"
        # overlap: a call's spikes travel while the next call computes, so calls last half
        # the minimum delay (the spikes of call k reach targets in call k + 2 at the soonest)
        self.overlap = bool(overlap) and self.comm.size > 1 and self.route is None and \
            np.isfinite(min_delay) and min_delay >= 2 * self.dt * (1 - 1e-9)
        self._in_flight = None          # the exchange started after the last call
        self._capacity = 64             # spikes per rank sent without a second message
        if self.overlap:
            min_delay /= 2
        # the kernel's connection rows (sorted by source) and Poisson drives
        rows = wiring.connection_rows((src, tgt, codes, labels, weights, delays),
                                      [d for d in net.drives if d[0] in self.local],
                                      self.backend.tables, target, self._index_of, net.seed,
                                      self.dt)
        n = len(rows.connections)
        self.backend.set_connections(rows.weights, rows.tables, rows.instances)
        self.backend.set_drives(rows.drive_rows, rows.tables[n:], rows.instances[n:],
                                rows.drive_mean, rows.drive_key, rows.drive_first,
                                rows.drive_end)
        for j, csr in rows.incoming.items():
            self.backend.tables[j].incoming = csr
        self.connections = rows.connections
        check_lead_delays(self.connections, self.dt,
                          [t.mechanism.name for t in self.backend.tables])
        self._conn_sources = src                        # to find the rows' order again
        self.events = EventQueue(self.connections, self.dt)
        self.epoch_steps = max(1, int(np.floor(min_delay / self.dt + 1e-9))) \
            if np.isfinite(min_delay) else None
        self._ring = None               # the compiled event queue (neurosim.kernels.epochs)
        self._epoch_calls = 0           # kernel calls that ran compiled epochs
        # every spike-source spike in one time-sorted table, queued chunk by chunk
        trains = sorted(net.spike_sources.items())
        times = np.concatenate([t for _, t in trains] + [np.zeros(0)])
        gids = np.concatenate([np.full(len(t), g, dtype=np.int64) for g, t in trains] +
                              [np.zeros(0, dtype=np.int64)])
        order = np.lexsort((gids, times))
        self._source_times, self._source_gids = times[order], gids[order]
        # NEST's spike_generator (precise_times, as PointNet sets it) stamps a spike at the
        # end of the step holding it; its NEST point-neuron targets ignore the offset
        timing = nest_timing(net)
        self._source_sent = self._source_times if timing is None else \
            nest_stamps(self._source_times, self.dt, precise=timing == "nest")
        self._source_next = 0          # index of the first source spike not yet queued
        self._setup_step_currents(net)

    def _setup_step_currents(self, net):
        """Step currents onto point neurons: NEST's step_current_generator takes an
        amplitude of time k dt in the step before; its CurrentEvent, delay one step, is read
        at the end of step k: the neuron's y0 holds it from step k + 1 on (checked against
        NEST).  A table (step -> (table, instance, y0)) applied between calls."""
        changes = {}
        for gids, times, amps in getattr(net, "step_currents", []):
            steps = np.trunc(times * 1000.0 + 0.5).astype(np.int64)    # Time::ms, in tics
            per = int(round(self.dt * 1000.0))
            if np.any(steps % per):
                raise ParameterError(f"step current times {times[steps % per != 0][:3]} are "
                                     f"not on the dt = {self.dt} ms grid")
            for g in gids.tolist():
                if g not in self.local:
                    continue
                for k, amp in zip((steps // per + 1).tolist(), amps.tolist()):
                    changes.setdefault(k, []).append((g, amp, id(times)))
        if changes and type(self.backend).__module__ != "neurosim.backends.cpu.backend":
            raise ParameterError("step currents onto point neurons run on the CPU backend "
                                 "only, for now")
        # the current of a neuron at a change step: the sum over its generators of each one's
        # latest amplitude
        self._current_steps, self._current_sets = [], []
        latest = {}
        for k in sorted(changes):
            touched = set()
            for g, amp, gen in changes[k]:
                latest[(g, gen)] = amp
                touched.add(g)
            sets = []
            for g in sorted(touched):
                j, row, inst = self._find_artificial("y0", g)
                total = 0.0
                for (g2, _), a in latest.items():
                    if g2 == g:
                        total += a
                sets.append((j, row, inst, total))
            self._current_steps.append(k)
            self._current_sets.append(sets)

    def _apply_step_currents(self):
        """Set the currents due at this step; the next step a current changes at."""
        steps = self._current_steps
        if not steps:
            return None
        at = int(np.searchsorted(steps, self._step, side="left"))
        if at < len(steps) and steps[at] == self._step:
            self.backend.host()
            for j, row, inst, value in self._current_sets[at]:
                self.backend.tables[j].states[row, inst] = value
            at += 1
        return steps[at] if at < len(steps) else None

    @_on_every_rank
    def checkpoint(self, path, extra=None):
        """Save the whole state to the HDF5 file ``path`` (``neurosim.run.checkpoint``):
        ``Simulation.restore(path)`` goes on from here, bitwise as if never stopped."""
        return checkpoints.save(self, path, extra)

    @classmethod
    def restore(cls, path, threads=1, comm=None, mechanisms=()):
        """The simulation saved by ``checkpoint(path)``, at its time, ready to ``run`` on
        (on as many ranks as wrote it; ``threads`` as you like).  The file holds data only:
        mechanisms are found by name among the built-in and registered ones, or in
        ``mechanisms`` (the Mechanism objects a model used without registering them)."""
        return checkpoints.restore(cls, path, threads=threads, comm=comm,
                                   mechanisms=mechanisms)

    @_on_every_rank
    def weights(self):
        """The connections' weight vectors now, in connection order (rows: connections,
        columns: NET_RECEIVE arguments): plastic synapses change them during a run.  Under
        MPI every rank gets all of them (a collective)."""
        rows = self.connections.weights
        w = np.empty_like(rows)
        w[by_source(self._conn_sources)[1]] = rows      # rows are by source: back in order
        if self.comm.size == 1:
            return w
        parts = self.comm.allgather((self._conn_order, w))
        width = max(p[1].shape[1] for p in parts)
        order = np.concatenate([p[0] for p in parts])
        out = np.zeros((len(order), width))
        rows = np.concatenate([np.pad(p[1], ((0, 0), (0, width - p[1].shape[1])))
                               for p in parts])
        out[:] = rows[np.argsort(order, kind="stable")]
        return out

    @_on_every_rank
    def record_spikes(self, gids=None):
        """Record the spikes of ``gids`` (default: every cell with a detector and every spike
        source) from now on; returns a Spikes object with ``.gids`` and ``.times``."""
        rec = Spikes(gids)
        if self._stream is not None:
            rec._stream(self._stream.spike_sink())
        self._spike_records.append(rec)
        return rec

    @_on_every_rank
    def stream_to(self, path):
        """Write every probe's samples and every spike record to the HDF5 file ``path`` as
        the run goes (``neurosim.io.stream``): memory then holds one epoch of samples, not
        the whole run, and the file is flushed after every epoch.  Traces and spike records
        read back from the file; ``close()`` closes it.  Under MPI rank 0 writes the file,
        with every rank's samples; on the other ranks records read back empty."""
        from neurosim.io.stream import Elsewhere, Stream
        self.close()
        self._stream = Stream(path, dt=self.dt, celsius=self.celsius) if self.comm.rank == 0 \
            else Elsewhere()
        for trace in self._traces:
            if trace.owned or self.comm.rank == 0:
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
    @_on_every_rank
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
        if gid not in self.local and gid not in self.network.spike_sources and \
                self.network.knows(gid):
            # another rank's gid: it records there and sends the samples to rank 0
            trace = Trace(variable, None if location is None else
                          location if isinstance(location, str) else tuple(location),
                          gid, every * self.dt, owned=False)
            if self._stream is not None and self.comm.rank == 0:
                trace._stream(self._stream.trace_sink(trace))
            self._traces.append(trace)
            return trace
        if gid in self.network.artificial:
            j, row, inst = self._find_artificial(variable, gid)
            probe, trace = _state_or_param(j, row, inst), Trace(variable, None, gid,
                                                                 every * self.dt)
        elif gid not in self._index_of:
            raise ParameterError(f"cell {gid} is not a cell of the network")
        elif isinstance(location, str):
            j, row, inst = self._find_labelled(variable, gid, location)
            probe, trace = (_state_or_param(j, row, inst), Trace(variable, location, gid,
                                                                  every * self.dt))
        else:
            node = self.model.locate(location, self._index_of[gid])
            trace = Trace(variable, tuple(location), gid, every * self.dt)
            ion_field = self._ion_field(variable)
            if variable == "v":
                probe = ("v", node)
            elif variable == "i_membrane_":
                probe = ("imem", node)
            elif ion_field is not None:
                probe = ("ion", *ion_field, node)
            else:
                probe = _state_or_param(*self._find_variable(variable, node, location))
        if self._stream is not None:
            trace._stream(self._stream.trace_sink(trace))
        self.backend.host()                     # a GPU's state, for the first sample
        trace._append([self.t], [self._probe_value(probe)])
        self._probes.append((trace, every, probe))
        self._traces.append(trace)
        return trace

    def _probe_value(self, probe):
        if probe[0] == "v":
            return self.backend.v[probe[1]]
        if probe[0] == "imem":
            return self.backend.imem[probe[1]]
        if probe[0] == "ion":
            return self.backend.ions[probe[1]][probe[2]][probe[3]]
        if probe[0] == "param":
            return self.backend.tables[probe[1]].params[probe[2], probe[3]]
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
        imem = [(r, p[1]) for r, p in probes if p[0] == "imem"]
        if imem or hasattr(self.backend, "set_imem_probes"):
            if not hasattr(self.backend, "set_imem_probes"):
                raise ParameterError("i_membrane_ is recorded on the CPU backend only")
            self.backend.set_imem_probes(imem)
        self.backend.set_probes([(r, p[1]) for r, p in probes if p[0] == "v"],
                                [(r,) + p[1:] for r, p in probes if p[0] == "state"],
                                [(r,) + p[1:] for r, p in probes if p[0] == "ion"])

    def random(self, variable, location=None, cell=0):
        """The RANDOM stream ``variable`` (``"rng_mech"``, NEURON style, or ``"mech.rng"``) of
        the instance at ``location`` (``(section_id, x)``, a point process's label, or None
        for an artificial cell) of ``cell``: a :class:`~neurosim.Random123` that reads and
        writes the simulation's stream, as NEURON's ``seg.mech.rng``: ``set_ids``,
        ``set_seq``, ``get_ids``, ``get_seq``, ``uniform``, or given to the mechanism's
        FUNCTIONs (``mech.function("f")(rng=stream)``).  On this process's cells."""
        if "." in variable:
            mech_name, name = variable.split(".", 1)
        else:                   # rng_mech: the longest mechanism name that ends it
            mech_name = max([t.name for t in self.backend.tables
                             if variable.endswith("_" + t.name)], key=len, default="")
            name = variable[:-len(mech_name) - 1]
        gid = int(cell)
        if gid in self.network.artificial:
            where = [(j, t.gids == gid) for j, t in enumerate(self.backend.tables)
                     if t.gids is not None]
        elif isinstance(location, str):
            ci = self._index_of[gid]
            where = [(j, np.array([lab == (ci, location) for lab in t.labels]))
                     for j, t in enumerate(self.backend.tables) if t.labels is not None]
        else:
            node = self.model.locate(location, self._index_of[gid])
            where = [(j, t.nodes == node) for j, t in enumerate(self.backend.tables)]
        where = [(j, np.flatnonzero(hit)) for j, hit in where
                 if self.backend.tables[j].name == mech_name and np.any(hit)]
        if not where:
            raise ParameterError(f"no mechanism {mech_name!r} at {location!r} of cell {gid}")
        j, inst = where[0][0], int(where[0][1][0])
        table = self.backend.tables[j]
        mech = table.mechanism
        if name not in mech.randoms:
            raise ParameterError(f"mechanism {mech.name!r} has no RANDOM {name!r}; it has "
                                 f"{list(mech.randoms)}")
        row = list(mech.parameters).index(f"{name}_id1")
        return Random123(state=table.params[row:row + N_VARS, inst])

    def _ion_field(self, variable):
        """(ion, field index) for an ion variable such as ``cai``, ``ena`` or ``ica``."""
        for ion in self.backend.ions:
            names = {f"e{ion}": "e", f"{ion}i": "ci", f"{ion}o": "co", f"i{ion}": "i"}
            if variable in names:
                return ion, ION_FIELDS.index(names[variable])
        return None

    def _find_variable(self, variable, node, location):
        if variable == "i_membrane":
            raise ParameterError("cannot record 'i_membrane', the current density of NEURON's "
                                 "extracellular mechanism (mA/cm2): neurosim records the total "
                                 "membrane current 'i_membrane_' (nA)")
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

    @_on_every_rank
    def record_ecp(self, electrodes, gids=None, interval=None, sigma=0.3, positions=None,
                   rotations=None, minimum_distance=None):
        """Record the extracellular potential (mV) at ``electrodes`` ((channels, 3), µm)
        every ``interval`` ms (default dt) from the next step on: the line-source sum of the
        membrane currents of cells ``gids`` (default all), as bmtk's extracellular module
        computes it (``neurosim.run.extracellular``).  ``sigma``: conductivity (S/m);
        ``positions``/``rotations``: gid -> soma position (default the network's) / angles
        about x, y, z (radians).  Returns an ``Ecp`` with ``times`` and ``data``
        (samples, channels).  One ECP per simulation; CPU backend, one rank."""
        if not hasattr(self.backend, "set_ecp"):
            raise ParameterError("record_ecp runs on the CPU backend only")
        if self.comm.size > 1:
            raise ParameterError("record_ecp runs on one rank only")
        if getattr(self, "_ecp", None) is not None:
            raise ParameterError("this simulation records an ECP already")
        interval = self.dt if interval is None else finite("interval", interval, positive=True)
        every = int(round(interval / self.dt))
        if every < 1 or abs(every * self.dt - interval) > 1e-9 * max(1.0, interval):
            raise ParameterError(f"ecp interval {interval} ms must be a multiple of "
                                 f"dt = {self.dt} ms")
        sigma = finite("sigma", sigma, positive=True)
        tr = transfer_matrix(self, electrodes, gids, sigma, positions, rotations,
                             minimum_distance)
        self._ecp = Ecp(np.atleast_2d(np.asarray(electrodes, dtype=float)), tr,
                        every * self.dt, every)
        self.backend.set_ecp(tr, every)
        return self._ecp

    # ------------------------------------------------------------------ running
    @_on_every_rank
    def run(self, t_stop, viewer=None):
        """Advance to absolute time ``t_stop`` (ms).  ``viewer``: show the run as it goes
        (a ``neurosim.viz.live.LiveView``, made on every rank; anything with an
        ``interval`` in ms and a collective ``frame()``)."""
        t_stop = finite("t_stop", t_stop)
        if viewer is not None:
            return self._run_viewed(t_stop, viewer)
        target = int(round(t_stop / self.dt))
        if target < self._step:
            raise ParameterError(f"run({t_stop}): the simulation is already at t = {self.t} ms")
        rows = len(self._probes)
        every = np.array([e for _, e, _ in self._probes] or [1], dtype=np.int64)
        span = max(1, min(target - self._step, _MAX_BUFFER // max(rows, 1)))
        ecp = getattr(self, "_ecp", None)
        if ecp is not None:     # each group's ECP samples of a call: keep them bounded
            per_sample = self.backend.n_groups * max(1, len(ecp.electrodes))
            span = min(span, max(ecp.every, _MAX_BUFFER // per_sample * ecp.every))
        span = self.comm.min(min(span, _MAX_STEPS))     # every rank makes the same calls
        # the spike buffer holds the worst case of the steps between two spike exchanges:
        # a detector crossing every second step, an artificial cell spiking twice a step
        chunk = span
        n_det = len(self.backend.det_node)
        if n_det:
            chunk = min(chunk, max(2, 2 * _MAX_SPIKES // n_det))
        if self.backend.n_artificial:
            chunk = min(chunk, max(1, _MAX_SPIKES // (2 * self.backend.n_artificial)))
        chunk = self.comm.min(chunk)
        handlers = self._catch_signals()
        try:
            self._run_to(target, span, chunk, rows, every)
        except Exception:
            if self.comm.size == 1:     # what was recorded until the error stays readable
                share(self.comm, self._traces, self._spike_records, False)
            raise
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        if self._stream is None:        # streamed records were shared call by call
            share(self.comm, self._traces, self._spike_records, False)
        return self

    def _run_viewed(self, t_stop, viewer):
        """Run in stretches of the viewer's interval, a frame after each (on the grid of
        interval multiples, so frames fall at the same times however runs are split)."""
        while self.t < t_stop - 0.5 * self.dt:
            nxt = (np.floor(self.t / viewer.interval + 1e-9) + 1.0) * viewer.interval
            self.run(min(t_stop, nxt))
            viewer.frame()
        return self

    def _catch_signals(self):
        """SIGINT and SIGTERM stop the run at the end of the current kernel call, on every
        rank at the same step (they agree in the spike exchange): recordings stay complete
        to there.  The handlers in place before are given back after the run; a signal
        noted in ``_signal`` before the run (by a caller's handler) stops it at once."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def note(signum, frame):
            self._signal = signum
        return {signum: signal.signal(signum, note) for signum in (signal.SIGINT,
                                                                    signal.SIGTERM)}

    def _stop_on_signal(self):
        """Raise, on every rank, for a signal received on any: KeyboardInterrupt for SIGINT
        (as Python does), SystemExit(128 + signal) for SIGTERM; the message once (rank 0)."""
        signum = self._signal or signal.SIGTERM      # another rank's signal: say SIGTERM
        self._signal = 0                             # answered: a later run goes on
        message = (f"neurosim: {signal.Signals(signum).name}: run stopped at t = {self.t:g} "
                   f"ms on every rank; recordings are complete to there")
        if self._stream is not None:
            self._stream.flush()
        else:
            share(self.comm, self._traces, self._spike_records, False)
        if signum == signal.SIGINT and self.comm.rank == 0:
            raise KeyboardInterrupt(message)
        if self.comm.rank == 0:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        raise SystemExit(128 + int(signum))

    def _exchange_after(self, step, limit, chunk):
        """The next step after ``step`` where spikes become events: ``chunk`` steps on (the
        spike buffer's reach), an epoch's end (no spike of an epoch reaches its targets
        within it, so the cell groups are independent within it) or ``limit``."""
        end = min(limit, step + chunk)
        if self.epoch_steps is not None:
            end = min(end, (step // self.epoch_steps + 1) * self.epoch_steps)
        return end

    def _exchange_points(self, limit, span, chunk):
        """The exchange points of one kernel call of at most ``span`` steps (at least one
        point) from the current step: the compiled epochs' call runs through them all, the
        Python path calls the kernel once per point."""
        ends, step = [], self._step
        while step < limit:
            end = self._exchange_after(step, limit, chunk)
            if ends and end - self._step > span:
                break
            ends.append(end)
            step = end
        return np.array(ends, dtype=np.int64)

    def _run_to(self, target, span, chunk, rows, every):
        while self._step < target:
            limit = target
            change = self._apply_step_currents()
            if change is not None and change > self._step:
                limit = min(limit, change)
            if self._compiled_epochs():
                self._run_epochs(self._exchange_points(limit, span, chunk), rows, every)
                continue
            end = self._exchange_after(self._step, limit, chunk)
            self._queue_source_spikes(end)
            events = self.events.pop_before(end)
            n = end - self._step
            count = np.zeros(max(rows, 1), dtype=np.int64)
            out = np.empty((max(rows, 1), n // int(every.min()) + 1))
            done, code = self.backend.advance(self._step, n, every, count, out, events)
            if code >= 0:           # the state is lost: stop at the failing step
                v = self.backend.v[code]
                # the samples and spikes of the steps before it stay: the traces hold
                # the run up to the last good step
                self._collect(self._step, n, every, count, out, until=self._step + done)
                if self.comm.size == 1:
                    self._take_spikes()
                self._step += done
                raise NumericalInstabilityError(
                    f"numerical blow-up at t = {self.t:.6g} ms: "
                    f"v = {v:.6g} mV at node {code} ({self.model.describe_node(code)}); "
                    "reduce dt or check parameters")
            self._collect(self._step, n, every, count, out)
            if getattr(self, "_ecp", None) is not None:
                e = self._ecp.every
                data = self.backend.take_ecp()
                first = (self._step // e + 1) * e
                self._ecp._append((first + e * np.arange(len(data))) * self.dt, data)
            self._step = end
            stop = self._take_spikes()
            if self._stream is not None:
                share(self.comm, self._traces, self._spike_records, True)
                self._stream.flush()
            if stop:
                self._finish_exchange()
                self._stop_on_signal()
        if self._finish_exchange():
            self._stop_on_signal()

    def _compiled_epochs(self):
        """Whether kernel calls run many epochs, the events between them in compiled code
        (``neurosim.kernels.epochs``).  That pays where steps are cheap next to the events, in
        networks of point neurons and artificial cells (no cable cells); it needs one rank
        (no exchange), a backend that has it and no ECP (whose samples are taken per
        call)."""
        return (self.comm.size == 1 and not self.cells and self.epoch_steps is not None
                and getattr(self.backend, "advance_epochs", None) is not None
                and getattr(self, "_ecp", None) is None)

    def _epoch_network(self):
        """What the compiled epochs read: the connection rows, each (table, instance)'s
        cell group, the spike sources' times; and an empty queue whose ring spans an epoch
        and the longest delay."""
        c, groups = self.connections, self.backend.inst_group
        start = np.cumsum([0] + [len(g) for g in groups]).astype(np.int64)
        flat = np.concatenate([np.asarray(g, dtype=np.int64) for g in groups] +
                              [np.zeros(0, dtype=np.int64)])
        longest = float(c.delay.max(initial=0.0))
        ring = self.epoch_steps + int(np.ceil(longest / self.dt)) + 4
        net = (c.ptr, c.delay, c.target_table, c.target_instance, c.lead, flat, start,
               self._source_times, np.asarray(self._source_sent, dtype=float),
               self._source_gids)
        return net, epochs.new_queue(ring)

    def _run_epochs(self, ends, rows, every):
        """One kernel call from the current step through the exchange points ``ends``
        (none: nothing runs, the kernel is loaded), with the event queue moved into the
        compiled ring and back."""
        if self._ring is None:
            self._net, self._ring = self._epoch_network()
        queue = self._ring
        counters = queue[5]
        counters[epochs.BASE] = self._step
        counters[epochs.ORDER] = self.events.next_order
        counters[epochs.SOURCE] = self._source_next
        counters[epochs.RECORDS] = 0
        queue = epochs.file_events(queue, *self.events.take_all())
        end = int(ends[-1]) if len(ends) else self._step
        n = end - self._step
        count = np.zeros(max(rows, 1), dtype=np.int64)
        out = np.empty((max(rows, 1), n // int(every.min()) + 1))
        queue, records, done, code = self.backend.advance_epochs(
            self._step, ends, every, count, out, queue, np.zeros((2, 1024), dtype=np.int64),
            self.spike_times == "step", self._net)
        self._ring = queue
        self._epoch_calls += len(ends) > 0
        counters = queue[5]
        self.events._file(*epochs.all_pending(queue))
        self.events.next_order = int(counters[epochs.ORDER])
        self._source_next = int(counters[epochs.SOURCE])
        n_rec = int(counters[epochs.RECORDS])
        gids = records[0, :n_rec].copy()
        times = records[1, :n_rec].copy().view(np.float64)
        for rec in self._spike_records:
            rec._append(gids, times)
        self._collect(self._step, n, every, count, out,
                      until=None if code < 0 else self._step + done)
        if code >= 0:
            self._step += done
            v = self.backend.v[code]
            raise NumericalInstabilityError(
                f"numerical blow-up at t = {self.t:.6g} ms: "
                f"v = {v:.6g} mV at node {code} ({self.model.describe_node(code)}); "
                "reduce dt or check parameters")
        self._step = end
        if self._stream is not None:
            share(self.comm, self._traces, self._spike_records, True)
            self._stream.flush()
        if self._signal:
            self._stop_on_signal()

    def _take_spikes(self):
        """Record this call's spikes and send them to the ranks that need them (their
        events are queued once they arrive); whether any rank received a signal."""
        gids, times, exact = self.backend.take_spikes()
        if self.spike_times == "step":      # the step's end, where the kernel interpolated
            times = np.where(exact, times, np.ceil(times / self.dt - 1e-9) * self.dt)
        else:                               # events leave at the interpolated crossing
            exact = np.ones(len(gids), dtype=bool)
        spikes = (gids, times, exact)
        for rec in self._spike_records:
            rec._append(spikes[0], spikes[1])
        if self.overlap:
            stop = self._finish_exchange()          # the last call's: queued in time
            self._in_flight = self.comm.start_exchange(spikes, self._signal, self._capacity)
            return stop
        received, stop = self.comm.exchange_spikes(spikes, self._signal, self.route)
        self._queue_events(received)
        return stop

    def _finish_exchange(self):
        """Wait for the exchange in flight, if any, and queue its events."""
        if self._in_flight is None:
            return False
        received, stop, largest = self._in_flight.finish()
        self._in_flight = None
        self._capacity = max(64, 1 << int(2 * largest).bit_length())   # same on every rank
        self._queue_events(received)
        return stop

    def _queue_events(self, spikes):
        """Queue the events of spikes received, numbered in the order they were sent: by
        the time sent (a detected spike leaves at the end of its step); at one time, exact
        (net_event) spikes first, as they came (a rank's in the order its cells emitted
        them, ranks in rank order), then detected spikes by gid (the same for any number of
        ranks)."""
        gids, times, exact = spikes
        if len(gids):
            sent = np.where(exact, times, np.ceil(times / self.dt - 1e-9) * self.dt)
            order = np.lexsort((np.arange(len(gids)), np.where(exact, -1, gids), sent))
            self.events.push_spikes(gids[order], sent[order], detected=False)

    def _queue_source_spikes(self, end_step):
        """Spike-source spikes before the end of this call become events (every rank knows
        them; rank 0 records them)."""
        stop = int(np.searchsorted(self._source_times, end_step * self.dt, side="left"))
        if stop > self._source_next:
            sl = slice(self._source_next, stop)
            g, t = self._source_gids[sl], self._source_times[sl]
            self.events.push_spikes(g, self._source_sent[sl], detected=False)
            if self.comm.rank == 0:
                for rec in self._spike_records:
                    rec._append(g, t)
            self._source_next = stop

    def _collect(self, step0, done, every, count, out, until=None):
        """The samples a call took (those of steps after ``until`` dropped)."""
        for r, (trace, e, probe) in enumerate(self._probes):
            k = int(count[r])
            if probe[0] == "param":     # a constant: sampled here, not by the kernel
                k = (step0 + done) // e - step0 // e
                out[r, :k] = self._probe_value(probe)
            if k:
                first = (step0 // e + 1) * e
                steps = first + e * np.arange(k)
                if until is not None:
                    k = int(np.sum(steps <= until))
                    steps = steps[:k]
                trace._append(steps * self.dt, out[r, :k].copy())
