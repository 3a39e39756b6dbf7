"""A mechanism: the parameters, states and per-instance code of a membrane channel.

The code bodies are Python source, compiled into the step kernel by :mod:`neurosim.kernels.codegen`
(one loop over a mechanism's instances for each phase).  Inside a body the names in scope are
``v`` (mV), ``dt`` (ms), ``celsius`` (°C), each parameter and state by its own name, the
mechanism's aux arrays and whatever its ``setup`` lines define.  ``current`` must set ``i``
(mA/cm²; nA for point processes) and ``g = di/dv``.  States integrated by cnexp are listed in
``cnexp`` as ``(state, a, b)`` for x' = a + b x, with ``a`` and ``b`` computed by ``rates``:
the kernel then updates them exactly, x += (1 - exp(b dt)) (-a/b - x), in a separate
vectorisable loop.  Ion variables named in ``ions`` are read from and written to per-node ion
arrays; written ion currents are summed there for concentration mechanisms to read.  The "Mechanisms" issue replaces hand-written bodies with
ones generated from NMODL and Python equations; this contract stays.
"""

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import MechanismError, ParameterError
from ..providers import provided
from ..validate import finite
from . import functions

# Names the kernel module (neurosim.kernels.codegen) defines or imports and the placeholders
# it substitutes: a mechanism variable of one of these names would shadow them (the NMODL
# front-end renames it).
KERNEL_NAMES = frozenset({
    "math", "np", "numba", "njit", "prange", "cuda", "fexp", "linalg", "block_solve_range",
    "hines_solve_range", "device_function", "inline_function", "dense_solve", "initialize",
    "recursive_function", "run_group", "advance", "run_epochs", "epochs", "threads",
    "poisson_count", "LOCAL_ARRAY", "NET_EVENT",
    "FOR_NETCONS_ROWS", "FOR_NETCONS_ROW", "NET_SEND_OUTSTANDING"})


@dataclass(frozen=True)
class IonUse:
    """A mechanism's use of ion ``ion``: the ion variables it reads and writes, by NEURON's
    names (``ena``, ``nai``, ``nao``, ``ina``)."""
    ion: str
    reads: tuple = ()
    writes: tuple = ()
    valence: float = None

    def field(self, var):
        """Which per-node ion array ``var`` lives in: 'e', 'ci', 'co' or 'i'."""
        x = self.ion
        return {f"e{x}": "e", f"{x}i": "ci", f"{x}o": "co", f"i{x}": "i"}.get(var)


@dataclass(frozen=True)
class Mechanism:
    name: str
    parameters: dict                     # name -> default, in kernel order
    states: tuple = ()
    init: str = ""                       # sets every state from v and parameters
    current: str = "i = 0.0\ng = 0.0"
    advance: str = ""                    # advances states over dt with v(t+dt)
    rates: str = ""                      # computes the a/b names that cnexp refers to
    cnexp: tuple = ()                    # (state, a, b) for x' = a + b x, integrated exactly
    assigned: tuple = ()                 # per-instance variables kept from phase to phase
    ions: tuple = ()                     # IonUse
    helpers: str = ""                    # module-level source (e.g. FUNCTIONs) for the kernel
    rename: dict = field(default_factory=dict)   # variable -> its name in generated code
    source_text: str = ""                # the NMODL the mechanism was compiled from
    net_receive: str = ""                # body run when an event arrives (point processes)
    net_receive_args: tuple = ()         # its arguments: the connection's weight vector
    net_receive_init: str = ""           # NET_RECEIVE's INITIAL, once per connection
    written_parameters: tuple = ()       # parameters a block assigns: stored back
    uses_net_send: bool = False          # schedules self-events (one pending per instance)
    uses_net_event: bool = False         # a point process's net_event: a spike of its cell
    function_tables: dict = field(default_factory=dict)   # FUNCTION_TABLE name -> arguments
    function_tables_used: tuple = ()     # those the simulation calls: they must be given
    function_table_values: dict = field(default_factory=dict)   # name -> kernel array
    uses_for_netcons: bool = False       # NET_RECEIVE loops over the incoming connections
    pointers: tuple = ()                 # POINTER variables, set per instance
                                         # (net.set_pointer): see neurosim/pointers.py
    pointers_written: tuple = ()         # those a block assigns: stored back to the target
    pointer_targets: tuple = ()          # per POINTER, None (a node's voltage) or the
                                         # (mechanism, array, row) every instance's points
                                         # at: set per simulation (pointers.bind)
    diffusion: tuple = ()                # LONGITUDINAL_DIFFUSION: (state row, rate, volume)
                                         # sources per diffusing state (neurosim/diffusion.py)
    functions: dict = field(default_factory=dict)   # NMODL FUNCTION/PROCEDURE name ->
                                         # (kind, arguments, implicit reads, writes)
    static_conductance: tuple = ()       # (g, e) parameters of a constant ohmic leak: folded
                                         # into the matrix once instead of a loop per step
    setup: str = ""                      # per-step lines before the instance loop
    aux: Callable = None                 # aux(celsius, use_tables) -> {name: ndarray}
    randoms: tuple = ()                  # RANDOM streams: parameters <name>_id1 .. (see
    #                                      neurosim/mechanisms/random123.py)
    geometric: tuple = ()                # parameters the segment gives (diam, µm): set when
    #                                      the cell is lowered, never by the user
    nonnegative: tuple = ()              # parameters that must be >= 0
    positive: tuple = ()                 # parameters that must be > 0
    ordered: tuple = ()                  # (a, b) pairs of parameters: a must be < b
    event_lead: int = 0                  # steps before its own an event is taken: 1 for
                                         # NEST's models whose state jumps with an input
                                         # (NEST adds it in the step that ends at its time)
    check: Callable = None               # check(values): raises ParameterError for
                                         # parameters the model refuses together
    check_event: Callable = None         # check_event(values, weights): why a connection
                                         # of these weights cannot reach it, or None
    kind: str = "density"                # density | point | artificial
    native: str = ""                     # an artificial cell neurosim runs itself
    doc: str = ""

    def __repr__(self):
        return (f"Mechanism({self.name!r}, {self.kind}, parameters={self.parameters}, "
                f"states={self.states})")

    def __post_init__(self):
        if not self.name.isidentifier():
            raise MechanismError(f"mechanism name {self.name!r} is not an identifier")

    def resolve_parameter(self, key):
        """Accept NEURON's suffixed names too: ``g_pas`` for ``g`` of ``pas``."""
        suffix = "_" + self.name
        name = key[: -len(suffix)] if key.endswith(suffix) else key
        if name in self.geometric:
            raise ParameterError(f"{self.name}.{name} is the segment's {name}: set it on the "
                                 "morphology")
        if key in self.parameters:
            return key
        if key.endswith(suffix) and key[: -len(suffix)] in self.parameters:
            return key[: -len(suffix)]
        raise ParameterError(f"mechanism {self.name!r} has no parameter {key!r}; its "
                             f"parameters are {list(self.parameters)}")

    def resolve_variable(self, key):
        """A recordable variable: a state (row r, returned as r), an assigned variable such
        as a current or conductance (row r, returned as -1 - r) or a parameter no block
        writes (("param", index): a constant)."""
        for name in (key, key[: -len(self.name) - 1] if key.endswith("_" + self.name) else None):
            if name in self.states:
                return self.states.index(name)
            if name in self.assigned:
                return -1 - self.assigned.index(name)
            if name in self.parameters and self._constant_in_run(name):
                return ("param", list(self.parameters).index(name))
        constant = [p for p in self.parameters if self._constant_in_run(p)]
        raise ParameterError(f"mechanism {self.name!r} has no state or assigned variable "
                             f"{key!r} (nor such a parameter); it has "
                             f"{list(self.states) + list(self.assigned)} and the parameters "
                             f"{constant}")

    def _constant_in_run(self, name):
        """Whether parameter ``name`` keeps its value from initialisation on: no code a step
        runs assigns it (INITIAL may: Exp2Syn's keeps tau1 below tau2)."""
        if name not in self.written_parameters:
            return True
        per_step = "\n".join((self.current, self.advance, self.rates, self.setup,
                              self.net_receive, self.helpers))
        return re.search(rf"(?<![\w.]){re.escape(name)}\s*(=(?!=)|[-+*/]=)", per_step) is None

    def check_value(self, pname, value, context=""):
        """A parameter value: a finite number, or a callable of path distance (µm)."""
        if callable(value):
            return value
        return finite(f"{self.name}.{pname}", value, nonnegative=pname in self.nonnegative,
                      positive=pname in self.positive, context=context)

    def check_relations(self, values, context=""):
        """The ``ordered`` pairs hold for ``values`` (given parameters over the defaults),
        as NEST's models check theirs (V_reset below V_th, ...)."""
        merged = {**self.parameters, **values}
        for a, b in self.ordered:
            if callable(merged[a]) or callable(merged[b]):
                continue
            if not merged[a] < merged[b]:
                where = f" ({context})" if context else ""
                raise ParameterError(f"{self.name}{where}: {a} = {merged[a]!r} must be smaller "
                                     f"than {b} = {merged[b]!r}")
        if self.check is not None:
            try:
                self.check(merged)
            except ParameterError as e:
                where = f" ({context})" if context else ""
                raise ParameterError(f"{self.name}{where}: {e}") from None

    def code_name(self, var):
        return self.rename.get(var, var)

    def ion_use(self, var):
        """The IonUse that declares ion variable ``var`` (or None)."""
        for use in self.ions:
            if use.field(var) is not None and (var in use.reads or var in use.writes):
                return use
        return None

    def source(self):
        """The generated kernel source for a model holding just this mechanism."""
        return provided("kernel source")([self], [list(self.aux_arrays(6.3, True))])

    def aux_arrays(self, celsius, use_tables):
        out = {} if self.aux is None else dict(self.aux(celsius, use_tables))
        for name in self.function_tables_used:
            if name not in self.function_table_values:
                raise MechanismError(f"mechanism {self.name!r}: FUNCTION_TABLE {name} was "
                                     f"never given: use mech.with_function_table({name!r}, "
                                     "values, *axes) (NEURON: table_" + name + ")")
            out[f"{self.name}_ft_{name}"] = self.function_table_values[name]
        return out

    def function(self, name):
        """NMODL FUNCTION or PROCEDURE ``name`` as a Python callable, as NEURON's
        ``h.<name>_<suffix>(args)``: see :func:`neurosim.mechanisms.functions.bind`."""
        return functions.bind(self, name)

    def with_function_table(self, name, values, *axes):
        """This mechanism with FUNCTION_TABLE ``name``'s table given, as NEURON's
        ``table_<name>``: a number alone (the function is that constant), or ``values`` over
        one axis per argument (``values.shape == (len(axis0), len(axis1), ...)``, each axis
        increasing; NEURON's (n, min, max) form is ``np.linspace(min, max, n)``).  The
        function interpolates linearly in one and two dimensions and holds the end values
        beyond the axes, as NEURON's."""
        nargs = self.function_tables.get(name)
        if nargs is None:
            raise ParameterError(f"mechanism {self.name!r} has no FUNCTION_TABLE {name!r}; it "
                                 f"has {list(self.function_tables)}")
        values = np.asarray(values, dtype=float)
        if not axes:
            if values.ndim != 0:
                raise ParameterError(f"FUNCTION_TABLE {name}: without axes the table is one "
                                     "number")
            axes, values = [np.zeros(1)] * nargs, np.full((1,) * nargs, float(values))
        axes = [np.asarray(a, dtype=float).ravel() for a in axes]
        if len(axes) != nargs or values.shape != tuple(len(a) for a in axes):
            raise ParameterError(f"FUNCTION_TABLE {name} takes {nargs} arguments: give "
                                 f"{nargs} axes and values of shape (len(axis0), ...); got "
                                 f"{len(axes)} axes, values of shape {values.shape}")
        if not all(np.all(np.isfinite(a)) and np.all(np.diff(a) > 0) for a in axes) or \
                not np.all(np.isfinite(values)):
            raise ParameterError(f"FUNCTION_TABLE {name}: axes must be finite and increasing, "
                                 "values finite")
        table = np.concatenate([[nargs], [len(a) for a in axes], *axes, values.ravel()])
        given = {**self.function_table_values, name: table}
        return dataclasses.replace(self, function_table_values=given)

    def fingerprint(self):
        """Everything that changes the compiled code of this mechanism."""
        parts = [self.name, self.kind, repr(list(self.parameters)), repr(self.states),
                 self.init, self.current, self.advance, self.rates, repr(self.cnexp),
                 self.setup, repr(self.assigned), repr(self.ions), self.helpers,
                 self.net_receive, repr(self.net_receive_args), repr(self.written_parameters),
                 repr(self.uses_net_send), repr(self.uses_for_netcons), self.net_receive_init,
                 repr(self.uses_net_event), repr(self.geometric), repr(self.function_tables),
                 repr(sorted(self.rename.items())), repr(self.diffusion)]
        return "\n".join(parts)
