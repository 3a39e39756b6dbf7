"""SONATA node and edge populations: the HDF5 datasets merged with their types CSV.

A node's (or an edge's) attributes are its type's columns (``*_types.csv``, space
separated, ``NULL`` for none) overridden by its group's HDF5 datasets
(``<pop>/<group id>/<name>``, row ``node_group_index``); ``dynamics_params`` subgroups
become ``dynamics_params`` dicts.  Every dataset is checked: its presence, its length and
its kind, and an error names the file and the dataset.
"""

import ast
import csv

import h5py
import numpy as np

from .config import SonataError


def read_types(path, key):
    """``{type id: {column: value}}`` from a SONATA types CSV (``key``: node_type_id or
    edge_type_id)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f, delimiter=" ", quotechar='"', skipinitialspace=True))
    except OSError as e:
        raise SonataError(f"{path}: cannot read the types table: {e}") from None
    rows = [r for r in rows if r]
    if not rows or key not in rows[0]:
        raise SonataError(f"{path}: a types table needs a header with {key!r}")
    header = rows[0]
    types = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise SonataError(f"{path}:{line}: {len(row)} values for {len(header)} columns")
        values = {h: _value(v) for h, v in zip(header, row)}
        try:
            types[int(values[key])] = values
        except (TypeError, ValueError):
            raise SonataError(f"{path}:{line}: {key} {row[header.index(key)]!r} is not an "
                              "integer") from None
    return types


def _value(text):
    """CSV cell: NULL -> None; numbers; Python-style lists ("[0.0, 150.0]"); else text."""
    if text == "NULL" or text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text[:1] in "[(":
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            pass
    return text


def open_h5(path, what):
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise SonataError(f"{path}: {what} not found") from None
    except OSError as e:
        raise SonataError(f"{path}: not a readable HDF5 file ({e})") from None


def dataset(group, name, path, kind="i", length=None, required=True):
    """``group[name]`` as a numpy array, checked: ``kind`` i (integers) or f (numbers)."""
    full = f"{group.name}/{name}"
    if name not in group:
        if required:
            raise SonataError(f"{path}: dataset {full} is missing")
        return None
    obj = group[name]
    if not isinstance(obj, h5py.Dataset):
        raise SonataError(f"{path}: {full} is a group, a dataset was expected")
    data = obj[()]
    data = np.asarray(data)
    if kind == "i" and data.dtype.kind not in "iu":
        raise SonataError(f"{path}: dataset {full} has dtype {data.dtype}, integers were "
                          "expected")
    if kind == "f" and data.dtype.kind not in "iuf":
        raise SonataError(f"{path}: dataset {full} has dtype {data.dtype}, numbers were "
                          "expected")
    if length is not None and len(data) != length:
        raise SonataError(f"{path}: dataset {full} has {len(data)} rows, {length} expected")
    return data


def _decode(values):
    if values.dtype.kind in "SO":
        return np.array([v.decode() if isinstance(v, bytes) else v for v in values],
                        dtype=object)
    return values


class Population:
    """One node or edge population: ``ids``, ``type_ids`` and per-row attributes."""

    def __init__(self, name, path, group, type_key, types_path, kind):
        self.name, self.path = name, path
        # the group's name only, for messages: everything is read here, and the file is
        # closed after (an open file would clash with another reader of it, see
        # node_populations)
        self.group_name = group.name
        n = len(dataset(group, type_key, path))
        self.size = n
        self.type_ids = dataset(group, type_key, path, length=n).astype(np.int64)
        self.types = read_types(types_path, type_key) if types_path else {}
        missing = sorted(set(np.unique(self.type_ids).tolist()) - set(self.types))
        if missing:
            raise SonataError(f"{path}: {group.name}/{type_key} has type {missing[0]} that "
                              f"{types_path or 'no types table'} does not define")
        prefix = "node" if kind == "node" else "edge"
        gid_name = f"{prefix}_group_id"
        if gid_name in group:
            self.group_ids = dataset(group, gid_name, path, length=n).astype(np.int64)
            self.group_index = dataset(group, f"{prefix}_group_index", path,
                                       length=n).astype(np.int64)
        else:                                       # one group, rows in order
            self.group_ids = np.zeros(n, dtype=np.int64)
            self.group_index = np.arange(n, dtype=np.int64)
        self._columns = {}
        for g in np.unique(self.group_ids):
            rows = np.flatnonzero(self.group_ids == g)
            self._columns[int(g)] = self._read_group(group, str(int(g)), rows, prefix)

    def _read_group(self, group, key, rows, prefix):
        """The datasets of group ``key`` (a group without datasets: attributes from types)."""
        if key not in group:
            return {}
        sub, cols = group[key], {}
        top = int(self.group_index[rows].max()) + 1
        for name, obj in list(sub.items()) + [(f"dynamics_params/{k}", v) for k, v in
                                               sub.get("dynamics_params", {}).items()]:
            if not isinstance(obj, h5py.Dataset):
                continue
            if len(obj) < top:
                raise SonataError(f"{self.path}: dataset {obj.name} has {len(obj)} rows, "
                                  f"{prefix}_group_index needs {top}")
            cols[name] = _decode(np.asarray(obj[()]))
        return cols

    def attribute(self, name, rows=None):
        """Attribute ``name`` for ``rows`` (default all): the group's dataset where it has
        one, else the type's column (None where neither)."""
        rows = np.arange(self.size) if rows is None else np.asarray(rows, dtype=np.int64)
        out = np.empty(len(rows), dtype=object)
        out[:] = [self.types[int(t)].get(name) for t in self.type_ids[rows]]
        for g, cols in self._columns.items():
            if name in cols:
                sel = np.flatnonzero(self.group_ids[rows] == g)
                out[sel] = cols[name][self.group_index[rows[sel]]]
        return out

    def numbers(self, name, rows=None, default=None):
        """A numeric attribute as float array; ``default`` where absent."""
        values = self.attribute(name, rows)
        out = np.empty(len(values))
        for k, v in enumerate(values):
            if v is None:
                if default is None:
                    raise SonataError(f"{self.path}: {self.group_name}: attribute {name!r} is "
                                      f"missing for row {k if rows is None else rows[k]} "
                                      "(neither in its group nor its type)")
                v = default
            try:
                out[k] = float(v)
            except (TypeError, ValueError):
                raise SonataError(f"{self.path}: {self.group_name}: attribute {name!r} = "
                                  f"{v!r} is not a number") from None
        return out

    def dynamics_names(self):
        """The per-row dynamics parameters the groups give (``<group>/dynamics_params``)."""
        return sorted({k.split("/", 1)[1] for cols in self._columns.values() for k in cols
                       if k.startswith("dynamics_params/")})

    def dynamics(self, rows=None):
        """Per-row overrides of dynamics parameters from ``<group>/dynamics_params``."""
        rows = np.arange(self.size) if rows is None else np.asarray(rows, dtype=np.int64)
        out = [{} for _ in rows]
        for g, cols in self._columns.items():
            params = {k.split("/", 1)[1]: v for k, v in cols.items()
                      if k.startswith("dynamics_params/")}
            for k in np.flatnonzero(self.group_ids[rows] == g) if params else ():
                i = self.group_index[rows[k]]
                out[k] = {name: v[i].item() if hasattr(v[i], "item") else v[i]
                          for name, v in params.items()}
        return out


def _h5_errors_named(function):
    """HDF5's own errors on a damaged file (bad heap signatures, truncated datasets) become
    a SonataError naming the file."""
    import functools

    @functools.wraps(function)
    def reading(path, types_path):
        try:
            return function(path, types_path)
        except SonataError:
            raise
        except (OSError, RuntimeError, KeyError, ValueError, TypeError) as e:
            raise SonataError(f"{path}: damaged or not a SONATA file "
                              f"({type(e).__name__}: {e})") from None
    return reading


@_h5_errors_named
def node_populations(path, types_path):
    """``{name: Population}`` of a nodes file; node ids in ``ids``."""
    # read whole and closed: a file left open here made libsonata's later open of it fail
    # once NEST was imported (pynest's RTLD_GLOBAL merges h5py's HDF5 and libsonata's
    # static one, and one HDF5 refuses a second open with other access properties)
    with open_h5(path, "nodes file") as f:
        if "nodes" not in f:
            raise SonataError(f"{path}: no /nodes group: not a SONATA nodes file")
        out = {}
        for name, group in f["nodes"].items():
            pop = Population(name, path, group, "node_type_id", types_path, "node")
            ids = dataset(group, "node_id", path, length=pop.size, required=False)
            pop.ids = (np.arange(pop.size, dtype=np.int64) if ids is None else
                       ids.astype(np.int64))
            if len(np.unique(pop.ids)) != pop.size:
                raise SonataError(f"{path}: {group.name}/node_id has repeated ids")
            out[name] = pop
    return out


@_h5_errors_named
def edge_populations(path, types_path):
    """``{name: Population}`` of an edges file with ``source``, ``target`` ids and the
    node populations they name."""
    with open_h5(path, "edges file") as f:             # closed after: see node_populations
        if "edges" not in f:
            raise SonataError(f"{path}: no /edges group: not a SONATA edges file")
        out = {}
        for name, group in f["edges"].items():
            pop = Population(name, path, group, "edge_type_id", types_path, "edge")
            for end in ("source", "target"):
                data = dataset(group, f"{end}_node_id", path, length=pop.size)
                setattr(pop, end, data.astype(np.int64))
                attr = group[f"{end}_node_id"].attrs.get("node_population")
                if attr is None:
                    raise SonataError(f"{path}: {group.name}/{end}_node_id has no "
                                      "'node_population' attribute")
                setattr(pop, f"{end}_population", attr.decode() if isinstance(attr, bytes)
                        else str(attr))
            out[name] = pop
    return out
