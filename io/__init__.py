"""neurosim.io: morphology files (SWC/ASC via MorphIO), trace files (HDF5), hoc cell templates
(`neurosim.io.hoc`); SONATA later."""
