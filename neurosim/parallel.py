"""Ranks: one script under ``python script.py`` or ``mpiexec -n N python script.py``.

``default_comm()`` gives an MPI communicator (mpi4py) when the process was started by an
MPI launcher with more than one rank, and the serial one otherwise: ``import neurosim``
never imports mpi4py, and a serial run never initialises MPI.

``partition(network, size)`` assigns gids to ranks: cells joined by gap junctions or
POINTERs stay together, and the units go to the least loaded rank, largest first (cost:
compartments and mechanism instances), so every rank count gives the same network.
"""

import os
import sys

import numpy as np

# environment variables MPI launchers set for every rank (MPICH/Hydra, Open MPI, Slurm)
_LAUNCHER_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")


class SerialComm:
    """One rank: every collective is the identity."""
    rank, size = 0, 1

    def allgather_spikes(self, gids, times, exact):
        return gids, times, exact

    def min(self, value):
        return value

    def abort(self, message):
        raise SystemExit(message)


class MpiComm:
    """Collectives over an mpi4py communicator (MPI.COMM_WORLD by default)."""

    def __init__(self, comm=None):
        from mpi4py import MPI
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    def _gather(self, array, dtype):
        array = np.ascontiguousarray(array, dtype=dtype)
        counts = np.array(self.comm.allgather(len(array)), dtype=np.int64)
        out = np.empty(int(counts.sum()), dtype=dtype)
        self.comm.Allgatherv(array, [out, counts])
        return out

    def allgather_spikes(self, gids, times, exact):
        """Every rank's spikes, on every rank (rank order; consumers sort them)."""
        return (self._gather(gids, np.int64), self._gather(times, np.float64),
                self._gather(exact, np.bool_))

    def min(self, value):
        return self.comm.allreduce(value, op=self.MPI.MIN)

    def abort(self, message):
        """End every rank now: a rank that failed alone must not leave the others waiting
        in a collective."""
        sys.stderr.write(f"neurosim rank {self.rank}: {message}\n")
        sys.stderr.flush()
        self.comm.Abort(1)
        os._exit(1)                     # should Abort return before the launcher kills us


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


def _units(network):
    """Gids that must share a rank: gap junctions and POINTERs join cells (union-find)."""
    root = {}

    def find(g):
        root.setdefault(g, g)
        while root[g] != g:
            root[g] = root[root[g]]
            g = root[g]
        return g

    for a, _, b, _, _ in network.gap_junctions:
        ra, rb = find(a), find(b)
        root[max(ra, rb)] = min(ra, rb)
    for g, _, _, src, _ in network.pointers:
        ra, rb = find(g), find(src)
        root[max(ra, rb)] = min(ra, rb)
    units = {}
    for g in sorted(list(network.cells) + list(network.artificial)):
        units.setdefault(find(g), []).append(g)
    return list(units.values())


def _costs(network):
    """Estimated cost of each gid: nodes, synapses and mechanism tables of its cell (a
    template is measured once), 1 for an artificial cell."""
    from .lowering import _lower_cell
    per_template = {}
    cost = {}
    for gid, cell in network.cells.items():
        if id(cell) not in per_template:
            part = _lower_cell(cell)
            per_template[id(cell)] = 1.0 + part["n"] + len(cell.synapses)
        cost[gid] = per_template[id(cell)]
    for gid in network.artificial:
        cost[gid] = 1.0
    return cost


def partition(network, size):
    """A list of ``size`` sorted gid arrays (cells and artificial cells; spike sources are
    known to every rank)."""
    loads = np.zeros(size)
    owned = [[] for _ in range(size)]
    units = _units(network)
    cost = _costs(network)
    costs = [sum(cost[g] for g in unit) for unit in units]
    for k in sorted(range(len(units)), key=lambda k: (-costs[k], units[k][0])):
        r = int(np.argmin(loads))
        owned[r] += units[k]
        loads[r] += costs[k]
    return [np.array(sorted(o), dtype=np.int64) for o in owned], loads
