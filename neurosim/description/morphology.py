"""Morphology: a tree of unbranched sections of 3D points with diameters and an SWC type.

Section ids follow SONATA: the soma is section 0 when present, then axon, basal and apical
sections (then any other SWC type), each group in file order.  A child section attaches to its
parent at ``parent_x`` (NEURON's ``connect child(0), parent(parent_x)``).  Coordinates and
diameters are in µm.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neurosim.errors import MorphologyError
from neurosim.providers import provided

SOMA, AXON, BASAL, APICAL = 1, 2, 3, 4
TYPE_NAMES = {SOMA: "soma", AXON: "axon", BASAL: "dend", APICAL: "apic"}
TYPE_CODES = {"soma": SOMA, "axon": AXON, "dend": BASAL, "basal": BASAL, "apic": APICAL,
              "apical": APICAL}


def type_code(t):
    """SWC type code of ``t`` (an int or a name such as ``"dend"``)."""
    if isinstance(t, str):
        if t in TYPE_CODES:
            return TYPE_CODES[t]
        if t.startswith("custom") and t[6:].isdigit():
            return int(t[6:])
        raise MorphologyError(f"unknown section type {t!r}; use one of {sorted(TYPE_CODES)} "
                              "or an SWC type code")
    code = int(t)
    if code < 1:
        raise MorphologyError(f"section type code must be >= 1, got {t!r}")
    return code


def type_name(code):
    return TYPE_NAMES.get(code, f"custom{code}")


@dataclass(frozen=True, eq=False)
class Section:
    """One unbranched section: ``points`` (n, 3) and ``diameters`` (n,) in µm, n >= 2."""

    id: int
    type: int
    points: np.ndarray
    diameters: np.ndarray
    parent: int = -1
    parent_x: float = 1.0
    # NEURON's pt3d arithmetic: points held in single precision and arc lengths summed from
    # single-precision coordinate differences (what a hoc template's pt3dadd gives NEURON)
    single_precision: bool = False

    @cached_property
    def arc(self):
        """Cumulative path length at each point (µm), starting at 0."""
        if self.single_precision:
            diff = np.diff(self.points.astype(np.float32), axis=0).astype(np.float64)
            steps = np.sqrt(np.sum(diff * diff, axis=1))
        else:
            steps = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
        return np.concatenate([[0.0], np.cumsum(steps)])

    @cached_property
    def length(self):
        return float(self.arc[-1])

    @property
    def type_name(self):
        return type_name(self.type)


class Morphology:
    """An immutable tree of :class:`Section` objects, ``sections[i].id == i``."""

    def __init__(self, sections, source="<code>"):
        self.source = source
        self.sections = tuple(sections)
        self._check()

    # ----------------------------------------------------------------- validation
    def _check(self):
        n = len(self.sections)
        if n == 0:
            raise MorphologyError(f"{self.source}: morphology has no sections")
        roots = [s.id for s in self.sections if s.parent < 0]
        if len(roots) != 1:
            raise MorphologyError(f"{self.source}: a cell must be one tree, found {len(roots)} "
                                  f"root sections {roots[:10]}")
        for i, s in enumerate(self.sections):
            where = f"{self.source}: section {i} ({s.type_name})"
            if s.id != i:
                raise MorphologyError(f"{where}: id {s.id} does not match its position")
            if s.points.ndim != 2 or s.points.shape[1] != 3 or len(s.points) < 2:
                raise MorphologyError(f"{where}: needs at least two 3D points")
            if s.diameters.shape != (len(s.points),):
                raise MorphologyError(f"{where}: {len(s.diameters)} diameters for "
                                      f"{len(s.points)} points")
            if not (np.all(np.isfinite(s.points)) and np.all(np.isfinite(s.diameters))):
                raise MorphologyError(f"{where}: non-finite coordinate or diameter")
            if np.any(s.diameters <= 0):
                raise MorphologyError(f"{where}: diameters must be > 0")
            if s.length <= 0:
                raise MorphologyError(f"{where}: has zero length")
            if s.parent >= n:
                raise MorphologyError(f"{where}: parent {s.parent} does not exist")
            if not 0.0 <= s.parent_x <= 1.0:
                raise MorphologyError(f"{where}: parent_x {s.parent_x} outside [0, 1]")
        # Every section must reach the root: otherwise the parent links hold a cycle.
        for s in self.sections:
            seen, j = set(), s.id
            while j >= 0:
                if j in seen:
                    raise MorphologyError(f"{self.source}: sections form a cycle through "
                                          f"section {j}")
                seen.add(j)
                j = self.sections[j].parent

    # ----------------------------------------------------------------- queries
    def __len__(self):
        return len(self.sections)

    def __getitem__(self, i):
        return self.sections[i]

    def __repr__(self):
        counts = {}
        for s in self.sections:
            counts[s.type_name] = counts.get(s.type_name, 0) + 1
        return f"Morphology({len(self)} sections {counts}, from {self.source})"

    @property
    def root(self):
        return next(s.id for s in self.sections if s.parent < 0)

    @property
    def has_soma(self):
        return self.sections[0].type == SOMA

    @property
    def parents(self):
        return np.array([s.parent for s in self.sections], dtype=np.int64)

    @property
    def types(self):
        return np.array([s.type for s in self.sections], dtype=np.int64)

    @property
    def lengths(self):
        return np.array([s.length for s in self.sections])

    def children(self, i):
        return [s.id for s in self.sections if s.parent == i]

    def preorder(self):
        """Section ids parents-first (depth first, children in id order)."""
        kids = {s.id: [] for s in self.sections}
        for s in self.sections:
            if s.parent >= 0:
                kids[s.parent].append(s.id)
        order, stack = [], [self.root]
        while stack:
            i = stack.pop()
            order.append(i)
            stack.extend(reversed(kids[i]))
        return order

    def distance_origin(self):
        """The point path distances are measured from: soma(0.5), else root(0)."""
        return (self.root, 0.5 if self.sections[self.root].type == SOMA else 0.0)

    def section_start_distances(self):
        """Path distance (µm) from the origin to the 0-end of every section.

        For the root section this is its distance at x = 0 from the origin; children of the
        root are measured from where they attach.
        """
        root, x0 = self.distance_origin()
        d = np.zeros(len(self))
        for i in self.preorder():
            s = self.sections[i]
            if s.parent < 0:
                d[i] = x0 * s.length
            else:
                d[i] = self.distance(s.parent, s.parent_x, _start=d)
        return d

    def distance(self, section, x, _start=None):
        """Path distance (µm) from the origin (soma centre) to ``(section, x)``."""
        start = self.section_start_distances() if _start is None else _start
        s = self.sections[section]
        if s.parent < 0:
            x0 = self.distance_origin()[1]
            return abs(x - x0) * s.length
        return start[section] + x * s.length

    def with_axon_stub(self, lengths=(30.0, 30.0), diameters=(1.0, 1.0), parent_x=0.5):
        """This morphology with its axon replaced by a chain of cylinders hanging off the soma
        at ``parent_x`` (the Allen Institute's perisomatic models use two of 30 µm x 1 µm)."""
        if not self.has_soma:
            raise MorphologyError(f"{self.source}: an axon stub needs a soma")
        keep = [s for s in self.sections if s.type != AXON]
        new_id = {s.id: k for k, s in enumerate(keep)}
        out = [Section(k, s.type, s.points, s.diameters,
                       new_id[s.parent] if s.parent >= 0 else -1, s.parent_x,
                       s.single_precision)
               for k, s in enumerate(keep)]
        soma = self.sections[0]
        start = soma.points[0] + parent_x * (soma.points[-1] - soma.points[0])
        # placed where NEURON's define_shape puts sections without 3D points (where bmtk's
        # extracellular potential sees them): in the xy plane, at the angle of the soma's
        # first-to-last points, turned by pi/2 off the ends, by -0.4 rad as the first of
        # several children at one point (the stub is connected last, the head of NEURON's
        # child list); the second piece goes on straight
        x1, y1 = soma.points[-1][:2] - soma.points[0][:2]
        angle = 0.0 if abs(x1) < 1e-6 and abs(y1) < 1e-6 else float(np.arctan2(y1, x1))
        if parent_x < 0.5:
            angle += np.pi
        if 0.0 < parent_x < 1.0:
            angle += np.pi / 2
        if any(s.parent == 0 and s.parent_x == parent_x for s in keep[1:]):
            angle -= 0.4
        direction = np.array([np.cos(angle), np.sin(angle), 0.0])
        parent, px = 0, parent_x
        for L, d in zip(lengths, diameters):
            end = start + float(L) * direction
            out.append(Section(len(out), AXON, np.array([start, end]),
                               np.array([float(d), float(d)]), parent, px))
            parent, px, start = len(out) - 1, 1.0, end
        return Morphology(_sonata_order(out), source=f"{self.source} (axon stub)")

    # ----------------------------------------------------------------- builders
    @classmethod
    def from_file(cls, path):
        """Read an SWC or Neurolucida ASC file (through MorphIO)."""
        return provided("morphology reader")(path)

    @classmethod
    def from_swc(cls, path):
        return cls.from_file(path)

    @classmethod
    def from_asc(cls, path):
        return cls.from_file(path)

    @classmethod
    def cable(cls, length, diameter, type="dend"):
        """One straight cylinder along x from the origin."""
        return cls.from_sections(parents=[-1], lengths=[length], diameters=[diameter],
                                 types=[type])

    @classmethod
    def from_sections(cls, parents, lengths, diameters, types=None, parent_x=None):
        """NEURON-style cylinders: section i has ``lengths[i]`` and ``diameters[i]`` (a number,
        or a pair ``(d0, d1)`` for a taper) and attaches to ``parents[i]`` at ``parent_x[i]``
        (default 1, its parent's far end).  Sections are laid out in the xy plane, each child
        turned a little from its parent, so the shape is drawable; only lengths matter
        electrically."""
        n = len(parents)
        types = ["dend"] * n if types is None else list(types)
        parent_x = [1.0] * n if parent_x is None else list(parent_x)
        if not (len(lengths) == len(diameters) == len(types) == len(parent_x) == n):
            raise MorphologyError("from_sections: parents, lengths, diameters, types and "
                                  "parent_x must have the same length")
        angle = np.zeros(n)
        start = np.zeros((n, 3))
        sections = []
        kids_seen = {}
        ends = {}
        for i in range(n):
            p = int(parents[i])
            if p >= i:
                raise MorphologyError(f"from_sections: section {i} has parent {p}; a parent "
                                      "must come before its children")
            L = float(lengths[i])
            if not np.isfinite(L) or L <= 0:
                raise MorphologyError(f"from_sections: section {i} length must be > 0, got "
                                      f"{lengths[i]!r}")
            d = np.broadcast_to(np.asarray(diameters[i], dtype=float), (2,)).copy()
            if p >= 0:
                k = kids_seen.get(p, 0)
                kids_seen[p] = k + 1
                angle[i] = angle[p] + (0.35 if k % 2 == 0 else -0.35) * (1 + k // 2)
                a, b = ends[p]
                start[i] = a + float(parent_x[i]) * (b - a)
            direction = np.array([np.cos(angle[i]), np.sin(angle[i]), 0.0])
            pts = np.array([start[i], start[i] + L * direction])
            ends[i] = (pts[0], pts[1])
            sections.append(Section(i, type_code(types[i]), pts, d, p,
                                    float(parent_x[i]) if p >= 0 else 1.0))
        return cls(_sonata_order(sections), source="from_sections")

    @classmethod
    def ball_and_stick(cls, soma_diameter=20.0, dend_length=200.0, dend_diameter=2.0,
                       dend_type="dend"):
        """A cylindrical soma (length = diameter) with one dendrite at its x=1 end."""
        return cls.from_sections(parents=[-1, 0], lengths=[soma_diameter, dend_length],
                                 diameters=[soma_diameter, dend_diameter],
                                 types=["soma", dend_type])

    @classmethod
    def tree(cls, depth, length, diameter, *, children=2, length_ratio=1.0,
             diameter_ratio=1.0, soma_diameter=None, type="dend"):
        """A regular branching tree: ``depth`` levels, ``children`` per branch point; each level
        scales length and diameter by the given ratios (Rall's 3/2 rule with 2 children:
        ``diameter_ratio = 2**(-2/3)``).  With ``soma_diameter`` a cylindrical soma (length =
        diameter) is the root and the tree hangs off its far end."""
        parents, lengths, diams, types = [], [], [], []
        if soma_diameter is not None:
            parents.append(-1)
            lengths.append(soma_diameter)
            diams.append(soma_diameter)
            types.append("soma")
        level = [len(parents) - 1]          # the trunk's parent: the soma, or none
        L, d = float(length), float(diameter)
        for lev in range(depth):
            per_parent = 1 if lev == 0 else children    # level 0 is a single trunk
            nxt = []
            for p in level:
                for _ in range(per_parent):
                    parents.append(p)
                    lengths.append(L)
                    diams.append(d)
                    types.append(type)
                    nxt.append(len(parents) - 1)
            level = nxt
            L *= length_ratio
            d *= diameter_ratio
        return cls.from_sections(parents, lengths, diams, types)


def _sonata_order(sections):
    """Renumber sections: soma first, then axon, basal, apical, other types; file order within
    a type.  Parent ids are remapped accordingly."""
    def rank(s):
        t = s.type
        return (0 if t == SOMA else 1 if t == AXON else 2 if t == BASAL else 3 if t == APICAL
                else 3 + t)
    order = sorted(range(len(sections)), key=lambda i: (rank(sections[i]), i))
    new_id = {old: new for new, old in enumerate(order)}
    out = []
    for new, old in enumerate(order):
        s = sections[old]
        out.append(Section(new, s.type, np.asarray(s.points, dtype=float),
                           np.asarray(s.diameters, dtype=float),
                           new_id[s.parent] if s.parent >= 0 else -1, s.parent_x,
                           s.single_precision))
    return out
