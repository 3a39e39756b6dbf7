"""SONATA ``model_template: "nml:<file>.cell.nml"``: a NeuroML2 cell template as BioNet
instantiates it.

BioNet (bmtk ``NMLLoad``) takes the morphology from the node's SWC, replaces the axon by two
30 µm x 1 µm sections at the soma's centre, gives every section ``nseg = 1 + 2 int(L/(2 dL))``
and applies the template's biophysics per section type, the segment group naming the type
(``soma``/``somatic``, ``axon``/``axonal``, ``dend``/``basal``/``dendritic``,
``apic``/``apical``, ``all``).  neurosim does the same:

* ``specificCapacitance`` -> cm, ``resistivity`` -> Ra, ``initMembPotential`` -> v_init
  (the simulation's ``conditions.v_init`` still overrides it, as in BioNet);
* ``channelDensity`` / ``channelDensityNernst``: ``ionChannel`` is a mechanism (``pas`` or a
  .mod of ``components.mechanisms_dir``); ``condDensity`` (S/cm²) goes to the parameter the
  id names as BioNet reads it (``gbar_NaTs`` -> ``gbar`` of ``NaTs``; ``g`` for ``pas``);
  ``erev`` sets the ion's reversal (``ena``) where the mechanism uses the ion, else its
  parameter ``e<ion>`` (``ehcn`` of Ih) or ``e`` (a non-specific current);
* ``species`` with a ``concentrationModel`` (a .mod named by its ``type``, e.g. CaDynamics;
  its other attributes are parameters of that mechanism) and initial concentrations.

Everything else — a template morphology, ``variableParameter``, inhomogeneous or
single-segment values, other channel distributions, includes, unknown units — is refused
with a :class:`SonataError` naming the file and the element.
"""

import contextlib
import io as _io
import os
import re
import xml.etree.ElementTree as ET

import neurosim as ns
from neurosim.errors import NeurosimError

from .allen import BmtkDL
from .config import SonataError

GROUPS = {"soma": ("soma",), "somatic": ("soma",), "axon": ("axon",), "axonal": ("axon",),
          "dend": ("dend",), "basal": ("dend",), "dendritic": ("dend",), "apic": ("apic",),
          "apical": ("apic",), "all": ("soma", "axon", "dend", "apic")}
UNITS = {"mV": 1.0, "V": 1e3, "uF_per_cm2": 1.0, "F_per_m2": 100.0, "ohm_cm": 1.0,
         "kohm_cm": 1e3, "ohm_m": 100.0, "S_per_cm2": 1.0, "mS_per_cm2": 1e-3,
         "S_per_m2": 1e-4, "ms": 1.0, "s": 1e3, "um": 1.0, "mm": 1e3, "m": 1e6,
         "mM": 1.0, "M": 1e3, "mol_per_m3": 1.0, "mol_per_cm3": 1e6, "": 1.0}
# the elements neurosim honours, with the attributes each may carry
ALLOWED = {
    "neuroml": None, "notes": None, "annotation": None,
    "cell": {"id", "metaid", "neuroLexId"},
    "biophysicalProperties": {"id"}, "membraneProperties": set(),
    "intracellularProperties": set(),
    "channelDensity": {"id", "ionChannel", "condDensity", "erev", "segmentGroup", "ion"},
    "channelDensityNernst": {"id", "ionChannel", "condDensity", "segmentGroup", "ion"},
    "specificCapacitance": {"value", "segmentGroup"},
    "initMembPotential": {"value", "segmentGroup"},
    "resistivity": {"value", "segmentGroup"},
    "species": {"id", "ion", "concentrationModel", "initialConcentration",
                "initialExtConcentration", "segmentGroup"},
    "concentrationModel": None,        # attributes: checked against the mechanism
}


def _tag(e):
    return e.tag.rsplit("}", 1)[-1]


def _describe(e):
    attrs = " ".join(f'{k}="{v}"' for k, v in e.attrib.items() if "}" not in k)
    return f"<{_tag(e)} {attrs}>".replace(" >", ">")


def _value(text, path, element):
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*([A-Za-z_0-9]*)\s*", str(text))
    if not m or m.group(2) not in UNITS:
        raise SonataError(f"{path}: {element}: cannot read the quantity {text!r} (known "
                          f"units: {sorted(u for u in UNITS if u)})")
    return float(m.group(1)) * UNITS[m.group(2)]


def _check_xml(path):
    """Every element and attribute of the file is one neurosim honours; returns the
    top-level concentration models by id (libNeuroML does not keep them)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise SonataError(f"{path}: not a readable NeuroML file ({e})") from None
    models = {}
    skip = {c for e in root.iter() if _tag(e) in ("notes", "annotation") for c in e.iter()
            if c is not e}                     # free text and RDF: read by no simulator
    for e in root.iter():
        if e in skip:
            continue
        tag = _tag(e)
        if tag not in ALLOWED:
            raise SonataError(f"{path}: element {_describe(e)} is not supported in a cell "
                              "template (see docs/sonata.md, NeuroML cell templates)")
        allowed = ALLOWED[tag]
        extra = [k for k in e.attrib if "}" not in k and allowed is not None
                 and k not in allowed]
        if extra:
            raise SonataError(f"{path}: {_describe(e)}: attribute {extra[0]!r} is not "
                              "supported")
        if tag == "concentrationModel":
            models[e.get("id")] = e
    cells = [e for e in root.iter() if _tag(e) == "cell"]
    if len(cells) != 1:
        raise SonataError(f"{path}: a cell template holds one <cell>, this has {len(cells)}")
    return models


def _sections(path, element, group, present):
    if group is None:
        raise SonataError(f"{path}: {element}: no segmentGroup")
    if group not in GROUPS:
        raise SonataError(f"{path}: {element}: segmentGroup {group!r} is not one of "
                          f"{sorted(GROUPS)}")
    return [t for t in GROUPS[group] if t in present]


def build_cell(path, swc, mechanism, dl=20.0):
    """The cell of NeuroML template ``path`` on morphology ``swc``; ``mechanism(name)``
    makes a mechanism known (raising SonataError when it cannot).  Returns
    ``(cell, conditions)``; conditions holds ``v_init`` where the template sets it."""
    from neuroml import loaders

    path = os.fspath(path)
    models = _check_xml(path)
    try:
        quiet = _io.StringIO()           # libNeuroML prints schema warnings (numeric ids)
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            doc = loaders.NeuroMLLoader.load(path)
    except Exception as e:          # libNeuroML raises many kinds
        raise SonataError(f"{path}: libNeuroML cannot read it ({e})") from None
    cell_el = doc.cells[0]
    where = f"{path}: <cell id=\"{cell_el.id}\">"
    bio = cell_el.biophysical_properties
    if bio is None:
        raise SonataError(f"{where}: no <biophysicalProperties>")
    try:
        morph = ns.Morphology.from_swc(swc).with_axon_stub()
    except NeurosimError as e:
        raise SonataError(f"{where}: morphology {swc}: {e}") from None
    present = {s.type_name for s in morph.sections}
    mem = bio.membrane_properties
    intra = bio.intracellular_properties
    if mem is None:
        raise SonataError(f"{where}: no <membraneProperties>")
    done = {}                     # (section type, what) -> the element that set it

    def claim(types, what, element, value):
        for t in types:
            old = done.get((t, what))
            if old is not None and old[1] != value:
                raise SonataError(f"{path}: {element}: {what} of the {t} sections is set "
                                  f"again, to another value, after {old[0]} (inhomogeneous "
                                  "values are not supported)")
            done[(t, what)] = (element, value)

    def elem(obj, tag):
        attrs = {k: getattr(obj, a) for k, a in
                 (("id", "id"), ("ionChannel", "ion_channel"), ("segmentGroup",
                  "segment_groups"), ("value", "value"), ("ion", "ion"))
                 if getattr(obj, a, None) is not None}
        return f"<{tag} " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + ">"

    cm, ra, v_init = {}, {}, {}
    for items, tag, store in ((mem.specific_capacitances, "specificCapacitance", cm),
                              (mem.init_memb_potentials, "initMembPotential", v_init),
                              (intra.resistivities if intra else [], "resistivity", ra)):
        for p in items:
            e = elem(p, tag)
            value = _value(p.value, path, e)
            types = _sections(path, e, p.segment_groups, present)
            claim(types, tag, e, value)
            for t in types:
                store[t] = value
    inserts, ions = [], []       # (mechanism, types, params); (ion, types, values)
    for kind, items in (("channelDensity", mem.channel_densities),
                        ("channelDensityNernst", mem.channel_density_nernsts)):
        for c in items:
            e = elem(c, kind)
            types = _sections(path, e, c.segment_groups, present)
            name = c.ion_channel
            try:
                mech = mechanism(name)
            except SonataError as err:
                raise SonataError(f"{path}: {e}: {err}") from None
            g = _value(c.cond_density, path, e)
            if name == "pas":
                param = "g"
            elif c.id.endswith("_" + name) and c.id[:-len(name) - 1] in mech.parameters:
                param = c.id[:-len(name) - 1]
            else:
                raise SonataError(f"{path}: {e}: the id should name the parameter that takes "
                                  f"condDensity as '<parameter>_{name}' (BioNet sets "
                                  f"sec.<id>); {name} has {list(mech.parameters)}")
            params = {param: g}
            uses = {u.ion: u for u in mech.ions}
            ion = c.ion
            if kind == "channelDensity":
                if c.erev is None:
                    raise SonataError(f"{path}: {e}: no erev")
                erev = _value(c.erev, path, e)
                if ion in uses and f"e{ion}" in uses[ion].reads:
                    claim(types, f"e{ion}", e, erev)
                    ions.append((ion, types, erev))
                elif f"e{ion}" in mech.parameters:
                    params[f"e{ion}"] = erev
                elif ion == "non_specific" and "e" in mech.parameters:
                    params["e"] = erev
                else:
                    raise SonataError(f"{path}: {e}: mechanism {name} neither reads e{ion} nor "
                                      f"has a reversal parameter, so erev cannot be honoured")
            else:
                if ion not in uses or f"e{ion}" not in uses[ion].reads:
                    raise SonataError(f"{path}: {e}: mechanism {name} does not read e{ion}")
                claim(types, f"nernst {ion}", e, True)
            claim(types, f"mechanism {name}", e, tuple(sorted(params.items())))
            inserts.append((mech, types, params))
    nernst = sorted((k[1].split()[1], k[0]) for k in done if k[1].startswith("nernst "))
    pools = set()
    for s in (intra.species if intra else []):
        e = elem(s, "species")
        types = _sections(path, e, s.segment_groups, present)
        model = models.get(s.concentration_model)
        if model is None:
            raise SonataError(f"{path}: {e}: concentrationModel {s.concentration_model!r} is "
                              "not defined in the file")
        me = _describe(model)
        mtype = model.get("type")
        if mtype != model.get("id"):
            raise SonataError(f"{path}: {me}: its id and type differ (BioNet inserts the id, "
                              "NeuroML names the type); give both the mechanism's name")
        if model.get("ion") not in (None, s.ion):
            raise SonataError(f"{path}: {me}: ion differs from that of {e}")
        if model.get("segmentGroup") not in (None, s.segment_groups):
            raise SonataError(f"{path}: {me}: segmentGroup differs from that of {e}")
        try:
            mech = mechanism(mtype)
        except SonataError as err:
            raise SonataError(f"{path}: {me}: {err}") from None
        uses = {u.ion: u for u in mech.ions}
        if s.ion not in uses or f"{s.ion}i" not in uses[s.ion].writes:
            raise SonataError(f"{path}: {me}: mechanism {mtype} does not write {s.ion}i")
        params = {}
        for k, v in model.attrib.items():
            if k in ("id", "type", "ion", "segmentGroup") or "}" in k:
                continue
            if k not in mech.parameters:
                raise SonataError(f"{path}: {me}: attribute {k!r} is not a parameter of "
                                  f"mechanism {mtype} ({list(mech.parameters)})")
            params[k] = _value(v, path, me)
        claim(types, f"pool {s.ion}", e, mtype)
        inserts.append((mech, types, params))
        values = {}
        if s.initial_concentration is not None:
            values["ci"] = _value(s.initial_concentration, path, e)
        if s.initial_ext_concentration is not None:
            values["co"] = _value(s.initial_ext_concentration, path, e)
        ions.append((s.ion, types, values))
        pools.update((s.ion, t) for t in types)
    for ion, t in nernst:
        if (ion, t) not in pools:
            raise SonataError(f"{path}: a channelDensityNernst of {ion} on the {t} sections "
                              f"has no <species> with a concentration model for {ion} there")
    for model_id in models:
        if not any(s.concentration_model == model_id for s in (intra.species if intra else [])):
            raise SonataError(f"{path}: {_describe(models[model_id])}: no <species> uses it")

    v0 = set(v_init.values())
    if len(v0) > 1:
        raise SonataError(f"{path}: <initMembPotential>: differs between segment groups")
    cell = ns.Cell(morph, cm=1.0, v_init=v0.pop() if v0 else -65.0, discretization=BmtkDL(dl))
    for t in sorted(present):
        if t in cm or t in ra:
            cell.paint(t, cm=cm.get(t), ra=ra.get(t))
    try:
        for mech, types, params in inserts:
            for t in types:
                cell.insert(mech, region=t, **params)
        for ion, types, values in ions:
            for t in types:
                if isinstance(values, dict):
                    cell.set_ion(ion, region=t, **values)
                else:
                    cell.set_ion(ion, region=t, e=values)
    except NeurosimError as e:
        raise SonataError(f"{where}: {e}") from None
    return cell, ({"v_init": cell.paints[0].values["v_init"]} if v_init else {})
