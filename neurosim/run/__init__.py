"""The run stage: :class:`Simulation` (initialise and advance), events between epochs, ranks and
spike exchange, recording, extracellular potentials and checkpoints."""
