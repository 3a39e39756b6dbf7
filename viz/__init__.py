"""neurosim.viz: plots of traces (matplotlib); the 3D viewer comes later."""
