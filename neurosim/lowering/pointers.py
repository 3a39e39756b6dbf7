"""POINTERs: what ``Network.set_pointer`` binds, and where each binding lands in the kernel.

A POINTER (NMODL) names a double elsewhere that the mechanism reads and may assign, as in
NEURON where it is a C pointer.  neurosim's targets are a node's voltage or a variable of a
mechanism instance (hnn-core's dipole sums its current into the ``Qsum`` of a point
process); NEURON's free-standing doubles (a hoc ``Vector`` element) have no equivalent: a
point process with an ASSIGNED variable stands in for one.

Every instance of a mechanism points its POINTER at the same kind of variable (all at
voltages, or all at ``Dipole.Qsum``): the kernel is generated with that variable's array
and row, and each instance holds only the index (node or instance) it points at.
"""

from dataclasses import replace

import numpy as np

from neurosim.errors import ParameterError


def _is_location(where):
    return isinstance(where, (tuple, list)) and len(where) == 2 and \
        not isinstance(where[1], str)


def parse(net, target, pointer, source):
    """One ``net.pointers`` entry (gid, target where, pointer, source gid, source where)
    from ``set_pointer``'s arguments, checked against the network's cells:

    * target ``(gid, label)`` (a point process) or ``(gid, (section, x), "mech")`` (the
      density mechanism ``mech`` at that location);
    * source ``(gid, (section, x))`` (the voltage there), ``(gid, label, "var")`` (a
      variable of a point process) or ``(gid, (section, x), "mech.var")`` (a variable of a
      density mechanism; NEURON's ``var_mech`` too)."""
    usage = ("set_pointer takes target (gid, label) or (gid, (section, x), mechanism) and "
             "source (gid, (section, x)), (gid, label, variable) or (gid, (section, x), "
             f"'mechanism.variable'), got {target!r}, {source!r}")
    if not isinstance(target, (tuple, list)) or len(target) not in (2, 3) or \
            not isinstance(source, (tuple, list)) or len(source) not in (2, 3):
        raise ParameterError(usage)
    gid, src = net._gid(target[0], "pointer target"), net._gid(source[0], "pointer source")
    for g in (gid, src):
        if g not in net.cells:
            raise ParameterError(f"set_pointer: gid {g} is not a cell with compartments")
    if len(target) == 2:
        where = target[1]
        mech = _point_process(net, gid, where)
    else:
        loc = net.cells[gid].check_location(target[1])
        mech = _density(net, gid, target[2])
        where = (loc, mech.name)
    if pointer not in mech.pointers:
        raise ParameterError(f"set_pointer: {mech.name} (gid {gid}, {target[1]!r}) has no "
                             f"POINTER {pointer!r}; its POINTERs are {list(mech.pointers)}")
    if len(source) == 2:
        if not _is_location(source[1]):
            raise ParameterError(usage)
        return gid, where, pointer, src, net.cells[src].check_location(source[1])
    if _is_location(source[1]):
        name, var = _split(source[2])
        smech = _density(net, src, name)
        swhere = (net.cells[src].check_location(source[1]), f"{smech.name}.{var}")
    else:
        smech, var = _point_process(net, src, source[1]), str(source[2])
        swhere = (source[1], var)
    variable_spec(smech, var)            # refused here, not when the simulation starts
    return gid, where, pointer, src, swhere


def _split(name):
    name = str(name)
    if "." in name:
        return name.split(".", 1)
    if "_" in name:
        var, mech = name.rsplit("_", 1)
        return mech, var
    raise ParameterError(f"set_pointer: source variable {name!r} is 'mechanism.variable' "
                         "(or NEURON's 'variable_mechanism')")


def _point_process(net, gid, label):
    mech = next((s.mechanism for s in net.cells[gid].synapses if s.label == label), None)
    if mech is None:
        raise ParameterError(f"set_pointer: cell {gid} has no point process labelled "
                             f"{label!r}")
    return mech


def _density(net, gid, name):
    mech = next((i.mechanism for i in net.cells[gid].inserts if i.mechanism.name == name),
                None)
    if mech is None:
        raise ParameterError(f"set_pointer: no density mechanism {name!r} is inserted on "
                             f"cell {gid}")
    return mech


def variable_spec(mech, var):
    """(mechanism name, array, row) of variable ``var`` of ``mech``: the kernel's
    ``_m<j>_s``, ``_m<j>_a`` or ``_m<j>_p`` row a POINTER reads and writes."""
    if mech.static_conductance:
        raise ParameterError(f"set_pointer: {mech.name}'s variables are folded into the "
                             "matrix (a constant leak): a POINTER cannot point at them")
    for arr, names in (("s", mech.states), ("a", mech.assigned), ("p", mech.parameters)):
        if var in names:
            return mech.name, arr, list(names).index(var)
    raise ParameterError(f"set_pointer: {mech.name} has no variable {var!r}; it has "
                         f"{list(mech.states) + list(mech.assigned) + list(mech.parameters)}")


def _source_mechanism(net, src, swhere):
    where, var = swhere
    if _is_location(where):
        name, var = _split(var)
        return _density(net, src, name), var
    return _point_process(net, src, where), var


def _target_name(net, gid, where):
    if isinstance(where, str):
        return _point_process(net, gid, where).name
    return where[1]


def bind(net, tables, local):
    """Give each table's mechanism the variable each of its POINTERs points at (None: a
    voltage), from the network's ``set_pointer`` calls on the ``local`` gids; one kind of
    variable per POINTER of a mechanism."""
    specs = {}
    for gid, where, pointer, src, swhere in net.pointers:
        if gid not in local:
            continue
        spec = None
        if not _is_location(swhere):
            spec = variable_spec(*_source_mechanism(net, src, swhere))
        key = (_target_name(net, gid, where), pointer)
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


def instance_of(sim, target, gid, where):
    """(table, instance) of the mechanism instance ``where`` on ``gid`` (a point process's
    label, or (location, mechanism name) of a density mechanism)."""
    ci = sim._index_of[gid]
    if isinstance(where, str):
        return target[(ci, where)]
    loc, name = where
    node = sim.model.locate(loc, ci)
    for j, table in enumerate(sim.backend.tables):
        if table.name == name:
            hit = np.flatnonzero(table.nodes == node)
            if len(hit):
                return j, int(hit[0])
    raise ParameterError(f"set_pointer: {name} is not inserted at {loc} of gid {gid}")


def set_indices(sim, target):
    """Each POINTER's node or instance; every POINTER of every instance must be set."""
    net = sim.network
    for gid, where, pointer, src, swhere in net.pointers:
        if gid not in sim._index_of:
            continue
        j, k = instance_of(sim, target, gid, where)
        table = sim.backend.tables[j]
        row = table.mechanism.pointers.index(pointer)
        if _is_location(swhere):
            index = sim.model.locate(swhere, sim._index_of[src])
        else:
            where_s, var = swhere
            if _is_location(where_s):
                where_s = (where_s, _split(var)[0])
            index = instance_of(sim, target, src, where_s)[1]
        table.pointer_nodes[row, k] = index
    for table in sim.backend.tables:
        unset = np.argwhere(table.pointer_nodes < 0)
        if len(unset):
            row, k = unset[0]
            if table.labels is not None:
                ci, label = table.labels[k]
                what, how = repr(label), f"({sim.gids[ci]}, {label!r})"
            else:
                ci = int(sim.model.node_cell[table.nodes[k]])
                what = f"at {sim.model.describe_node(table.nodes[k])}"
                how = f"({sim.gids[ci]}, (section, x), {table.name!r})"
            raise ParameterError(
                f"POINTER {table.mechanism.pointers[row]} of {table.name} {what} on gid "
                f"{sim.gids[ci]} is not set: net.set_pointer({how}, "
                f"{table.mechanism.pointers[row]!r}, source)")
