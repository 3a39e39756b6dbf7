"""Membrane mechanisms: their description (:class:`Mechanism`) and the built-in set."""

from .base import IonUse, Mechanism, available, get, load_catalogue, register

__all__ = ["IonUse", "Mechanism", "available", "get", "load_catalogue", "register"]
