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
    if bio.membrane_properties is None:
        raise SonataError(f"{where}: no <membraneProperties>")
    template = _Template(path, {s.type_name for s in morph.sections}, models, mechanism)
    cm, ra, v_init = template.cable(bio.membrane_properties, bio.intracellular_properties)
    species = bio.intracellular_properties.species if bio.intracellular_properties else []
    template.channels(bio.membrane_properties)
    template.pools(species)
    v0 = set(v_init.values())
    if len(v0) > 1:
        raise SonataError(f"{path}: <initMembPotential>: differs between segment groups")
    cell = ns.Cell(morph, cm=1.0, v_init=v0.pop() if v0 else -65.0, discretization=BmtkDL(dl))
    for t in sorted(template.present):
        if t in cm or t in ra:
            cell.paint(t, cm=cm.get(t), ra=ra.get(t))
    try:
        template.paint(cell)
    except NeurosimError as e:
        raise SonataError(f"{where}: {e}") from None
    return cell, ({"v_init": cell.paints[0].values["v_init"]} if v_init else {})


def _element(obj, tag):
    """How the error messages name a libNeuroML object: its tag and identifying attributes."""
    attrs = {k: getattr(obj, a) for k, a in
             (("id", "id"), ("ionChannel", "ion_channel"), ("segmentGroup",
              "segment_groups"), ("value", "value"), ("ion", "ion"))
             if getattr(obj, a, None) is not None}
    return f"<{tag} " + " ".join(f'{k}="{v}"' for k, v in attrs.items()) + ">"


class _Template:
    """A template's properties read group by group: each (section type, property) set once
    (``claim``), the mechanisms to insert and the ions to set."""

    def __init__(self, path, present, models, mechanism):
        self.path, self.present, self.models, self.mechanism = path, present, models, mechanism
        self.done = {}                  # (section type, what) -> the element that set it
        self.inserts = []               # (mechanism, types, params)
        self.ions = []                  # (ion, types, erev or {"ci": .., "co": ..})

    def claim(self, types, what, element, value):
        for t in types:
            old = self.done.get((t, what))
            if old is not None and old[1] != value:
                raise SonataError(f"{self.path}: {element}: {what} of the {t} sections is set "
                                  f"again, to another value, after {old[0]} (inhomogeneous "
                                  "values are not supported)")
            self.done[(t, what)] = (element, value)

    def _mechanism(self, name, element):
        try:
            return self.mechanism(name)
        except SonataError as err:
            raise SonataError(f"{self.path}: {element}: {err}") from None

    def cable(self, mem, intra):
        """cm, ra and v_init by section type."""
        cm, ra, v_init = {}, {}, {}
        for items, tag, store in ((mem.specific_capacitances, "specificCapacitance", cm),
                                  (mem.init_memb_potentials, "initMembPotential", v_init),
                                  (intra.resistivities if intra else [], "resistivity", ra)):
            for p in items:
                e = _element(p, tag)
                value = _value(p.value, self.path, e)
                types = _sections(self.path, e, p.segment_groups, self.present)
                self.claim(types, tag, e, value)
                for t in types:
                    store[t] = value
        return cm, ra, v_init

    def channels(self, mem):
        """channelDensity and channelDensityNernst: a mechanism each, its conductance set
        as BioNet sets ``sec.<id>``."""
        for kind, items in (("channelDensity", mem.channel_densities),
                            ("channelDensityNernst", mem.channel_density_nernsts)):
            for c in items:
                e = _element(c, kind)
                types = _sections(self.path, e, c.segment_groups, self.present)
                mech = self._mechanism(c.ion_channel, e)
                g = _value(c.cond_density, self.path, e)
                params = {self._conductance(c, mech, e): g}
                if kind == "channelDensity":
                    self._reversal(c, mech, e, types, params)
                else:
                    uses = {u.ion: u for u in mech.ions}
                    if c.ion not in uses or f"e{c.ion}" not in uses[c.ion].reads:
                        raise SonataError(f"{self.path}: {e}: mechanism {c.ion_channel} does "
                                          f"not read e{c.ion}")
                    self.claim(types, f"nernst {c.ion}", e, True)
                self.claim(types, f"mechanism {c.ion_channel}", e,
                           tuple(sorted(params.items())))
                self.inserts.append((mech, types, params))

    def _conductance(self, c, mech, e):
        name = c.ion_channel
        if name == "pas":
            return "g"
        if c.id.endswith("_" + name) and c.id[:-len(name) - 1] in mech.parameters:
            return c.id[:-len(name) - 1]
        raise SonataError(f"{self.path}: {e}: the id should name the parameter that takes "
                          f"condDensity as '<parameter>_{name}' (BioNet sets "
                          f"sec.<id>); {name} has {list(mech.parameters)}")

    def _reversal(self, c, mech, e, types, params):
        """A channelDensity's erev: the ion's reversal where the mechanism reads it, else
        the mechanism's own reversal parameter."""
        if c.erev is None:
            raise SonataError(f"{self.path}: {e}: no erev")
        erev = _value(c.erev, self.path, e)
        ion = c.ion
        uses = {u.ion: u for u in mech.ions}
        if ion in uses and f"e{ion}" in uses[ion].reads:
            self.claim(types, f"e{ion}", e, erev)
            self.ions.append((ion, types, erev))
        elif f"e{ion}" in mech.parameters:
            params[f"e{ion}"] = erev
        elif ion == "non_specific" and "e" in mech.parameters:
            params["e"] = erev
        else:
            raise SonataError(f"{self.path}: {e}: mechanism {c.ion_channel} neither reads "
                              f"e{ion} nor has a reversal parameter, so erev cannot be "
                              "honoured")

    def pools(self, species):
        """<species> with their concentration models; every Nernst ion has a pool where it
        is used, and every concentration model is used."""
        path = self.path
        nernst = sorted((k[1].split()[1], k[0]) for k in self.done
                        if k[1].startswith("nernst "))
        pools = set()
        for s in species:
            e = _element(s, "species")
            types = _sections(path, e, s.segment_groups, self.present)
            mtype, mech, params = self._pool_mechanism(s, e)
            self.claim(types, f"pool {s.ion}", e, mtype)
            self.inserts.append((mech, types, params))
            values = {}
            if s.initial_concentration is not None:
                values["ci"] = _value(s.initial_concentration, path, e)
            if s.initial_ext_concentration is not None:
                values["co"] = _value(s.initial_ext_concentration, path, e)
            self.ions.append((s.ion, types, values))
            pools.update((s.ion, t) for t in types)
        for ion, t in nernst:
            if (ion, t) not in pools:
                raise SonataError(f"{path}: a channelDensityNernst of {ion} on the {t} "
                                  f"sections has no <species> with a concentration model for "
                                  f"{ion} there")
        for model_id in self.models:
            if not any(s.concentration_model == model_id for s in species):
                raise SonataError(f"{path}: {_describe(self.models[model_id])}: no <species> "
                                  "uses it")

    def _pool_mechanism(self, s, e):
        """The species' concentration model (its type, the mechanism writing ``<ion>i``, and
        the model's attributes as the mechanism's parameters)."""
        path = self.path
        model = self.models.get(s.concentration_model)
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
        mech = self._mechanism(mtype, me)
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
        return mtype, mech, params

    def paint(self, cell):
        """The mechanisms inserted and the ions set, by section type."""
        for mech, types, params in self.inserts:
            for t in types:
                cell.insert(mech, region=t, **params)
        for ion, types, values in self.ions:
            for t in types:
                if isinstance(values, dict):
                    cell.set_ion(ion, region=t, **values)
                else:
                    cell.set_ion(ion, region=t, e=values)
