"""Compartment areas and axial resistances integrated over a section's 3D points.

This follows NEURON exactly (treeset.cpp): a section of nseg segments has a node at each
segment centre plus a zero-area node at its far end.  A segment's area is the lateral area of
the frusta between its two boundaries; the resistance between consecutive nodes is the integral
of Ra/(pi r^2) over the two half segments between them, which over a frustum with end diameters
d0 and d1 is 4 Ra h / (pi d0 d1).
"""

import numpy as np

# Ra [ohm cm] * length [um] / area [um^2] * 1e4 [cm/um / cm^2/um^2] = ohm; 1e-6 -> Mohm
_MOHM = 1e-2


def _integrate(arc, diam, a, b):
    """Lateral area (µm²) and ∫ 4/(π d²) ds (1/µm) over arc-length interval [a, b]."""
    if b <= a:
        return 0.0, 0.0
    lo = max(np.searchsorted(arc, a, side="right") - 1, 0)
    hi = min(np.searchsorted(arc, b, side="left"), len(arc) - 1)
    area = 0.0
    resist = 0.0
    for k in range(lo, hi):
        s0, s1 = max(a, arc[k]), min(b, arc[k + 1])
        h = s1 - s0
        if h <= 0:
            continue
        span = arc[k + 1] - arc[k]
        slope = (diam[k + 1] - diam[k]) / span
        d0 = diam[k] + slope * (s0 - arc[k])
        d1 = diam[k] + slope * (s1 - arc[k])
        area += np.pi * 0.5 * (d0 + d1) * np.sqrt(h * h + 0.25 * (d1 - d0) ** 2)
        resist += 4.0 * h / (np.pi * d0 * d1)
    return area, resist


def segment_geometry(section, nseg, ra):
    """Return ``(area, ri)``: ``area[j]`` (µm²) of segment j, and ``ri[j]`` (MΩ) between node
    j and the node before it (the attachment point for j = 0); ``ri[nseg]`` joins the last
    centre to the zero-area far-end node."""
    arc = section.arc
    diam = section.diameters
    L = arc[-1]
    area = np.empty(nseg)
    ri = np.empty(nseg + 1)
    half = L / (2 * nseg)
    right_prev = 0.0
    for j in range(nseg):
        x0, xc, x1 = 2 * j * half, (2 * j + 1) * half, (2 * j + 2) * half
        a_left, r_left = _integrate(arc, diam, x0, xc)
        a_right, r_right = _integrate(arc, diam, xc, x1)
        area[j] = a_left + a_right
        ri[j] = _MOHM * ra * (r_left + right_prev)
        right_prev = r_right
    ri[nseg] = _MOHM * ra * right_prev
    return area, ri


def segment_diameters(section, nseg):
    """Each segment's diameter (µm) as NEURON gives ``seg.diam``: the mean of the 3D points'
    linearly interpolated diameter over the segment's length."""
    arc, diam = section.arc, section.diameters
    edges = np.linspace(0.0, arc[-1], nseg + 1)
    out = np.empty(nseg)
    for j in range(nseg):
        a, b = edges[j], edges[j + 1]
        s = np.concatenate(([a], arc[(arc > a) & (arc < b)], [b]))
        d = np.interp(s, arc, diam)
        out[j] = np.sum(0.5 * (d[1:] + d[:-1]) * np.diff(s)) / (b - a) if b > a else d[0]
    return out
