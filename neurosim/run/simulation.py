"""Simulation: lower a model, initialise it as NEURON's finitialize does, and advance it.

``run(t)`` advances to the absolute time t (NEURON's continuerun, Arbor's run); calling it
again goes on from there.  Probes added with ``record`` sample from the current time on.
Here: building (lowering, the backend, the event tables) and state; what it records is
:mod:`neurosim.run.probes`, how it advances :mod:`neurosim.run.stepping`.
"""

import numpy as np

from neurosim.backends import make_backend, node_order
from neurosim.description.cell import Cell
from neurosim.description.network import Network
from neurosim.description.recipe import Recipe, build_network
from neurosim.errors import ParameterError
from neurosim.lowering import pointers
from neurosim.lowering.cells import artificial_tables, discretized_once, lower, streams_at_load
from neurosim.lowering.connections import by_source, check_delays, nest_stamps, nest_timing
from neurosim.lowering.memory import check, estimate
from neurosim.lowering.network import lower_network
from neurosim.lowering.partition import build_local, owner_of, partition
from neurosim.providers import provided
from neurosim.run import checkpoint as checkpoints
from neurosim.run.events import EventQueue
from neurosim.run.parallel import SpikeRoute, default_comm, on_every_rank
from neurosim.run.probes import Probes
from neurosim.run.sinks import Elsewhere
from neurosim.run.stepping import Stepping
from neurosim.validate import finite

METHODS = ("backward_euler", "crank_nicolson")
EXCHANGES = ("auto", "allgather", "alltoall")
SPIKE_TIMES = ("step", "interpolated")


class Simulation(Probes, Stepping):
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
        with discretized_once():    # partition, memory estimate, lowering: one discretisation
            self._build(model, dt, method, celsius, use_tables, backend, threads, exchange,
                        overlap, precision, force)

    @on_every_rank
    def _build(self, model, dt, method, celsius, use_tables, backend, threads, exchange,
               overlap, precision, force):
        self._check_settings(dt, method, celsius, threads, exchange, backend, precision)
        self._settings = dict(use_tables=use_tables, backend=backend, exchange=exchange,
                              overlap=overlap, precision=precision)   # for a checkpoint
        extra = {"precision": precision} if backend == "cuda" else {}
        owned, loads = self._take_network(model)
        net = self.network
        self._lower_cells(owned, backend, force)
        # the network onto the model, before any backend: detectors, junctions, POINTERs,
        # connections and drives addressed in the model's numbering
        edges = self._local_edges(net)
        min_delay = self._choose_exchange(net, edges, exchange, overlap)
        events = lower_network(net, self.model, self.gids, edges,
                               [d for d in net.drives if d.gid in self.local], self.dt)
        self.connections = events.connections
        self._conn_sources = edges[0]                   # to find the rows' order again
        del edges
        self.backend = make_backend(backend, self.model, dt=self.dt, celsius=self.celsius,
                                    method=method, use_tables=use_tables, threads=int(threads),
                                    **extra)
        self.backend.load_network(events)
        if self.comm.size > 1:
            self._summary(owned, loads)
        self._step = 0
        self._traces = []
        self._probes = []       # (trace, kind, index...) in row order
        self._spike_records = []
        self._stream = None             # an open recording stream (stream_to)
        self._signal = 0                # a signal received during run (SIGINT, SIGTERM)
        self._setup_events(min_delay)
        self.backend.initialize()
        if self._compiled_epochs():     # its kernel loaded (or compiled) now, not in run
            self._run_epochs(np.zeros(0, dtype=np.int64), 0, np.ones(1, dtype=np.int64))

    def _check_settings(self, dt, method, celsius, threads, exchange, backend, precision):
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
        if precision != "float64" and backend != "cuda":
            raise ParameterError(f"precision={precision!r} is for backend='cuda'; the CPU "
                                 "backend computes in float64")

    def _take_network(self, model):
        """``self.network`` from the model given (a Recipe is built gid by gid: on several
        ranks only this rank's share); returns every rank's gids and each rank's load."""
        if isinstance(model, Recipe) and self.comm.size > 1:
            self.network, owned, loads = build_local(model, self.comm)
            return owned, loads
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
        if len(self.network.cells) == 0 and not self.network.artificial:
            raise ParameterError("the network has no cells")
        return self._partition()

    def _lower_cells(self, owned, backend, force):
        """This rank's gids and cells, lowered into ``self.model`` in the node order
        ``backend`` needs; the memory a model needs checked first (unless ``force``)."""
        net = self.network
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
            # the description's own share is in memory already: only the rest is needed
            held = net.connection_bytes() * share // max(net.n_connections, 1)
            need = estimate(self.cells, len(self.local) - len(self.cells), share)
            check(max(need - held, 0), self.comm)
        cells = {id(c): c for c in net.cells.values()}.values()
        used = [x.mechanism for c in cells for x in getattr(c, "inserts", []) +
                getattr(c, "synapses", [])] + [m for m, _ in net.artificial.values()]
        used = {m.name: m for m in used}.values()
        self.model = lower(self.cells, coupled, streams=streams_at_load(used),
                           node_order=node_order(backend))
        self.model.mechanisms += artificial_tables(
            {g: v for g, v in net.artificial.items() if g in self.local}, self.model.streams)
        for t in self.model.mechanisms:
            if t.mechanism.uses_net_event:   # its net_event is a spike of its cell's gid
                t.event_gids = self.gids[self.model.node_cell[t.nodes]].astype(np.int64)
        # the kind of variable each POINTER points at shapes the kernel: bound before it
        pointers.bind(net, self.model.mechanisms, self.local)

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

    def _setup_events(self, min_delay):
        """The event queue, the epochs (``min_delay``: of the connections leaving cells),
        the spike sources' spikes and step currents."""
        net = self.network
        self.events = EventQueue(self.connections, self.dt)
        self.epoch_steps = max(1, int(np.floor(min_delay / self.dt + 1e-9))) \
            if np.isfinite(min_delay) else None
        self._ring = None               # the compiled event queue (neurosim.kernels.epochs)
        self._epoch_calls = 0           # kernel calls that ran compiled epochs
        self._setup_source_spikes(net)
        self._setup_step_currents(net)

    def _local_edges(self, net):
        """This rank's connections as columns (src, tgt, codes, labels, weights, delays)."""
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
        return src, tgt, codes, labels, weights, delays

    def _choose_exchange(self, net, edges, exchange, overlap):
        """The spike exchange between ranks and whether it overlaps the steps; returns the
        epoch's length (ms): the minimum delay, halved when overlapping."""
        src, tgt, delays = edges[0], edges[1], edges[5]
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
        return min_delay

    def _setup_source_spikes(self, net):
        """Every spike-source spike in one time-sorted table, queued chunk by chunk."""
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
                self.model.kernel_tables[j].states[row, inst] = value
            at += 1
        return steps[at] if at < len(steps) else None

    @on_every_rank
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

    @on_every_rank
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

    @on_every_rank
    def stream_to(self, path):
        """Write every probe's samples and every spike record to the HDF5 file ``path`` as
        the run goes (the "recording stream" provider, ``neurosim.io.stream`` unless another
        is provided; ``neurosim.run.sinks``): memory then holds one epoch of samples, not
        the whole run, and the file is flushed after every epoch.  Traces and spike records
        read back from the file; ``close()`` closes it.  Under MPI rank 0 writes the file,
        with every rank's samples; on the other ranks records read back empty."""
        self.close()
        self._stream = provided("recording stream")(path, dt=self.dt, celsius=self.celsius) \
            if self.comm.rank == 0 else Elsewhere()
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
