"""Write SONATA circuits: node and edge files with their types tables (what a builder
script needs; neurosim's bundled circuits are made with it).

    write_nodes("net/v1_nodes.h5", "v1", node_type_ids, {"x": x, "y": y, "z": z},
                "net/v1_node_types.csv", [{"node_type_id": 100, "model_type": ...}])
    write_edges("net/v1_v1_edges.h5", "v1_to_v1", "v1", "v1", src, tgt, edge_type_ids,
                {"syn_weight": w, "delay": d}, "net/v1_v1_edge_types.csv", [...])

Edges are stored sorted by target then source, with both indices
(``indices/{source_to_target,target_to_source}/{node_id_to_ranges,range_to_edge_id}``),
the names libsonata reads.  Files are written under a temporary name and renamed.
"""

import os

import numpy as np

from .output import _atomic


def write_types(path, rows):
    """A types table: space-separated, a header of every key, NULL where a row has none;
    lists written as Python lists in quotes."""
    keys = []
    for row in rows:
        keys += [k for k in row if k not in keys]

    def cell(v):
        if v is None:
            return "NULL"
        text = str(list(v)) if isinstance(v, (list, tuple)) else str(v)
        return f'"{text}"' if " " in text else text
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(" ".join(keys) + "\n")
        for row in rows:
            f.write(" ".join(cell(row.get(k)) for k in keys) + "\n")
    return path


def _magic(f):
    f.attrs["magic"] = np.uint32(0x0A7A)
    f.attrs["version"] = np.array([0, 1], dtype=np.uint32)


def write_nodes(path, population, node_type_ids, attributes, types_path, types):
    """One node population, one group (0) holding ``attributes`` (arrays, one value per
    node; a dict value becomes ``dynamics_params``)."""
    n = len(node_type_ids)

    def write(f):
        _magic(f)
        g = f.create_group(f"nodes/{population}")
        g.create_dataset("node_id", data=np.arange(n, dtype=np.uint64))
        g.create_dataset("node_type_id", data=np.asarray(node_type_ids, dtype=np.uint64))
        g.create_dataset("node_group_id", data=np.zeros(n, dtype=np.uint32))
        g.create_dataset("node_group_index", data=np.arange(n, dtype=np.uint64))
        group = g.create_group("0")
        for name, values in attributes.items():
            if isinstance(values, dict):
                dyn = group.create_group(name)
                for k, v in values.items():
                    dyn.create_dataset(k, data=np.asarray(v))
            else:
                group.create_dataset(name, data=np.asarray(values))
    _atomic(path, write)
    write_types(types_path, types)
    return path


def _index(group, ids, n_nodes):
    """``node_id_to_ranges`` and ``range_to_edge_id`` for edges whose ``ids`` (one end)
    are given in stored order."""
    # runs of equal ids in the stored order make the ranges
    breaks = np.flatnonzero(np.diff(ids)) + 1 if len(ids) else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], breaks]) if len(ids) else np.zeros(0, dtype=np.int64)
    stops = np.concatenate([breaks, [len(ids)]]) if len(ids) else np.zeros(0, dtype=np.int64)
    run_ids = ids[starts] if len(ids) else np.zeros(0, dtype=np.int64)
    by_node = np.argsort(run_ids, kind="stable")
    ranges = np.stack([starts[by_node], stops[by_node]], axis=1).astype(np.uint64) \
        if len(ids) else np.zeros((0, 2), dtype=np.uint64)
    node_ranges = np.zeros((n_nodes, 2), dtype=np.uint64)
    counts = np.bincount(run_ids, minlength=n_nodes) if len(ids) else np.zeros(n_nodes, int)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]) if n_nodes else np.zeros(0, int)
    node_ranges[:, 0] = first
    node_ranges[:, 1] = first + counts
    group.create_dataset("node_id_to_ranges", data=node_ranges)
    group.create_dataset("range_to_edge_id", data=ranges)


def write_edges(path, population, source_population, target_population, source, target,
                edge_type_ids, attributes, types_path, types, n_source=None, n_target=None):
    """One edge population, sorted by (target, source), one group (0) of ``attributes``."""
    source = np.asarray(source, dtype=np.int64)
    target = np.asarray(target, dtype=np.int64)
    order = np.lexsort((source, target))
    n = len(order)
    n_source = int(source.max()) + 1 if n_source is None else n_source
    n_target = int(target.max()) + 1 if n_target is None else n_target

    def write(f):
        _magic(f)
        g = f.create_group(f"edges/{population}")
        for end, ids, pop in (("source", source, source_population),
                              ("target", target, target_population)):
            d = g.create_dataset(f"{end}_node_id", data=ids[order].astype(np.uint64))
            d.attrs["node_population"] = pop
        g.create_dataset("edge_type_id",
                         data=np.asarray(edge_type_ids, dtype=np.uint64)[order])
        g.create_dataset("edge_group_id", data=np.zeros(n, dtype=np.uint32))
        g.create_dataset("edge_group_index", data=np.arange(n, dtype=np.uint64))
        group = g.create_group("0")
        for name, values in attributes.items():
            group.create_dataset(name, data=np.asarray(values)[order])
        _index(g.create_group("indices/source_to_target"), source[order], n_source)
        _index(g.create_group("indices/target_to_source"), target[order], n_target)
    _atomic(path, write)
    write_types(types_path, types)
    return path
