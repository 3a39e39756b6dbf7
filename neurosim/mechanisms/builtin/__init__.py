"""Built-in mechanisms (NEURON's pas, hh, ExpSyn, Exp2Syn, ExpSynSTDP; NEST's iaf_psc_exp);
importing registers them."""

from . import hh, pas, point_neurons, synapses  # noqa: F401
