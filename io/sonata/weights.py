"""Edge weights as bmtk applies them: ``weight_function`` by name.

An edge type may name a ``weight_function`` that turns the edge's ``syn_weight`` (and other
properties) into the connection's weight.  bmtk ships ``wmax`` and ``default_weight_fnc``
/ ``set_syn_weight`` (the ``syn_weight`` itself) and, in BioNet, ``gaussianLL`` (weight
falling off with the difference of the two cells' ``tuning_angle``, width
``weight_sigma``).  A user function is registered by name, as with bmtk's
``add_weight_function``::

    from neurosim.io.sonata import add_weight_function

    def distance_scaled(edge, source, target):      # bmtk's signature: three mappings
        return edge["syn_weight"] * target["scale"]

    add_weight_function(distance_scaled)             # the name in the edge types file

The built-ins are computed for all edges at once; a user function is called per edge
(at set-up, with the edge's, source's and target's properties as mappings).  An unknown
name is an error naming the edges file and the function.
"""

import numpy as np

from .config import SonataError

_USER = {}


def add_weight_function(function, name=None, overwrite=True):
    """Register ``function(edge, source, target) -> weight`` under ``name`` (default: its
    ``__name__``), as bmtk's ``add_weight_function``."""
    name = function.__name__ if name is None else str(name)
    if not callable(function):
        raise TypeError(f"weight function {name!r} is not callable")
    if name in _USER and not overwrite:
        return
    _USER[name] = function


def _syn_weight(edges, rows, sources, targets, where):
    return edges.numbers("syn_weight", rows)


def _gaussian_ll(edges, rows, sources, targets, where):
    """bmtk's gaussianLL: w0 exp(-(d / sigma)^2), d the tuning difference folded to
    [0, 90] degrees."""
    w0 = edges.numbers("syn_weight", rows)
    sigma = _required(edges.attribute("weight_sigma", rows), "weight_sigma", "edge", where)
    src = _required(sources("tuning_angle"), "tuning_angle", "source node", where)
    tgt = _required(targets("tuning_angle"), "tuning_angle", "target node", where)
    delta = np.abs(np.abs(np.abs(180.0 - np.abs(tgt - src)) % 360.0 - 90.0) - 90.0)
    return w0 * np.exp(-(delta / sigma) ** 2)


def _required(values, key, whose, where):
    missing = [k for k, v in enumerate(values) if v is None]
    if missing:
        raise SonataError(f"{where}: weight_function gaussianLL needs the {whose}'s {key!r}, "
                          f"which is missing (edge {missing[0]} of those using it)")
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise SonataError(f"{where}: {whose} property {key!r} is not a number") from None


BUILT_IN = {"wmax": _syn_weight, "default_weight_fnc": _syn_weight,
            "set_syn_weight": _syn_weight, "gaussianLL": _gaussian_ll}


def known():
    return sorted(set(BUILT_IN) | set(_USER))


def edge_weights(edges, rows, source_props, target_props, where):
    """The weight of each edge ``rows`` of population ``edges``: its weight function's
    value, or ``syn_weight`` where it names none.  ``source_props(key)`` /
    ``target_props(key)``: the source's / target's node property per row (array), and
    with ``key`` None a getter ``(key, k) -> value`` of row k, for user functions."""
    names = edges.attribute("weight_function", rows)
    weights = np.empty(len(rows))
    none = np.array([n is None for n in names], dtype=bool)
    if none.any():
        weights[none] = edges.numbers("syn_weight", rows[none])
    for name in dict.fromkeys(str(n) for n in names[~none]):
        sel = np.flatnonzero(~none & (names == name))
        if name in _USER:           # a user's function takes precedence, as in bmtk
            weights[sel] = _call_user(_USER[name], edges, rows[sel], sel, source_props,
                                      target_props, where)
        elif name in BUILT_IN:
            weights[sel] = BUILT_IN[name](
                edges, rows[sel], lambda key: source_props(key)[sel],
                lambda key: target_props(key)[sel], f"{where}: edge {rows[sel][0]}")
        else:
            raise SonataError(f"{where}: edge {rows[sel][0]}: weight_function {name!r} is "
                              f"not known (built in: {', '.join(sorted(BUILT_IN))}; others "
                              "are registered with neurosim.io.sonata.add_weight_function)")
    if not np.all(np.isfinite(weights)):
        bad = int(np.flatnonzero(~np.isfinite(weights))[0])
        raise SonataError(f"{where}: edge {rows[bad]}: weight {weights[bad]} is not finite")
    return weights


class _Props(dict):
    """A mapping of one edge's or node's properties, read lazily."""

    def __init__(self, read):
        super().__init__()
        self._read = read

    def __missing__(self, key):
        value = self._read(key)
        self[key] = value
        return value

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default


def _call_user(function, edges, rows, sel, source_props, target_props, where):
    out = np.empty(len(rows))
    for k, row in enumerate(rows):
        edge = _Props(lambda key, row=row: _edge_value(edges, key, row))
        source = _Props(lambda key, k=k: source_props(None)(key, sel[k]))
        target = _Props(lambda key, k=k: target_props(None)(key, sel[k]))
        try:
            out[k] = float(function(edge, source, target))
        except (KeyError, TypeError, ValueError, ArithmeticError) as e:
            raise SonataError(f"{where}: edge {row}: weight_function "
                              f"{function.__name__!r} failed: {e!r}") from None
    return out


def _edge_value(edges, key, row):
    value = edges.attribute(key, np.array([row]))[0]
    if value is None:
        raise KeyError(key)
    return value
