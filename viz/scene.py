"""The geometry the viewer draws: every compartment of every cell as a truncated cone.

A compartment is a segment of a section (NEURON's: section s cut into nseg equal lengths);
its cone runs along the section's 3D points from the segment's start to its end, radii
from the diameters there.  Cells are turned by their rotation angles (radians, about x,
then y, then z: R = Rz Ry Rx, as SONATA's rotation_angle_{x,y,z}axis) and moved to their
position.  Each compartment keeps (gid, section, x) so that report elements find it.
"""

import numpy as np

from neurosim.lowering.cells import discretize


def rotation(angles):
    """R = Rz Ry Rx for angles (about x, y, z) in radians."""
    ax, ay, az = (float(a) for a in angles)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _at(section, arc):
    """Points and radii of ``section`` at path lengths ``arc``."""
    pts = np.stack([np.interp(arc, section.arc, section.points[:, k]) for k in range(3)],
                   axis=1)
    return pts, np.interp(arc, section.arc, section.diameters) / 2.0


def cell_cones(cell):
    """(p0, p1, r0, r1, section, x) of every compartment of ``cell``, cell-local."""
    part = discretize(cell, point_processes=False)
    centre = part.area > 0
    sec, x = part.section[centre], part.x[centre]
    nseg = part.layout.nseg[sec]
    p0, p1 = np.zeros((len(sec), 3)), np.zeros((len(sec), 3))
    r0, r1 = np.zeros(len(sec)), np.zeros(len(sec))
    for s in np.unique(sec):
        rows = np.flatnonzero(sec == s)
        section = cell.morphology[int(s)]
        k = np.round(x[rows] * nseg[rows] - 0.5)
        a, ra = _at(section, k / nseg[rows] * section.length)
        b, rb = _at(section, (k + 1) / nseg[rows] * section.length)
        p0[rows], p1[rows], r0[rows], r1[rows] = a, b, ra, rb
    return p0, p1, r0, r1, sec, x


def sphere_cones(centre, radius, rings=6):
    """A sphere as ``rings`` cones along x (radii following the circle): it looks round
    from any side.  (p0, p1, r0, r1, section, x)."""
    a = np.linspace(-1.0, 1.0, rings + 1)
    r = radius * np.sqrt(np.clip(1.0 - a ** 2, 0.0, 1.0))
    axis = np.zeros((rings + 1, 3))
    axis[:, 0] = radius * a
    pts = np.asarray(centre, float)[None, :] + axis
    return (pts[:-1], pts[1:], r[:-1], r[1:], np.zeros(rings, np.int64),
            (np.arange(rings) + 0.5) / rings)


class Scene:
    """Compartments as cones: ``p0``, ``p1`` (n, 3) µm, ``r0``, ``r1`` (n,) µm, and for each
    its ``gid``, ``section`` and ``x``; ``cell_range[gid]`` = (first, last + 1)."""

    def __init__(self, p0, p1, r0, r1, gid, section, x):
        self.p0, self.p1 = np.asarray(p0, float), np.asarray(p1, float)
        self.r0, self.r1 = np.asarray(r0, float), np.asarray(r1, float)
        self.gid = np.asarray(gid, np.int64)
        self.section, self.x = np.asarray(section, np.int64), np.asarray(x, float)
        self.cell_range = {}
        for g in np.unique(self.gid):
            rows = np.flatnonzero(self.gid == g)
            self.cell_range[int(g)] = (int(rows[0]), int(rows[-1]) + 1)

    def __len__(self):
        return len(self.r0)

    @classmethod
    def from_cells(cls, cells, positions=None, rotations=None, points=(), point_radius=8.0):
        """``cells``: {gid: Cell}; ``positions``/``rotations``: {gid: (x, y, z)} µm and
        {gid: (angle x, angle y, angle z)} radians (absent: origin, unturned).  A template
        shared by many gids is cut into cones once.  ``points``: gids of point neurons,
        each drawn as a sphere of ``point_radius`` µm at its position (section 0, so that
        a report of the cell colours it and a spike flashes it)."""
        positions, rotations = positions or {}, rotations or {}
        parts, done = [], {}
        for gid in sorted(int(g) for g in points if int(g) in positions):
            parts.append(sphere_cones(positions[gid], point_radius) + (gid,))
        for gid in sorted(cells):
            cell = cells[gid]
            key = cell.geometry_key()
            if key not in done:
                done[key] = cell_cones(cell)
            p0, p1, r0, r1, sec, x = done[key]
            turn = rotation(rotations.get(gid, (0.0, 0.0, 0.0)))
            shift = np.asarray(positions.get(gid, (0.0, 0.0, 0.0)), dtype=float)
            parts.append((p0 @ turn.T + shift, p1 @ turn.T + shift, r0, r1, sec, x, gid))
        if not parts:
            return cls(np.zeros((0, 3)), np.zeros((0, 3)), [], [], [], [], [])
        parts.sort(key=lambda part: part[-1])           # gid order: a cell's rows together
        p0, p1, r0, r1, sec, x = (np.concatenate(c) for c in zip(*(q[:6] for q in parts)))
        gid = np.concatenate([np.full(len(q[2]), q[6]) for q in parts])
        return cls(p0, p1, r0, r1, gid, sec, x)

    def index(self, gid, section, x):
        """The compartment of (gid, section, x) (x anywhere in the segment)."""
        lo, hi = self.cell_range[int(gid)]
        rows = np.arange(lo, hi)[self.section[lo:hi] == int(section)]
        if len(rows) == 0:
            raise KeyError(f"gid {gid} has no section {section}")
        return int(rows[np.argmin(np.abs(self.x[rows] - float(x)))])

    def bounds(self):
        pts = np.concatenate([self.p0, self.p1])
        r = np.concatenate([self.r0, self.r1])[:, None]
        return (pts - r).min(axis=0), (pts + r).max(axis=0)
