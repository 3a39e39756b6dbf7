"""Built-in mechanisms, registered on import: NEURON's pas, hh, ExpSyn, Exp2Syn; ExpSynSTDP,
TsodyksMarkram, AMPA, NMDA, GABA_A, GABA_B, GradedSyn; IntFire1; NEST's iaf_psc_exp,
iaf_psc_alpha, iaf_cond_exp, aeif_cond_exp and izhikevich."""

from . import hh, intfire, pas, point_neurons, receptors, synapses  # noqa: F401
