"""Membrane mechanisms: their description (:class:`Mechanism`) and the built-in set."""

from .base import Mechanism, available, get, register

__all__ = ["Mechanism", "available", "get", "register"]
