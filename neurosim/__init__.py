"""neurosim: fast simulation of morphologically detailed neurons, as exact as NEURON.

    import neurosim as ns
    m = ns.Morphology.from_swc("cell.swc")
    cell = ns.Cell(m, cm=1.0, ra=100.0, v_init=-65.0, discretization=ns.DLambda())
    cell.insert("pas", g=2.5e-5, e=-65.0)
    cell.insert("hh", region="soma")
    cell.add_iclamp((0, 0.5), delay=5.0, dur=100.0, amp=0.2)
    sim = ns.Simulation(cell, dt=0.025)
    v = sim.record("v", (0, 0.5))
    sim.run(200.0)
"""

from neurosim.description.cell import Cell, IClamp
from neurosim.description.connectivity import (AllToAll, DistanceDependent, FixedInDegree,
                                               FixedProbability, FixedTotalNumber, LogNormal,
                                               Normal, Uniform)
from neurosim.description.discretization import DLambda, MaxLength, NSeg
from neurosim.description.morphology import Morphology, Section
from neurosim.description.network import Network
from neurosim.description.recipe import Connection, GapJunction, PoissonDrive, Recipe, SpikeSource
from neurosim.description.regions import Distance
from neurosim.kernels import compilation  # noqa: F401  (times Numba's compiles from the start)
from neurosim.providers import provide
from neurosim.run.recording import Spikes, Trace
from neurosim.run.simulation import Simulation

from .errors import (LocationError, MechanismError, MorphologyError, NeurosimError,
                     NumericalInstabilityError, ParameterError)
from .mechanisms import Mechanism, load_catalogue
from .mechanisms.random123 import Random123

__version__ = "0.1.0"

__all__ = ["AllToAll", "DistanceDependent", "FixedInDegree", "FixedProbability",
           "FixedTotalNumber", "LogNormal", "Normal", "Uniform", "Cell", "IClamp", "DLambda",
           "MaxLength", "NSeg", "Distance", "Mechanism", "load_catalogue", "Random123",
           "Morphology", "Network", "Connection", "GapJunction", "PoissonDrive", "Recipe",
           "SpikeSource", "Section", "Simulation", "Spikes", "Trace", "NeurosimError",
           "MorphologyError",
           "ParameterError", "LocationError", "MechanismError", "NumericalInstabilityError"]


def _provide_io_and_kernels():
    """The providers the stages ask for (``neurosim.providers``), each importing its module
    when first called: ``import neurosim`` loads neither MorphIO, the hoc reader nor the HDF5
    stream."""
    import importlib

    def lazy(module, function):
        def call(*args, **kwargs):
            return getattr(importlib.import_module(module), function)(*args, **kwargs)
        call.__name__ = function
        return call
    provide("morphology reader", lazy("neurosim.io.morphology", "read_morphology"))
    provide("hoc reader", lazy("neurosim.io.hoc", "read_hoc"))
    provide("recording stream", lazy("neurosim.io.stream", "Stream"))
    provide("kernel source", lazy("neurosim.kernels.codegen", "kernel_source"))
    provide("mechanism helpers", lazy("neurosim.kernels.codegen", "load_helpers"))


_provide_io_and_kernels()


def __getattr__(name):
    # ns.models (neurosim.models: LIF, ring, Allen cells) without importing it at start-up
    if name == "models":
        import importlib
        return importlib.import_module("neurosim.models")
    raise AttributeError(f"module 'neurosim' has no attribute {name!r}")
