"""Spikes become events on the Python path: the queue of pending events, filed by delivery
step (the compiled path between epochs is :mod:`neurosim.kernels.epochs`; both follow
:mod:`neurosim.kernels.event_order`).

When and in what order an event is delivered (NEURON's fixed-step rule, NEST's lead of one
step, first in first out at equal times) is :mod:`neurosim.kernels.event_order`'s docstring.
"""

import heapq

import numpy as np

from neurosim.kernels.event_order import events_of, order_ties, unpack


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
        events, first, counts = events_of(np.asarray(gids, dtype=np.int64), sent, order,
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
            order_ties(sort, time, events, self.conns.delay)
        out = (np.empty(n, np.int64), np.empty(n), np.empty(n, np.int64),
               np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64))
        unpack(events, sort, self.dt, self.conns.target_table, self.conns.target_instance,
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


# NEST's point-neuron models (neurosim.mechanisms.builtin.point_neurons)


