"""neurosim.models: ready-made cells, point neurons and circuits."""

from .point_neurons import (GLIF, AdEx, Izhikevich, LIF, LIFAlpha, LIFCond, LIFDelta,  # noqa: F401
                            PointNeuron, point_neuron)
