"""A network described gid by gid (Arbor's recipe): nothing is held whole.

    class Ring(ns.Recipe):
        def num_cells(self):
            return 1000
        def cell_description(self, gid):
            return ring_cell                       # one Cell object: lowered once
        def connections_on(self, gid):
            return [ns.Connection((gid - 1) % 1000, "syn", weight=0.05, delay=5.0)]

    sim = ns.Simulation(Ring())

A simulation asks the recipe about the gids it builds, one at a time, and never needs a
description of the whole network: the recipe computes each gid's cell, incoming connections
and gap junctions when asked (from a rule, a file, a formula).  Gids are 0 .. num_cells - 1.
A description is a Cell (share one object among gids of one type: it is lowered once), a
point neuron (``ns.models.LIF()``), an ARTIFICIAL_CELL mechanism, or ``SpikeSource(times)``.
"""

import numpy as np

from neurosim.description.items import Connection, GapJunction, PoissonDrive, SpikeSource
from neurosim.description.network import Network
from neurosim.errors import ParameterError


class Recipe:
    """Describe a network gid by gid; subclass and define ``num_cells`` and
    ``cell_description``, and where needed ``connections_on``, ``gap_junctions_on``,
    ``poisson_drives_on`` and ``position``."""

    def num_cells(self):
        raise NotImplementedError("a Recipe defines num_cells()")

    def cell_description(self, gid):
        raise NotImplementedError("a Recipe defines cell_description(gid)")

    def connections_on(self, gid):
        return []

    def gap_junctions_on(self, gid):
        return []

    def poisson_drives_on(self, gid):
        """The gid's Poisson inputs: a list of ``ns.PoissonDrive``."""
        return []

    def position(self, gid):
        """(x, y, z) µm of the gid, or None."""
        return None

    def seed(self):
        return 0


def count_cells(recipe):
    n = recipe.num_cells()
    if int(n) != n or n < 0:
        raise ParameterError(f"{type(recipe).__name__}.num_cells() must be a count, got {n!r}")
    return int(n)


def build_network(recipe, gids=None, kinds=None, trains=None):
    """The Network of ``gids`` (default: all) of ``recipe``, asking it one gid at a time.

    With ``kinds`` (the kind of every gid) the network is one rank's part: connections may
    come from gids built elsewhere, and ``trains`` gives every spike source's times."""
    n = count_cells(recipe)
    gids = np.arange(n) if gids is None else np.asarray(gids, dtype=np.int64)
    net = Network(seed=recipe.seed())
    if kinds is not None:
        net.remote_kinds = kinds
        net.spike_sources.update(trains)
    for gid in gids:
        gid = int(gid)
        description = recipe.cell_description(gid)
        if isinstance(description, SpikeSource):
            net.spike_sources[net._place(gid, None)] = spike_train(gid, description)
        else:
            net._place(gid, description)
        position = recipe.position(gid)
        if position is not None:
            net.positions[gid] = np.asarray(position, dtype=float)
    for gid in gids:
        gid = int(gid)
        for c in recipe.connections_on(gid):
            if not isinstance(c, Connection):
                raise ParameterError(f"connections_on({gid}) must give ns.Connection objects, "
                                     f"got {c!r}")
            target = gid if c.label is None else (gid, c.label)
            net.connect(c.source, target, weight=c.weight, delay=c.delay)
        for j in gap_junctions_of(recipe, gid):
            net.add_gap_junction((gid, j.location), (j.peer, j.peer_location), j.g)
        for d in recipe.poisson_drives_on(gid):
            if not isinstance(d, PoissonDrive):
                raise ParameterError(f"poisson_drives_on({gid}) must give ns.PoissonDrive "
                                     f"objects, got {d!r}")
            net.add_poisson_drive([gid if d.label is None else (gid, d.label)], d.rate,
                                  d.weight, d.start, d.stop)
    return net


def spike_train(gid, source):
    times = np.sort(np.asarray(source.times, dtype=float))
    if not np.all(np.isfinite(times)):
        raise ParameterError(f"gid {gid}: spike source times must be finite")
    return times


def gap_junctions_of(recipe, gid):
    out = list(recipe.gap_junctions_on(gid))
    for j in out:
        if not isinstance(j, GapJunction):
            raise ParameterError(f"gap_junctions_on({gid}) must give ns.GapJunction objects, "
                                 f"got {j!r}")
    return out


