"""Built-in mechanisms, collected in :data:`MECHANISMS` (where the catalogue starts): NEURON's
pas, hh, ExpSyn, Exp2Syn, SEClamp; ExpSynSTDP, TsodyksMarkram, AMPA, NMDA, GABA_A, GABA_B,
GradedSyn; IntFire1; NEST's iaf_psc_exp, iaf_psc_alpha, iaf_psc_delta, iaf_cond_exp,
aeif_cond_exp, izhikevich and glif_psc."""

from . import clamps, glif, hh, intfire, pas, point_neurons, receptors, synapses  # noqa: F401
from ..base import Mechanism

#: name -> Mechanism of every built-in mechanism (the registry may hold others by now)
MECHANISMS = {m.name: m for module in (clamps, glif, hh, intfire, pas, point_neurons,
                                            receptors, synapses)
              for m in vars(module).values() if isinstance(m, Mechanism)}
