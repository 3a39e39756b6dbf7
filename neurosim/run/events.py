"""Spikes become events: the connection rows by source and the queue of pending events.

A spike of gid s travels every connection c from s and becomes an event at t + delay[c] for
the target point process (mechanism table, instance) with weight[c].  For a spike detected in a
step, t is the end of that step (NEURON's fixed-step rule; the recorded time follows the
Simulation's ``spike_times``); for a spike source or an artificial cell, its own time.  An
event at time te is delivered at the start of step n = ceil(te / dt - 1/2), the step whose
midpoint window holds te (NEURON's rule; a step earlier to a target whose ``event_lead`` is 1:
NEST's iaf_psc_delta adds an input in the step that ends at it), and events of one time are
delivered first in, first out as NEURON's queue does: by the time sent, then the spike's emission order (numbered as
spikes are pushed), then connection row.  See docs/sonata.md, "Events and spike times".
"""

import heapq

import numpy as np
from numba import njit

from neurosim.errors import ParameterError


class Connections:
    """The kernel's connection rows, sorted by source gid: the rows of gid g are
    ``ptr[g]:ptr[g + 1]``, in connection order within a source (so ordering events by
    (time, source, row) is the canonical order), a spike's events read consecutive memory.
    Each row: delay, target (table, instance) and weight vector; about 24 bytes.
    ``lead``: per target table, how many steps before its step an event is taken (1 for
    NEST's models whose state jumps with an input: NEST adds it in the step that ends at
    its time; see ``Mechanism.event_lead``)."""

    def __init__(self, ptr, delay, table, instance, weights, lead=None):
        self.ptr = ptr
        self.delay = np.asarray(delay, dtype=float)
        self.target_table = np.asarray(table)
        self.target_instance = np.asarray(instance)
        self.lead = np.zeros(int(self.target_table.max(initial=-1)) + 1, dtype=np.int64) \
            if lead is None else np.asarray(lead, dtype=np.int64)
        w = np.asarray(weights, dtype=float)
        self.weights = np.ascontiguousarray(w if w.ndim == 2 else w.reshape(len(w), 1))

    def __len__(self):
        return len(self.delay)


def by_source(source):
    """(ptr, index): a counting sort of connections by source gid, stable, the index as
    int32 where it fits (no int64 argsort and its copies: 3e8 connections must fit)."""
    n_gids = int(source.max()) + 1 if len(source) else 0
    ptr = np.zeros(n_gids + 1, dtype=np.int64)
    index = np.empty(len(source), dtype=np.int32 if len(source) < 2**31 else np.int64)
    _counting_sort(source, ptr, index)
    return ptr, index


@njit(cache=True, nogil=True)
def _counting_sort(source, ptr, index):
    for c in range(len(source)):
        ptr[source[c] + 1] += 1
    for g in range(1, len(ptr)):
        ptr[g] += ptr[g - 1]
    fill = ptr[:-1].copy()
    for c in range(len(source)):
        s = source[c]
        index[fill[s]] = c
        fill[s] += 1


class EventQueue:
    """Pending events, in buckets by delivery step: a push files its events by step (a
    counting sort), a pop takes the buckets before its end step and orders only those
    canonically.  Neither touches the events of later steps.  An event is 16 bytes: its
    time and one key, source gid << 32 | connection row, which is also the tie-break of the
    canonical order; the step, target and weight follow from them.  (At the start of the
    full-scale microcircuit 16 000 neurons fire at once: 6e7 events.)"""

    _FIELDS = ("step", "time", "source", "conn", "table", "instance")

    def __init__(self, connections, dt):
        self.conns = connections
        self.dt = float(dt)
        self._buckets = {}          # step -> [(n, 2) int64 arrays: time's bits, key]
        self._steps = []            # heap of the buckets' steps
        self._n = 0
        self.next_order = 0         # the emission order of the next spike pushed

    def push_spikes(self, gids, times, detected=True):
        """Queue the events of spikes (``detected``: by threshold detectors, whose events
        leave at the end of the step holding the crossing).  The spikes are numbered in the
        order given (their emission order: NEURON's queue is first in, first out for events
        of equal time, so a spike sent earlier, or emitted earlier at the same time, has its
        events delivered first)."""
        if len(gids) == 0:
            return
        sent = np.asarray(times, dtype=float)
        if detected:
            sent = np.ceil(sent / self.dt - 1e-9) * self.dt
        order = self.next_order + np.arange(len(sent), dtype=np.int64)
        self.next_order += len(sent)
        if len(self.conns) == 0:
            return
        c = self.conns
        events, first, counts = _events_of(np.asarray(gids, dtype=np.int64), sent, order,
                                           c.ptr, c.delay, c.target_table, c.lead, self.dt)
        self._file(events, first, counts)

    def _file(self, events, first, counts):
        """File events (in step order: ``counts[k]`` of step ``first + k``) in buckets."""
        at = 0
        for k in np.flatnonzero(counts).tolist():
            step, n = first + k, int(counts[k])
            bucket = self._buckets.get(step)
            if bucket is None:
                bucket = self._buckets[step] = []
                heapq.heappush(self._steps, step)
            bucket.append(events[at:at + n])
            at += n
        self._n += at

    def _fields(self, parts, order=False):
        """The events of ``parts`` field by field (in the canonical order with ``order``)."""
        events = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
        n = len(events)
        sort = np.arange(n)
        if order:       # time first (the step follows it), then source and row (the key)
            time = np.ascontiguousarray(events[:, 0]).view(np.float64)
            sort = np.argsort(time)                 # SIMD quicksort; ties ordered next
            _order_ties(sort, time, events, self.conns.delay)
        out = (np.empty(n, np.int64), np.empty(n), np.empty(n, np.int64),
               np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64))
        _unpack(events, sort, self.dt, self.conns.target_table, self.conns.target_instance,
                self.conns.lead, *out)
        return dict(zip(self._FIELDS, out))

    def pop_before(self, end_step):
        """Events to deliver before step ``end_step``, in delivery order, as arrays (step,
        time, table, instance, connection row)."""
        parts = []
        while self._steps and self._steps[0] < end_step:
            parts += self._buckets.pop(heapq.heappop(self._steps))
        e = self._fields(parts, order=True)
        self._n -= len(e["step"])
        return tuple(e[k] for k in ("step", "time", "table", "instance", "conn"))

    def take_all(self):
        """Remove every pending event: (rows by step, first step, count of each step from
        it), as ``_file`` takes them back."""
        steps = sorted(self._buckets)
        parts = [p for step in steps for p in self._buckets[step]]
        events = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
        first = steps[0] if steps else 0
        counts = np.zeros(steps[-1] - first + 1 if steps else 0, dtype=np.int64)
        for step in steps:
            counts[step - first] = sum(len(p) for p in self._buckets[step])
        self._buckets, self._steps, self._n = {}, [], 0
        return events, first, counts

    @property
    def pending(self):
        """Every pending event, field by field (a checkpoint's copy)."""
        return self._fields([p for step in sorted(self._buckets) for p in self._buckets[step]])

    def load(self, pending):
        """Replace the pending events by ``pending`` (field name -> array)."""
        self._buckets, self._steps, self._n = {}, [], 0
        step = np.asarray(pending["step"], dtype=np.int64)
        if len(step) == 0:
            return
        order = np.argsort(step, kind="stable")
        events = np.empty((len(step), 2), dtype=np.int64)
        events[:, 0] = np.asarray(pending["time"], dtype=float)[order].view(np.int64)
        events[:, 1] = (np.asarray(pending["source"], dtype=np.int64)[order] << 32) | \
            np.asarray(pending["conn"], dtype=np.int64)[order]
        first = int(step.min())
        self._file(events, first, np.bincount(step - first))

    def __len__(self):
        return self._n


@njit(cache=True, nogil=True)
def _before(time, events, delay, a, b):
    """Whether event a was sent before event b (``time``: their delivery times, equal):
    by the time sent, then the key (emission order << 32 | row)."""
    mask = np.int64(0xFFFFFFFF)
    ta = time[a] - delay[events[a, 1] & mask]
    tb = time[b] - delay[events[b, 1] & mask]
    if ta != tb:
        return ta < tb
    return events[a, 1] < events[b, 1]


@njit(cache=True, nogil=True)
def _order_ties(sort, time, events, delay):
    """Within each run of equal times in ``sort``, order as NEURON's queue delivers them:
    first in, first out, i.e. by the time sent, then emission order, then row (an
    insertion sort for short runs, a sort by (sent, key) for long ones: a network with one
    delay and step-aligned spikes delivers a whole step's events at one time)."""
    start = 0
    for k in range(1, len(sort) + 1):
        if k < len(sort) and time[sort[k]] == time[sort[start]]:
            continue
        if k - start > 16:
            run = sort[start:k].copy()
            sent = np.empty(k - start)
            keys = np.empty(k - start, dtype=np.int64)
            for i in range(k - start):
                keys[i] = events[run[i], 1]
                sent[i] = time[run[i]] - delay[keys[i] & 0xFFFFFFFF]
            by_key = np.argsort(keys, kind="mergesort")
            by_sent = np.argsort(sent[by_key], kind="mergesort")
            sort[start:k] = run[by_key[by_sent]]
        else:
            for i in range(start + 1, k):
                e = sort[i]
                j = i - 1
                while j >= start and _before(time, events, delay, e, sort[j]):
                    sort[j + 1] = sort[j]
                    j -= 1
                sort[j + 1] = e
        start = k


@njit(cache=True, nogil=True)
def _unpack(events, sort, dt, target_table, target_instance, lead, step, time, source, conn,
            table, instance):
    """The fields of events (rows: time's bits, source << 32 | row) taken in ``sort``'s
    order, in one pass; the step is the one that takes the event (its target's lead)."""
    bits = np.empty(1, dtype=np.int64)
    t = bits.view(np.float64)
    for k in range(len(sort)):
        e = sort[k]
        bits[0] = events[e, 0]
        key = events[e, 1]
        c = key & 0xFFFFFFFF
        time[k] = t[0]
        step[k] = _step_of(t[0], dt) - lead[target_table[c]]
        source[k] = key >> 32
        conn[k] = c
        table[k] = target_table[c]
        instance[k] = target_instance[c]


@njit(cache=True, nogil=True)
def _step_of(time, dt):
    return np.int64(np.ceil(time / dt - 0.5 - 1e-9))


@njit(cache=True, nogil=True)
def _events_of(gids, sent, order, ptr, delay, target_table, lead, dt):
    """The events of spikes (gids, times sent, emission order): rows (time's bits,
    order << 32 | row), in order of the step that takes them (their time's, less the
    target's lead), stably (a counting sort: the steps span only the delays); returns
    (events, first step, count of each step from the first)."""
    n_gids = len(ptr) - 1
    lo, hi, m = np.int64(2**62), np.int64(-2**62), 0
    for k in range(len(gids)):                  # pass 1: how many, over which steps
        g = gids[k]
        if 0 <= g < n_gids:
            for c in range(ptr[g], ptr[g + 1]):
                step = _step_of(sent[k] + delay[c], dt) - lead[target_table[c]]
                lo, hi, m = min(lo, step), max(hi, step), m + 1
    events = np.empty((m, 2), dtype=np.int64)
    if m == 0:
        return events, 0, np.zeros(0, dtype=np.int64)
    counts = np.zeros(hi - lo + 1, dtype=np.int64)
    for k in range(len(gids)):                  # pass 2: count per step
        g = gids[k]
        if 0 <= g < n_gids:
            for c in range(ptr[g], ptr[g + 1]):
                counts[_step_of(sent[k] + delay[c], dt) - lead[target_table[c]] - lo] += 1
    fill = np.zeros(hi - lo + 1, dtype=np.int64)
    fill[1:] = np.cumsum(counts)[:-1]
    time = np.empty(1)
    bits = time.view(np.int64)
    for k in range(len(gids)):                  # pass 3: write
        g = gids[k]
        if 0 <= g < n_gids:
            for c in range(ptr[g], ptr[g + 1]):
                time[0] = sent[k] + delay[c]
                step = _step_of(time[0], dt) - lead[target_table[c]] - lo
                at = fill[step]
                fill[step] += 1
                events[at, 0] = bits[0]
                events[at, 1] = (order[k] << 32) | c
    return events, lo, counts


def check_delays(delays, dt, made=None, source=None, target=None):
    """Delays of connections from cells (``made``; all without it) must be >= dt: a
    spike made in a step reaches its targets in a later step.  Spike sources' spikes are
    known in advance, so their connections may take any delay >= 0."""
    delays = np.asarray(delays, dtype=float)
    short = delays < dt * (1 - 1e-9)
    if made is not None:
        short &= made
    if short.any():
        c = int(np.flatnonzero(short)[np.argmin(delays[short])])
        which = f" {int(source[c])} -> {int(target[c])}" if source is not None else ""
        raise ParameterError(f"connection{which}: delay {delays[c]} ms is shorter than dt = "
                             f"{dt} ms; delays from cells must be >= dt (from spike "
                             "sources any delay >= 0 is delivered)")


def check_lead_delays(conns, dt, names):
    """An event taken a step before its time (``Connections.lead``) must still come after
    the step its spike left in: such connections need delays >= dt, from any source (NEST
    refuses delays below its resolution).  ``names``: the target tables' mechanisms."""
    if not conns.lead.any() or len(conns) == 0:
        return
    short = (conns.delay < dt * (1 - 1e-9)) & (conns.lead[conns.target_table] > 0)
    if short.any():
        c = int(np.flatnonzero(short)[0])
        source = int(np.searchsorted(conns.ptr, c, side="right") - 1)
        raise ParameterError(f"connection from gid {source} onto an "
                             f"{names[conns.target_table[c]]} neuron: delay {conns.delay[c]} "
                             f"ms is shorter than dt = {dt} ms (NEST takes its input in the "
                             "step that ends at the event: its delays must be >= the "
                             "resolution)")


# NEST's point-neuron models (neurosim.mechanisms.builtin.point_neurons)
NEST_MODELS = frozenset({"iaf_psc_exp", "iaf_psc_alpha", "iaf_psc_delta", "iaf_cond_exp",
                         "aeif_cond_exp", "izhikevich", "glif_psc"})


def nest_timing(net):
    """How spike sources' times become NEST steps: ``net.spike_timing`` -- "nest" (a
    spike_generator with precise_times, as PointNet makes them: the end of the step holding
    the time), "nest_grid" (precise_times off, allow_offgrid_times on, as NEST's
    SonataNetwork makes them: a time within half a tic of the grid is that grid point, others
    the end of their step) or "neuron" (the nearest step) -- else "nest" when every cell is
    one of NEST's point-neuron models, None otherwise."""
    mode = getattr(net, "spike_timing", None)
    if mode is not None:
        if mode not in ("nest", "nest_grid", "neuron"):
            raise ParameterError(f"spike_timing must be 'nest', 'nest_grid' or 'neuron', "
                                 f"got {mode!r}")
        return None if mode == "neuron" else mode
    nest = bool(net.artificial) and not net.cells and all(
        m.name in NEST_MODELS for m, _ in net.artificial.values())
    return "nest" if nest else None


def nest_stamps(times, dt, precise=True, tics_per_ms=1000.0):
    """NEST's spike_generator's step of each time (as a time in ms): with ``precise``
    (``Time::ms_stamp``) the end of the step holding it, a time on the grid staying;
    without, the time rounded to tics first (``Time::ms``), kept if on the grid, else the
    end of its step (allow_offgrid_times).  Computed as NEST does, in tics."""
    t = np.asarray(times, dtype=float)
    tics_per_step = int(round(dt * tics_per_ms))
    ms_per_step = tics_per_step / tics_per_ms
    n = np.trunc(t * tics_per_ms).astype(np.int64)
    n -= n % tics_per_step
    ms = n * (1.0 / tics_per_step) * ms_per_step
    n = np.where(ms < t, n + tics_per_step, n)
    if not precise:
        tics = np.trunc(t * tics_per_ms + 0.5).astype(np.int64)
        n = np.where(tics % tics_per_step == 0, tics, n)
    return (n // tics_per_step) * dt
