"""What a simulation records: probe traces and spike records, gathered over ranks.

Each rank samples the probes of its own cells and holds the spikes of its own cells (rank 0
also those of spike sources) until ``share`` merges them: rank 0 then holds every trace, and
every spike record holds every rank's spikes, whatever the number of ranks.  A run shares at
its end, or after every kernel call when it streams to a file (``sim.stream_to``), which rank
0 alone writes; so the file is the same for any rank count, and no parallel HDF5 is needed.
"""

import numpy as np


def _concat(parts, dtype=float):
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


class Trace:
    """Samples of one probe: ``times`` (ms) and ``values`` as numpy arrays (read back from the
    file when the simulation streams to one: ``sim.stream_to``).  Under MPI the rank owning
    the cell and rank 0 hold the samples."""

    def __init__(self, variable, location, cell, interval, owned=True):
        self.variable = variable
        self.location = location
        self.cell = cell
        self.interval = interval
        self.owned = owned          # sampled on this rank
        self._times = []
        self._values = []
        self._sink = None
        self._sent = 0              # chunks of _times already sent to rank 0

    def _append(self, times, values):
        times, values = np.asarray(times, dtype=float), np.asarray(values, dtype=float)
        if self._sink is not None:
            self._sink.append(times, values)
        else:
            self._times.append(times)
            self._values.append(values)

    def _stream(self, sink):
        """From now on samples go to ``sink``; those held so far go first."""
        if self._times:
            sink.append(_concat(self._times), _concat(self._values))
        self._times, self._values, self._sink, self._sent = [], [], sink, 0

    def _take_new(self):
        """Samples not yet sent to rank 0 (owner on another rank)."""
        if self._sink is not None:
            return self._sink.drain()
        new = (_concat(self._times[self._sent:]), _concat(self._values[self._sent:]))
        self._sent = len(self._times)
        return new

    @property
    def times(self):
        if self._sink is not None:
            return self._sink.read()[0]
        return _concat(self._times)

    @property
    def values(self):
        if self._sink is not None:
            return self._sink.read()[1]
        return _concat(self._values)

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
        self.only = None if gids is None else np.unique(np.asarray(list(gids), dtype=np.int64))
        self._gids, self._times = [], []
        self._pending = []          # (gids, times) of this rank, not yet shared
        self._sink = None

    def _append(self, gids, times):
        """Spikes made on this rank."""
        gids, times = np.asarray(gids, dtype=np.int64), np.asarray(times, dtype=float)
        if len(gids) == 0:                  # most calls of a run: nothing to look at
            return
        if self.only is not None:           # a call's few spikes: found in the sorted gids
            at = np.minimum(np.searchsorted(self.only, gids), len(self.only) - 1)
            keep = self.only[at] == gids if len(self.only) else np.zeros(len(gids), bool)
            gids, times = gids[keep], times[keep]
        if len(gids):
            self._pending.append((gids, times))

    def _take_pending(self):
        g = _concat([p[0] for p in self._pending], np.int64)
        t = _concat([p[1] for p in self._pending])
        self._pending = []
        return g, t

    def _store(self, gids, times):
        """Spikes of every rank since the last share, stored in (time, gid) order."""
        order = np.lexsort((gids, times))
        gids, times = gids[order], times[order]
        if self._sink is not None:
            self._sink.append(gids, times)
        else:
            self._gids.append(gids)
            self._times.append(times)

    def _stream(self, sink):
        if self._gids:
            sink.append(_concat(self._gids, np.int64), _concat(self._times))
        self._gids, self._times, self._sink = [], [], sink

    def _sorted(self):
        if self._sink is not None:
            g, t = self._sink.read()
        else:
            g, t = _concat(self._gids, np.int64), _concat(self._times)
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


def share(comm, traces, records, streaming):
    """Merge what each rank recorded since the last share (a collective: every rank calls
    it at the same point).  Spike records: to every rank in memory, to rank 0 alone when
    streaming.  Traces: from their owner to rank 0."""
    spikes = [r._take_pending() for r in records]
    if comm.size == 1:
        for rec, (g, t) in zip(records, spikes):
            rec._store(g, t)
        return
    sent = [(k, *t._take_new()) for k, t in enumerate(traces) if t.owned and comm.rank != 0]
    if streaming:
        parts = comm.gather((spikes, sent))
        if comm.rank != 0:
            return
        spike_parts = [p[0] for p in parts]
    else:
        spike_parts = comm.allgather(spikes)
        parts = comm.gather((None, sent))
    for k, rec in enumerate(records):
        rec._store(_concat([p[k][0] for p in spike_parts], np.int64),
                   _concat([p[k][1] for p in spike_parts]))
    if comm.rank == 0:
        for _, rank_traces in parts:
            for k, times, values in rank_traces:
                if len(times):
                    traces[k]._append(times, values)
