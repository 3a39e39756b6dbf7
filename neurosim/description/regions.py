"""Regions: which parts of a cell a property or mechanism is painted on.

A region is one of

* a type name: ``"soma"``, ``"axon"``, ``"dend"`` (basal), ``"apic"``, or ``"all"``, or a
  list of them;
* a section id or a list of section ids;
* a predicate ``f(section) -> bool`` called with each
  :class:`~neurosim.description.morphology.Section`;
* :class:`Distance` — the compartments whose centre lies within a path-distance range of the
  soma centre (a compartment-level region, like NEURON's ``h.distance`` loops).
"""

from dataclasses import dataclass

import numpy as np

from neurosim.description.morphology import TYPE_CODES, type_code, type_name
from neurosim.errors import MorphologyError, ParameterError


@dataclass(frozen=True)
class Distance:
    """Compartments whose centre's path distance from the soma centre is in [min, max) µm,
    within the sections of ``region``."""
    min: float = 0.0
    max: float = float("inf")
    region: object = "all"


def section_mask(morph, region):
    """Boolean mask over the sections of ``morph`` selected by a section-level region."""
    n = len(morph)
    if isinstance(region, Distance):
        raise ParameterError("a Distance region selects compartments, not sections; use it "
                             "with cell.insert(...), not for ra/cm/discretization")
    if isinstance(region, str):
        if region == "all":
            return np.ones(n, dtype=bool)
        if region not in TYPE_CODES and not region.startswith("custom"):
            raise ParameterError(f"unknown region {region!r}; use 'all', one of "
                                 f"{sorted(TYPE_CODES)}, section ids, a predicate or Distance")
        return morph.types == type_code(region)
    if callable(region):
        return np.array([bool(region(s)) for s in morph.sections], dtype=bool)
    if isinstance(region, (list, tuple)) and region and all(isinstance(r, str) for r in region):
        return np.logical_or.reduce([section_mask(morph, r) for r in region])
    ids = np.atleast_1d(np.asarray(region))
    if ids.dtype.kind not in "iu":
        raise ParameterError(f"region {region!r} is neither a name, section ids, a predicate "
                             "nor a Distance")
    bad = ids[(ids < 0) | (ids >= n)]
    if len(bad):
        raise MorphologyError(f"region names section {int(bad[0])} but the cell has sections "
                              f"0..{n - 1}")
    mask = np.zeros(n, dtype=bool)
    mask[ids] = True
    return mask


def check_region(morph, region, missing_ok=False):
    """Validate ``region`` early, at the call that names it.  A region that selects no
    section is an error (``cell.paint("apic", ...)`` on a cell without apical dendrites is
    almost always a mistake that would otherwise change nothing, silently), unless
    ``missing_ok``: builders that apply one parameter set to many morphologies paint kinds
    some of them lack (an axon removed, no apical tree)."""
    if isinstance(region, Distance):
        if not region.max > region.min:
            raise ParameterError(f"Distance region needs max > min, got {region}")
        mask = section_mask(morph, region.region)
    else:
        mask = section_mask(morph, region)
    if not mask.any() and not missing_ok:
        present = sorted({type_name(int(t)) for t in morph.types})
        raise ParameterError(f"region {region!r} matches no section of this cell (its "
                             f"sections are {', '.join(present)}); pass missing_ok=True "
                             "where a region may be absent")
