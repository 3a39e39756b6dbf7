"""The values a hoc template holds (sections, section lists, opaque objects), the control
flow signals of its statements, and the names it knows (math functions, ion variables)."""

import math
import re
from dataclasses import dataclass, field

import numpy as np


@dataclass
class HocSection:
    """One section as the template builds it (NEURON's state, before any conversion)."""
    name: str
    order: int
    pt3d: list = field(default_factory=list)      # [x, y, z, diam]
    L: float = 100.0                               # NEURON's defaults
    diam: float = 500.0
    nseg: int = 1
    Ra: float = 35.4
    cm: float = 1.0
    v: float = None
    parent: object = None                          # HocSection
    parent_x: float = 1.0
    child_x: float = 0.0
    mechanisms: dict = field(default_factory=dict)  # name -> {param: value}
    ions: dict = field(default_factory=dict)        # ion -> {"e"/"ci"/"co": value}

    @property
    def length(self):
        if self.pt3d:
            p = np.asarray(self.pt3d)[:, :3]
            return float(np.sum(np.linalg.norm(np.diff(p, axis=0), axis=1)))
        return self.L


class _Return(Exception):
    def __init__(self, value):
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _SectionList(list):
    pass


class _Opaque:
    """An object the reader creates but does not use (``new List()``)."""

    def __init__(self, cls):
        self.cls = cls


_MATH = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "atan": math.atan,
         "atan2": math.atan2, "sqrt": math.sqrt, "exp": math.exp, "log": math.log,
         "log10": math.log10, "abs": abs, "fabs": abs, "int": lambda v: float(int(v)),
         "floor": math.floor, "ceil": math.ceil, "erf": math.erf, "erfc": math.erfc,
         "tanh": math.tanh, "sinh": math.sinh, "cosh": math.cosh, "pow": math.pow,
         "max": max, "min": min}
_CONSTANTS = {"PI": math.pi, "E": math.e}
_ION_VAR = re.compile(r"^(?:e([a-z]+[a-z0-9]*)|([a-z]+[a-z0-9]*)(i|o))$")
_STDLIB_FILES = {"stdlib.hoc", "stdrun.hoc", "nrngui.hoc", "subiter.hoc", "noload.hoc"}


def _single(values):
    return [float(np.float32(v)) for v in values]
