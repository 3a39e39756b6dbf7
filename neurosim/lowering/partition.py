"""Gids to ranks: cells joined by gap junctions or POINTERs stay together, and the units go
to the least loaded rank, largest first (cost: compartments and mechanism instances), so every
rank count gives the same network.  ``partition`` splits a whole Network; ``build_local``
builds one rank's part of a Recipe without describing the whole network anywhere."""

import numpy as np

from neurosim.description.network import Network
from neurosim.description.network import ARTIFICIAL, CELL, CELL_WITHOUT_DETECTOR, SOURCE
from neurosim.description.recipe import (SpikeSource, build_network, count_cells, gap_junctions_of,
                                         spike_train)
from neurosim.errors import ParameterError
from neurosim.lowering.cells import discretize


def connected_units(gids, pairs):
    """Gids that must share a rank, as lists: ``pairs`` (gap junctions, POINTERs) join them
    (union-find)."""
    root = {}

    def find(g):
        root.setdefault(g, g)
        while root[g] != g:
            root[g] = root[root[g]]
            g = root[g]
        return g

    for a, b in pairs:
        ra, rb = find(int(a)), find(int(b))
        root[max(ra, rb)] = min(ra, rb)
    units = {}
    for g in sorted(int(g) for g in gids):
        units.setdefault(find(g), []).append(g)
    return list(units.values())


def cell_cost(cell):
    """Estimated cost of a cell per step: nodes, mechanism instances and synapses."""
    part = discretize(cell)
    instances = sum(len(placed.nodes) for placed in part.mechanisms.values())
    return 1.0 + part.n + instances


def _costs(network):
    """Cost of each gid (a template is measured once); 1 for an artificial cell."""
    per_template = {}
    cost = {}
    for gid, cell in network.cells.items():
        if id(cell) not in per_template:
            per_template[id(cell)] = cell_cost(cell)
        cost[gid] = per_template[id(cell)]
    for gid in network.artificial:
        cost[gid] = 1.0
    return cost


def balance(units, cost, size):
    """Units to ranks, largest first to the least loaded: a list of ``size`` sorted gid
    arrays, and each rank's load.  ``cost[gid]`` is a gid's cost."""
    loads = np.zeros(size)
    owned = [[] for _ in range(size)]
    costs = [sum(cost[g] for g in unit) for unit in units]
    for k in sorted(range(len(units)), key=lambda k: (-costs[k], units[k][0])):
        r = int(np.argmin(loads))
        owned[r] += units[k]
        loads[r] += costs[k]
    return [np.array(sorted(o), dtype=np.int64) for o in owned], loads


def partition(network, size):
    """A list of ``size`` sorted gid arrays (cells and artificial cells; spike sources are
    known to every rank), and each rank's load."""
    pairs = [(a, b) for a, _, b, _, _ in network.gap_junctions]
    pairs += [(g, src) for g, _, _, src, _ in network.pointers]
    units = connected_units(list(network.cells) + list(network.artificial), pairs)
    return balance(units, _costs(network), size)


def owner_of(owned, n_gids):
    """Rank of every gid 0 .. n_gids - 1 (-1: a spike source, on every rank)."""
    owner = np.full(n_gids, -1, dtype=np.int64)
    for rank, gids in enumerate(owned):
        owner[gids] = rank
    return owner


def _survey(recipe, gids):
    """Kind and cost of each of ``gids``, their gap-junction pairs and spike trains."""
    scratch = Network()
    kinds = np.empty(len(gids), dtype=np.int8)
    costs = np.empty(len(gids))
    per_template, pairs, trains = {}, [], {}
    for k, gid in enumerate(gids):
        gid = int(gid)
        description = recipe.cell_description(gid)
        if isinstance(description, SpikeSource):
            kinds[k], costs[k], trains[gid] = SOURCE, 0.0, spike_train(gid, description)
            continue
        scratch._place(gid, description)
        if gid in scratch.cells:
            cell = scratch.cells[gid]
            if id(cell) not in per_template:
                per_template[id(cell)] = cell_cost(cell)
            spikes = cell.detector is not None or any(s.mechanism.uses_net_event
                                                      for s in cell.synapses)
            kinds[k] = CELL if spikes else CELL_WITHOUT_DETECTOR
            costs[k] = per_template[id(cell)]
        elif gid in scratch.artificial:
            kinds[k], costs[k] = ARTIFICIAL, 1.0
        else:                                   # a VecStim-like spike train mechanism
            kinds[k], costs[k], trains[gid] = SOURCE, 0.0, np.zeros(0)
        pairs += [(gid, j.peer) for j in gap_junctions_of(recipe, gid)]
    return kinds, costs, pairs, trains


def build_local(recipe, comm):
    """This rank's part of ``recipe``: its gids' cells and their incoming connections, built
    without describing the whole network anywhere.  Each rank first surveys every size-th
    gid (kind, cost, gap junctions, spike trains) and all ranks share the survey, so they
    agree on the partition.  Returns (network, owned gid arrays of every rank, loads)."""
    n = count_cells(recipe)
    mine = np.arange(comm.rank, n, comm.size)
    survey = comm.allgather((mine, *_survey(recipe, mine)))
    kinds, costs = np.empty(n, dtype=np.int8), np.empty(n)
    pairs, trains = [], {}
    for gids, k, c, p, t in survey:
        kinds[gids], costs[gids] = k, c
        pairs += p
        trains.update(t)
    for a, b in pairs:
        if not (0 <= b < n) or kinds[b] in (ARTIFICIAL, SOURCE):
            raise ParameterError(f"gap_junctions_on({a}): peer gid {b} is not a cell with "
                                 "compartments")
    units = connected_units(np.flatnonzero(kinds != SOURCE), pairs)
    owned, loads = balance(units, costs, comm.size)
    return build_network(recipe, owned[comm.rank], kinds, trains), owned, loads
