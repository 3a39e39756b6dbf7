"""Extracellular potential: the line-source approximation, as bmtk's extracellular module
(``bmtk.simulator.bionet.modules.ecp``) computes it.

Every compartment (NEURON segment) is a straight line from its start to its end, carrying its
membrane current (``i_membrane_``, nA) spread evenly along it.  At an electrode at distance
``r`` the potential of a segment of length ``L`` is

    phi = I / (4 pi sigma L) * ln((l_up + sqrt(l_up^2 + r_T^2)) / (l_lo + sqrt(l_lo^2 + r_T^2)))

with ``r_ll`` = |projection of (electrode - segment centre) on the axis|, ``l_up = r_ll + L/2``,
``l_lo = r_ll - L/2`` and ``r_T^2`` = squared distance from the axis (bmtk's convention: the
projection is taken as positive, the formula symmetric about the centre).  sigma in S/m
(bmtk: 0.3), lengths in µm, currents in nA: the potential comes out in mV.

Segment ends are placed as bmtk places them: each section's 3D points, interpolated by arc
length at the segment boundaries, shifted so that the mean of the soma's 3D points is at the
origin, rotated by Rx(ax) Ry(ay) Rz(az) (bmtk's ``rotation_matrix``: for the angles of the
SONATA node's ``rotation_angle_{x,y,z}axis``) and moved to the node's position.

The membrane currents and the matrix-vector product (channels x nodes) run in the compiled
step (``codegen``): no Python per step.
"""

import numpy as np

from neurosim.description.morphology import SOMA
from neurosim.errors import ParameterError


def rotation(axis, theta):
    """The rotation matrix bmtk uses for angle ``theta`` (radians) about ``axis``
    (Euler-Rodrigues, counterclockwise for the axis pointing at the viewer)."""
    axis = np.asarray(axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    a = np.cos(theta / 2.0)
    b, c, d = -axis * np.sin(theta / 2.0)
    return np.array([[a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
                     [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
                     [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c]])


def rotation_xyz(angles):
    """Rx(ax) Ry(ay) Rz(az), as bmtk rotates a cell (its ``move_and_rotate``)."""
    ax, ay, az = (float(a) for a in angles)
    return rotation([1, 0, 0], ax) @ rotation([0, 1, 0], ay) @ rotation([0, 0, 1], az)


def segment_ends(cell, layout, position=None, angles=None):
    """(nodes, p0, p1): each compartment's node and the (n, 3) start and end points (µm),
    placed at ``position`` (the soma's centre) and rotated by ``angles`` as bmtk does."""
    morph = cell.morphology
    soma = [s.points for s in morph.sections if s.type == SOMA]
    centre = np.concatenate(soma).mean(axis=0) if soma else np.zeros(3)
    nodes, p0, p1 = [], [], []
    for k, sec in enumerate(morph.sections):
        n = int(layout.nseg[k])
        arc = sec.arc
        frac = arc / arc[-1] if arc[-1] > 0 else np.linspace(0.0, 1.0, len(arc))
        x = np.arange(n + 1) / n
        pts = np.column_stack([np.interp(x, frac, sec.points[:, c]) for c in range(3)])
        p0.append(pts[:-1])
        p1.append(pts[1:])
        nodes += [layout.node(k, (j + 0.5) / n) for j in range(n)]
    p0 = np.concatenate(p0) - centre
    p1 = np.concatenate(p1) - centre
    if angles is not None:
        rot = rotation_xyz(angles)
        p0, p1 = p0 @ rot.T, p1 @ rot.T
    shift = centre if position is None else np.asarray(position, dtype=float)
    return np.asarray(nodes, dtype=np.int64), p0 + shift, p1 + shift


def line_source(electrodes, p0, p1, sigma=0.3, minimum_distance=None, diameters=None):
    """Transfer resistances (channels, segments), mV/nA: the potential at each electrode
    ((channels, 3), µm) per nA of membrane current on each segment from ``p0`` to ``p1``
    ((segments, 3), µm).  ``minimum_distance``: None (none), a distance in µm, or "auto"
    (each segment's radius, from ``diameters``) below which the distance from the axis is
    not taken where the electrode projects near the segment (bmtk's rule)."""
    el = np.atleast_2d(np.asarray(electrodes, dtype=float))
    p0, p1 = np.asarray(p0, dtype=float), np.asarray(p1, dtype=float)
    mid = 0.5 * (p0 + p1)
    dl = p1 - p0
    length = np.linalg.norm(dl, axis=1)
    if np.any(length <= 0):
        raise ParameterError("a segment of zero length has no line source")
    rel = el[:, None, :] - mid[None, :, :]                  # (channels, segments, 3)
    r2 = np.einsum("csk,csk->cs", rel, rel)
    rll = np.abs(np.einsum("csk,sk->cs", rel, dl) / length)
    rt2 = np.maximum(r2 - rll ** 2, 0.0)
    up = rll + length / 2
    low = rll - length / 2
    if minimum_distance is not None and minimum_distance != 0:
        rm = 0.5 * np.asarray(diameters, dtype=float) if minimum_distance == "auto" \
            else float(minimum_distance)
        rm = np.broadcast_to(rm, length.shape)
        near = low < rm
        rt2 = np.where(near, np.maximum(rt2, rm * rm), rt2)
    num = up + np.sqrt(up ** 2 + rt2)
    den = low + np.sqrt(low ** 2 + rt2)
    return np.log(num / den) / length / (4 * np.pi * sigma)


class Ecp:
    """An ECP recording: ``times`` (ms) and ``data`` (samples, channels) in mV; ``electrodes``
    the channels' positions (µm); ``transfer`` (channels, nodes) the matrix behind it."""

    def __init__(self, electrodes, transfer, interval, every):
        self.electrodes = electrodes
        self.transfer = transfer
        self.interval = interval
        self.every = every
        self._times, self._data = [], []

    def _append(self, times, data):
        self._times.append(np.asarray(times, dtype=float))
        self._data.append(np.asarray(data, dtype=float))

    @property
    def times(self):
        return np.concatenate(self._times) if self._times else np.zeros(0)

    @property
    def data(self):
        return np.concatenate(self._data) if self._data else \
            np.zeros((0, len(self.electrodes)))


def transfer_matrix(sim, electrodes, gids=None, sigma=0.3, positions=None, rotations=None,
                    minimum_distance=None):
    """The (channels, nodes) transfer matrix of ``sim``'s cells ``gids`` (default all):
    positions (gid -> soma centre) default to the network's, rotations (gid -> angles about
    x, y, z) to none."""
    electrodes = np.atleast_2d(np.asarray(electrodes, dtype=float))
    if electrodes.shape[1] != 3:
        raise ParameterError("electrodes are (channels, 3) positions in µm")
    positions = sim.network.positions if positions is None else positions
    rotations = {} if rotations is None else rotations
    model = sim.model
    out = np.zeros((len(electrodes), model.n_nodes))
    chosen = [int(g) for g in (sim.gids if gids is None else gids)]
    for gid in chosen:
        if gid not in sim._index_of:
            raise ParameterError(f"cell {gid} is not a cell of this simulation")
        ci = sim._index_of[gid]
        cell = sim.cells[ci]
        nodes, p0, p1 = segment_ends(cell, model.layouts[ci], positions.get(gid),
                                     rotations.get(gid))
        diam = None
        if minimum_distance == "auto":
            # a segment's mean diameter (NEURON's seg.diam, what bmtk takes): area / (pi L)
            diam = model.area[nodes] / (np.pi * np.linalg.norm(p1 - p0, axis=1))
        out[:, nodes] += line_source(electrodes, p0, p1, sigma, minimum_distance, diam)
    return out
