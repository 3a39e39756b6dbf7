"""Exceptions raised by neurosim.

Every error a user can cause derives from :class:`NeurosimError` and names what is at fault
(file and line, section and location, parameter and value) so that it can be fixed without a
debugger.  They also derive from the matching built-in exception, so ``except ValueError``
keeps working for callers who do not know neurosim.
"""


class NeurosimError(Exception):
    """Base class of every error neurosim raises on purpose."""


class MorphologyError(NeurosimError, ValueError):
    """A morphology file or a morphology built in code is malformed."""


class ParameterError(NeurosimError, ValueError):
    """A parameter is unknown, not finite or out of its allowed range."""


class LocationError(NeurosimError, ValueError):
    """A location ``(section_id, x)`` does not exist on the cell."""


class MechanismError(NeurosimError, ValueError):
    """A mechanism is unknown or used in a way it does not support."""


class NumericalInstabilityError(NeurosimError, FloatingPointError):
    """The simulation blew up: a voltage became non-finite or absurdly large."""


class NeurosimWarning(UserWarning):
    """Base class of the warnings neurosim gives: something it accepted but doubts."""


class NmodlUnitWarning(NeurosimWarning):
    """A .mod file uses a unit NEURON's units table does not know (``file:line:column``)."""
