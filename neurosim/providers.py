"""What the engine asks of the layers around it, by name.

The stages never import ``neurosim.io`` or a later stage; where one needs them — a reader of
a morphology or hoc file (io), the HDF5 file that recordings stream into (io), the kernel
generator seen from a mechanism (kernels) — it asks for a provider here.  The application
layer (the package's ``__init__``) provides io's and the kernels' implementations, imported
only when first used; a user may provide another (a reader of a lab's own format).

    neurosim.providers.provide("morphology reader", my_reader)
"""

from .errors import NeurosimError

# name -> what a provider must be
NEEDS = {
    "morphology reader": "function(path) -> Morphology (SWC, Neurolucida ASC)",
    "hoc reader": "function(path, template, args=, v_init=, section_type=) -> Cell",
    "recording stream": "function(path, **attrs) -> a stream: trace_sink(trace), "
                        "spike_sink(), flush(), close() (neurosim.run.sinks)",
    "kernel source": "function(mechanisms, aux_arrays) -> the step kernel's source",
    "mechanism helpers": "function(mechanism) -> module of its compiled FUNCTIONs and "
                         "PROCEDUREs",
}

_PROVIDED = {}


def provide(name, function):
    """Make ``function`` the provider of ``name`` (one of ``NEEDS``), replacing any other."""
    if name not in NEEDS:
        raise NeurosimError(f"no part of neurosim needs {name!r} (it needs: "
                            f"{', '.join(sorted(NEEDS))})")
    if not callable(function):
        raise NeurosimError(f"the provider of {name!r} must be callable: {NEEDS[name]}")
    _PROVIDED[name] = function


def provided(name):
    """The provider of ``name``."""
    try:
        return _PROVIDED[name]
    except KeyError:
        raise NeurosimError(f"nothing provides the {name} ({NEEDS[name]}); importing "
                            "neurosim provides it") from None
