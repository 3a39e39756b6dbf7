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

import numpy as np

from .errors import ParameterError


class Connections:
    """Connections sorted by source gid (CSR), resolved to (table, instance) targets."""

    def __init__(self, source, delay, table, instance, weights):
        order = np.argsort(source, kind="stable")      # connection index breaks ties
        self.index = order                              # connection index of each row
        self.source = np.asarray(source, dtype=np.int64)[order]
        self.delay = np.asarray(delay, dtype=float)[order]
        self.table = np.asarray(table, dtype=np.int64)[order]
        self.instance = np.asarray(instance, dtype=np.int64)[order]
        # by connection index: the kernel reads and writes weight vectors here (plasticity)
        w = np.asarray(weights, dtype=float)
        self.weights = np.ascontiguousarray(w if w.ndim == 2 else w.reshape(len(order), 1))
        self.target_table = np.asarray(table, dtype=np.int64)
        self.target_instance = np.asarray(instance, dtype=np.int64)
        # a byte per gid: has it connections here?  Under MPI most spikes a rank receives
        # have none; one lookup drops them before the binary search
        self.has_targets = np.zeros(int(self.source.max()) + 1 if len(self.source) else 0,
                                    dtype=bool)
        self.has_targets[self.source] = True

    def __len__(self):
        return len(self.source)

    def fan_out(self, gids, times):
        """Rows of the connections leaving each spike (gids, times), and the spike each row
        belongs to."""
        gids = np.asarray(gids, dtype=np.int64)
        inside = gids < len(self.has_targets)
        hit = np.flatnonzero(inside)[self.has_targets[gids[inside]]]
        start = np.searchsorted(self.source, gids[hit], side="left")
        stop = np.searchsorted(self.source, gids[hit], side="right")
        counts = stop - start
        spike = np.repeat(hit, counts)
        first = np.repeat(start - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        rows = first + np.arange(counts.sum())
        return rows, spike


class EventQueue:
    """Pending events, delivered in canonical order by step."""

    _FIELDS = ("step", "time", "source", "conn", "table", "instance")

    def __init__(self, connections, dt):
        self.conns = connections
        self.dt = float(dt)
        self.pending = {k: np.zeros(0, dtype=float if k == "time" else np.int64)
                        for k in self._FIELDS}

    def push_spikes(self, gids, times, detected=True):
        """Queue the events of spikes (``detected``: by threshold detectors, whose events
        leave at the end of the step holding the crossing)."""
        if len(gids) == 0 or len(self.conns) == 0:
            return
        rows, spike = self.conns.fan_out(np.asarray(gids), np.asarray(times))
        if len(rows) == 0:
            return
        sent = np.asarray(times, dtype=float)
        if detected:
            sent = np.ceil(sent / self.dt - 1e-9) * self.dt
        t = sent[spike] + self.conns.delay[rows]
        new = {"step": np.ceil(t / self.dt - 0.5 - 1e-9).astype(np.int64), "time": t,
               "source": np.asarray(gids, dtype=np.int64)[spike],
               "conn": self.conns.index[rows], "table": self.conns.table[rows],
               "instance": self.conns.instance[rows]}
        for key in new:
            self.pending[key] = np.concatenate([self.pending[key], new[key]])

    def pop_before(self, end_step):
        """Events to deliver before step ``end_step``, in delivery order, as arrays (step,
        time, table, instance, connection)."""
        p = self.pending
        take = p["step"] < end_step
        order = np.lexsort((p["conn"][take], p["source"][take], p["time"][take],
                            p["step"][take]))
        out = tuple(np.ascontiguousarray(p[k][take][order])
                    for k in ("step", "time", "table", "instance", "conn"))
        for key in p:
            p[key] = p[key][~take]
        return out

    def __len__(self):
        return len(self.pending["step"])


def check_delays(delays, dt):
    if len(delays) and np.min(delays) < dt * (1 - 1e-9):
        raise ParameterError(f"connection delay {np.min(delays)} ms is shorter than dt = {dt} "
                             "ms; delays must be >= dt")
