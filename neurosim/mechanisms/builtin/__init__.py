"""Built-in mechanisms (NEURON's pas, hh, ExpSyn, Exp2Syn, ExpSynSTDP, TsodyksMarkram, AMPA, NMDA, GABA_A, GABA_B; NEST's iaf_psc_exp);
importing registers them."""

from . import hh, pas, point_neurons, receptors, synapses  # noqa: F401
