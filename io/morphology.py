"""Morphology files: SWC and Neurolucida ASC, read through MorphIO.

SWC files are first checked line by line here, because MorphIO's messages do not always name
the line at fault (and it accepts radii <= 0).  The soma becomes section 0 the way NEURON's
Import3d makes it, so that the same file gives NEURON's cell:

* a single-point soma: a cylinder along x with length = diameter = 2r;
* a three-point (NeuroMorpho) or multi-point cylinder soma: a section through its points;
* a contour soma (ASC): a section along the contour's principal axis, its diameter at each of
  21 stations the contour's width there.

Children of the soma attach at its centre (x = 0.5); others at their parent's far end.
"""

import math
import os

import numpy as np

from neurosim.description.morphology import SOMA, Morphology, Section, _sonata_order
from neurosim.errors import MorphologyError


def read_morphology(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MorphologyError(f"{path}: no such morphology file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".swc":
        check_swc(path)
    elif ext not in (".asc", ".h5"):
        raise MorphologyError(f"{path}: unknown morphology format {ext!r} (use .swc, .asc "
                              "or .h5)")
    import morphio
    morphio.set_maximum_warnings(0)
    try:
        m = morphio.Morphology(path)
    except morphio.MorphioError as e:
        raise MorphologyError(f"{path}: {str(e).strip()}") from None
    except (UnicodeDecodeError, ValueError, RuntimeError) as e:
        raise MorphologyError(f"{path}: not a {ext[1:].upper()} text file MorphIO can read "
                              f"({type(e).__name__}: {e})") from None
    return _from_morphio(m, path)


def check_swc(path):
    """Raise MorphologyError naming ``path:line`` for malformed SWC content."""
    ids = {}
    rows = []
    with open(path, "r", errors="replace") as f:
        for lineno, raw in enumerate(f, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            cols = line.split()
            where = f"{path}:{lineno}"
            if len(cols) < 7:
                raise MorphologyError(f"{where}: expected 7 columns (id type x y z radius "
                                      f"parent), got {len(cols)}")
            try:
                sid, parent = int(cols[0]), int(cols[6])
                int(cols[1])                       # the type must be an integer too
                x, y, z, r = (float(c) for c in cols[2:6])
            except ValueError:
                raise MorphologyError(f"{where}: non-numeric field in {line!r}") from None
            if not all(math.isfinite(c) for c in (x, y, z, r)):
                raise MorphologyError(f"{where}: non-finite coordinate or radius")
            if r <= 0:
                raise MorphologyError(f"{where}: radius must be > 0, got {r}")
            if sid in ids:
                raise MorphologyError(f"{where}: duplicate sample id {sid} (first on line "
                                      f"{ids[sid]})")
            if parent == sid:
                raise MorphologyError(f"{where}: sample {sid} is its own parent (cycle)")
            ids[sid] = lineno
            rows.append((sid, parent, lineno, int(cols[1])))
    if not rows:
        raise MorphologyError(f"{path}: no samples")
    parent_of = {sid: parent for sid, parent, _, _ in rows}
    kind = {sid: t for sid, _, _, t in rows}
    for sid, parent, lineno, _ in rows:
        if parent >= 0 and parent not in ids:
            raise MorphologyError(f"{path}:{lineno}: sample {sid} has unknown parent {parent}")
    # a neurite sample with no children that starts a tree or leaves the soma is one point:
    # no section can be made of it (MorphIO would drop it without a word)
    has_child = {parent for _, parent, _, _ in rows}
    for sid, parent, lineno, t in rows:
        if t != 1 and sid not in has_child and (parent < 0 or kind.get(parent) == 1):
            start = "starts a tree of its own (parent -1)" if parent < 0 else \
                f"leaves the soma (parent {parent})"
            raise MorphologyError(f"{path}:{lineno}: sample {sid} (type {t}) {start} and "
                                  "has no children: a lone point makes no section")
    # A cycle: following parents from some sample never reaches a root.
    state = {}
    for sid, _, lineno, _ in rows:
        chain, j = [], sid
        while j >= 0 and j not in state:
            state[j] = "open"
            chain.append(j)
            j = parent_of[j]
        if j >= 0 and state[j] == "open":
            raise MorphologyError(f"{path}:{ids[j]}: parent links form a cycle through sample "
                                  f"{j}")
        for c in chain:
            state[c] = "done"


def _from_morphio(m, path):
    import morphio
    sections = []
    soma_type = m.soma_type
    soma_pts = np.asarray(m.soma.points, dtype=float)
    soma_d = np.asarray(m.soma.diameters, dtype=float)
    has_soma = len(soma_pts) > 0 and soma_type != morphio.SomaType.SOMA_UNDEFINED
    if has_soma:
        pts, d = _soma_section(soma_type, soma_pts, soma_d, path)
        sections.append(Section(0, SOMA, pts, d, -1, 1.0))
    offset = len(sections)
    for s in m.iter():
        parent = (s.parent.id + offset) if not s.is_root else (0 if has_soma else -1)
        parent_x = 1.0 if not s.is_root else 0.5
        pts = np.asarray(s.points, dtype=float)
        d = np.asarray(s.diameters, dtype=float)
        if len(pts) < 2:
            raise MorphologyError(f"{path}: section {s.id} has a single point")
        sections.append(Section(s.id + offset, int(s.type), pts, d, parent, parent_x))
    # m.iter() is depth-first; ids must be positions for _sonata_order
    sections.sort(key=lambda s: s.id)
    if any(s.id != i for i, s in enumerate(sections)):
        raise MorphologyError(f"{path}: MorphIO returned non-contiguous section ids")
    roots = [s for s in sections if s.parent < 0]
    if len(roots) > 1:
        raise MorphologyError(f"{path}: {len(roots)} trees without a soma to join them")
    try:
        return Morphology(_sonata_order(sections), source=path)
    except MorphologyError as e:
        raise MorphologyError(str(e)) from None


def _soma_section(soma_type, pts, d, path):
    import morphio
    if soma_type == morphio.SomaType.SOMA_SINGLE_POINT or len(pts) == 1:
        c, r = pts[0], d[0] / 2.0
        if not r > 0:
            raise MorphologyError(f"{path}: soma radius must be > 0")
        shift = np.array([r, 0.0, 0.0])
        return np.array([c - shift, c, c + shift]), np.full(3, 2.0 * r)
    if soma_type == morphio.SomaType.SOMA_SIMPLE_CONTOUR:
        return _contour_to_cylinders(pts, path)
    if soma_type == morphio.SomaType.SOMA_NEUROMORPHO_THREE_POINT_CYLINDERS:
        # centre, centre - r*y, centre + r*y, each with radius r: a cylinder of length 2r
        r = d[0] / 2.0
        return np.array([pts[1], pts[0], pts[2]]), np.full(3, 2.0 * r)
    return pts, d


def _contour_to_cylinders(pts, path, stations=21):
    """Diameters of a closed contour along its principal axis (as Import3d does)."""
    c = pts.mean(axis=0)
    q = pts - c
    _, _, vt = np.linalg.svd(q, full_matrices=False)
    major = vt[0]
    t = q @ major
    t0, t1 = t.min(), t.max()
    if not t1 > t0:
        raise MorphologyError(f"{path}: degenerate soma contour")
    out_pts, out_d = [], []
    closed = np.vstack([q, q[:1]])
    tc = closed @ major
    for s in np.linspace(t0, t1, stations):
        hits = []
        for k in range(len(closed) - 1):
            a, b = tc[k], tc[k + 1]
            if (a - s) * (b - s) <= 0 and a != b:
                f = (s - a) / (b - a)
                hits.append(closed[k] + f * (closed[k + 1] - closed[k]))
        if len(hits) >= 2:
            hits = np.array(hits)
            gaps = np.linalg.norm(hits[:, None, :] - hits[None, :, :], axis=2)
            i, j = np.unravel_index(np.argmax(gaps), gaps.shape)
            mid = (hits[i] + hits[j]) / 2
            width = gaps[i, j]
        else:
            mid, width = major * s, 0.0
        out_pts.append(c + mid - (mid @ major) * major + s * major)
        out_d.append(width)
    out_d = np.maximum(np.array(out_d), 1e-3)  # the two tips have no width
    return np.array(out_pts), out_d
