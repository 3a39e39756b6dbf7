"""POINTERs as a network describes them: what ``Network.set_pointer`` binds, checked against
the network's cells (:mod:`neurosim.lowering.pointers` lands each binding in the kernel).

A POINTER (NMODL) names a double elsewhere that the mechanism reads and may assign, as in
NEURON where it is a C pointer.  neurosim's targets are a node's voltage or a variable of a
mechanism instance (hnn-core's dipole sums its current into the ``Qsum`` of a point
process); NEURON's free-standing doubles (a hoc ``Vector`` element) have no equivalent: a
point process with an ASSIGNED variable stands in for one.
"""

from neurosim.description.items import PointerBinding
from neurosim.errors import ParameterError


def is_location(where):
    return isinstance(where, (tuple, list)) and len(where) == 2 and \
        not isinstance(where[1], str)


def parse(net, target, pointer, source):
    """One ``net.pointers`` entry (a :class:`PointerBinding`)
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
        mech = point_process(net, gid, where)
    else:
        loc = net.cells[gid].check_location(target[1])
        mech = density(net, gid, target[2])
        where = (loc, mech.name)
    if pointer not in mech.pointers:
        raise ParameterError(f"set_pointer: {mech.name} (gid {gid}, {target[1]!r}) has no "
                             f"POINTER {pointer!r}; its POINTERs are {list(mech.pointers)}")
    if len(source) == 2:
        if not is_location(source[1]):
            raise ParameterError(usage)
        return PointerBinding(gid, where, pointer, src,
                              net.cells[src].check_location(source[1]))
    if is_location(source[1]):
        name, var = split_variable(source[2])
        smech = density(net, src, name)
        swhere = (net.cells[src].check_location(source[1]), f"{smech.name}.{var}")
    else:
        smech, var = point_process(net, src, source[1]), str(source[2])
        swhere = (source[1], var)
    variable_spec(smech, var)            # refused here, not when the simulation starts
    return PointerBinding(gid, where, pointer, src, swhere)


def split_variable(name):
    name = str(name)
    if "." in name:
        return name.split(".", 1)
    if "_" in name:
        var, mech = name.rsplit("_", 1)
        return mech, var
    raise ParameterError(f"set_pointer: source variable {name!r} is 'mechanism.variable' "
                         "(or NEURON's 'variable_mechanism')")


def point_process(net, gid, label):
    mech = next((s.mechanism for s in net.cells[gid].synapses if s.label == label), None)
    if mech is None:
        raise ParameterError(f"set_pointer: cell {gid} has no point process labelled "
                             f"{label!r}")
    return mech


def density(net, gid, name):
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


def source_mechanism(net, src, swhere):
    where, var = swhere
    if is_location(where):
        name, var = split_variable(var)
        return density(net, src, name), var
    return point_process(net, src, where), var


def target_name(net, gid, where):
    if isinstance(where, str):
        return point_process(net, gid, where).name
    return where[1]
