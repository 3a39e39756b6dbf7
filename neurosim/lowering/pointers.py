"""POINTERs in the kernel: where each binding of ``Network.set_pointer`` (checked by
:mod:`neurosim.description.pointers`) lands.

Every instance of a mechanism points its POINTER at the same kind of variable (all at
voltages, or all at ``Dipole.Qsum``): the kernel is generated with that variable's array
and row, and each instance holds only the index (node or instance) it points at.
"""

from dataclasses import replace

import numpy as np

from neurosim.description.pointers import (is_location, source_mechanism, split_variable,
                                           target_name, variable_spec)
from neurosim.errors import ParameterError


def bind(net, tables, local):
    """Give each table's mechanism the variable each of its POINTERs points at (None: a
    voltage), from the network's ``set_pointer`` calls on the ``local`` gids; one kind of
    variable per POINTER of a mechanism."""
    specs = {}
    for gid, where, pointer, src, swhere in net.pointers:
        if gid not in local:
            continue
        spec = None
        if not is_location(swhere):
            spec = variable_spec(*source_mechanism(net, src, swhere))
        key = (target_name(net, gid, where), pointer)
        if specs.setdefault(key, spec) != spec:
            raise ParameterError(
                f"POINTER {pointer} of {key[0]} points at {_describe(spec)} on gid {gid} and "
                f"at {_describe(specs[key])} elsewhere: every instance of a mechanism "
                "points a POINTER at the same kind of variable")
    for t in tables:
        mech = t.mechanism
        if mech.pointers:
            targets = tuple(specs.get((mech.name, p)) for p in mech.pointers)
            if any(targets):
                t.mechanism = replace(mech, pointer_targets=targets)


def _describe(spec):
    if spec is None:
        return "a voltage"
    kind = {"s": "state", "a": "assigned variable", "p": "parameter"}[spec[1]]
    return f"{spec[0]}'s {kind} {spec[2]}"


def instance_of(model, tables, target, ci, gid, where):
    """(table, instance) of the mechanism instance ``where`` on ``gid`` (cell index ``ci``
    of the lowered ``model``; a point process's label, or (location, mechanism name) of a
    density mechanism) among the kernel's ``tables``."""
    if isinstance(where, str):
        return target[(ci, where)]
    loc, name = where
    node = model.locate(loc, ci)
    for j, table in enumerate(tables):
        if table.name == name:
            hit = np.flatnonzero(table.nodes == node)
            if len(hit):
                return j, int(hit[0])
    raise ParameterError(f"set_pointer: {name} is not inserted at {loc} of gid {gid}")


def set_indices(net, model, tables, target, index_of, gids):
    """Each POINTER's node or instance in the kernel's ``tables`` (``index_of``: gid -> cell
    index of the lowered ``model``; ``gids``: the inverse); every POINTER of every instance
    must be set."""
    for gid, where, pointer, src, swhere in net.pointers:
        if gid not in index_of:
            continue
        j, k = instance_of(model, tables, target, index_of[gid], gid, where)
        table = tables[j]
        row = table.mechanism.pointers.index(pointer)
        if is_location(swhere):
            index = model.locate(swhere, index_of[src])
        else:
            where_s, var = swhere
            if is_location(where_s):
                where_s = (where_s, split_variable(var)[0])
            index = instance_of(model, tables, target, index_of[src], src, where_s)[1]
        table.pointer_nodes[row, k] = index
    for table in tables:
        unset = np.argwhere(table.pointer_nodes < 0)
        if len(unset):
            row, k = unset[0]
            if table.labels is not None:
                ci, label = table.labels[k]
                what, how = repr(label), f"({gids[ci]}, {label!r})"
            else:
                ci = int(model.node_cell[table.nodes[k]])
                what = f"at {model.describe_node(table.nodes[k])}"
                how = f"({gids[ci]}, (section, x), {table.name!r})"
            raise ParameterError(
                f"POINTER {table.mechanism.pointers[row]} of {table.name} {what} on gid "
                f"{gids[ci]} is not set: net.set_pointer({how}, "
                f"{table.mechanism.pointers[row]!r}, source)")
