"""NMODL syntax tree -> :class:`~neurosim.mechanisms.Mechanism` (readable Python bodies).

What each block becomes, following nocmodl's semantics:

* PARAMETER -> per-instance parameters (GLOBAL ones too: a per-instance copy is a superset);
  ASSIGNED -> per-instance variables kept between phases; STATE -> states, except an ion
  concentration the mechanism writes (``cai``), which lives in the ion's per-node array.
* FUNCTION / PROCEDURE -> module-level Numba functions; the RANGE variables a body reads are
  passed in and those a PROCEDURE assigns are returned.
* BREAKPOINT -> the current, evaluated at v + 0.001 and at v: g = di/dv by that difference,
  exactly as NEURON linearises it.
* SOLVE ... METHOD cnexp -> x' = a + b x integrated exactly; derivimplicit and sparse (KINETIC,
  with CONSERVE and COMPARTMENT) -> backward Euler solved by Newton's method with a
  finite-difference Jacobian; LINEAR and STEADYSTATE in INITIAL -> the linear (resp. steady)
  system solved directly.
* TABLE is ignored: tables only cache what the code computes, so computing is exact.
"""

import os

from .. import random123
from ..base import IonUse, Mechanism
from .forms import (_CONDUCTANCE, _CONSTRUCTED, _DECORATOR, _ELEMENT, _FTABLE, _GHK,
                    _RUN_BLOCKS, GEOMETRIC, RANDOM_DEFAULTS, RANDOM_DRAWS, RANDOM_SETS, SPECIAL,
                    _calls_in, _cnexp_update, _elements, _exprs_of, _exprs_of_all, _indent,
                    _names_in, _reactions_in)
from .expressions import _Expressions
from .solvers import _Solvers
from .statements import _Statements
from .syntax import NmodlError, fill_element_sizes, parse
from .tree import (Assign, BinOp, Call, CallStmt, Deriv, Element, From, If, LinearEq, Local, Name,
                   NetInitial, Solve, Unary, While)
from .unroll import reactant_error, unrolled


def compile_file(path):
    """Compile a .mod file (the NMODL subset that real files use) into a Mechanism."""
    with open(path) as f:
        text = f.read()
    return compile_text(text, str(path))


# Artificial cells that neurosim runs natively: their .mod files implement them with VERBATIM
# C (which neurosim never executes), so they are recognised by name.
NATIVE_ARTIFICIAL = {
    "VecStim": ("spike_train", "A cell that spikes at the times of a vector: neurosim's spike "
                               "source (Network.play(gid, times)); the file's VERBATIM is not "
                               "run."),
}


def compile_text(text, filename="<string>"):
    mod = parse(text, filename)
    if mod.kind == "ARTIFICIAL_CELL" and mod.name in NATIVE_ARTIFICIAL:
        native, doc = NATIVE_ARTIFICIAL[mod.name]
        return Mechanism(name=mod.name, kind="artificial", parameters={}, native=native,
                         source_text=text, doc=doc)
    return _Compiler(mod, text).mechanism()


class _Compiler(_Expressions, _Statements, _Solvers):
    def __init__(self, mod, text):
        self.mod = mod
        self.text = text
        self.fn = mod.filename
        if mod.unsupported:
            u = mod.unsupported[0]
            raise NmodlError(self.fn, u.pos, f"unsupported construct {u.what}")
        fill_element_sizes(mod)
        for b in mod.blocks:
            if b.kind == "KINETIC":
                b.body = unrolled(b.body, mod.constants)
                for r in _reactions_in(b.body):
                    for _, st in r.lhs + r.rhs:
                        if reactant_error(st):
                            raise NmodlError(self.fn, r.pos, "unsupported construct " +
                                             reactant_error(st))
        if not mod.name and self.fn.endswith(".mod"):
            # nocmodl names a mechanism without SUFFIX after its file: no_suffix.mod -> no_suffix
            mod.kind, mod.name = "SUFFIX", os.path.basename(self.fn)[:-4]
        if not mod.name:
            raise NmodlError(self.fn, (1, 1), "no SUFFIX, POINT_PROCESS or ARTIFICIAL_CELL in "
                                              "the NEURON block")
        self.name = mod.name
        self.kind = {"SUFFIX": "density", "POINT_PROCESS": "point",
                     "ARTIFICIAL_CELL": "artificial"}[mod.kind]
        self._classify()

    # ------------------------------------------------------------------ names
    def _classify(self):
        mod = self.mod
        self._declare_ions()
        # A declared ena/ina/cai... without USEION is, as in NEURON, a plain variable of the
        # mechanism (no ionic current, no link to the ion).
        self.constants = dict(mod.unit_constants)
        for name, (value, _) in mod.constants.items():
            self.constants[name] = value
        self.functions = {b.name: b for b in mod.blocks if b.kind in ("FUNCTION", "PROCEDURE")}
        self.param_names = [n for n in mod.parameters
                            if n not in SPECIAL and n not in self.ion_vars]
        # diam: the segment's diameter (µm), as NEURON gives it: a parameter that lowering
        # fills from the morphology (Mechanism.geometric); not settable, not assignable
        self.geometric = [n for n in GEOMETRIC if n in mod.assigned or n in mod.parameters]
        if self.geometric and self.kind == "artificial":
            raise NmodlError(self.fn, self._declared_at("diam"), "diam in an ARTIFICIAL_CELL: "
                                                                 "it has no segment")
        self.param_names += [n for n in self.geometric if n not in self.param_names]
        # EXTERNAL x: NEURON's hoc global x (another mechanism's GLOBAL, gbl_src); neurosim
        # has no hoc globals: a parameter of this mechanism, set like any other, read-only
        self.param_names += [n for n in mod.externals if n not in self.param_names]
        self._declare_randoms()
        written_conc = {v for use in self.ions for v in use.writes
                        if use.field(v) in ("ci", "co")}
        self.states = [n for n in mod.states if n not in written_conc]
        self.ion_states = [n for n in mod.states if n in written_conc]
        for n in mod.states:
            if n in self.ion_vars and n not in written_conc:
                raise NmodlError(self.fn, mod.states[n], f"STATE {n} is an ion variable the "
                                                         "mechanism does not WRITE")
        taken = set(self.param_names) | set(mod.states) | set(mod.pointers)
        # a RANGE or GLOBAL name declared nowhere else is, as in nocmodl, an ASSIGNED one
        implicit = [n for n in mod.range + mod.globals if n not in mod.assigned and n not in
                    taken and n not in mod.constants and n not in mod.nonspecific]
        self.assigned = [n for n in list(mod.assigned) + list(mod.top_locals) + implicit
                         if n not in SPECIAL and n not in self.ion_vars and n not in taken]
        self.assigned = list(dict.fromkeys(self.assigned))
        self.currents = list(mod.nonspecific) + [v for use in self.ions for v in use.writes
                                                 if use.field(v) == "i"]
        # ELECTRODE_CURRENT: a current injected into the cell (positive depolarises, as an
        # electrode's): it enters the membrane balance with the opposite sign
        self.electrode = list(mod.electrode_current)
        self.currents += self.electrode
        for c in mod.nonspecific + self.electrode:
            if c not in self.assigned:
                self.assigned.append(c)
        if any(b.kind == "CONSTRUCTOR" for b in mod.blocks):
            self.assigned.append(_CONSTRUCTED)
        special = SPECIAL - {"v", "area"} if self.kind == "artificial" else SPECIAL
        self.pointers = list(mod.pointers)
        self.known = (set(self.param_names) | set(mod.states) | set(self.assigned) |
                      set(self.ion_vars) | set(self.pointers) | special)
        if self.kind == "artificial" and (self.ions or self.currents):
            raise NmodlError(self.fn, mod.pos.get("name"), f"ARTIFICIAL_CELL {self.name} "
                                                           "cannot have ions or currents")
        # FUNCTION_TABLE f: its table is a kernel array (Mechanism.with_function_table)
        self.ftables = {name: nargs for name, (nargs, _) in mod.function_tables.items()}
        self.known |= {self.ftable_array(n) for n in self.ftables}
        self.hoc_settable()
        self.rename = {n: self.py(n) for n in self.known if self.py(n) != n}
        self._check_renames()

    def _declare_ions(self):
        """USEION lines: the ions used and, for each ion variable, its use."""
        self.ions = []
        self.ion_vars = {}
        for ion, reads, writes, valence, pos in self.mod.ions:
            use = IonUse(ion, tuple(reads), tuple(writes), valence)
            for var in reads + writes:
                if use.field(var) is None:
                    raise NmodlError(self.fn, pos, f"USEION {ion}: {var!r} is not a variable of "
                                                   f"ion {ion} (e{ion}, {ion}i, {ion}o, i{ion})")
                self.ion_vars[var] = use
            self.ions.append(use)

    def _declare_randoms(self):
        """RANDOM r: the stream's ids and sequence become parameters r_id1 .. r_block_id3."""
        mod = self.mod
        self.randoms = list(mod.randoms)
        self.random_defaults = {}
        for r in self.randoms:
            declared = (set(mod.parameters) | set(mod.assigned) | set(mod.states) |
                        set(mod.pointers) | set(mod.constants) | set(self.functions))
            for n in [r] + [f"{r}_{f}" for f in random123.FIELDS]:
                if n in declared or n in self.param_names:
                    raise NmodlError(self.fn, mod.pos.get(f"random {r}"),
                                     f"RANDOM {r}: {n!r} is declared elsewhere" +
                                     ("" if n == r else " (neurosim names the stream's ids "
                                      f"and sequence {r}_id1 .. {r}_block_id3)"))
            for f, d in zip(random123.FIELDS, RANDOM_DEFAULTS):
                self.random_defaults[f"{r}_{f}"] = d
                self.param_names.append(f"{r}_{f}")

    def _check_renames(self):
        """A reserved name renamed onto another declared name (``g`` -> ``g_`` beside a
        declared ``g_``) would merge two variables: refused, naming both."""
        declared = self.known | set(self.functions) | set(self.constants)
        for name, code in self.rename.items():
            if code in declared:
                pos = self._declared_at(code)
                raise NmodlError(self.fn, pos, f"{code!r} clashes with {name!r}, which "
                                               f"neurosim's generated code calls {code!r}; "
                                               "rename one of them")

    def _declared_at(self, name):
        mod = self.mod
        for table in (mod.parameters, mod.constants):
            if name in table:
                return table[name][1]
        for table in (mod.assigned, mod.states, mod.top_locals):
            if name in table:
                return table[name]
        f = self.functions.get(name)
        return f.pos if f is not None else mod.pos.get("name")


    _sig = None         # FUNCTION/PROCEDURE name -> (reads, writes), or the estimates

    def _scan(self, body, scope, reads, writes, stack):
        scope = set(scope)

        def read(name):
            if name not in scope and name in self.known and name not in reads:
                reads.append(name)

        def expr(e):
            self._scan_expression(e, read, write)

        def write(name):
            if name not in scope and name not in writes:
                writes.append(name)
                read(name)     # passed in too: a branch may leave it unassigned

        for s in body:
            if isinstance(s, Local):
                scope |= set(s.names)
            elif isinstance(s, Assign) and s.index is not None:
                expr(s.expr)
                expr(s.index)
                for n in _elements(Element(s.name, None, s.pos, self.mod.arrays[s.name])):
                    write(n)
            elif isinstance(s, (Assign, Deriv)):
                expr(s.expr)
                if s.name not in scope and s.name not in self.known:
                    raise NmodlError(self.fn, s.pos, f"assignment to undeclared name {s.name!r}")
                write(s.name)
            elif isinstance(s, CallStmt):
                expr(s.call)
            elif isinstance(s, If):
                expr(s.cond)
                self._scan(s.body, scope, reads, writes, stack)
                self._scan(s.orelse, scope, reads, writes, stack)
            elif isinstance(s, While):
                expr(s.cond)
                self._scan(s.body, scope, reads, writes, stack)
            elif isinstance(s, From):
                for e in (s.start, s.stop, s.step):
                    if e is not None:
                        expr(e)
                self._scan(s.body, scope | {s.var}, reads, writes, stack)
            elif isinstance(s, list):
                self._scan(s, scope, reads, writes, stack)
            elif isinstance(s, Solve) and self.mod.block("NONLINEAR", s.block) is not None:
                block = self.mod.block("NONLINEAR", s.block)
                for e in _exprs_of_all(block.body):
                    expr(e)
                for eq in block.body:
                    if isinstance(eq, LinearEq):
                        for name in _names_in(eq.lhs) + _names_in(eq.rhs):
                            if name in self.mod.states:
                                write(name)

    def _scan_expression(self, e, read, write):
        """The names an expression reads (and, through RANDOM draws and FUNCTIONs that
        assign, writes)."""
        expr = self._scan_expression
        if isinstance(e, Name):
            read(e.id)
        elif isinstance(e, Element):
            expr(e.index, read, write)
            for n in _elements(e):
                read(n)
        elif isinstance(e, Unary):
            expr(e.operand, read, write)
        elif isinstance(e, BinOp):
            expr(e.left, read, write)
            expr(e.right, read, write)
        elif isinstance(e, Call):
            for a in e.args:
                expr(a, read, write)
            self._scan_call(e, read, write)

    def _scan_call(self, e, read, write):
        if e.func in self.ftables:
            read(self.ftable_array(e.func))
        if e.func == "nrn_ghk":
            read("celsius")
        if e.func == "at_time":
            read("t")
            read("dt")
        if (e.func in RANDOM_DRAWS or e.func in RANDOM_SETS) and e.args and \
                isinstance(e.args[0], Name) and e.args[0].id in self.randoms:
            for f in random123.FIELDS:
                write(f"{e.args[0].id}_{f}")
        if e.func in self.functions:
            r, w = self.signature(e.func)
            for n in r:
                read(n)
            for n in w:
                write(n)

    # ------------------------------------------------------------------ statements
    _in_receive = False     # while NET_RECEIVE's body compiles (net_event's only place)
    _hoisted = None     # while a statement compiles: calls of FUNCTIONs that assign
    _helpers = None     # the helper functions that FUNCTION bodies need (a NONLINEAR solve)

    # ------------------------------------------------------------------ blocks
    def mechanism(self):
        mod = self.mod
        self._helpers = []
        helpers = self.helper_source()
        helpers += self._helpers
        init, current, rates, advance, cnexp = "", "", "", "", []
        self.diffusion = []
        initial = mod.block("INITIAL")
        self.uses_net_send = False
        self.uses_for_netcons = False
        self.uses_net_event = False
        if initial is not None:
            self._event_context = True
            try:
                init = "\n".join(self.block_with_solves(initial.body, helpers,
                                                        in_initial=True))
            finally:
                self._event_context = False
        init = "\n".join(self.constructor() + self.ba_lines("BEFORE INITIAL") +
                         self.state_defaults() + [init] + self.ba_lines("AFTER INITIAL") +
                         # finitialize then sets up the matrix once (BEFORE BREAKPOINT)
                         self.ba_lines("BEFORE BREAKPOINT") + self.initial_current() +
                         self.ba_lines("BEFORE STEP"))
        bp = mod.block("BREAKPOINT")
        solves = []
        if bp is not None:
            solves = [s for s in bp.body if isinstance(s, Solve)]
            plain = [s for s in bp.body if not isinstance(s, Solve)]
            current = self.current_body(plain)
        else:
            current = "i = 0.0\ng = 0.0"
        # BEFORE BREAKPOINT: once per step before the current (evaluated twice) is computed
        current = "\n".join(self.ba_lines("BEFORE BREAKPOINT") + [current])
        for solve in solves:
            r, a, c = self.solve(solve, helpers)
            rates += r
            advance += a
            cnexp += c
        # NEURON's step ends: states solved, then AFTER SOLVE, then BEFORE STEP
        after = self.ba_lines("AFTER SOLVE") + self.ba_lines("BEFORE STEP")
        if after:
            # they read the updated states: the cnexp ones updated in place first
            advance = "\n".join(([advance] if advance else []) +
                                 [_cnexp_update(self.py(x), a, b) for x, a, b in cnexp] + after)
            cnexp = []
        defaults = {}
        for n in self.param_names:
            value = mod.parameters[n][0] if n in mod.parameters else None
            defaults[n] = 0.0 if value is None else float(value)
        defaults.update(self.random_defaults)
        receive, receive_args, receive_init = self.net_receive()
        if getattr(self, "uses_ghk", False):
            helpers.insert(0, _DECORATOR + _GHK.format(name=self.fname("nrn_ghk")))
        if getattr(self, "uses_ftable", False):
            helpers.insert(0, _DECORATOR + _FTABLE.format(name=f"_{self.name}_ftable"))
        if getattr(self, "uses_element", False):
            helpers.insert(0, _DECORATOR + _ELEMENT.format(name=self.element_fn))
        return Mechanism(
            name=self.name, kind=self.kind, parameters=defaults, states=tuple(self.states),
            assigned=tuple(self.assigned), ions=tuple(self.ions), init=init, current=current,
            rates=rates, advance=advance, cnexp=tuple(cnexp),
            helpers="\n\n\n".join(helpers), rename=dict(self.rename), source_text=self.text,
            net_receive=receive, net_receive_args=receive_args, net_receive_init=receive_init,
            uses_net_send=self.uses_net_send, uses_for_netcons=self.uses_for_netcons,
            uses_net_event=self.uses_net_event,
            function_tables=dict(self.ftables), function_tables_used=self.ftables_used(),
            written_parameters=tuple(self.written_parameters()),
            pointers=tuple(self.py(n) for n in self.pointers),
            pointers_written=tuple(self.py(n) for n in self.pointers_written),
            diffusion=tuple(self.diffusion),
            functions={n: (f.kind, tuple(f.args)) + tuple(map(tuple, self.signature(n)))
                       for n, f in self.functions.items()},
            geometric=tuple(self.geometric), randoms=tuple(self.randoms),
            nonnegative=tuple(n for n in self.param_names
                              if _CONDUCTANCE.match(mod.parameter_units.get(n, ""))),
            doc=mod.title)

    def initial_current(self):
        """finitialize's matrix set-up evaluates BREAKPOINT's current (twice, as every step):
        only what it draws from RANDOM streams outlives it, so only then is it run here."""
        bp = self.mod.block("BREAKPOINT")
        if not self.randoms or bp is None:
            return []
        return [self.current_body([s for s in bp.body if not isinstance(s, Solve)])]

    def state_defaults(self):
        """Before INITIAL a STATE x starts at x0 where the file declares x0 (a PARAMETER or
        CONSTANT; for an array s[k], s0), as nocmodl's generated code does; else at 0."""
        lines = []
        for x in self.states:            # (a written concentration starts from its ion)
            start = x.split("[")[0] + "0"
            if start in self.param_names:
                lines.append(f"{self.py(x)} = {self.py(start)}")
            elif start in self.constants:
                lines.append(f"{self.py(x)} = {float(self.constants[start])!r}")
        return lines

    def ba_lines(self, kind):
        """The statements of every ``BEFORE``/``AFTER`` block of ``kind``, in file order."""
        return [line for b in self.mod.blocks if b.kind == kind
                for line in self.stmts(b.body, set())]

    def constructor(self):
        """CONSTRUCTOR (without VERBATIM, plain statements): once per instance, before its
        first INITIAL.  DESTRUCTOR runs when NEURON frees the instance, after any simulation:
        it is checked but has nothing to do here."""
        for b in self.mod.blocks:
            if b.kind in ("CONSTRUCTOR", "DESTRUCTOR") and self.kind == "density":
                raise NmodlError(self.fn, b.pos, f"{b.kind} only permitted for POINT_PROCESS "
                                                 "or ARTIFICIAL_CELL (as in NEURON)")
            if b.kind == "DESTRUCTOR":
                self.stmts(b.body, set())
        lines = self.ba_lines("CONSTRUCTOR")
        if not lines:
            return []
        return [f"if {_CONSTRUCTED} == 0.0:"] + _indent(lines + [f"{_CONSTRUCTED} = 1.0"])

    def net_receive(self):
        """NET_RECEIVE(weight, ...): the body run when an event reaches an instance."""
        block = self.mod.block("NET_RECEIVE")
        if block is None:
            return "", (), ""
        if self.kind == "density":
            raise NmodlError(self.fn, block.pos, "NET_RECEIVE needs a POINT_PROCESS or an "
                                                 "ARTIFICIAL_CELL")
        scope = set(block.args) | {"flag"}      # the kernel sets flag: 0, or net_send's
        inits = [s for s in block.body if isinstance(s, NetInitial)]
        body = [s for s in block.body if not isinstance(s, NetInitial)]
        self._event_context = self._in_receive = True
        try:
            lines = self.stmts(body, scope)
        finally:
            self._event_context = self._in_receive = False
        init_lines = [line for s in inits for line in self.stmts(s.body, set(block.args))]
        return ("\n".join(lines), tuple(self.py(a) for a in block.args),
                "\n".join(init_lines))

    def hoc_settable(self):
        """A RANGE ASSIGNED variable that no block writes is set from hoc and only read by the
        mechanism (NeuroML exports' ``e``, ``e_passiveChan = -70`` in the cell template): it
        is a parameter, 0 unless given, as in NEURON."""
        candidates = [n for n in self.mod.range if n in self.assigned
                      and n not in self.currents and n in self.mod.assigned]
        if not candidates:
            return
        reads, writes = [], []
        for b in self.mod.blocks:
            if b.kind in _RUN_BLOCKS:
                # (called PROCEDUREs and FUNCTIONs are followed through the calls)
                scope = set(b.args) | ({"flag"} if b.kind == "NET_RECEIVE" else set())
                self._scan([s for s in b.body if not isinstance(s, Solve)], scope, reads,
                           writes, ())
        for n in candidates:
            if n not in writes:
                self.assigned.remove(n)
                self.param_names.append(n)

    def ftables_used(self):
        """The FUNCTION_TABLEs that the blocks a simulation runs call (directly or in the
        FUNCTIONs they call): their tables must be given."""
        used = set()
        for b in self.mod.blocks:
            if b.kind not in ("FUNCTION", "PROCEDURE"):
                for call in _calls_in(b.body):
                    used.add(call.func)
                    if call.func in self.functions:
                        used |= set(self.signature(call.func)[0])
        return tuple(n for n in self.ftables if n in used or self.ftable_array(n) in used)

    def written_parameters(self):
        """PARAMETERs that a block assigns (Exp2Syn's INITIAL clamps tau1): stored back."""
        reads, writes = [], []
        for b in self.mod.blocks:
            if b.kind in _RUN_BLOCKS:
                scope = set(b.args) | ({"flag"} if b.kind == "NET_RECEIVE" else set())
                self._scan([s for s in b.body if not isinstance(s, Solve)], scope, reads,
                           writes, ())
        # a POINTER a block assigns is stored back through it (hnn-core's dipole sums its
        # current into a point process's Qsum)
        self.pointers_written = [n for n in self.pointers if n in writes]
        for n in self.mod.externals:
            if n in writes:
                raise NmodlError(self.fn, self.mod.pos.get(f"external {n}"),
                                 f"EXTERNAL {n} is assigned; neurosim's EXTERNALs are "
                                 "parameters of the mechanism that reads them, read-only")
        for n in self.geometric:
            if n in writes:
                raise NmodlError(self.fn, self._declared_at(n), f"{n} is assigned: neurosim's "
                                 f"mechanisms read the segment's {n}, they cannot change it")
        return [n for n in self.param_names if n in writes]

    def current_body(self, body):
        lines = self.stmts(body, set())
        if not self.currents:
            return "\n".join(lines + ["i = 0.0", "g = 0.0"])
        total = " ".join(("- " if c in self.electrode else "+ ") + self.py(c)
                         for c in self.currents)
        # NEURON's linearisation: i(v) and g = (i(v + 0.001) - i(v)) / 0.001
        return "\n".join(["_v_here = v", "v = _v_here + 0.001"] + lines +
                         [f"_i_up = {total}", "v = _v_here"] + lines +
                         [f"i = {total}", "g = (_i_up - i) / 0.001"])

    def _reads_of(self, block):
        reads, writes = [], []
        self._scan(block.body, set(), reads, writes, ())
        for s in block.body:
            for e in _exprs_of(s):
                names = _names_in(e)
                for call in _calls_in(e):    # COMPARTMENT vol(x): what vol reads, too
                    if call.func in self.functions:
                        names += self.signature(call.func)[0]
                for name in names:
                    if name in self.known and name not in reads:
                        reads.append(name)
        return reads, writes
