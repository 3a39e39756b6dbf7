"""The run stage: :class:`Simulation` (initialise and advance), the Python event queue, ranks and
spike exchange, recording, extracellular potentials and checkpoints."""
