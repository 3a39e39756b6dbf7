"""A simulation's wiring: where each connection, Poisson drive and POINTER of the network
lands in the kernel's tables.

The kernel reads connection rows sorted by source gid (a spike's events are consecutive
rows; within a source the rows keep the connection order), each a target (mechanism
table, instance), a weight vector and a delay; the Poisson drives' rows follow.  Built from
the network's columns without per-connection Python steps or int64 copies: the full-scale
cortical microcircuit has 3e8 connections.
"""

import numpy as np
from numba import njit

from neurosim.errors import ParameterError
from neurosim.lowering.connections import Connections, by_source
from neurosim.lowering.drive import drive_key


def point_processes(tables):
    """{(cell index, label) or ("gid", gid): (table, instance)}: every event target, in the
    kernel's table numbering (synapses by label, artificial cells by gid)."""
    target = {}
    for j, table in enumerate(tables):
        if table.labels is not None:
            for k, (ci, label) in enumerate(table.labels):
                target[(ci, label)] = (j, k)
        if table.gids is not None:
            for k, gid in enumerate(table.gids):
                target[("gid", int(gid))] = (j, k)
    return target


def connection_rows(sim, target, src, tgt, codes, labels, weights, delays):
    """The Connections of this rank (``src``..``delays``: its share of the network's
    columns), given to the backend with the Poisson drives' rows after them."""
    drives = [d for d in sim.network.drives if d[0] in sim.local]
    n, n_rows = len(src), len(src) + len(drives)
    if n and (src.max() >= 2**31 or n >= 2**32):
        raise ParameterError("an event keys its source gid in 31 bits and its row in 32: "
                             "source gids must be < 2**31, connections per rank < 2**32")
    ptr, index = by_source(src)                     # row -> connection
    tables, insts = np.zeros(n_rows, dtype=np.int32), np.zeros(n_rows, dtype=np.int32)

    def find(code, gid):
        label = labels[code]
        return target[("gid", gid) if label is None else (sim._index_of[gid], label)]

    resolve_targets(index, tgt, codes, len(labels), find, tables[:n], insts[:n])
    lengths = (~np.isnan(weights)).sum(axis=1)[index] if weights.shape[1] > 1 else None
    width = _weight_width(sim, tgt, codes, labels, lengths, tables[:n], index)
    del lengths
    wmat = np.zeros((n_rows, width))            # one allocation: connections, then drives
    gather_weights(weights, index, wmat)
    delay_rows = np.empty(n)
    gather(delays, index, delay_rows)
    del index
    lead = [t.mechanism.event_lead for t in sim.backend.tables]
    connections = Connections(ptr, delay_rows, tables[:n], insts[:n], wmat[:n], lead)
    _set_drives(sim, drives, target, n, tables, insts, wmat)
    for j, table in enumerate(sim.backend.tables):        # FOR_NETCONS: rows by instance
        if table.mechanism.uses_for_netcons:
            rows = np.flatnonzero(tables[:n] == j)        # connections, not drives
            inst = insts[rows]
            order = np.argsort(inst, kind="stable")
            first = np.zeros(len(table.nodes) + 1, dtype=np.int64)
            np.add.at(first, inst + 1, 1)
            table.incoming = (np.cumsum(first), rows[order].astype(np.int64))
    return connections


def _weight_width(sim, tgt, codes, labels, lengths, tables, index):
    """Every target takes events and as many weights (``lengths``: each row's; None: one
    each) as its connections give; returns the width of the kernel's weight rows (the most
    NET_RECEIVE arguments).  Rows are by source: connection ``index[row]`` (``tgt``,
    ``codes``: in connection order) names a bad one."""
    width = max([1, int(lengths.max()) if lengths is not None and len(lengths) else 1] +
                [len(t.mechanism.net_receive_args) for t in sim.model.mechanisms])
    for j, table in enumerate(sim.backend.tables):
        mech = table.mechanism
        bad = None
        if not mech.net_receive:
            hit = tables == j
            if not hit.any():
                continue
            bad = int(np.argmax(hit))
            reason = f"{mech.name} has no NET_RECEIVE and cannot take events"
        elif lengths is not None:
            over = (tables == j) & (lengths > max(1, len(mech.net_receive_args)))
            if over.any():
                bad = int(np.argmax(over))
                reason = (f"{lengths[bad]} weights for {mech.name}'s NET_RECEIVE"
                          f"{mech.net_receive_args}")
        if bad is not None:
            c = index[bad]
            raise ParameterError(f"connection to gid {tgt[c]} synapse "
                                 f"{labels[codes[c]]!r}: {reason}")
    return width


def _set_drives(sim, drives, target, n, tables, insts, wmat):
    """This rank's Poisson drives (``net.add_poisson_drive``): their weights and targets
    fill rows ``n`` on (the connections' rows are views of the first: plasticity writes
    through); their mean counts per step, keys and steps go to the backend."""
    for r, (gid, label, rate, w, start, stop, k) in enumerate(drives, start=n):
        tables[r], insts[r] = target[("gid", gid) if label is None else
                                     (sim._index_of[gid], label)]
        mech = sim.backend.tables[tables[r]].mechanism
        if not mech.net_receive or len(w) > max(1, len(mech.net_receive_args)):
            raise ParameterError(f"Poisson drive onto gid {gid} {label!r}: {mech.name} "
                                 f"takes no events of {len(w)} weight(s)")
        wmat[r, :len(w)] = w
    sim.backend.set_connections(wmat, tables, insts)
    dt = sim.dt
    sim.backend.set_drives(
        n + np.arange(len(drives), dtype=np.int64), tables[n:], insts[n:],
        np.array([d[2] * dt / 1000.0 for d in drives], dtype=float),
        np.array([drive_key(sim.network.seed, d[0], d[6]) for d in drives],
                 dtype=np.uint64),
        np.array([int(np.ceil(d[4] / dt - 1e-9)) for d in drives], dtype=np.int64),
        np.array([int(np.ceil(min(d[5], 1e15) / dt - 1e-9)) for d in drives],
                 dtype=np.int64))


def resolve_targets(index, tgt, codes, n_codes, find, tables, instances):
    """Fill each row's target (table, instance): row r is connection ``index[r]``, whose
    target is (label code, gid); ``find(code, gid)`` gives (table, instance), asked once per
    distinct pair.  With few labels the pairs are marked in a dense table and the rows are
    filled in one pass (no per-connection temporaries: 3e8 connections); with many (a
    SONATA circuit's label per synapse), the distinct pairs come from a sort."""
    n_gids = int(tgt.max()) + 1 if len(tgt) else 0
    if n_codes * n_gids <= 2**22:
        present = np.zeros(n_codes * n_gids, dtype=np.bool_)
        _mark_pairs(tgt, codes, n_gids, present)
        pairs = np.flatnonzero(present)
        lookup = np.zeros((2, n_codes * n_gids), dtype=np.int32)
        lookup[:, pairs] = _found(pairs, n_gids, find)
        _fill_rows(index, tgt, codes, n_gids, lookup, tables, instances)
    else:
        key = codes.astype(np.int64) * n_gids + tgt
        pairs, pair = np.unique(key, return_inverse=True)
        found = _found(pairs, n_gids, find)
        tables[:], instances[:] = found[0][pair][index], found[1][pair][index]


def _found(pairs, n_gids, find):
    return np.array([find(int(k // n_gids), int(k % n_gids)) for k in pairs],
                    dtype=np.int32).reshape(len(pairs), 2).T


@njit(cache=True, nogil=True)
def _mark_pairs(tgt, codes, n_gids, present):
    for c in range(len(tgt)):
        present[codes[c] * n_gids + tgt[c]] = True


@njit(cache=True, nogil=True)
def _fill_rows(index, tgt, codes, n_gids, lookup, tables, instances):
    for r in range(len(index)):
        c = index[r]
        k = codes[c] * n_gids + tgt[c]
        tables[r] = lookup[0, k]
        instances[r] = lookup[1, k]


@njit(cache=True, nogil=True)
def gather(values, index, out):
    """out[r] = values[index[r]], without the int64 copy of an int32 index that NumPy's
    fancy indexing makes."""
    for r in range(len(index)):
        out[r] = values[index[r]]


@njit(cache=True, nogil=True)
def gather_weights(weights, index, out):
    """Row r of ``out`` is weight row ``index[r]``, NaN (no such weight) as 0; columns of
    ``out`` beyond the weights' stay as they are."""
    for r in range(len(index)):
        for k in range(weights.shape[1]):
            w = weights[index[r], k]
            out[r, k] = 0.0 if np.isnan(w) else w
