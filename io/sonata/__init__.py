"""SONATA (the field's circuit and results format: HDF5 + JSON + CSV) in and out.

``Circuit(config)`` builds a neurosim Network from a circuit config; ``SonataRun(path)``
runs a simulation config (inputs, reports, outputs); ``read_spikes``/``write_spikes`` and
``ReportWriter`` read and write results files that libsonata and bmtk read.
"""

from .circuit import Circuit
from .config import SonataError, SonataWarning, load_config, load_simulation
from .output import ReportWriter, read_spikes, write_spikes
from .simulation import SonataRun
from .weights import add_weight_function

__all__ = ["Circuit", "SonataError", "SonataWarning", "add_weight_function", "load_config",
           "load_simulation", "ReportWriter", "read_spikes", "write_spikes", "SonataRun"]
