"""neurosim.models: ready-made cells, point neurons and circuits."""

from .point_neurons import LIF, PointNeuron  # noqa: F401
