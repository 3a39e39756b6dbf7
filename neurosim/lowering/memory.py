"""How much memory a simulation will take, estimated from its description before anything
is allocated, and refused early when the machine does not have it.

The estimate counts nodes (compartments with their mechanism states), synapses and
connections, at bytes per item measured on the ring and on Allen perisomatic cells (the
backend's arrays, the lowered model and the mechanism tables) and rounded up; ``neurosim
info`` prints the same numbers.  A connection's bytes include its description's (25 with
one weight, ``Network.connection_bytes``), which a Simulation finds allocated already and
does not ask of the machine again.  Measured peaks per connection: the microcircuit at
scale 0.5 (7.5e7 connections) 64 bytes, at full scale (3.0e8) 57 bytes, description
included.
"""

import os

from neurosim.errors import ParameterError
from neurosim.lowering.cells import discretize

BYTES_PER_NODE = 250
BYTES_PER_SYNAPSE = 150
BYTES_PER_CONNECTION = 70
BYTES_PER_POINT_NEURON = 200


def node_counts(cells):
    """Nodes of each cell, lowering one cell per distinct geometry only."""
    by_key = {}
    out = []
    for cell in cells:
        key = cell.geometry_key()
        if key not in by_key:
            by_key[key] = discretize(cell).n
        out.append(by_key[key])
    return out


def estimate(cells, n_point_neurons, n_connections):
    """Bytes the simulation of these cells, point neurons and connections will hold."""
    nodes = sum(node_counts(cells))
    synapses = sum(len(c.synapses) for c in cells)
    return (nodes * BYTES_PER_NODE + synapses * BYTES_PER_SYNAPSE +
            n_connections * BYTES_PER_CONNECTION + n_point_neurons * BYTES_PER_POINT_NEURON)


def available():
    """Bytes this machine can still give (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def ranks_on_this_machine(comm):
    for key in ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"):
        value = os.environ.get(key, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return comm.size


def check(need, comm):
    """Refuse (ParameterError) when this rank's estimate ``need`` and its siblings' on the
    machine exceed the memory available."""
    have = available()
    local = ranks_on_this_machine(comm)
    if have is None or need * local <= have:
        return
    gib = 2.0 ** 30
    raise ParameterError(
        f"the simulation needs about {need / gib:.1f} GiB on each of {local} rank(s) on this "
        f"machine ({need * local / gib:.1f} GiB), and {have / gib:.1f} GiB is available: run "
        "on more machines (mpiexec across nodes), on fewer ranks per machine, or a smaller "
        "model (scale); force=True (neurosim run --force) goes on anyway")
