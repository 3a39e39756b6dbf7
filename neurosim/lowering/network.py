"""Network -> event model: where a rank's detectors, gap junctions, POINTERs, connections and
Poisson drives land in a lowered model, before any backend exists.

Everything is addressed in the model's numbering: nodes as lowering (with its node-order
policy) numbered them, mechanism instances by their index in ``model.kernel_tables``.  A
backend takes the result as it is (``Backend.load_network``).
"""

from dataclasses import dataclass

import numpy as np

from neurosim.lowering import pointers, wiring
from neurosim.lowering.connections import check_lead_delays


@dataclass
class Detectors:
    """Threshold detectors: the node each watches, its threshold (mV), the gid it spikes for."""
    nodes: np.ndarray
    thresholds: np.ndarray
    gids: np.ndarray


@dataclass
class GapJunctions:
    """Each junction's two nodes and its conductance (µS)."""
    a: np.ndarray
    b: np.ndarray
    g: np.ndarray


@dataclass
class EventModel:
    """A rank's network lowered onto its model: detectors, gap junctions and the event rows
    (connections sorted by source, then the Poisson drives).  The POINTER indices and the
    FOR_NETCONS rows of each instance are written into the model's tables."""
    detectors: Detectors
    gap_junctions: GapJunctions
    rows: wiring.EventRows

    @property
    def connections(self):
        return self.rows.connections


def lower_network(net, model, gids, edges, drives, dt):
    """The :class:`EventModel` of ``net`` on this rank's lowered ``model``: ``gids`` (cell
    index -> gid of the model's cells), ``edges`` (this rank's connection columns: src, tgt,
    codes, labels, weights, delays) and ``drives`` (its Poisson drives), at step ``dt``."""
    index_of = {int(g): i for i, g in enumerate(gids)}
    tables = model.kernel_tables
    detectors = _detectors(net, model, index_of, gids)
    gaps = [(model.locate(la, index_of[ga]), model.locate(lb, index_of[gb]), g)
            for ga, la, gb, lb, g in net.gap_junctions if ga in index_of]
    gap_junctions = GapJunctions(np.array([x[0] for x in gaps], dtype=np.int64),
                                 np.array([x[1] for x in gaps], dtype=np.int64),
                                 np.array([x[2] for x in gaps], dtype=float))
    target = wiring.point_processes(tables)
    pointers.set_indices(net, model, tables, target, index_of, gids)
    rows = wiring.connection_rows(edges, drives, tables, target, index_of, net.seed, dt)
    for j, csr in rows.incoming.items():
        tables[j].incoming = csr
    check_lead_delays(rows.connections, dt, [t.mechanism.name for t in tables])
    return EventModel(detectors, gap_junctions, rows)


def _detectors(net, model, index_of, gids):
    found = [(index_of[g], c.detector) for g, c in net.cells.items()
             if c.detector is not None and g in index_of]
    return Detectors(np.array([model.locate(d[0], ci) for ci, d in found], dtype=np.int64),
                     np.array([d[1] for _, d in found], dtype=float),
                     np.array([gids[ci] for ci, _ in found], dtype=np.int64))
