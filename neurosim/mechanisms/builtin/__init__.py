"""Built-in mechanisms (NEURON's pas, hh, ExpSyn, Exp2Syn); importing registers them."""

from . import hh, pas, synapses  # noqa: F401
