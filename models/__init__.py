"""neurosim.models: ready-made cells and, later, circuits."""
