"""Spikes become events: connection tables and the queue of pending events, as flat arrays.

A spike of gid s travels every connection c from s and becomes an event at t + delay[c] for
the target point process (mechanism table, instance) with weight[c].  For a spike detected in a
step, t is the end of that step (NEURON's fixed-step rule; the recorded spike time is the
interpolated crossing); for a spike source, its own time.  An event at time te is delivered at
the start of step n = ceil(te / dt - 1/2), the step whose midpoint window holds te (NEURON's
rule), and events of one step are delivered in the canonical order (time, source gid,
connection index): the order does not depend on how the network is split across ranks or
threads.
"""

import heapq

import numpy as np
from numba import njit

from .errors import ParameterError


class Connections:
    """Connections resolved to (table, instance) targets, in connection order (the kernel's
    arrays: plasticity writes the weights there), and indexed by source gid: ``index``
    lists the connections of gid g at ``ptr[g]:ptr[g + 1]``, in connection order (so
    sorting events by (time, source, connection) is the canonical order).  About 20 bytes
    a connection: the delays are the network's own array, not a copy."""

    def __init__(self, source, delay, table, instance, weights):
        self.delay = np.asarray(delay, dtype=float)
        self.target_table = np.asarray(table)
        self.target_instance = np.asarray(instance)
        w = np.asarray(weights, dtype=float)
        self.weights = np.ascontiguousarray(w if w.ndim == 2 else w.reshape(len(w), 1))
        self.ptr, self.index = by_source(np.asarray(source))

    def __len__(self):
        return len(self.index)

    def fan_out(self, gids):
        """The connections leaving each spike of ``gids``, and the spike each belongs to."""
        gids = np.asarray(gids, dtype=np.int64)
        hit = np.flatnonzero((gids >= 0) & (gids < len(self.ptr) - 1))
        start, stop = self.ptr[gids[hit]], self.ptr[gids[hit] + 1]
        counts = stop - start
        spike = np.repeat(hit, counts)
        first = np.repeat(start - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        return self.index[first + np.arange(counts.sum())], spike


def by_source(source):
    """(ptr, index): a counting sort of connections by source gid, stable, the index as
    int32 where it fits (no int64 argsort and its copies: 3e8 connections must fit)."""
    n_gids = int(source.max()) + 1 if len(source) else 0
    ptr = np.zeros(n_gids + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(source, minlength=n_gids))
    index = np.empty(len(source), dtype=np.int32 if len(source) < 2**31 else np.int64)
    _counting_sort(source, ptr, index)
    return ptr, index


@njit(cache=True, nogil=True)
def _counting_sort(source, ptr, index):
    fill = ptr[:-1].copy()
    for c in range(len(source)):
        s = source[c]
        index[fill[s]] = c
        fill[s] += 1


class EventQueue:
    """Pending events, in buckets by delivery step: a push sorts its own events by step and
    files them; a pop takes the buckets before its end step and orders only those
    canonically.  Neither touches the events of later steps (a circuit of 1e5 neurons keeps
    ~1e7 events in flight, and pops every step)."""

    _FIELDS = ("step", "time", "source", "conn", "table", "instance")

    def __init__(self, connections, dt):
        self.conns = connections
        self.dt = float(dt)
        self._buckets = {}          # step -> [tuple of field arrays]
        self._steps = []            # heap of the buckets' steps
        self._n = 0

    def push_spikes(self, gids, times, detected=True):
        """Queue the events of spikes (``detected``: by threshold detectors, whose events
        leave at the end of the step holding the crossing)."""
        if len(gids) == 0 or len(self.conns) == 0:
            return
        conn, spike = self.conns.fan_out(gids)
        if len(conn) == 0:
            return
        sent = np.asarray(times, dtype=float)
        if detected:
            sent = np.ceil(sent / self.dt - 1e-9) * self.dt
        t = sent[spike] + self.conns.delay[conn]
        new = np.empty((len(conn), 6), dtype=np.int64)      # a row per event
        new[:, 0] = np.ceil(t / self.dt - 0.5 - 1e-9)
        new[:, 1] = t.view(np.int64)                # the time's bits, exactly
        new[:, 2] = np.asarray(gids, dtype=np.int64)[spike]
        new[:, 3] = conn
        new[:, 4] = self.conns.target_table[conn]
        new[:, 5] = self.conns.target_instance[conn]
        self._file(new)

    def _file(self, events):
        """File events (rows of the fields) into the buckets of their steps."""
        events = events[np.argsort(events[:, 0], kind="stable")]
        steps = events[:, 0]
        bounds = np.concatenate([[0], np.flatnonzero(np.diff(steps)) + 1, [len(steps)]])
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            step = int(steps[a])
            bucket = self._buckets.get(step)
            if bucket is None:
                bucket = self._buckets[step] = []
                heapq.heappush(self._steps, step)
            bucket.append(events[a:b])
        self._n += len(steps)

    def _columns(self, parts):
        events = np.concatenate(parts) if parts else np.zeros((0, 6), dtype=np.int64)
        columns = {k: np.ascontiguousarray(events[:, f]) for f, k in enumerate(self._FIELDS)}
        columns["time"] = columns["time"].view(np.float64)
        return columns

    def pop_before(self, end_step):
        """Events to deliver before step ``end_step``, in delivery order, as arrays (step,
        time, table, instance, connection)."""
        parts = []
        while self._steps and self._steps[0] < end_step:
            parts += self._buckets.pop(heapq.heappop(self._steps))
        e = self._columns(parts)
        self._n -= len(e["step"])
        order = np.lexsort((e["conn"], e["source"], e["time"], e["step"]))
        return tuple(e[k][order] for k in ("step", "time", "table", "instance", "conn"))

    @property
    def pending(self):
        """Every pending event, field by field (a checkpoint's copy)."""
        return self._columns([p for step in sorted(self._buckets) for p in self._buckets[step]])

    def load(self, pending):
        """Replace the pending events by ``pending`` (field name -> array)."""
        self._buckets, self._steps, self._n = {}, [], 0
        events = np.empty((len(pending["step"]), 6), dtype=np.int64)
        for f, k in enumerate(self._FIELDS):
            events[:, f] = np.asarray(pending[k], dtype=float).view(np.int64) \
                if k == "time" else pending[k]
        if len(events):
            self._file(events)

    def __len__(self):
        return self._n


def check_delays(delays, dt):
    if len(delays) and np.min(delays) < dt * (1 - 1e-9):
        raise ParameterError(f"connection delay {np.min(delays)} ms is shorter than dt = {dt} "
                             "ms; delays must be >= dt")
