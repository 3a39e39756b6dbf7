"""Allen Cell Types models as bmtk builds them (SWCs, ``*_fit.json`` parameter sets and the .mod
files in bmtk's wheel): the cells themselves are built by the SONATA reader's
:mod:`neurosim.io.sonata.allen` (bmtk's ``aibs_perisomatic`` and ``aibs_allactive`` processing
is part of the format as bmtk writes it); here under the model library's name."""

from neurosim.io.sonata.allen import (BmtkDL, allactive_cell, allen_fits, allen_mechanism,
                                      allen_mechanisms, allen_mod_dir, allen_morphologies,
                                      allen_morphology, bionet_dir, mean_diameter,
                                      perisomatic_cell)

__all__ = ["BmtkDL", "allactive_cell", "allen_fits", "allen_mechanism", "allen_mechanisms",
           "allen_mod_dir", "allen_morphologies", "allen_morphology", "bionet_dir",
           "mean_diameter", "perisomatic_cell"]
