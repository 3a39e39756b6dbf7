"""Allen Cell Types models as bmtk builds them: SWCs, ``*_fit.json`` parameter sets and the
.mod files shipped in bmtk's wheel (read in place, never copied).

``perisomatic_cell`` follows bmtk's ``aibs_perisomatic`` processing: the reconstructed axon is
replaced by two 30 µm x 1 µm sections at the soma's centre, every section gets
``nseg = 1 + 2 int(L / (2 dL))``, then the passive properties, the genome (channel densities
per section type) and the reversal potentials of the fit are applied.
"""

import glob
import json
import os
from dataclasses import dataclass

import numpy as np

import neurosim as ns
from neurosim.errors import NeurosimError, ParameterError

TYPE_NAMES = ("soma", "axon", "dend", "apic")


def bionet_dir():
    try:
        import bmtk
    except ImportError:
        raise NeurosimError("the Allen models come from the bmtk package: "
                            "pip install 'neurosim[demo]'") from None
    return os.path.join(os.path.dirname(bmtk.__file__), "utils", "scripts", "bionet")


def allen_morphologies():
    """Paths of the Allen SWC files in the installed bmtk package."""
    base = os.path.join(bionet_dir(), "morphologies")
    paths = sorted(glob.glob(os.path.join(base, "*.swc")))
    if not paths:
        raise NeurosimError(f"no SWC files found in {base}")
    return paths


def allen_morphology(name="Scnn1a"):
    for path in allen_morphologies():
        if os.path.basename(path).startswith(name):
            return path
    raise NeurosimError(f"no Allen morphology named {name!r}; have "
                        f"{[os.path.basename(p) for p in allen_morphologies()]}")


def allen_fits():
    return sorted(glob.glob(os.path.join(bionet_dir(), "biophysical_neuron_models",
                                         "*_fit.json")))


def allen_mod_dir():
    return os.path.join(bionet_dir(), "mechanisms", "modfiles")


_CATALOGUE = {}


def allen_mechanisms():
    """The Allen .mod files compiled (once per process) and registered by name."""
    if not _CATALOGUE:
        found, _ = ns.load_catalogue(allen_mod_dir())
        _CATALOGUE.update(found)
    return _CATALOGUE


def allen_mechanism(name):
    """Mechanism ``name`` of an Allen fit: built in, else Allen's .mod file of that name (bmtk's
    copy; a same-named mechanism loaded from elsewhere must not stand in for the fit's
    channel), else one registered by name."""
    found = ns.mechanisms.builtin_mechanism(name)
    if found is not None:
        return found
    try:
        catalogue = allen_mechanisms()
    except NeurosimError:                   # no bmtk: only registered mechanisms
        catalogue = {}
    return ns.mechanisms.resolver(catalogue)(name)


def _mechanisms_of(genome, mechanism):
    """{name: Mechanism} for every channel of ``genome`` and ``pas``."""
    names = {g.get("mechanism") or str(g.get("name", "")).rsplit("_", 1)[-1]
             for g in genome if g.get("section") != "glob"}
    names.discard("")
    names.discard("cm")
    names.discard("Ra")
    return {name: mechanism(name) for name in sorted(names | {"pas"})}


@dataclass(frozen=True)
class BmtkDL:
    """bmtk's compartment rule: ``nseg = 1 + 2 int(L / (2 dL))`` (``run: dL`` in its config)."""
    dl: float = 20.0

    def nseg(self, section, ra, cm):
        return 1 + 2 * int(section.length / (2.0 * self.dl))


def perisomatic_cell(swc, fit, dl=20.0, mechanism=allen_mechanism):
    """An Allen perisomatic model: returns ``(cell, conditions)`` with conditions holding
    ``celsius`` and ``v_init``.  ``fit`` is a path or the parsed JSON."""
    params = fit if isinstance(fit, dict) else _load_json(fit)
    try:
        passive = params["passive"][0]
        conditions = params["conditions"][0]
        genome = params["genome"]
        cm = {c["section"]: float(c["cm"]) for c in passive["cm"]}
        ra, e_pas = float(passive["ra"]), float(passive["e_pas"])
    except (KeyError, IndexError, TypeError) as e:
        raise ParameterError(f"{fit}: not a perisomatic fit (missing {e}); all-active fits "
                             "are not supported yet") from None
    mechs = _mechanisms_of(genome, mechanism)
    morph = ns.Morphology.from_swc(swc).with_axon_stub()
    cell = ns.Cell(morph, cm=1.0, ra=ra, v_init=float(conditions["v_init"]),
                   discretization=BmtkDL(dl))
    for name in TYPE_NAMES:
        if _has(morph, name):
            if name not in cm:
                raise ParameterError(f"{fit}: no cm for the {name} sections of {swc}; this fit "
                                     "is for a cell type without them")
            cell.paint(name, cm=cm[name])
    cell.insert(mechs["pas"], region="all", e=e_pas)
    for gene in genome:
        region = gene["section"]
        if not _has(morph, region):
            continue
        mech = gene.get("mechanism") or gene["name"].rsplit("_", 1)[1]
        cell.insert(mechs[mech], region=region, **{gene["name"]: float(gene["value"])})
    for erev in conditions.get("erev", []):
        region = erev["section"]
        if not _has(morph, region):
            continue
        for key, value in erev.items():
            if key.startswith("e") and key != "erev":
                cell.set_ion(key[1:], region=region, e=float(value))
    return cell, {"celsius": float(conditions["celsius"]), "v_init": float(conditions["v_init"])}


def mean_diameter(section):
    """NEURON's ``sec.diam`` of a one-segment section: the length-weighted mean diameter."""
    arc, d = section.arc, section.diameters
    return float(np.sum(np.diff(arc) * (d[1:] + d[:-1]) / 2.0) / arc[-1])


def allactive_cell(swc, fit, dl=20.0, mechanism=allen_mechanism):
    """An Allen all-active model as bmtk's ``aibs_allactive`` builds it: the axon replaced by
    two 30 µm sections at the soma's far end (x = 1) whose diameters are those of the first
    and last reconstructed axon sections; passive properties and channels per section type
    from the genome (which also sets ``Ra``, ``cm``, ``g_pas`` and ``e_pas``)."""
    params = fit if isinstance(fit, dict) else _load_json(fit)
    try:
        passive = params["passive"][0]
        conditions = params["conditions"][0]
        genome = params["genome"]
    except (KeyError, IndexError, TypeError) as e:
        raise ParameterError(f"{fit}: not an Allen fit (missing {e})") from None
    mechs = _mechanisms_of(genome, mechanism)
    morph = ns.Morphology.from_swc(swc)
    axons = [s for s in morph.sections if s.type_name == "axon"]
    if not axons:
        raise ParameterError(f"{swc}: an all-active model needs a reconstructed axon")
    morph = morph.with_axon_stub(diameters=(mean_diameter(axons[0]), mean_diameter(axons[-1])),
                                 parent_x=1.0)
    cell = ns.Cell(morph, cm=1.0, ra=float(passive.get("ra", 35.4)),
                   v_init=float(conditions["v_init"]), discretization=BmtkDL(dl))
    cell.insert(mechs["pas"], region="all",
                **({"e": float(passive["e_pas"])} if "e_pas" in passive else {}))
    for c in passive.get("cm", []):
        if _has(morph, c["section"]):
            cell.paint(c["section"], cm=float(c["cm"]))
    for gene in genome:
        region = gene["section"]
        if region == "glob" or not _has(morph, region):
            continue
        name, value = gene["name"], float(gene["value"])
        if name in ("cm", "Ra"):
            cell.paint(region, **{name.lower(): value})
            continue
        mech = gene.get("mechanism") or name.rsplit("_", 1)[1]
        cell.insert(mechs[mech], region=region, **{name: value})
    for erev in conditions.get("erev", []):
        if _has(morph, erev["section"]):
            for key, value in erev.items():
                if key.startswith("e") and key != "erev":
                    cell.set_ion(key[1:], region=erev["section"], e=float(value))
    return cell, {"celsius": float(conditions["celsius"]), "v_init": float(conditions["v_init"])}


def _has(morph, type_name):
    return any(s.type_name == type_name for s in morph.sections)


def _load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ParameterError(f"{path}: cannot read the fit parameters: {e}") from None
