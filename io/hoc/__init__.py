"""A reader for NEURON hoc cell templates (the subset NeuroML exports and model repositories
use), producing a :class:`~neurosim.description.morphology.Morphology` and a
:class:`~neurosim.description.cell.Cell`.

It is a reader, not an interpreter.  It understands ``begintemplate``/``endtemplate``,
``public``/``objref``/``external`` declarations, ``create`` (also arrays), ``connect``,
``pt3dclear``/``pt3dadd`` (and ``n3d``, ``x3d`` ... ``pt3dchange``), ``SectionList``s with
``append`` and ``forsec``/``forall``, section statements (``sec { ... }``, ``sec stmt``,
``sec.prop = ...``), ``nseg``/``L``/``diam``/``Ra``/``cm``/``v`` assignments, ``insert`` with
parameter assignments (``g_pas = ...``), ion variables (``ena``, ``cai`` ...), ``proc``/``func``
with numeric arguments (``$1``) and ``local`` variables, ``for``/``while``/``if``/``else`` over
numbers, ``return``/``break``/``continue``, arithmetic and the hoc math functions.  Anything
else is a :class:`HocError` naming file, line and statement.

    cell = neurosim.Cell.from_hoc("AIAL.hoc")           # the file's one template
    cell.section_names["Axon"]                          # -> neurosim section id
"""

from .reader import HocTemplate, read_hoc, read_template, to_morphology
from .syntax import HocError

__all__ = ["HocError", "HocTemplate", "read_hoc", "read_template", "to_morphology"]
