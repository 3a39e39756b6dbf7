"""NMODL FUNCTIONs and PROCEDUREs called from Python, as NEURON users call them::

    hh2 = ns.Mechanism.from_nmodl("hh2.mod")
    hh2.function("vtrap")(-10.0, 5.0)              # NEURON: h.vtrap_hh2(-10, 5)
    hh2.function("rates")(-40.0, celsius=6.3)      # {"minf": ..., "mtau": ...}: what it assigns

The code is the kernel's (the same helpers, compiled by Numba at the first call).  A
Mechanism is a template, not an instance: the parameters and GLOBALs a function reads take
the mechanism's values (``celsius`` NEURON's default 6.3) unless given by keyword; a variable
of an instance (``v``, an ASSIGNED or STATE variable, an ion's) must be given, as NEURON's
``seg.mech.f(...)`` reads it from that segment; one it assigns starts at the value given,
else 0.  A FUNCTION returns its value; a PROCEDURE
returns the variables it assigns (NEURON leaves them in the GLOBALs: ``h.minf_hh2``), and so
does nothing else: the mechanism is unchanged.  TABLEs are computed exactly (NEURON with
``usetable_<suffix> = 0``).

A FUNCTION that draws from a RANDOM stream takes the stream by its name, an
:class:`~neurosim.Random123` that goes on along its sequence call after call::

    rng = ns.Random123(1, 0, 7)                      # NEURON: s(0.34).random_variable.rng
    m.function("negexp")(rng=rng)                    # NEURON: s(0.34).random_variable.negexp()
"""

from ..errors import MechanismError, ParameterError
from ..providers import provided
from .random123 import FIELDS, Random123

NEURON_GLOBALS = {"celsius": 6.3}       # hoc's defaults of the globals a function may read


def bind(mech, name):
    """The callable for FUNCTION/PROCEDURE ``name`` of ``mech``: ``f(*arguments, **values)``."""
    if name not in mech.functions:
        raise ParameterError(f"mechanism {mech.name!r} has no FUNCTION or PROCEDURE {name!r}; "
                             f"it has {sorted(mech.functions)}")
    kind, args, reads, writes = mech.functions[name]
    module = []                           # loaded at the first call
    streams = [r for r in mech.randoms if f"{r}_id1" in reads]
    inner = {f"{r}_{f}": (r, k) for r in streams for k, f in enumerate(FIELDS)}

    def call(*arguments, **values):
        if len(arguments) != len(args):
            raise ParameterError(f"{kind} {name} of {mech.name} takes {len(args)} "
                                 f"argument(s) {list(args)}, got {len(arguments)}")
        unknown = sorted(set(values) - set(reads) - set(mech.randoms))
        for r in streams:
            if not isinstance(values.get(r), Random123):
                raise ParameterError(f"{kind} {name} of {mech.name} draws from RANDOM {r}: "
                                     f"give the stream, {r}=ns.Random123(id1, id2, id3)")
        if unknown:
            raise ParameterError(f"{kind} {name} of {mech.name} does not read {unknown}; it "
                                 f"reads {list(reads)}")
        # a variable it assigns is passed in too (a path may leave it): given, or 0, the
        # value NEURON's ASSIGNED variables hold before anything assigns them
        implicit = [values[inner[r][0]].state[inner[r][1]] if r in inner else
                    float(values.get(r, 0.0)) if r in writes else
                    _value(mech, kind, name, r, values) for r in reads]
        if not module:
            module.append(provided("mechanism helpers")(mech))
        out = getattr(module[0], f"{mech.name}_{name}")(
            *[float(a) for a in arguments], *implicit)
        value, out = (out[0], out[1:]) if kind == "FUNCTION" and writes else (out, out)
        out = out if writes else ()
        for w, x in zip(writes, out):           # the streams go on
            if w in inner:
                values[inner[w][0]].state[inner[w][1]] = float(x)
        if kind == "FUNCTION":
            return float(value)
        return {w: float(x) for w, x in zip(writes, out) if w not in inner}

    call.__name__ = name
    call.__doc__ = (f"{kind} {name}({', '.join(args)}) of {mech.name}; reads "
                    f"{list(reads) or 'nothing else'}")
    return call


def _value(mech, kind, name, var, values):
    if var in values:
        return float(values[var])
    if var in mech.parameters:
        return float(mech.parameters[var])
    if var in NEURON_GLOBALS:
        return NEURON_GLOBALS[var]
    table = var[len(mech.name) + 4:] if var.startswith(f"{mech.name}_ft_") else None
    if table is not None:                 # a FUNCTION_TABLE the function interpolates
        if table not in mech.function_table_values:
            raise MechanismError(f"{kind} {name} of {mech.name} reads FUNCTION_TABLE {table}, "
                                 f"never given: mech.with_function_table({table!r}, ...)")
        return mech.function_table_values[table]
    raise ParameterError(f"{kind} {name} of {mech.name} reads {var!r}, a variable of an "
                         f"instance: give it, mech.function({name!r})(..., {var}=value)")
