"""neurosim.models: ready-made cells, point neurons and circuits."""

from .point_neurons import (AdEx, Izhikevich, LIF, LIFAlpha, LIFCond, PointNeuron,  # noqa: F401
                            point_neuron)
