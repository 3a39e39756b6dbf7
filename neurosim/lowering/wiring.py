"""A simulation's wiring: where each connection, Poisson drive and POINTER of the network
lands in the kernel's tables.

The kernel reads connection rows sorted by source gid (a spike's events are consecutive
rows; within a source the rows keep the connection order), each a target (mechanism
table, instance), a weight vector and a delay; the Poisson drives' rows follow.  Built from
the network's columns without per-connection Python steps or int64 copies: the full-scale
cortical microcircuit has 3e8 connections.
"""

from dataclasses import dataclass, field

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


@dataclass
class EventRows:
    """The kernel's event rows of one rank: the connections (sorted by source), then one row
    per Poisson drive; every row's target (table, instance) and weights; the drives' mean
    counts per step, keys and first and end steps; and, per table whose NET_RECEIVE loops
    over its connections (FOR_NETCONS), the rows of each instance (CSR)."""
    connections: Connections
    weights: np.ndarray                  # (rows, width): the connections' rows are views
    tables: np.ndarray
    instances: np.ndarray
    drive_rows: np.ndarray
    drive_mean: np.ndarray               # input spikes per step
    drive_key: np.ndarray
    drive_first: np.ndarray
    drive_end: np.ndarray
    incoming: dict = field(default_factory=dict)


def connection_rows(columns, drives, tables, target, index_of, seed, dt):
    """This rank's :class:`EventRows`: ``columns`` (src, tgt, codes, labels, weights, delays:
    its share of the network's connection columns), ``drives`` (its ``DriveRecord``s),
    ``tables`` (the kernel's mechanism tables), ``target`` (``point_processes(tables)``),
    ``index_of`` (gid -> this rank's cell index), the network's ``seed`` and ``dt``."""
    src, tgt, codes, labels, weights, delays = columns
    n, n_rows = len(src), len(src) + len(drives)
    if n and (src.max() >= 2**31 or n >= 2**32):
        raise ParameterError("an event keys its source gid in 31 bits and its row in 32: "
                             "source gids must be < 2**31, connections per rank < 2**32")
    ptr, index = by_source(src)                     # row -> connection
    rows_table = np.zeros(n_rows, dtype=np.int32)
    rows_inst = np.zeros(n_rows, dtype=np.int32)

    def find(code, gid):
        label = labels[code]
        return target[("gid", gid) if label is None else (index_of[gid], label)]

    resolve_targets(index, tgt, codes, len(labels), find, rows_table[:n], rows_inst[:n])
    lengths = (~np.isnan(weights)).sum(axis=1)[index] if weights.shape[1] > 1 else None
    width = _weight_width(tables, tgt, codes, labels, lengths, rows_table[:n], index)
    del lengths
    wmat = np.zeros((n_rows, width))            # one allocation: connections, then drives
    gather_weights(weights, index, wmat)
    delay_rows = np.empty(n)
    gather(delays, index, delay_rows)
    del index
    lead = [t.mechanism.event_lead for t in tables]
    connections = Connections(ptr, delay_rows, rows_table[:n], rows_inst[:n], wmat[:n], lead)
    _drive_rows(drives, tables, target, index_of, n, rows_table, rows_inst, wmat)
    incoming = {}
    for j, table in enumerate(tables):                     # FOR_NETCONS: rows by instance
        if table.mechanism.uses_for_netcons:
            rows = np.flatnonzero(rows_table[:n] == j)     # connections, not drives
            inst = rows_inst[rows]
            order = np.argsort(inst, kind="stable")
            first = np.zeros(len(table.nodes) + 1, dtype=np.int64)
            np.add.at(first, inst + 1, 1)
            incoming[j] = (np.cumsum(first), rows[order].astype(np.int64))
    return EventRows(
        connections, wmat, rows_table, rows_inst,
        drive_rows=n + np.arange(len(drives), dtype=np.int64),
        drive_mean=np.array([d.rate * dt / 1000.0 for d in drives], dtype=float),
        drive_key=np.array([drive_key(seed, d.gid, d.index) for d in drives],
                           dtype=np.uint64),
        drive_first=np.array([int(np.ceil(d.start / dt - 1e-9)) for d in drives],
                             dtype=np.int64),
        drive_end=np.array([int(np.ceil(min(d.stop, 1e15) / dt - 1e-9)) for d in drives],
                           dtype=np.int64),
        incoming=incoming)


def _weight_width(tables, tgt, codes, labels, lengths, rows_table, index):
    """Every target takes events and as many weights (``lengths``: each row's; None: one
    each) as its connections give; returns the width of the kernel's weight rows (the most
    NET_RECEIVE arguments).  Rows are by source: connection ``index[row]`` (``tgt``,
    ``codes``: in connection order) names a bad one."""
    width = max([1, int(lengths.max()) if lengths is not None and len(lengths) else 1] +
                [len(t.mechanism.net_receive_args) for t in tables])
    for j, table in enumerate(tables):
        mech = table.mechanism
        bad = None
        if not mech.net_receive:
            hit = rows_table == j
            if not hit.any():
                continue
            bad = int(np.argmax(hit))
            reason = f"{mech.name} has no NET_RECEIVE and cannot take events"
        elif lengths is not None:
            over = (rows_table == j) & (lengths > max(1, len(mech.net_receive_args)))
            if over.any():
                bad = int(np.argmax(over))
                reason = (f"{lengths[bad]} weights for {mech.name}'s NET_RECEIVE"
                          f"{mech.net_receive_args}")
        if bad is not None:
            c = index[bad]
            raise ParameterError(f"connection to gid {tgt[c]} synapse "
                                 f"{labels[codes[c]]!r}: {reason}")
    return width


def _drive_rows(drives, tables, target, index_of, n, rows_table, rows_inst, wmat):
    """The Poisson drives (``net.add_poisson_drive``) fill rows ``n`` on: their targets and
    weights."""
    for r, d in enumerate(drives, start=n):
        rows_table[r], rows_inst[r] = target[("gid", d.gid) if d.label is None else
                                             (index_of[d.gid], d.label)]
        mech = tables[rows_table[r]].mechanism
        if not mech.net_receive or len(d.weight) > max(1, len(mech.net_receive_args)):
            raise ParameterError(f"Poisson drive onto gid {d.gid} {d.label!r}: {mech.name} "
                                 f"takes no events of {len(d.weight)} weight(s)")
        wmat[r, :len(d.weight)] = d.weight


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
