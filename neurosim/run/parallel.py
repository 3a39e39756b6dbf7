"""Ranks: one script under ``python script.py`` or ``mpiexec -n N python script.py``.

``default_comm()`` gives an MPI communicator (mpi4py) when the process was started by an
MPI launcher with more than one rank, and the serial one otherwise: ``import neurosim``
never imports mpi4py, and a serial run never initialises MPI.  Which rank owns which gid is
:mod:`neurosim.lowering.partition`'s.
"""

import functools
import os
import sys
import time

import numpy as np

# environment variables MPI launchers set for every rank (MPICH/Hydra, Open MPI, Slurm)
_LAUNCHER_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")


class SerialComm:
    """One rank: every collective is the identity."""
    rank, size = 0, 1

    def exchange_spikes(self, spikes, stop, route=None):
        return spikes, bool(stop)

    def start_exchange(self, spikes, stop, capacity):
        return _Done(spikes, bool(stop))

    def gather(self, obj):
        return [obj]

    def allgather(self, obj):
        return [obj]

    def alltoall(self, objs):
        return list(objs)

    def min(self, value):
        return value

    def abort(self, message):
        raise SystemExit(message)


# a spike on the wire: 17 bytes, no padding
SPIKE = np.dtype([("gid", "<i8"), ("time", "<f8"), ("exact", "u1")])


def pack_spikes(gids, times, exact):
    out = np.empty(len(gids), dtype=SPIKE)
    out["gid"], out["time"], out["exact"] = gids, times, exact
    return out


def unpack_spikes(packed):
    return (np.ascontiguousarray(packed["gid"]), np.ascontiguousarray(packed["time"]),
            packed["exact"].astype(bool))


class _Done:
    """An exchange that completed at once (one rank)."""

    def __init__(self, spikes, stop):
        self.result = spikes, stop, len(spikes[0])

    def finish(self):
        return self.result


class _InFlight:
    """A started exchange: fixed blocks of ``capacity`` spikes per rank (the first record
    of a block is a header: count, stop flag) travel by one non-blocking Iallgather while
    the caller computes; spikes beyond a rank's block follow in a blocking Allgatherv at
    ``finish``, which every rank then calls, as every rank sees every count."""

    def __init__(self, comm, packed, stop, capacity):
        self.comm, self.packed, self.capacity = comm, packed, capacity
        block = np.zeros(capacity + 1, dtype=SPIKE)
        block[0]["gid"], block[0]["exact"] = len(packed), int(bool(stop))
        n = min(len(packed), capacity)
        block[1:n + 1] = packed[:n]
        self.block = block                       # kept alive until the exchange ends
        self.recv = np.empty((comm.size, capacity + 1), dtype=SPIKE)
        self.request = comm.comm.Iallgather([block.view(np.uint8), comm.MPI.BYTE],
                                            [self.recv.view(np.uint8), comm.MPI.BYTE])

    def finish(self):
        """(spikes of every rank, whether any rank asks to stop, the largest count)."""
        self.request.Wait()
        counts = self.recv[:, 0]["gid"]
        parts = [self.recv[r, 1:1 + min(int(c), self.capacity)] for r, c in enumerate(counts)]
        if counts.max() > self.capacity:
            extra = self.packed[self.capacity:]
            sizes = np.maximum(counts - self.capacity, 0) * SPIKE.itemsize
            out = np.empty(int(sizes.sum()) // SPIKE.itemsize, dtype=SPIKE)
            self.comm.comm.Allgatherv([extra.view(np.uint8), self.comm.MPI.BYTE],
                                      [out.view(np.uint8), sizes, self.comm.MPI.BYTE])
            parts.append(out)
        spikes = unpack_spikes(np.concatenate(parts))
        return spikes, bool(self.recv[:, 0]["exact"].any()), int(counts.max())


class MpiComm:
    """Collectives over an mpi4py communicator (MPI.COMM_WORLD by default)."""

    def __init__(self, comm=None):
        from mpi4py import MPI
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        if self.size > 1:
            _abort_on_uncaught(self)

    def exchange_spikes(self, spikes, stop, route=None):
        """Every rank's spikes (gids, times, exact) to the ranks that need them, and whether
        any rank asks to stop.  ``route`` None: every spike to every rank (Allgatherv);
        else ``route(gids)`` gives (spike index, destination rank) pairs (Alltoallv)."""
        packed = pack_spikes(*spikes)
        if route is None:
            head = np.array([len(packed), int(bool(stop))], dtype=np.int64)
            heads = np.empty((self.size, 2), dtype=np.int64)
            self.comm.Allgather(head, heads)
            counts = heads[:, 0] * SPIKE.itemsize
            out = np.empty(int(heads[:, 0].sum()), dtype=SPIKE)
            self.comm.Allgatherv([packed.view(np.uint8), self.MPI.BYTE],
                                 [out.view(np.uint8), counts, self.MPI.BYTE])
            return unpack_spikes(out), bool(heads[:, 1].any())
        which, rank = route(spikes[0])
        order = np.argsort(rank, kind="stable")
        send = packed[which[order]]
        head = np.zeros((self.size, 2), dtype=np.int64)
        head[:, 0] = np.bincount(rank, minlength=self.size)
        head[:, 1] = int(bool(stop))
        heads = np.empty((self.size, 2), dtype=np.int64)
        self.comm.Alltoall(head, heads)
        out = np.empty(int(heads[:, 0].sum()), dtype=SPIKE)
        self.comm.Alltoallv([send.view(np.uint8), head[:, 0] * SPIKE.itemsize,
                             self.MPI.BYTE],
                            [out.view(np.uint8), heads[:, 0] * SPIKE.itemsize, self.MPI.BYTE])
        return unpack_spikes(out), bool(heads[:, 1].any())

    def start_exchange(self, spikes, stop, capacity):
        """Begin sending every spike to every rank and return at once; ``finish()`` on the
        result gives (spikes, stop, largest count).  The exchange of one call's spikes
        overlaps the next call's computation."""
        return _InFlight(self, pack_spikes(*spikes), stop, capacity)

    def gather(self, obj):
        """``obj`` of every rank, in rank order, on rank 0 (None elsewhere)."""
        return self.comm.gather(obj, root=0)

    def allgather(self, obj):
        return self.comm.allgather(obj)

    def alltoall(self, objs):
        return self.comm.alltoall(list(objs))

    def min(self, value):
        return self.comm.allreduce(value, op=self.MPI.MIN)

    def abort(self, message):
        """End every rank now: a rank that failed alone must not leave the others waiting
        in a collective."""
        sys.stderr.write(f"neurosim rank {self.rank}: {message}\n")
        sys.stderr.flush()
        # the launcher forwards output asynchronously and MPI_Abort kills at once: leave it
        # a moment to pass the message on (it was lost once in CI without this)
        time.sleep(0.5)
        self.comm.Abort(1)
        os._exit(1)                     # should Abort return before the launcher kills us


_HOOKED = []


def _abort_on_uncaught(comm):
    """An exception no one catches on one rank (a user's script raising between two runs)
    would leave the other ranks waiting in the next collective for ever: print it, then end
    every rank (as ``python -m mpi4py`` does)."""
    if _HOOKED:
        return
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        # Ctrl-C reaches every rank, and neurosim stops them all at one step: no abort
        # (it would leave the ranks' files open)
        if not issubclass(kind, KeyboardInterrupt):
            comm.abort(f"uncaught {kind.__name__}: ending every rank")
    sys.excepthook = hook
    _HOOKED.append(hook)


def default_comm():
    """MpiComm under an MPI launcher with several ranks, else SerialComm."""
    sizes = [os.environ.get(k) for k in _LAUNCHER_SIZE]
    if any(s is not None and s.isdigit() and int(s) > 1 for s in sizes):
        try:
            comm = MpiComm()
        except ImportError:
            raise RuntimeError("started by an MPI launcher with several ranks but mpi4py is "
                               "not installed: pip install 'neurosim[mpi]'") from None
        if comm.size > 1:
            return comm
    return SerialComm()


class SpikeRoute:
    """Which ranks need the spikes of this rank's gids: those holding connections from them.
    Calling it with spike gids gives (spike index, destination rank) pairs, for Alltoallv."""

    def __init__(self, comm, owner, needed):
        needed = np.unique(np.asarray(needed, dtype=np.int64))
        needed = needed[owner[needed] >= 0]                 # spike sources: on every rank
        asks = [needed[owner[needed] == r] for r in range(comm.size)]
        got = comm.alltoall(asks)                           # who needs which of my gids
        gids = np.concatenate(got + [np.zeros(0, dtype=np.int64)])
        ranks = np.concatenate([np.full(len(a), r, dtype=np.int64) for r, a in enumerate(got)]
                               + [np.zeros(0, dtype=np.int64)])
        order = np.lexsort((ranks, gids))
        self.gids, first = np.unique(gids[order], return_index=True)
        self.ptr = np.append(first, len(order)).astype(np.int64)
        self.ranks = ranks[order]

    def __call__(self, spike_gids):
        pos = np.searchsorted(self.gids, spike_gids)
        pos = np.minimum(pos, max(len(self.gids) - 1, 0))
        found = (len(self.gids) > 0) & (self.gids[pos] == spike_gids) \
            if len(self.gids) else np.zeros(len(spike_gids), dtype=bool)
        counts = np.where(found, self.ptr[pos + 1] - self.ptr[pos], 0) if len(self.gids) \
            else np.zeros(len(spike_gids), dtype=np.int64)
        which = np.repeat(np.arange(len(spike_gids)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        start = np.repeat(self.ptr[pos] if len(self.gids) else counts, counts)
        return which, self.ranks[start + offsets]

    def mean_destinations(self, comm):
        """Ranks a spike goes to, averaged over every rank's spiking gids that have targets."""
        total = comm.allgather((len(self.ranks), len(self.gids)))
        sent, sources = sum(t[0] for t in total), sum(t[1] for t in total)
        return sent / sources if sources else 0.0


def on_every_rank(method):
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
