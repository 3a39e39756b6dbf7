"""Membrane mechanisms: their description (:class:`Mechanism`) and the built-in set."""

from .base import (IonUse, Mechanism, available, builtin_mechanism, get, load_catalogue,
                   register, resolver)

__all__ = ["IonUse", "Mechanism", "available", "builtin_mechanism", "get", "load_catalogue",
           "register", "resolver"]
