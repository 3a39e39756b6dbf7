"""The mechanisms a model can insert by name: the built-in set, the ``.mod`` files loaded
with :func:`load_catalogue` and whatever a user registers."""

import glob
import logging
import os

from ..errors import MechanismError, NeurosimError
from .base import Mechanism
from .builtin import MECHANISMS as BUILTIN
from .nmodl.compiler import compile_file

_REGISTRY = dict(BUILTIN)
_LOG = logging.getLogger("neurosim")


def register(mech):
    """Make ``mech`` insertable by its name; returns it."""
    _REGISTRY[mech.name] = mech
    return mech


def get(name_or_mech):
    """The mechanism named ``name_or_mech`` (or the Mechanism itself)."""
    if isinstance(name_or_mech, Mechanism):
        return name_or_mech
    try:
        return _REGISTRY[name_or_mech]
    except (KeyError, TypeError):
        raise MechanismError(f"unknown mechanism {name_or_mech!r}; known: "
                             f"{sorted(_REGISTRY)}") from None


def builtin_mechanism(name):
    """The built-in mechanism ``name``, or None.  A built-in name always means the built-in
    mechanism (NEURON refuses a .mod file that redefines one)."""
    return BUILTIN.get(name)


def resolver(catalogue):
    """``name -> Mechanism`` for a model that ships its own .mod files (``catalogue``, as
    ``load_catalogue(..., register=False)`` returns): built-in names first, then the model's
    own files, then whatever the process has registered.  A model's mechanisms never come
    from another model's files loaded earlier in the same process."""
    def resolve(name):
        return builtin_mechanism(name) or catalogue.get(name) or get(name)
    return resolve


def load_catalogue(folder, register=True):
    """Compile every ``.mod`` file in ``folder``; returns ``({name: Mechanism}, refused)``
    where ``refused`` maps file -> the error for files using constructs neurosim does not
    support.  With ``register`` the mechanisms can be inserted by name; a file redefining a
    built-in name is not registered under it, and one replacing a different mechanism
    loaded earlier under its name says so (both with a warning on the ``neurosim`` logger)."""
    found, refused = {}, {}
    for path in sorted(glob.glob(os.path.join(os.fspath(folder), "*.mod"))):
        try:
            mech = compile_file(path)
        except NeurosimError as e:
            refused[path] = e
            continue
        found[mech.name] = mech
        if register:
            _register_loaded(mech, path)
    return found, refused


def _register_loaded(mech, path):
    if builtin_mechanism(mech.name) is not None:
        _LOG.warning("%s: mechanism %r is built in; this file's version is not registered "
                     "under that name (pass its Mechanism object to use it)", path, mech.name)
        return
    earlier = _REGISTRY.get(mech.name)

    def identity(m):                    # the code and the defaults (not in fingerprint)
        return m.fingerprint(), repr(m.parameters), m.source_text
    if earlier is not None and identity(earlier) != identity(mech):
        _LOG.warning("%s: mechanism %r replaces a different one of that name loaded earlier",
                     path, mech.name)
    _REGISTRY[mech.name] = mech


def available():
    """The names of every insertable mechanism."""
    return sorted(_REGISTRY)
