"""Network: gids for cells and spike sources, and the connections between them.

    net = ns.Network(seed=1)
    gids = net.add_cells(cell, n=100)          # one template, many gids
    stim = net.add_spike_source([1.0, 7.5], targets=[(gids[0], "syn")], weight=0.1, delay=1.0)
    net.connect(gids[0], (gids[1], "syn"), weight=0.01, delay=5.0)

A connection carries a spike of its source gid (a cell's detector, or a spike source) to a
point process ``label`` on its target cell after ``delay`` ms, with ``weight`` (a number, or a
vector for a NET_RECEIVE with several arguments).  Weights and delays are in NEURON's units
(µS for conductance synapses, ms).
"""

import numpy as np

from neurosim.description import pointers
from neurosim.description.cell import Cell
from neurosim.description.connectivity import (STREAM_CONNECT, STREAM_DELAY, STREAM_SPIKES,
                                               STREAM_WEIGHT, inhomogeneous_poisson_times,
                                               poisson_times, rng, values)
from neurosim.description.edges import Edges
from neurosim.description.items import DriveRecord, GapJunctionRecord, PointerBinding
from neurosim.errors import ParameterError
from neurosim.mechanisms import Mechanism
from neurosim.validate import finite

# what a gid is, as every rank learns it before the network is split (Network.remote_kinds)
CELL, CELL_WITHOUT_DETECTOR, ARTIFICIAL, SOURCE = 0, 1, 2, 3


class Network:
    def __init__(self, seed=0):
        self.seed = int(seed)
        self.cells = {}                  # gid -> Cell (a template may serve many gids)
        self.spike_sources = {}          # gid -> sorted spike times (ms)
        self.artificial = {}             # gid -> (mechanism, parameters): ARTIFICIAL_CELLs
        self.positions = {}              # gid -> (x, y, z) µm, where given
        self.gap_junctions = []          # GapJunctionRecord (.items)
        self.pointers = []               # PointerBinding (.items; pointers.parse)
        self.drives = []                 # DriveRecord (.items)
        # one rank's part of a network (recipe.build_local): the kind of every gid, so that
        # connections from gids built on other ranks are checked too
        self.remote_kinds = None
        self._edges = Edges()

    # ------------------------------------------------------------------ nodes
    @property
    def n_gids(self):
        return len(self.cells) + len(self.spike_sources) + len(self.artificial)

    def _next_gids(self, n):
        held = len(self.cells) + len(self.spike_sources) + len(self.artificial)
        if held != getattr(self, "_allocated", -1):  # gids placed another way: look
            taken = [max(d) + 1 for d in (self.cells, self.spike_sources, self.artificial)
                     if d]
            self._end, self._allocated = max(taken, default=0), held
        start = self._end
        self._end += n
        self._allocated += n
        return np.arange(start, start + n, dtype=np.int64)

    def add_cells(self, cell, n=1, positions=None, **params):
        """``n`` cells built from the template ``cell`` (a Cell, or an ARTIFICIAL_CELL
        mechanism with its ``params``, such as IntFire1 or VecStim); returns their gids."""
        if int(n) != n or n < 1:
            raise ParameterError(f"add_cells: n must be a positive integer, got {n!r}")
        gids = self._next_gids(int(n))
        if positions is not None:
            pos = np.asarray(positions, dtype=float)
            if pos.shape != (int(n), 3) or not np.all(np.isfinite(pos)):
                raise ParameterError(f"positions must be a finite ({int(n)}, 3) array")
            for gid, p in zip(gids, pos):
                self.positions[int(gid)] = p
        self._assign(gids, cell, params)
        return gids

    def _place(self, gid, description):
        """Gid ``gid`` described by ``description`` (a Cell, a point neuron, an artificial
        cell mechanism; None: a spike source): how a Recipe builds its gids."""
        if gid < 0 or gid in self.cells or gid in self.spike_sources or gid in self.artificial:
            raise ParameterError(f"gid {gid} is negative or already taken")
        if description is None:
            self.spike_sources[gid] = np.zeros(0)
        else:
            self._assign([gid], description, {})
        return gid

    def _assign(self, gids, cell, params):
        if isinstance(cell, Mechanism) and cell.native == "spike_train":
            for gid in gids:
                self.spike_sources[int(gid)] = np.zeros(0)
            return
        if hasattr(cell, "mechanism") and hasattr(cell, "params"):   # e.g. ns.models.LIF()
            params = {**cell.params, **params}
            cell = cell.mechanism
        if isinstance(cell, Mechanism) and cell.kind == "artificial":
            # a parameter is one number for all, or an array of one per cell
            shared, per_cell = {}, {}
            for k, v in params.items():
                name = cell.resolve_parameter(k)
                if np.ndim(v) == 0:
                    shared[name] = cell.check_value(k, v, context="add_cells")
                elif np.shape(v) == (len(gids),):
                    per_cell[name] = [cell.check_value(k, x, context="add_cells")
                                      for x in np.asarray(v, dtype=float)]
                else:
                    raise ParameterError(f"add_cells: {k} must be a number or {len(gids)} "
                                         f"numbers (one per cell), got shape {np.shape(v)}")
            if not per_cell:
                cell.check_relations(shared, context="add_cells")
            for i, gid in enumerate(gids):
                values = {**shared, **{k: v[i] for k, v in per_cell.items()}} if per_cell \
                    else shared
                if per_cell:
                    cell.check_relations(values, context=f"add_cells, gid {int(gid)}")
                self.artificial[int(gid)] = (cell, values)
            return
        if params:
            raise ParameterError("add_cells takes parameters only for artificial cells")
        if not isinstance(cell, Cell):
            raise ParameterError(f"gids {list(gids)[:3]}...: a cell is a Cell, a point neuron "
                                 f"or an artificial cell mechanism, got {cell!r}")
        for gid in gids:
            self.cells[int(gid)] = cell

    def play(self, gid, times):
        """Set the spike times of a spike source (NEURON's ``VecStim.play``)."""
        gid = self._gid(gid, "spike source")
        if gid not in self.spike_sources:
            raise ParameterError(f"gid {gid} is a cell, not a spike source")
        t = np.sort(np.asarray(times, dtype=float).ravel())
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ParameterError("spike source times must be finite and >= 0")
        self.spike_sources[gid] = t

    def add_step_current(self, gids, times, amplitudes):
        """A NEST ``step_current_generator`` onto point neurons ``gids`` (iaf_psc_alpha,
        iaf_psc_delta, glif_psc):
        from each time of ``times`` (ms, on the dt grid) the current is the matching
        amplitude (pA), through a connection of delay dt as PointNet makes it -- the
        neuron's potential feels an amplitude set at t from t + 2 dt on.  Generators onto
        one neuron add."""
        gids = [self._gid(g, "point neuron") for g in np.atleast_1d(gids)]
        for g in gids:
            if g not in self.artificial or "y0" not in self.artificial[g][0].states:
                raise ParameterError(f"gid {g} is not a point neuron taking currents "
                                     "(iaf_psc_alpha, iaf_psc_delta, glif_psc)")
        t = np.asarray(times, dtype=float).ravel()
        a = np.asarray(amplitudes, dtype=float).ravel()
        if len(t) != len(a) or not np.all(np.isfinite(t)) or not np.all(np.isfinite(a)) \
                or np.any(t <= 0) or np.any(np.diff(t) <= 0):
            raise ParameterError("step current: times (increasing, > 0 ms) and amplitudes "
                                 "must be finite and as many")
        if not hasattr(self, "step_currents"):
            self.step_currents = []
        self.step_currents.append((np.array(gids, dtype=np.int64), t, a))

    def add_spike_source(self, times, targets=(), weight=0.0, delay=1.0):
        """A gid that spikes at ``times`` (ms), connected to ``targets`` [(gid, label), ...]
        with ``weight`` and ``delay``; returns the gid."""
        t = np.sort(np.asarray(times, dtype=float).ravel())
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ParameterError("spike source times must be finite and >= 0")
        gid = int(self._next_gids(1)[0])
        self.spike_sources[gid] = t
        for target in targets:
            self.connect(gid, target, weight=weight, delay=delay)
        return gid

    def add_poisson(self, rate, n=1, start=0.0, stop=None, targets=(), weight=0.0, delay=1.0,
                    times=None):
        """``n`` Poisson spike sources of ``rate`` Hz on [start, stop) ms — or, with ``times``,
        a piecewise-constant rate ``rate[i]`` from ``times[i]`` — each connected to every
        target (gid, label).  Spike trains are drawn from (seed, gid, stream), so a source's
        train does not depend on anything else in the network."""
        if stop is None:
            raise ParameterError("add_poisson needs stop (ms): spike trains are drawn ahead")
        gids = []
        for _ in range(int(n)):
            gid = self.add_spike_source([], targets=targets, weight=weight, delay=delay)
            g = rng(self.seed, gid, STREAM_SPIKES)
            train = (inhomogeneous_poisson_times(times, rate, stop, g) if times is not None
                     else poisson_times(rate, float(start), float(stop), g))
            self.spike_sources[gid] = train
            gids.append(gid)
        return np.array(gids, dtype=np.int64)

    # ------------------------------------------------------------------ edges
    def connect_rule(self, sources, targets, rule, synapse=None, weight=0.0, delay=1.0):
        """Connect gids ``sources`` to gids ``targets`` by ``rule`` (AllToAll,
        FixedProbability, FixedInDegree, FixedTotalNumber, DistanceDependent) onto
        ``synapse`` (a label; None for artificial targets).  ``weight`` and ``delay``: a
        number, an array over the connections made (in target order, then source order), or
        a distribution (ns.Normal, ns.Uniform, ns.LogNormal).  Returns the number of
        connections made."""
        sources = self._gids(sources, "source")
        targets = self._gids(targets, "target").tolist()
        made_src, made_tgt, whole = [], [], None
        if hasattr(rule, "connections"):        # a rule over the whole projection
            made_src, made_tgt, whole = rule.connections(self.seed, sources, targets)
            made_src, made_tgt, targets = [made_src], [made_tgt], ()
        for tgt in targets:
            distance = None
            if getattr(rule, "probability", None) is not None:
                if tgt not in self.positions or any(s not in self.positions for s in sources):
                    distance = None
                else:
                    here = self.positions[tgt]
                    distance = np.linalg.norm(np.array([self.positions[int(s)]
                                                        for s in sources]) - here, axis=1)
            chosen = rule.sources_for(tgt, sources, rng(self.seed, tgt, STREAM_CONNECT),
                                      distance)
            made_src.append(chosen)
            made_tgt.append(np.full(len(chosen), tgt, dtype=np.int64))
        src = np.concatenate(made_src) if made_src else np.zeros(0, dtype=np.int64)
        tgt = np.concatenate(made_tgt) if made_tgt else np.zeros(0, dtype=np.int64)
        if whole is None:
            w = self._per_target(weight, tgt, STREAM_WEIGHT, "weight", values, rng)
            d = self._per_target(delay, tgt, STREAM_DELAY, "delay", values, rng)
        else:           # the projection's own generator, on from its connections: one draw
            w = values(weight, len(src), whole, "weight")
            d = values(delay, len(src), whole, "delay")
        if len(src) == 0:
            return 0
        if not np.all(np.isfinite(w)):
            raise ParameterError("connect_rule: weights must be finite")
        if not np.all(np.isfinite(d) & (d >= 0)):
            raise ParameterError("connect_rule: delays must be finite and >= 0")
        self._check_endpoints(src, tgt, synapse, w)
        # appended in generation order: that order is the connection index
        self._edges.extend(src, tgt, synapse, w, d)
        return len(src)

    def _check_endpoints(self, src, tgt, label, w):
        """What ``connect`` checks of each connection, for many at once: every source
        spikes, every target takes ``label`` (None: an artificial cell), and an artificial
        target's own check of its first connection's weight.  Set operations over the
        distinct gids; Python only per distinct cell template or checking target."""
        sources = np.unique(src)
        targets, first = np.unique(tgt, return_index=True)
        for g in sources[np.isin(sources, self._sorted_gids("cells"))].tolist():
            self._check_source(g)               # a cell needs a detector (per gid: cheap)
        if self.remote_kinds is not None:
            remote = sources[~self._known_here(sources)]
            for g in remote.tolist():
                self._check_source(g)
        kind = "artificial" if label is None else "cells"
        wrong = targets[~np.isin(targets, self._sorted_gids(kind))]
        if len(wrong):                          # raises, naming the first
            self._target(int(wrong[0]) if label is None else (int(wrong[0]), label))
        if label is not None:
            templates = {id(self.cells[g]): g for g in targets.tolist()}
            for g in templates.values():        # each distinct Cell: has the label
                self._target((g, label))
            return
        for g, k in zip(targets.tolist(), first.tolist()):
            if self.artificial[g][0].check_event is not None:
                self._check_event(int(src[k]), g, None, np.atleast_1d(w[k]))

    def add_gap_junction(self, a, b, g):
        """An ohmic gap junction of ``g`` µS between ``a = (gid, (section, x))`` and
        ``b``.  It enters each side's matrix diagonal implicitly and its peer's voltage from
        the step start: unconditionally stable, first-order accurate in the coupling."""
        ends = []
        for end in (a, b):
            try:
                gid, loc = end
            except (TypeError, ValueError):
                raise ParameterError(f"a gap junction end is (gid, (section, x)), got "
                                     f"{end!r}") from None
            gid = self._gid(gid, "gap junction")
            if gid not in self.cells:
                raise ParameterError(f"gap junction: gid {gid} is not a cell with "
                                     "compartments")
            ends.append((gid, self.cells[gid].check_location(loc)))
        g = finite("gap junction g", g, nonnegative=True)
        self.gap_junctions.append(GapJunctionRecord(ends[0][0], ends[0][1], ends[1][0],
                                                    ends[1][1], g))

    def _restored(self):
        """Type the records again after a checkpoint's description is read (it holds them
        as tuples)."""
        self.gap_junctions = [GapJunctionRecord(*j) for j in self.gap_junctions]
        self.pointers = [PointerBinding(*p) for p in self.pointers]
        self.drives = [DriveRecord(*d) for d in self.drives]

    def set_pointer(self, target, pointer, source):
        """Make POINTER ``pointer`` of ``target`` point at ``source``, as NEURON's
        ``setpointer`` / ``_ref_`` assignment does.  ``target`` is a point process
        ``(gid, label)`` or a density mechanism ``(gid, (section, x), "mech")``; ``source``
        the voltage ``(gid, (section, x))`` (a graded synapse's ``vpre``: it enters from the
        step start, like a gap junction's), a point process's variable ``(gid, label,
        "var")`` or a density mechanism's ``(gid, (section, x), "mech.var")`` (hnn-core's
        dipole sums into ``Dipole.Qsum``).  A mechanism that assigns its POINTER writes the
        source, in the stage of the step whose block assigns it (see docs/nmodl.md)."""
        self.pointers.append(pointers.parse(self, target, pointer, source))

    def _per_target(self, spec, tgt, stream, what, values, rng):
        """Draw per-connection values target by target, so they do not depend on the split."""
        if not hasattr(spec, "draw"):
            return values(spec, len(tgt), None, what)
        out = np.empty(len(tgt))
        order = np.argsort(tgt, kind="stable")          # each target's rows, in order
        bounds = np.flatnonzero(np.diff(tgt[order])) + 1
        for rows in np.split(order, bounds) if len(tgt) else ():
            out[rows] = values(spec, len(rows), rng(self.seed, int(tgt[rows[0]]), stream),
                               what)
        return out

    def _target(self, target):
        """(gid, label) of an event's target: ``(gid, synapse label)`` on a cell, or the gid
        of an artificial cell (label None)."""
        if np.ndim(target) == 0 and not isinstance(target, str):
            tgt, label = self._gid(target, "target"), None
            if tgt not in self.artificial:
                raise ParameterError(f"target gid {tgt}: give (gid, synapse label) for a cell")
            return tgt, label
        try:
            tgt, label = target
        except (TypeError, ValueError):
            raise ParameterError(f"a connection target is (gid, synapse label), got "
                                 f"{target!r}") from None
        tgt = self._gid(tgt, "target")
        if tgt not in self.cells:
            raise ParameterError(f"target gid {tgt} is not a cell with synapses")
        cell = self.cells[tgt]
        if not any(s.label == label for s in cell.synapses):
            raise ParameterError(f"cell gid {tgt} has no synapse labelled {label!r} (its "
                                 f"labels: {[s.label for s in cell.synapses]})")
        return tgt, label

    def add_poisson_drive(self, targets, rate, weight, start=0.0, stop=np.inf):
        """Each target (gid, label) — or gid of a point neuron — gets its own Poisson input
        of ``rate`` Hz on [start, stop) ms, each input spike an event of ``weight``: NEST's
        ``poisson_generator``.  Drawn step by step in the kernel
        (``neurosim.lowering.drive``), so it costs no memory however long the run; the draws
        are keyed on (seed, target gid, drive), the same on any number of threads and ranks."""
        rate = finite("rate", rate, nonnegative=True)
        start = finite("start", start, nonnegative=True)
        stop = float(stop)
        if not stop > start:
            raise ParameterError(f"add_poisson_drive: stop ({stop}) must be after start "
                                 f"({start})")
        w = np.atleast_1d(np.asarray(weight, dtype=float))
        if w.ndim != 1 or not np.all(np.isfinite(w)):
            raise ParameterError(f"add_poisson_drive: weight must be finite, got {weight!r}")
        count = {}
        for drive in self.drives:
            count[drive.gid] = count.get(drive.gid, 0) + 1
        for target in targets:
            tgt, label = self._target(target)
            self.drives.append(DriveRecord(tgt, label, rate, w, start, stop,
                                           count.get(tgt, 0)))
            count[tgt] = count.get(tgt, 0) + 1
        return len(targets)

    def connect(self, source, target, weight, delay):
        """Connect gid ``source`` to ``target``: ``(gid, synapse label)`` on a cell, or the
        gid of an artificial cell."""
        source = self._gid(source, "source")
        tgt, label = self._target(target)
        self._check_source(source)
        w = np.atleast_1d(np.asarray(weight, dtype=float))
        if w.ndim != 1 or not np.all(np.isfinite(w)):
            raise ParameterError(f"connection {source} -> {tgt}: weight must be finite, got "
                                 f"{weight!r}")
        d = finite("delay", delay, nonnegative=True, context=f"connection {source} -> {tgt}")
        self._check_event(source, tgt, label, w)
        self._edges.add(source, tgt, label, w, d)

    def connect_many(self, sources, targets, labels, weights, delays):
        """Many connections at once (a circuit's edges): ``sources[k]`` to ``targets[k]``
        (a cell's synapse ``labels[k]``, or None for an artificial cell) with a scalar
        weight and delay each; checked per distinct gid and as arrays."""
        src = np.asarray(sources, dtype=np.int64)
        tgt = np.asarray(targets, dtype=np.int64)
        w = np.asarray(weights, dtype=float)
        d = np.asarray(delays, dtype=float)
        if not (len(src) == len(tgt) == len(labels) == len(w) == len(d)):
            raise ParameterError("connect_many: sources, targets, labels, weights and delays "
                                 "must have one entry per connection")
        for g in np.unique(src):
            self._check_source(self._gid(int(g), "source"))
        for g in np.unique(tgt):
            if int(g) not in self.cells and int(g) not in self.artificial:
                raise ParameterError(f"target gid {g} is not a cell or an artificial cell "
                                     "of this network")
        if w.ndim == 2:     # several weights a connection; NaN: none beyond the first
            rest = w[:, 1:]
            fine = np.isfinite(w[:, 0]) & (np.isfinite(rest) | np.isnan(rest)).all(axis=1)
        else:
            fine = np.isfinite(w)
        bad = ~fine | ~np.isfinite(d) | (d < 0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"connection {src[k]} -> {tgt[k]}: weight {w[k]} and delay "
                                 f"{d[k]} must be finite, the delay >= 0")
        if len(src) and any(m.check_event is not None for m, _ in self.artificial.values()):
            # an artificial target's check of the weights beyond the first (glif_psc's
            # receptor port): once per distinct target and such weights
            extra = w.reshape(len(src), -1)[:, 1:]
            key = np.column_stack([tgt, np.where(np.isnan(extra), np.inf, extra)])
            for k in np.unique(key, axis=0, return_index=True)[1]:
                row = np.atleast_1d(w[k])
                self._check_event(int(src[k]), int(tgt[k]), labels[k], row[~np.isnan(row)])
        self._edges.extend(src, tgt, labels, w, d)

    def _check_event(self, source, tgt, label, w):
        """An artificial target's own check of a connection's weights (glif_psc: its
        receptor port)."""
        if label is None and tgt in self.artificial:
            mech, values = self.artificial[tgt]
            if mech.check_event is not None:
                why = mech.check_event({**mech.parameters, **values}, w)
                if why:
                    raise ParameterError(f"connection {source} -> {tgt}: {why}")

    def _check_source(self, source):
        """A source spikes: a cell needs a detector (also one built on another rank)."""
        if source in self.cells and any(syn.mechanism.uses_net_event
                                        for syn in self.cells[source].synapses):
            return         # its point process's net_event spikes (NEURON: NetCon(pp, ...))
        if (source in self.cells and self.cells[source].detector is None) or \
                (source not in self.cells and self.remote_kinds is not None and
                 source < len(self.remote_kinds) and
                 self.remote_kinds[source] == CELL_WITHOUT_DETECTOR):
            raise ParameterError(f"cell gid {source} has no spike detector and cannot be a "
                                 "source: add cell.add_detector(location, threshold) (or a "
                                 "point process that calls net_event)")

    def _gids(self, gids, what):
        """``_gid`` of every element: an int64 array of gids the network knows."""
        arr = np.atleast_1d(np.asarray(gids))
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            return np.array([self._gid(g, what) for g in arr.ravel()], dtype=np.int64)
        arr = arr.astype(np.int64)
        known = self._known_here(arr)
        if self.remote_kinds is not None:
            known |= (arr >= 0) & (arr < len(self.remote_kinds))
        if not known.all():
            self._gid(int(arr[np.argmin(known)]), what)     # raises, naming it
        return arr

    def _known_here(self, gids):
        return (np.isin(gids, self._sorted_gids("cells")) |
                np.isin(gids, self._sorted_gids("artificial")) |
                np.isin(gids, self._sorted_gids("spike_sources")))

    def _sorted_gids(self, kind):
        """The gids of ``self.<kind>`` (cells, artificial, spike_sources), sorted; rebuilt
        when that dict grows (gids are added, never removed)."""
        table = getattr(self, kind)
        cache = self.__dict__.setdefault("_sorted_cache", {})
        if kind not in cache or cache[kind][0] != len(table):
            cache[kind] = (len(table), np.sort(np.fromiter(table, np.int64, len(table))))
        return cache[kind][1]

    def _gid(self, gid, what):
        try:
            g = int(gid)
        except (TypeError, ValueError):
            raise ParameterError(f"{what} gid must be an integer, got {gid!r}") from None
        if g != gid or not self.knows(g):
            n = self.n_gids if self.remote_kinds is None else len(self.remote_kinds)
            raise ParameterError(f"unknown {what} gid {gid!r} (the network has gids "
                                 f"0..{n - 1})")
        return g

    def knows(self, gid):
        """Whether ``gid`` is a gid of the network (here, or built on another rank)."""
        if gid in self.cells or gid in self.spike_sources or gid in self.artificial:
            return True
        return self.remote_kinds is not None and 0 <= gid < len(self.remote_kinds)

    @property
    def n_connections(self):
        return len(self._edges)

    def connection_bytes(self):
        """Bytes this description's connections hold (already allocated: a simulation of
        it needs only the rest)."""
        return self._edges.nbytes()

    def connections(self):
        """Arrays (source, target, label, weights, delay) in connection order; weights an
        (n, k) array, a row per connection, NaN beyond that connection's own weights."""
        return self._edges.arrays()

    def __repr__(self):
        return (f"Network({len(self.cells)} cells, {len(self.artificial)} artificial cells, "
                f"{len(self.spike_sources)} spike sources, {self.n_connections} connections)")
