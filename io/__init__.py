"""neurosim.io: morphology files (SWC/ASC via MorphIO), trace files (HDF5); SONATA later."""
