"""How many compartments (NEURON's nseg) each section gets.

A policy is called with one section and its cable properties and returns nseg >= 1.
"""

import math
from dataclasses import dataclass

import numpy as np

from neurosim.errors import ParameterError
from neurosim.validate import finite


@dataclass(frozen=True)
class NSeg:
    """A fixed number of compartments per section (NEURON's ``nseg``)."""
    n: int

    def __post_init__(self):
        if int(self.n) != self.n or self.n < 1:
            raise ParameterError(f"NSeg(n) needs an integer n >= 1, got {self.n!r}")

    def nseg(self, section, ra, cm):
        return int(self.n)


@dataclass(frozen=True)
class MaxLength:
    """The fewest compartments no longer than ``um`` micrometres (an odd count if ``odd``)."""
    um: float
    odd: bool = False

    def __post_init__(self):
        finite("MaxLength(um)", self.um, positive=True)

    def nseg(self, section, ra, cm):
        n = max(1, math.ceil(section.length / self.um - 1e-9))
        if self.odd and n % 2 == 0:
            n += 1
        return n


@dataclass(frozen=True)
class DLambda:
    """NEURON's d_lambda rule: compartments no longer than ``d_lambda`` times the AC length
    constant at ``freq`` Hz, odd counts (stdlib.hoc ``geom_nseg`` with ``lambda_f``)."""
    d_lambda: float = 0.1
    freq: float = 100.0

    def __post_init__(self):
        finite("DLambda(d_lambda)", self.d_lambda, positive=True)
        finite("DLambda(freq)", self.freq, positive=True)

    def nseg(self, section, ra, cm):
        lam = lambda_f(section, self.freq, ra, cm)
        return int((section.length / (self.d_lambda * lam) + 0.9) / 2) * 2 + 1


def lambda_f(section, freq, ra, cm):
    """AC length constant (µm) at ``freq`` Hz of a section with 3D points, as NEURON's
    stdlib.hoc computes it (integrating 1/sqrt(d) over the frusta)."""
    arc = section.arc
    d = section.diameters
    electrotonic = np.sum(np.diff(arc) / np.sqrt(d[:-1] + d[1:]))
    electrotonic *= math.sqrt(2.0) * 1e-5 * math.sqrt(4.0 * math.pi * freq * ra * cm)
    return section.length / electrotonic
