"""NeuroML2 cells (``*.cell.nml``): the morphology and the passive properties.

A NeuroML morphology is a list of segments (proximal and distal points with diameters, a
parent segment) and segment groups.  Sections are made as NEURON makes them from such a
file: each unbranched segment group (neuroLexId ``sao864921383``, what NEURON exports) is a
section, its segments in order; without such groups a section runs between branch points.
Types come from ``soma_group`` / ``axon_group`` / ``dendrite_group`` (or the names).  A
soma of zero length (a sphere: proximal = distal) becomes a cylinder along x with length =
diameter, its children attached at its centre, as for a single-point SWC soma.

Read too: specific capacitance, axial resistivity, the initial potential and passive
channel densities (conductance and reversal of each ``channelDensity``) — what a
simulator needs for the cells of C. elegans models (c302).  Units are NeuroML's, converted
to NEURON's: µF/cm², Ω·cm, mV, S/cm².
"""

import os
import re
import xml.etree.ElementTree as ET

import numpy as np

from neurosim.errors import MorphologyError
from neurosim.morphology import AXON, BASAL, SOMA, Morphology, Section, _sonata_order

UNBRANCHED = "sao864921383"
_UNITS = {"mV": 1.0, "V": 1e3, "uF_per_cm2": 1.0, "F_per_m2": 100.0, "ohm_cm": 1.0,
          "kohm_cm": 1e3, "ohm_m": 100.0, "S_per_cm2": 1.0, "mS_per_cm2": 1e-3,
          "S_per_m2": 1e-4, "uS_per_cm2": 1e-6}


def _tag(element):
    return element.tag.rsplit("}", 1)[-1]


def quantity(text, where):
    """A NeuroML quantity ("0.03 kohm_cm") in NEURON's units."""
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*([A-Za-z_0-9]*)\s*", str(text))
    if not m or m.group(2) not in _UNITS:
        raise MorphologyError(f"{where}: cannot read the quantity {text!r} (known units: "
                              f"{sorted(_UNITS)})")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _point(element, where):
    try:
        return np.array([float(element.get(k)) for k in ("x", "y", "z", "diameter")])
    except (TypeError, ValueError):
        raise MorphologyError(f"{where}: a point needs x, y, z and diameter") from None


def read_cell(path):
    """(Morphology, properties) of the first ``<cell>`` of a NeuroML2 file; properties:
    name, cm, ra, v_init, channels [(ion channel, g S/cm², e mV)]."""
    path = os.fspath(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise MorphologyError(f"{path}: not a readable NeuroML file ({e})") from None
    cell = next((e for e in root.iter() if _tag(e) == "cell"), None)
    if cell is None:
        raise MorphologyError(f"{path}: no <cell> element")
    morph = next((e for e in cell if _tag(e) == "morphology"), None)
    if morph is None:
        raise MorphologyError(f"{path}: cell {cell.get('id')!r} has no <morphology>")
    return _morphology(morph, path), _properties(cell, path)


def _segments(morph, path):
    segs = {}
    for e in morph:
        if _tag(e) != "segment":
            continue
        where = f"{path}: segment {e.get('id')}"
        sid = int(e.get("id"))
        parent = next((p for p in e if _tag(p) == "parent"), None)
        prox = next((p for p in e if _tag(p) == "proximal"), None)
        dist = next((p for p in e if _tag(p) == "distal"), None)
        if dist is None:
            raise MorphologyError(f"{where}: no distal point")
        if parent is not None and float(parent.get("fractionAlong", 1.0)) not in (1.0,):
            raise MorphologyError(f"{where}: fractionAlong other than 1 is not supported")
        segs[sid] = dict(name=e.get("name", ""),
                         parent=int(parent.get("segment")) if parent is not None else -1,
                         proximal=_point(prox, where) if prox is not None else None,
                         distal=_point(dist, where))
    if not segs:
        raise MorphologyError(f"{path}: the morphology has no segments")
    for sid, s in segs.items():
        if s["parent"] >= 0 and s["parent"] not in segs:
            raise MorphologyError(f"{path}: segment {sid}: parent {s['parent']} does not "
                                  "exist")
        if s["proximal"] is None:
            if s["parent"] < 0:
                raise MorphologyError(f"{path}: segment {sid}: the root needs a proximal "
                                      "point")
            s["proximal"] = segs[s["parent"]]["distal"]
    return segs


def _groups(morph, segs):
    """{group id: (neuroLexId, [segment ids])}, includes resolved."""
    raw = {}
    for e in morph:
        if _tag(e) == "segmentGroup":
            members = [int(m.get("segment")) for m in e if _tag(m) == "member"]
            includes = [m.get("segmentGroup") for m in e if _tag(m) == "include"]
            raw[e.get("id")] = (e.get("neuroLexId"), members, includes)

    def resolve(gid, seen=()):
        lex, members, includes = raw[gid]
        out = list(members)
        for inc in includes:
            if inc in raw and inc not in seen:
                out += resolve(inc, seen + (gid,))
        return out
    return {g: (raw[g][0], resolve(g)) for g in raw}


def _type_of(sid, segs, groups):
    for group, code in (("soma_group", SOMA), ("axon_group", AXON),
                        ("dendrite_group", BASAL)):
        if group in groups and sid in groups[group][1]:
            return code
    name = segs[sid]["name"].lower()
    return SOMA if "soma" in name else AXON if "axon" in name else BASAL


def _morphology(morph, path):
    segs = _segments(morph, path)
    groups = _groups(morph, segs)
    section_of_group = {}
    for g, (lex, members) in groups.items():
        if lex == UNBRANCHED:
            for sid in members:
                section_of_group.setdefault(sid, g)
    def one_section(a, b):
        """Whether child segment b goes on a's section."""
        if section_of_group:
            return section_of_group.get(a) is not None and \
                section_of_group.get(a) == section_of_group.get(b)
        return _type_of(a, segs, groups) == _type_of(b, segs, groups)

    children = {}
    for sid, s in segs.items():
        children.setdefault(s["parent"], []).append(sid)
    roots = children.get(-1, [])
    if len(roots) != 1:
        raise MorphologyError(f"{path}: a cell is one tree; found {len(roots)} root segments")
    # walk the tree, starting a section where the group changes, at branches and at the root
    chains, stack = [], [(roots[0], -1)]
    while stack:
        sid, parent_chain = stack.pop()
        chain = [sid]
        while True:
            kids = children.get(chain[-1], [])
            if len(kids) == 1 and one_section(chain[-1], kids[0]):
                chain.append(kids[0])
            else:
                break
        chains.append((chain, parent_chain))
        me = len(chains) - 1
        for kid in reversed(children.get(chain[-1], [])):
            stack.append((kid, me))
    sections = []
    for k, (chain, parent) in enumerate(chains):
        pts = [segs[chain[0]]["proximal"]] + [segs[s]["distal"] for s in chain]
        pts = np.array(pts)
        stype = _type_of(chain[0], segs, groups)
        sections.append([pts[:, :3], pts[:, 3], parent, stype])
    for k, (pts, diam, parent, stype) in enumerate(sections):
        if np.linalg.norm(pts[-1] - pts[0]) > 0:
            continue
        if stype != SOMA or len(pts) != 2:
            raise MorphologyError(f"{path}: segment {chains[k][0][0]} has zero length")
        d = float(diam[-1])                 # a sphere: NEURON's cylinder, length = diameter
        centre = pts[0]
        sections[k][0] = np.array([centre - [d / 2, 0, 0], centre + [d / 2, 0, 0]])
        sections[k][1] = np.array([d, d])
    out = []
    for k, (pts, diam, parent, stype) in enumerate(sections):
        parent_x = 1.0
        if parent >= 0 and sections[parent][3] == SOMA and len(chains[parent][0]) == 1 and \
                np.allclose(pts[0], sections[parent][0].mean(axis=0)):
            parent_x = 0.5                  # from the soma's centre
        out.append(Section(k, stype, pts, diam, parent, parent_x))
    try:
        return Morphology(_sonata_order(out), source=path)
    except MorphologyError:
        raise
    except Exception as e:
        raise MorphologyError(f"{path}: {e}") from None


def _properties(cell, path):
    props = dict(name=cell.get("id"), cm=1.0, ra=35.4, v_init=-65.0, channels=[])
    bio = next((e for e in cell.iter() if _tag(e) == "biophysicalProperties"), None)
    if bio is None:
        return props
    for e in bio.iter():
        tag, where = _tag(e), f"{path}: <{_tag(e)}>"
        if tag == "specificCapacitance":
            props["cm"] = quantity(e.get("value"), where)
        elif tag == "resistivity":
            props["ra"] = quantity(e.get("value"), where)
        elif tag == "initMembPotential":
            props["v_init"] = quantity(e.get("value"), where)
        elif tag == "channelDensity":
            props["channels"].append((e.get("ionChannel"), quantity(e.get("condDensity"),
                                                                    where),
                                      quantity(e.get("erev"), where)))
    return props
