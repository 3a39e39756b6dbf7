"""Small checks of user-supplied numbers, shared by every module that takes parameters."""

import math

from .errors import ParameterError


def finite(name, value, *, positive=False, nonnegative=False, context=""):
    """Return ``value`` as a float, or raise ParameterError naming ``name`` (and ``context``)."""
    where = f" ({context})" if context else ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}{where} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ParameterError(f"{name}{where} must be finite, got {value!r}")
    if positive and not x > 0:
        raise ParameterError(f"{name}{where} must be > 0, got {x!r}")
    if nonnegative and not x >= 0:
        raise ParameterError(f"{name}{where} must be >= 0, got {x!r}")
    return x
