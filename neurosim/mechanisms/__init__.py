"""Membrane mechanisms: their description (:class:`Mechanism`) and the built-in set."""

from .base import IonUse, Mechanism
from .catalogue import available, builtin_mechanism, get, load_catalogue, register, resolver
from .frontend import define
from .nmodl.compiler import compile_file, compile_text

# A Mechanism's constructors live with the front-ends that make Mechanisms (Python
# equations: .frontend; NMODL: .nmodl.compiler); the package hands them to the class, so
# the description (.base) imports no front-end.
Mechanism.define = staticmethod(define)
Mechanism.from_nmodl = staticmethod(compile_file)
Mechanism.from_nmodl_text = staticmethod(compile_text)

__all__ = ["IonUse", "Mechanism", "available", "builtin_mechanism", "get", "load_catalogue",
           "register", "resolver"]
