"""Reading a hoc file's template into a Morphology and a Cell."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurosim import mechanisms
from neurosim.description.cell import Cell
from neurosim.description.discretization import NSeg
from neurosim.description.morphology import Morphology, Section, _sonata_order, type_code
from neurosim.errors import NeurosimError

from .interpreter import TemplateInstance
from .syntax import HocError, Parser
from .values import _ION_VAR, _STDLIB_FILES, _SectionList


@dataclass
class HocTemplate:
    """A template instantiated by the reader: its sections (creation order), named lists."""
    name: str
    path: str
    sections: list                  # HocSection, creation order
    section_lists: dict             # name -> [section name]


def _parse(path):
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise HocError(f"{path}: cannot read ({e.strerror})") from None
    parser = Parser(text, str(path))
    return parser, parser.parse_file()


def read_template(path, template=None, args=()):
    """Instantiate ``template`` (default: the file's only template) from hoc file ``path``,
    as ``h.<template>(*args)`` would; return a :class:`HocTemplate`."""
    parser, stmts = _parse(path)
    templates = {}
    for st in stmts:
        if st.kind == "template":
            templates[st.a] = st
        elif st.kind == "expr" and st.a.kind == "call" and st.a.a in ("load_file", "xopen") \
                and len(st.a.b) == 1 and st.a.b[0].kind == "str" \
                and Path(st.a.b[0].a).name in _STDLIB_FILES:
            continue                 # NEURON's own library files: nothing for the reader
        else:
            raise parser.err(st.line, "only templates (begintemplate ... endtemplate) and "
                                      "load_file of NEURON's library are read outside a "
                                      "template")
    if not templates:
        raise HocError(f"{path}: no template (begintemplate) in the file")
    if template is None:
        if len(templates) > 1:
            raise HocError(f"{path}: {len(templates)} templates ({', '.join(templates)}); "
                           "choose one with template=")
        template = next(iter(templates))
    if template not in templates:
        raise HocError(f"{path}: no template {template!r} (found {', '.join(templates)})")
    inst = TemplateInstance(parser, templates[template], args)
    lists = {name: [s.name for s in v] for name, v in inst.vars.items()
             if isinstance(v, _SectionList)}
    return HocTemplate(template, str(path), list(inst.created), lists)


_TYPE_WORDS = (("soma", 1), ("axon", 2), ("dend", 3), ("basal", 3), ("apic", 4))


def _section_type(sec, lists):
    low = sec.name.lower()
    for word, code in _TYPE_WORDS:
        if low.startswith(word):
            return code
    for lname, members in lists.items():
        if sec.name in members and lname.lower() not in ("all",):
            ll = lname.lower()
            for word, code in _TYPE_WORDS:
                if word in ll:
                    return code
    return 3


def to_morphology(tpl, section_type=None):
    """The :class:`Morphology` of an instantiated template and ``{hoc name: section id}``.

    Sections with 3-D points keep them as given; a section without gets a straight line of
    its ``L`` and ``diam`` from where it attaches (NEURON computes its areas from L and diam
    alone, which this reproduces).  Types come from the name (soma*, axon*, dend*, apic*),
    else from a SectionList whose name says (soma_group, axon_group, dendrite_group ...),
    else dend; ``section_type(name) -> code or name`` overrides."""
    secs = tpl.sections
    index = {id(s): k for k, s in enumerate(secs)}
    roots = [s.name for s in secs if s.parent is None]
    if len(roots) != 1:
        raise HocError(f"{tpl.path}: template {tpl.name} is {len(roots)} trees (root sections "
                       f"{', '.join(roots[:10])}); a cell must be one tree")
    for s in secs:
        if len(s.pt3d) == 1:
            raise HocError(f"{tpl.path}: section {s.name} has a single 3-D point")
    # parents before children, to lay out sections without 3-D points
    order, seen = [], set()

    def visit(s):
        if id(s) in seen:
            return
        if s.parent is not None:
            visit(s.parent)
        seen.add(id(s))
        order.append(s)

    for s in secs:
        visit(s)
    pts = {}
    for s in order:
        if s.pt3d:
            pts[id(s)] = np.asarray(s.pt3d, dtype=float)
            continue
        if s.parent is None:
            start = np.zeros(3)
        else:
            pp = pts[id(s.parent)][:, :3]
            arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pp, axis=0),
                                                                  axis=1))])
            start = np.array([np.interp(s.parent_x * arc[-1], arc, pp[:, j])
                              for j in range(3)])
        end = start + np.array([s.L, 0.0, 0.0])
        pts[id(s)] = np.array([[*start, s.diam], [*end, s.diam]])
    out = []
    for k, s in enumerate(secs):
        if section_type is not None:
            code = type_code(section_type(s.name))
        else:
            code = _section_type(s, tpl.section_lists)
        p = pts[id(s)]
        parent = -1 if s.parent is None else index[id(s.parent)]
        out.append(Section(k, code, p[:, :3], p[:, 3], parent,
                           s.parent_x if s.parent is not None else 1.0,
                           single_precision=bool(s.pt3d)))
    ordered = _sonata_order(out)
    # _sonata_order sorts by (type rank, creation order): rebuild the name map likewise
    rank = {1: 0, 2: 1, 3: 2, 4: 3}
    order_ids = sorted(range(len(out)), key=lambda i: (rank.get(out[i].type, 3 + out[i].type),
                                                       i))
    names = {secs[old].name: new for new, old in enumerate(order_ids)}
    try:
        morph = Morphology(ordered, source=f"{tpl.path} ({tpl.name})")
    except NeurosimError as e:
        raise HocError(str(e)) from None
    return morph, names


def read_hoc(path, template=None, args=(), v_init=-65.0, section_type=None):
    """A :class:`~neurosim.description.cell.Cell` from a hoc template, with ``cell.section_names``
    (hoc name -> section id) and ``cell.hoc`` (the :class:`HocTemplate`)."""
    tpl = read_template(path, template, args)
    morph, names = to_morphology(tpl, section_type)
    by_id = {names[s.name]: s for s in tpl.sections}
    n = len(morph)

    def groups(key):
        out = {}
        for i in range(n):
            out.setdefault(key(by_id[i]), []).append(i)
        return out

    cell = Cell(morph, cm=1.0, ra=35.4, v_init=v_init, discretization=NSeg(1))
    for value, ids in groups(lambda s: (s.cm, s.Ra)).items():
        if value != (1.0, 35.4):
            cell.paint(ids, cm=value[0], ra=value[1])
    for value, ids in groups(lambda s: s.v).items():
        if value is not None:
            cell.paint(ids, v_init=value)
    for value, ids in groups(lambda s: s.nseg).items():
        if value != 1:
            cell.set_discretization(NSeg(value), region=ids)

    def with_ions(sec):
        # a mechanism that keeps an ion variable as its own parameter (the built-in hh's ena
        # and ek) takes the section's value of that variable
        out = []
        for mname, params in sec.mechanisms.items():
            params = dict(params)
            mech = mechanisms.get(mname)
            for pname in mech.parameters:
                if any(use.field(pname) for use in mech.ions):
                    continue
                m = _ION_VAR.match(pname)
                if m and pname not in params:
                    ion, which = (m.group(1), "e") if m.group(1) else \
                        (m.group(2), "ci" if m.group(3) == "i" else "co")
                    if which in sec.ions.get(ion, {}):
                        params[pname] = sec.ions[ion][which]
            out.append((mname, tuple(sorted(params.items()))))
        return tuple(out)

    for value, ids in groups(with_ions).items():
        for mech, params in value:
            cell.insert(mech, region=ids, **dict(params))
    for value, ids in groups(lambda s: tuple((ion, tuple(sorted(v.items())))
                                             for ion, v in s.ions.items())).items():
        for ion, vals in value:
            cell.set_ion(ion, region=ids, **dict(vals))
    cell.section_names = names
    cell.hoc = tpl
    return cell
