"""Built-in mechanisms (NEURON's ``pas`` and ``hh``); importing registers them."""

from . import hh, pas  # noqa: F401
