"""A model description as plain HDF5 data: no pickle, nothing in the file ever runs.

``encode(obj, group)`` writes an object graph made of numbers, strings, arrays, lists,
tuples, dicts, sets and neurosim's own classes into an HDF5 group: scalars and strings as
attributes, arrays as datasets, containers and objects as subgroups (an object: its class
name and its attributes).  ``decode(group, mechanisms)`` builds it again; only classes of
the ``neurosim`` package are made, without calling their constructors or any method.

Mechanisms are code (compiled kernels), so they are written by name and fingerprint only:
a restore finds each among the mechanisms this process knows (built in, loaded with
``ns.load_catalogue``, or given) and refuses one whose code differs.  Anything else that is
not data (a function, a generator) cannot be written: a clear error names it.

``digest(group)`` is a sha256 of the description, the model's identity.
"""

import hashlib
import importlib

import h5py
import numpy as np

from neurosim.errors import ParameterError
from neurosim.mechanisms import catalogue
from neurosim.mechanisms.base import Mechanism

VERSION = 1
_KIND = "_k"
_SCALARS = (bool, int, float, str, np.bool_, np.integer, np.floating)


def mechanism_digest(mech):
    return hashlib.sha256(mech.fingerprint().encode()).hexdigest()


def encode(obj, group, where="model"):
    """Write ``obj`` into the (empty) HDF5 ``group``.  An object met twice (cells sharing
    a morphology) is written once; later uses refer to it."""
    _encode(obj, group, where, {})


def _encode(obj, group, where, seen):
    if isinstance(obj, (list, tuple, set, frozenset, dict, np.ndarray)) or \
            hasattr(obj, "__dict__"):
        if id(obj) in seen:
            group.attrs[_KIND] = "ref"
            group.attrs["path"] = seen[id(obj)][0]
            return
        seen[id(obj)] = (group.name, obj)           # obj kept alive: ids stay unique
    if obj is None:
        group.attrs[_KIND] = "none"
    elif isinstance(obj, _SCALARS):
        group.attrs[_KIND] = "scalar"
        group.attrs["value"] = obj
        group.attrs["type"] = type(obj).__name__ if type(obj) in (bool, int, float, str) \
            else np.dtype(type(obj)).str
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufcS":
            raise ParameterError(f"checkpoint: {where} is an array of {obj.dtype}, which a "
                                 "checkpoint cannot hold")
        group.attrs[_KIND] = "array"
        group.create_dataset("value", data=obj)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        # a named tuple as a tuple: its owner types it again (``_restored``), and the
        # digest stays that of the description before its records had names
        group.attrs[_KIND] = "tuple" if isinstance(obj, tuple) else type(obj).__name__
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        for k, item in enumerate(items):
            _encode(item, group.create_group(str(k)), f"{where}[{k}]", seen)
        group.attrs["n"] = len(items)
    elif isinstance(obj, dict):
        group.attrs[_KIND] = "dict"
        for k, (key, value) in enumerate(obj.items()):
            _encode(key, group.create_group(f"k{k}"), f"{where} key", seen)
            _encode(value, group.create_group(f"v{k}"), f"{where}[{key!r}]", seen)
        group.attrs["n"] = len(obj)
    elif isinstance(obj, Mechanism):
        group.attrs[_KIND] = "mechanism"
        group.attrs["name"] = obj.name
        group.attrs["digest"] = mechanism_digest(obj)
    elif type(obj).__module__.startswith("neurosim.") and hasattr(obj, "__dict__"):
        group.attrs[_KIND] = "object"
        group.attrs["class"] = f"{type(obj).__module__}:{type(obj).__qualname__}"
        _encode(dict(vars(obj)), group.create_group("attrs"), where, seen)
    else:
        raise ParameterError(f"checkpoint: {where} holds a {type(obj).__name__}, which is "
                             "not data (a checkpoint holds numbers, strings, arrays and "
                             "neurosim's own objects only)")


def decode(group, mechanisms=()):
    """The object ``encode`` wrote into ``group``; ``mechanisms``: Mechanism objects the
    model may use besides the registered ones."""
    known = {m.name: m for m in mechanisms}
    return _decode(group, known, {})


def _decode(g, known, made):
    kind = g.attrs.get(_KIND)
    if kind == "ref":
        path = str(g.attrs["path"])
        if path not in made:
            raise ParameterError(f"checkpoint: {g.name} refers to {path}, which is not "
                                 "written before it")
        return made[path]
    if kind == "none":
        return None
    if kind == "scalar":
        value, typ = g.attrs["value"], str(g.attrs["type"])
        if typ in ("bool", "int", "float", "str"):
            return {"bool": bool, "int": int, "float": float, "str": str}[typ](value)
        return np.dtype(typ).type(value)
    if kind == "array":
        out = g["value"][()]
    elif kind in ("list", "tuple", "set", "frozenset"):
        items = [_decode(g[str(k)], known, made) for k in range(int(g.attrs["n"]))]
        out = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
    elif kind == "dict":
        out = {}
        made[g.name] = out
        for k in range(int(g.attrs["n"])):
            out[_decode(g[f"k{k}"], known, made)] = _decode(g[f"v{k}"], known, made)
        return out
    elif kind == "mechanism":
        out = _mechanism(str(g.attrs["name"]), str(g.attrs["digest"]), known)
    elif kind == "object":
        cls = _neurosim_class(str(g.attrs["class"]))
        out = object.__new__(cls)
        made[g.name] = out
        for name, value in _decode(g["attrs"], known, made).items():
            object.__setattr__(out, name, value)       # frozen dataclasses too
        if hasattr(out, "_restored"):                   # e.g. a Network's typed records
            out._restored()
        return out
    else:
        raise ParameterError(f"checkpoint: {g.name} is not a model description entry "
                             f"(kind {kind!r})")
    made[g.name] = out
    return out


# where the classes of a model description written before the stage folders now live
_MOVED = {
    "neurosim.morphology": "neurosim.description.morphology",
    "neurosim.regions": "neurosim.description.regions",
    "neurosim.discretization": "neurosim.description.discretization",
    "neurosim.cell": "neurosim.description.cell",
    "neurosim.network": "neurosim.description.network",
    "neurosim.recipe": "neurosim.description.recipe",
    "neurosim.connectivity": "neurosim.description.connectivity",
    "neurosim.edges": "neurosim.description.edges",
}
_FORMER = {new: old for old, new in _MOVED.items()}


def with_former_names(group):
    """Name every class in ``group`` (``encode``'s output) by its module before the stage
    folders, as a checkpoint written then did: its digest is then that file's."""
    def rename(name, obj):
        kind = obj.attrs.get("class")
        if kind is not None:
            module, _, qualname = str(kind).partition(":")
            obj.attrs["class"] = f"{_FORMER.get(module, module)}:{qualname}"
    rename(group.name, group)
    group.visititems(rename)


def _neurosim_class(name):
    module, _, qualname = name.partition(":")
    module = _MOVED.get(module, module)
    if not module.startswith("neurosim.") or not qualname.isidentifier():
        raise ParameterError(f"checkpoint: class {name!r} is not one of neurosim's")
    cls = getattr(importlib.import_module(module), qualname, None)
    if not isinstance(cls, type):
        raise ParameterError(f"checkpoint: class {name!r} is not one of neurosim's")
    return cls


def _mechanism(name, digest, known):
    mech = known.get(name)
    if mech is None:
        try:
            mech = catalogue.get(name)
        except Exception:
            mech = None
    if mech is None:
        raise ParameterError(f"checkpoint: the model uses mechanism {name!r}, which this "
                             "process does not know: load its .mod files (ns.load_catalogue) "
                             "or pass it (Simulation.restore(path, mechanisms=[...]))")
    if mechanism_digest(mech) != digest:
        raise ParameterError(f"checkpoint: mechanism {name!r} here differs from the one the "
                             "checkpoint was taken with (its code changed)")
    return mech


def digest(group):
    """sha256 over everything ``encode`` wrote in ``group`` (names, attributes, data)."""
    h = hashlib.sha256()

    def visit(name, obj):
        h.update(name.encode())
        for key in sorted(obj.attrs):
            h.update(f"{key}={obj.attrs[key]!r}".encode())
        if isinstance(obj, h5py.Dataset):
            h.update(np.ascontiguousarray(obj[()]).tobytes())
    for key in sorted(group.attrs):
        h.update(f"{key}={group.attrs[key]!r}".encode())
    group.visititems(visit)
    return h.hexdigest()
