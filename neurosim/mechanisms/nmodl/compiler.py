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

import builtins
import keyword
import os
import re

from .. import random123
from ..base import KERNEL_NAMES, IonUse, Mechanism
from .syntax import NmodlError, fill_element_sizes, parse
from .tree import (Assign, BinOp, Call, CallStmt, Compartment, Conserve, Deriv, Element, FluxIn,
                   ForNetcons, From, If, LinearEq, Local, LongDiffusion, Name, NetInitial, Num,
                   Reaction, Solve, Unary, Unsupported, While)
from .unroll import reactant_error, unrolled

SPECIAL = {"v", "t", "dt", "celsius", "area"}
GEOMETRIC = ("diam",)      # read from the segment (lowering fills them)
MATH = {"exp": "math.exp", "log": "math.log", "log10": "math.log10", "sqrt": "math.sqrt",
        "fabs": "abs", "sin": "math.sin", "cos": "math.cos", "tan": "math.tan",
        "tanh": "math.tanh", "sinh": "math.sinh", "cosh": "math.cosh", "atan": "math.atan",
        "asin": "math.asin", "acos": "math.acos", "atan2": "math.atan2", "floor": "math.floor",
        "ceil": "math.ceil", "fmin": "min", "fmax": "max", "pow": None, "exprelr": None}
NEEDS_EVENTS = {"net_send", "net_event", "net_move"}
# NEURON's functions of a RANDOM stream (nrnran123's): name -> (numbers of arguments after the
# stream, the defaults of those left out)
RANDOM_DRAWS = {"random_uniform": ((0, 2), (0.0, 1.0)), "random_negexp": ((0, 1), (1.0,)),
                "random_normal": ((0, 2), (0.0, 1.0)), "random_ipick": ((0,), ()),
                "random_dpick": ((0,), ())}
RANDOM_SETS = {"random_setseq": 1, "random_setids": 3}
# a stream's per-instance numbers (random123.FIELDS) and their defaults: NEURON's
# (1, rank 0, id3) with id3 -1 until the simulation numbers the instances (lowering)
RANDOM_DEFAULTS = (1.0, 0.0, -1.0, 0.0, 1.0, 0.0, -1.0)
# NMODL names that generated Python cannot use as they are (keywords, builtins, the kernel's
# own names; i and g are the outputs of the current body): renamed with a trailing "_"
_PY_RESERVED = (set(keyword.kwlist) | {n for n in dir(builtins) if not n.startswith("_")} |
                KERNEL_NAMES | {"i", "g", "random123"})
_NEWTON_TOL = 1e-12
_NEWTON_MAXIT = 50


def compile_file(path):
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


# a conductance (or conductance density): a negative one is refused when it is set
_CONDUCTANCE = re.compile(r"^\s*[munp]?(S|mho|siemens)\s*(/\s*(cm2|um2|cm\^?2|um\^?2))?\s*$")


class _Compiler:
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
        self.ions = []
        self.ion_vars = {}
        for ion, reads, writes, valence, pos in mod.ions:
            use = IonUse(ion, tuple(reads), tuple(writes), valence)
            for var in reads + writes:
                if use.field(var) is None:
                    raise NmodlError(self.fn, pos, f"USEION {ion}: {var!r} is not a variable of "
                                                   f"ion {ion} (e{ion}, {ion}i, {ion}o, i{ion})")
                self.ion_vars[var] = use
            self.ions.append(use)
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

    @staticmethod
    def py(name):
        if name.endswith("]"):                   # an array element x[2] -> x__2
            base, index = name[:-1].split("[")
            return f"{base}__{index}"
        return name + "_" if name in _PY_RESERVED else name

    def fname(self, name):
        return f"{self.name}_{name}"

    # ------------------------------------------------------------------ expressions
    def expr(self, e, scope):
        """Python source of expression ``e``; ``scope`` holds the names local to a body."""
        if isinstance(e, Num):
            return repr(float(e.value))
        if isinstance(e, Name):
            return self.name_ref(e.id, e.pos, scope)
        if isinstance(e, Unary):
            inner = self.expr(e.operand, scope)
            return f"(-{inner})" if e.op == "-" else f"(not {inner})"
        if isinstance(e, BinOp):
            left, right = self.expr(e.left, scope), self.expr(e.right, scope)
            if e.op == "^":
                if isinstance(e.right, Num) and float(e.right.value).is_integer() and \
                        abs(e.right.value) <= 16:
                    right = str(int(e.right.value))
                return f"({left} ** {right})"
            op = {"&&": "and", "||": "or"}.get(e.op, e.op)
            return f"({left} {op} {right})"
        if isinstance(e, Call):
            return self.call(e, scope)
        if isinstance(e, Element):
            # x[k] with k computed: the element (int)k of the tuple of x's elements
            self.uses_element = True
            elements = ", ".join(self.name_ref(n, e.pos, scope) for n in _elements(e))
            return f"{self.element_fn}(({elements},), {self.expr(e.index, scope)})"
        raise NmodlError(self.fn, getattr(e, "pos", None), f"unsupported expression {e!r}")

    def ftable_array(self, name):
        return f"{self.name}_ft_{name}"

    def ftable_call(self, e, args):
        """FUNCTION_TABLE f(args): NEURON's interpolation in the table given from Python."""
        if len(args) != self.ftables[e.func]:
            raise NmodlError(self.fn, e.pos, f"FUNCTION_TABLE {e.func} takes "
                                             f"{self.ftables[e.func]} arguments, got "
                                             f"{len(args)}")
        self.uses_ftable = True
        return f"_{self.name}_ftable({self.ftable_array(e.func)}, ({', '.join(args)},))"

    @property
    def element_fn(self):
        return f"_{self.name}_element"

    def assign_element(self, s, scope):
        """x[k] = value with k computed: the element (int)k; out of 0 .. size-1 nothing
        (NEURON does not check: its C writes outside the array)."""
        size = self.mod.arrays[s.name]
        out = [f"_ix = {self.expr(s.index, scope)}", f"_iv = {self.expr(s.expr, scope)}",
               f"if _ix > -1.0 and _ix < {size}.0:", "    _ij = int(_ix)"]
        for k, n in enumerate(_elements(Element(s.name, None, s.pos, size))):
            if n not in scope and n not in self.known:
                raise NmodlError(self.fn, s.pos, f"assignment to undeclared name {n!r}")
            out.append(f"    {'if' if k == 0 else 'elif'} _ij == {k}:")
            out.append(f"        {self.py(n)} = _iv")
        return out

    def name_ref(self, name, pos, scope):
        if name in scope:
            return self.py(name)
        if name in self.randoms:
            raise NmodlError(self.fn, pos, f"RANDOM {name} is a stream: it is only the first "
                                           "argument of the random_... functions")
        if name in self.constants:
            return repr(float(self.constants[name]))
        if name in self.known:
            return self.py(name)
        if name in ("FARADAY", "R", "PI"):
            return repr({"FARADAY": 96485.33212331001, "R": 8.31446261815324,
                         "PI": 3.141592653589793}[name])
        hint = ""
        for use in self.ions:
            if name in (f"e{use.ion}", f"{use.ion}i", f"{use.ion}o", f"i{use.ion}"):
                hint = f" (missing READ {name} in USEION {use.ion}?)"
        if not hint and len(name) > 1 and (name.startswith("e") or name.startswith("i")):
            hint = f" (missing USEION {name[1:]} READ {name}?)"
        raise NmodlError(self.fn, pos, f"undefined name {name!r}{hint}")

    def call(self, e, scope):
        if e.func == "nrn_pointing":
            # whether a POINTER is set: a simulation only runs with every POINTER set
            if len(e.args) != 1 or not isinstance(e.args[0], Name) or \
                    e.args[0].id not in self.pointers:
                raise NmodlError(self.fn, e.pos, "nrn_pointing takes a POINTER variable")
            return "1.0"
        if e.func in RANDOM_DRAWS:
            return self.random_draw(e, scope)
        if e.func in RANDOM_SETS:
            raise NmodlError(self.fn, e.pos, f"{e.func} has no value: call it as a statement")
        args = [self.expr(a, scope) for a in e.args]
        if e.func in self.functions:
            f = self.functions[e.func]
            if f.kind == "PROCEDURE":
                raise NmodlError(self.fn, e.pos, f"PROCEDURE {e.func} used as a value")
            if len(args) != len(f.args):
                raise NmodlError(self.fn, e.pos, f"{e.func} takes {len(f.args)} arguments, "
                                                 f"got {len(args)}")
            reads, writes = self.signature(e.func)
            head = f"{self.fname(e.func)}({', '.join(args + [self.py(n) for n in reads])})"
            if not writes:
                return head
            # a FUNCTION that assigns variables (NEURON allows it): called in a statement of
            # its own before the one using its value (see stmts)
            if self._hoisted is None:
                raise NmodlError(self.fn, e.pos, f"FUNCTION {e.func} assigns "
                                                 f"{writes[0]!r}: it can be used in a "
                                                 "statement, not in an equation")
            value = f"_fv{len(self._hoisted)}_{self.fname(e.func)}"
            self._hoisted.append(f"{value}, {', '.join(self.py(n) for n in writes)}, = {head}")
            return value
        if e.func in self.ftables:
            return self.ftable_call(e, args)
        if e.func in NEEDS_EVENTS:
            raise NmodlError(self.fn, e.pos, f"{e.func} needs the event system, which "
                                             "neurosim does not have yet")
        if e.func == "nrn_ghk":
            if len(args) != 4:
                raise NmodlError(self.fn, e.pos, "nrn_ghk takes (v, ci, co, z)")
            self.uses_ghk = True
            return f"{self.fname('nrn_ghk')}({', '.join(args)}, celsius)"
        if e.func == "at_time":
            # NEURON's fixed-step at_time(te): 1 in the one step whose (t - dt, t] holds te
            if len(args) != 1:
                raise NmodlError(self.fn, e.pos, "at_time takes (time)")
            te = f"({args[0]} - 1e-11)"
            return f"(1.0 if {te} <= t and {te} > t - dt else 0.0)"
        if e.func == "pow":
            return f"({args[0]} ** {args[1]})"
        if e.func == "exprelr":
            return f"(1.0 if {args[0]} == 0.0 else {args[0]} / (math.exp({args[0]}) - 1.0))"
        if e.func in MATH:
            return f"{MATH[e.func]}({', '.join(args)})"
        raise NmodlError(self.fn, e.pos, f"undefined function {e.func!r}")

    def stream(self, e, nargs):
        """The per-instance variables of the RANDOM stream that ``e``'s first argument names
        (python names, random123.FIELDS' order), after checking its number of arguments."""
        if not e.args or not isinstance(e.args[0], Name) or e.args[0].id not in self.randoms:
            raise NmodlError(self.fn, e.pos, f"{e.func}'s first argument must be a RANDOM "
                                             "variable")
        if len(e.args) - 1 not in nargs:
            raise NmodlError(self.fn, e.pos, f"{e.func} takes a RANDOM variable and " +
                             " or ".join(str(n) for n in nargs) + " more argument(s)")
        return [self.py(f"{e.args[0].id}_{f}") for f in random123.FIELDS]

    def random_draw(self, e, scope):
        """A draw from a stream (nrnran123's uniform, negexp, normal, ipick, dblpick): a line
        of its own before the statement (it advances the stream's sequence)."""
        nargs, defaults = RANDOM_DRAWS[e.func]
        state = self.stream(e, nargs)
        args = [self.expr(a, scope) for a in e.args[1:]]
        args += [repr(d) for d in defaults[len(args):]]
        f = {"random_dpick": "dblpick"}.get(e.func, e.func[len("random_"):])
        if self._hoisted is None:
            raise NmodlError(self.fn, e.pos, f"{e.func} advances its stream: it can be used "
                                             "in a statement, not in an equation")
        value = f"_rv{len(self._hoisted)}"
        self._hoisted.append(f"{value}, {', '.join(state)} = random123.{f}("
                             f"{', '.join(args + state)}, 0.0)")
        return value

    def random_set(self, call, scope):
        """random_setseq(r, seq * 4 + which) and random_setids(r, id1, id2, id3)."""
        state = self.stream(call, (RANDOM_SETS[call.func],))
        args = [self.expr(a, scope) for a in call.args[1:]]
        if call.func == "random_setseq":
            return (f"{state[3]}, {', '.join(state[4:])} = "
                    f"random123.setseq({args[0]}, {', '.join(state[:3])})")
        return f"{', '.join(state[:3])} = random123.setids({', '.join(args)})"

    # ------------------------------------------------------------------ analysis
    def signature(self, fname):
        """(implicit reads, writes) of FUNCTION/PROCEDURE ``fname``, callees included.  All
        are found together, iterated to a fixed point: a recursive FUNCTION (NEURON allows
        it; Numba compiles a function calling itself) needs its callees' reads, itself
        among them."""
        if self._sig is None:
            self._sig = {n: ([], []) for n in self.functions}
            while True:       # the sets only grow, among finitely many names: it ends
                new = {n: self._own_signature(n) for n in self.functions}
                done = all(set(r) == set(self._sig[n][0]) and set(w) == set(self._sig[n][1])
                           for n, (r, w) in new.items())
                self._sig = new
                if done:
                    break
        return self._sig[fname]

    _sig = None         # FUNCTION/PROCEDURE name -> (reads, writes), or the estimates

    def recursive(self, fname):
        """Whether FUNCTION/PROCEDURE ``fname`` calls itself, directly or through others."""
        seen, todo = set(), [fname]
        while todo:
            f = self.functions[todo.pop()]
            for call in _calls_in(f.body):
                if call.func == fname:
                    return True
                if call.func in self.functions and call.func not in seen:
                    seen.add(call.func)
                    todo.append(call.func)
        return False

    def _own_signature(self, fname):
        """One round of :meth:`signature`: ``fname``'s body with its callees' estimates."""
        f = self.functions[fname]
        reads, writes = [], []
        scope = set(f.args) | ({fname} if f.kind == "FUNCTION" else set())
        self._scan(f.body, scope, reads, writes, (fname,))
        return reads, writes

    def _scan(self, body, scope, reads, writes, stack):
        scope = set(scope)

        def read(name):
            if name not in scope and name in self.known and name not in reads:
                reads.append(name)

        def expr(e):
            if isinstance(e, Name):
                read(e.id)
            elif isinstance(e, Element):
                expr(e.index)
                for n in _elements(e):
                    read(n)
            elif isinstance(e, Unary):
                expr(e.operand)
            elif isinstance(e, BinOp):
                expr(e.left)
                expr(e.right)
            elif isinstance(e, Call):
                for a in e.args:
                    expr(a)
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

    # ------------------------------------------------------------------ statements
    _in_receive = False     # while NET_RECEIVE's body compiles (net_event's only place)
    _hoisted = None     # while a statement compiles: calls of FUNCTIONs that assign
    _helpers = None     # the helper functions that FUNCTION bodies need (a NONLINEAR solve)

    def stmts(self, body, scope, ret=None):
        """Python lines for statements (Deriv, SOLVE and kinetic statements excluded); a call
        of a FUNCTION that assigns variables runs in a line of its own before the statement
        that uses its value."""
        out = []
        scope = set(scope)
        for s in body:
            if isinstance(s, Local):
                scope |= set(s.names)
            outer, self._hoisted = self._hoisted, []
            try:
                lines = self._stmt(s, scope, ret)
                if self._hoisted and isinstance(s, While):
                    raise NmodlError(self.fn, s.pos, "a FUNCTION that assigns variables in a "
                                                     "while condition is not supported")
                out += self._hoisted + lines
            finally:
                self._hoisted = outer
        return out

    def _stmt(self, s, scope, ret):
        out = []
        nonlinear = self.mod.block("NONLINEAR", s.block) if isinstance(s, Solve) else None
        if nonlinear is not None and not s.method and self._helpers is not None:
            return self.nonlinear_solve(nonlinear, self._helpers)   # (in a FUNCTION's body)
        if isinstance(s, Local):
            scope |= set(s.names)
            out += [f"{self.py(n)} = 0.0" for n in s.names]
        elif isinstance(s, Assign) and s.index is not None:
            out += self.assign_element(s, scope)
        elif isinstance(s, Assign):
            if s.name not in scope and s.name not in self.known and s.name != ret:
                raise NmodlError(self.fn, s.pos, f"assignment to undeclared name {s.name!r}")
            use = self.ion_vars.get(s.name)
            if use is not None and s.name not in use.writes:
                raise NmodlError(self.fn, s.pos, f"{s.name} is only READ; WRITE it in "
                                                 f"USEION {use.ion} to assign it")
            target = "_ret" if s.name == ret else self.py(s.name)
            out.append(f"{target} = {self.expr(s.expr, scope)}")
        elif isinstance(s, CallStmt):
            out += self.call_stmt(s.call, scope).splitlines()
        elif isinstance(s, If):
            out.append(f"if {self.expr(s.cond, scope)}:")
            out += _indent(self.stmts(s.body, scope, ret) or ["pass"])
            if s.orelse:
                out.append("else:")
                out += _indent(self.stmts(s.orelse, scope, ret) or ["pass"])
        elif isinstance(s, While):
            out.append(f"while {self.expr(s.cond, scope)}:")
            out += _indent(self.stmts(s.body, scope, ret) or ["pass"])
        elif isinstance(s, From):
            step = self.expr(s.step, scope) if s.step is not None else "1"
            inner = scope | {s.var}
            out.append(f"for {self.py(s.var)} in range(int({self.expr(s.start, scope)}), "
                       f"int({self.expr(s.stop, scope)}) + 1, int({step})):")
            out += _indent(self.stmts(s.body, inner, ret) or ["pass"])
        elif isinstance(s, list):
            out += self.stmts(s, scope, ret)
        elif isinstance(s, Unsupported):
            raise NmodlError(self.fn, s.pos, f"unsupported construct {s.what}")
        elif isinstance(s, ForNetcons):
            # each connection into this instance: its weight vector bound to the args,
            # written back (the kernel supplies the rows; see codegen)
            if not getattr(self, "_event_context", False):
                raise NmodlError(self.fn, s.pos, "FOR_NETCONS belongs in NET_RECEIVE")
            self.uses_for_netcons = True
            inner = scope | set(s.args)
            body = [f"{self.py(a)} = _conn_w[_row, {c}]" for c, a in enumerate(s.args)]
            body += self.stmts(s.body, inner, ret)
            body += [f"_conn_w[_row, {c}] = {self.py(a)}" for c, a in enumerate(s.args)]
            out += ["for _cc in FOR_NETCONS_ROWS:", "    _row = FOR_NETCONS_ROW(_cc)"]
            out += _indent(body)
        elif isinstance(s, NetInitial):
            raise NmodlError(self.fn, s.pos, "INITIAL inside a block belongs in "
                                             "NET_RECEIVE only")
        elif isinstance(s, (Deriv, Solve, Reaction, FluxIn, Conserve, Compartment,
                            LinearEq, LongDiffusion)):
            raise NmodlError(self.fn, s.pos, f"{type(s).__name__.upper()} statement is "
                                             "not allowed here")
        return out

    def call_stmt(self, call, scope):
        if call.func in RANDOM_SETS:
            return self.random_set(call, scope)
        if call.func == "net_event":
            # a spike at the given time of this artificial cell's gid, or of the gid of the
            # cell a point process is on (NEURON: to the NetCons whose source it is)
            if not self._in_receive or self.kind == "density":
                raise NmodlError(self.fn, call.pos, "net_event is supported in the NET_RECEIVE "
                                                    "block of a POINT_PROCESS or "
                                                    "ARTIFICIAL_CELL")
            if len(call.args) != 1:
                raise NmodlError(self.fn, call.pos, "net_event takes (time)")
            self.uses_net_event = self.kind == "point"
            return f"NET_EVENT({self.expr(call.args[0], scope)})"
        if call.func == "net_move":
            # moves this instance's outstanding self-event (the one net_send in this block
            # just scheduled, else the one waiting in the kernel's table) to the given time
            if not getattr(self, "_event_context", False) or self.kind == "density":
                raise NmodlError(self.fn, call.pos, "net_move is supported in the NET_RECEIVE "
                                                    "block of a POINT_PROCESS or "
                                                    "ARTIFICIAL_CELL")
            if len(call.args) != 1:
                raise NmodlError(self.fn, call.pos, "net_move takes (time)")
            self.uses_net_send = True
            return "\n".join([f"_net_move_t = {self.expr(call.args[0], scope)}",
                              "if _net_send_pending:",
                              "    _net_send_t = _net_move_t",
                              "elif NET_SEND_OUTSTANDING < np.inf:",
                              "    NET_SEND_OUTSTANDING = _net_move_t"])
        if call.func == "net_send":
            # a self-event: one pending per instance, kept by the kernel (see codegen)
            if not getattr(self, "_event_context", False) or self.kind == "density":
                raise NmodlError(self.fn, call.pos, "net_send is supported in the INITIAL and "
                                                    "NET_RECEIVE blocks of a POINT_PROCESS or "
                                                    "ARTIFICIAL_CELL")
            if len(call.args) != 2:
                raise NmodlError(self.fn, call.pos, "net_send takes (delay, flag)")
            self.uses_net_send = True
            return "\n".join([f"_net_send_t = t + ({self.expr(call.args[0], scope)})",
                              f"_net_send_flag = {self.expr(call.args[1], scope)}",
                              "_net_send_pending = True"])
        if call.func in self.functions and self.functions[call.func].kind == "PROCEDURE":
            f = self.functions[call.func]
            if len(call.args) != len(f.args):
                raise NmodlError(self.fn, call.pos, f"{call.func} takes {len(f.args)} "
                                                    f"arguments, got {len(call.args)}")
            reads, writes = self.signature(call.func)
            args = [self.expr(a, scope) for a in call.args] + [self.py(n) for n in reads]
            head = f"{self.fname(call.func)}({', '.join(args)})"
            if not writes:
                return head
            targets = ", ".join(self.py(n) for n in writes)
            return f"{targets}{',' if len(writes) == 1 else ''} = {head}"
        return f"_ = {self.expr(call, scope)}"

    # ------------------------------------------------------------------ helpers
    def helper_source(self):
        out = []
        for name, f in self.functions.items():
            reads, writes = self.signature(name)
            params = [self.py(a) for a in f.args] + [self.py(n) for n in reads]
            lines = ["_ret = 0.0"] if f.kind == "FUNCTION" else []
            lines += self.stmts(f.body, set(f.args), ret=name if f.kind == "FUNCTION" else None)
            if f.kind == "FUNCTION":
                lines.append(f"return (_ret, {', '.join(self.py(n) for n in writes)})"
                             if writes else "return _ret")
            elif writes:
                lines.append(f"return ({', '.join(self.py(n) for n in writes)},)")
            else:
                lines.append("return 0.0")
            decorator = "@recursive_function\n" if self.recursive(name) else _DECORATOR
            out.append(decorator + f"def {self.fname(name)}({', '.join(params)}):\n" +
                       "\n".join(_indent(lines)))
        return out

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

    def block_with_solves(self, body, helpers, in_initial=False, scope=()):
        out, scope = [], set(scope)
        for s in body:
            if isinstance(s, Local):
                scope |= set(s.names)
                out += self.stmts([s], scope)
            elif isinstance(s, Solve):
                target = self.mod.block("LINEAR", s.block) or self.mod.block("KINETIC", s.block)
                nonlinear = self.mod.block("NONLINEAR", s.block)
                if in_initial and target is not None and target.kind == "LINEAR":
                    out += self.linear_solve(target, helpers)
                elif nonlinear is not None and not s.method:
                    out += self.nonlinear_solve(nonlinear, helpers)
                elif in_initial and target is not None and s.steadystate:
                    out += self.implicit(target, helpers, steady=True)
                elif in_initial and s.block in self.functions:
                    out.append(self.call_stmt(Call(s.block, (), s.pos), set()))
                else:
                    raise NmodlError(self.fn, s.pos, f"SOLVE {s.block} is not supported in "
                                                     "INITIAL")
            elif isinstance(s, If) and _has_solve(s):
                # SOLVE ... STEADYSTATE under a condition (minipump.mod's run_steady_state)
                out.append(f"if {self.expr(s.cond, scope)}:")
                out += _indent(self.block_with_solves(s.body, helpers, in_initial, scope)
                               or ["pass"])
                if s.orelse:
                    out.append("else:")
                    out += _indent(self.block_with_solves(s.orelse, helpers, in_initial, scope)
                                   or ["pass"])
            else:
                out += self.stmts([s], scope)
        return out

    def nonlinear_solve(self, block, helpers):
        """SOLVE of a NONLINEAR block: its equations ``~ lhs = rhs`` for the states they name,
        by Newton's method (finite-difference Jacobian) from the states' present values, as
        nocmodl's generated code iterates."""
        eqs = [s for s in block.body if isinstance(s, LinearEq)]
        body = [s for s in block.body if not isinstance(s, LinearEq)]
        scope = {n for s in body if isinstance(s, Local) for n in s.names}
        unknowns = []
        for s in eqs:
            for name in _names_in(s.lhs) + _names_in(s.rhs):
                if name in self.mod.states and name not in unknowns:
                    unknowns.append(name)
        if len(unknowns) != len(eqs):
            raise NmodlError(self.fn, block.pos, f"NONLINEAR {block.name}: {len(eqs)} "
                                                 f"equations for {len(unknowns)} unknowns")
        reads, _ = self._reads_of(block)
        args = [self.py(n) for n in reads if n not in unknowns and n not in scope]
        xs = [self.py(n) for n in unknowns]
        n = len(xs)
        resid = self.fname(block.name + "_nonlinear_residual")
        fname = self.fname(block.name + "_nonlinear")
        call_line = [f"{', '.join(xs)}, = {fname}({', '.join(xs + args)})"]
        if not hasattr(self, "_emitted"):
            self._emitted = set()
        if fname in self._emitted:          # solved in more than one place: defined once
            return call_line
        self._emitted.add(fname)
        r_lines = [f"{x} = _x[{k}]" for k, x in enumerate(xs)] + self.stmts(body, set())
        r_lines += [f"_F[{k}] = ({self.expr(s.lhs, scope)}) - ({self.expr(s.rhs, scope)})"
                    for k, s in enumerate(eqs)]
        helpers.append(_DECORATOR + f"def {resid}(_x, _F, {', '.join(args)}):\n" +
                       "\n".join(_indent(r_lines)))
        call = f"{resid}(_x, {{F}}, {', '.join(args)})"
        lines = ([f"_x = LOCAL_ARRAY({n})", f"_F = LOCAL_ARRAY({n})", f"_Fh = LOCAL_ARRAY({n})",
                  f"_dx = LOCAL_ARRAY({n})", f"_J = LOCAL_ARRAY(({n}, {n}))"] +
                 [f"_x[{k}] = {x}" for k, x in enumerate(xs)] +
                 _newton_loop(n, call.format(F="_F"), call.format(F="_Fh")) +
                 [f"return ({', '.join(f'_x[{k}]' for k in range(n))},)"])
        helpers.append(_DECORATOR + f"def {fname}({', '.join(xs + args)}):\n" +
                       "\n".join(_indent(lines)))
        return call_line

    def solve(self, s, helpers):
        """(rates lines, advance lines, cnexp entries) for a SOLVE in BREAKPOINT."""
        deriv = self.mod.block("DERIVATIVE", s.block)
        kin = self.mod.block("KINETIC", s.block)
        method = s.method or ""
        if deriv is not None and method == "cnexp":
            return self.cnexp(deriv)
        if deriv is not None and method in ("derivimplicit", "euler", ""):
            return "", "\n".join(self.implicit(deriv, helpers)), []
        if kin is not None and method in ("sparse", ""):
            self.diffusion += self.longitudinal_diffusion(kin)
            return "", "\n".join(self.implicit(kin, helpers)), []
        # a PROCEDURE solved "after_cvode" (SEClamp's icur) runs, at fixed step as with
        # no method, after the voltage update: i then holds the current at the new v
        if s.block in self.functions and method in ("", "after_cvode"):
            return "", self.call_stmt(Call(s.block, (), s.pos), set()), []
        nonlinear = self.mod.block("NONLINEAR", s.block)
        if nonlinear is not None and not method:
            return "", "\n".join(self.nonlinear_solve(nonlinear, helpers)), []
        if deriv is None and kin is None and s.block not in self.functions:
            raise NmodlError(self.fn, s.pos, f"SOLVE {s.block}: no such DERIVATIVE or KINETIC "
                                             "block")
        raise NmodlError(self.fn, s.pos, f"SOLVE {s.block} METHOD {method} is not supported "
                                         "(use cnexp, derivimplicit or sparse)")

    def cnexp(self, block):
        """x' = f(x) linear in x: a = f(0), b = f(1) - f(0); exact exponential update."""
        lines, entries, inline, scope, post = [], [], [], set(), []
        # Statements after the first equation (``cai_rec = cai`` after ``cai' = ...``) run
        # after the states are updated, in order, as nocmodl's generated code does: the states
        # are then updated in place rather than by the vectorised exponential loop.
        trailing = False
        for s in block.body:
            if isinstance(s, Local):
                scope |= set(s.names)
            if not isinstance(s, Deriv):
                if trailing or (entries or inline) and not isinstance(s, Local):
                    trailing = True
                    post += self.stmts([s], scope)
                else:
                    lines += self.stmts([s], scope)
                continue
            x = self.py(s.name)
            if s.name not in self.mod.states:
                raise NmodlError(self.fn, s.pos, f"{s.name}' but {s.name} is not a STATE")
            f = self.expr(s.expr, scope)
            a, b = f"_a_{x}", f"_b_{x}"
            lines += [f"_keep_{x} = {x}", f"{x} = 0.0", f"{a} = {f}", f"{x} = 1.0",
                      f"{b} = {f} - {a}", f"{x} = _keep_{x}"]
            if s.name in self.ion_states or trailing:
                inline.append(f"{x} = {x} + (1.0 - math.exp(dt * {b})) * (-{a} / {b} - {x}) "
                              f"if {b} != 0.0 else {x} + dt * {a}")
            else:
                entries.append((s.name, a, b))
        if trailing:
            for name, a, b in entries:
                x = self.py(name)
                inline.append(f"{x} = {x} + (1.0 - math.exp(dt * {b})) * (-{a} / {b} - {x}) "
                              f"if {b} != 0.0 else {x} + dt * {a}")
            entries = []
        return "\n".join(lines), "\n".join(inline + post), entries

    def system(self, block):
        """States, derivative expressions (source) and conservation rows of a DERIVATIVE or
        KINETIC block; statements before them become the preamble."""
        pre, deriv, order, conserve = [], {}, [], []
        volume, scope, post, flux, has_post = {}, set(), [], [], False
        for s in block.body:
            if isinstance(s, Local):
                scope |= set(s.names)
                pre += self.stmts([s], scope)
            elif isinstance(s, Deriv):
                if s.name not in self.mod.states:
                    raise NmodlError(self.fn, s.pos, f"{s.name}' but {s.name} is not a STATE")
                deriv[s.name] = [self.expr(s.expr, scope)]
                order.append(s.name)
            elif isinstance(s, Reaction):
                for _, st in s.lhs + s.rhs:
                    if st not in self.mod.states:
                        raise NmodlError(self.fn, s.pos, f"{st} in a reaction is not a STATE")
                    if st not in order:
                        order.append(st)
                        deriv[st] = []
                fwd = " * ".join([f"({self.expr(s.kf, scope)})"] +
                                 [f"{self.py(st)} ** {n}" if n > 1 else self.py(st)
                                  for n, st in s.lhs])
                bwd = " * ".join([f"({self.expr(s.kb, scope)})"] +
                                 [f"{self.py(st)} ** {n}" if n > 1 else self.py(st)
                                  for n, st in s.rhs])
                flux = f"({fwd} - {bwd})"
                # f_flux / b_flux: the last reaction's fluxes, for statements after it
                post += [f"f_flux = {fwd}", f"b_flux = {bwd}"]
                scope |= {"f_flux", "b_flux"}
                for n, st in s.lhs:
                    deriv[st].append(f"- {n}.0 * {flux}")
                for n, st in s.rhs:
                    deriv[st].append(f"+ {n}.0 * {flux}")
            elif isinstance(s, FluxIn):
                for st in s.states:
                    if st not in order:
                        order.append(st)
                        deriv[st] = []
                    deriv[st].append(f"+ ({self.expr(s.expr, scope)})")
            elif isinstance(s, Conserve):
                conserve.append(s)
            elif isinstance(s, Compartment):
                for st, vol in self.compartment_volumes(s):
                    volume[st] = self.expr(vol, scope)
            elif isinstance(s, LongDiffusion):
                continue                # between instances, after the states (diffusion)
            else:
                if order:
                    # after the equations: run once the states are solved (with the
                    # statements before them again, which they may read)
                    has_post = True
                    post += self.stmts([s], scope)
                else:
                    pre += self.stmts([s], scope)
        exprs = {}
        for st in order:
            body = " ".join(deriv[st]) or "0.0"
            exprs[st] = f"({body}) / ({volume[st]})" if st in volume else f"({body})"
        rows = []
        for c in conserve:
            names = _names_in(c.lhs)
            replace = next((n for n in reversed(names) if n in order and n not in
                            [r for r, _ in rows]), None)
            if replace is None:
                raise NmodlError(self.fn, c.pos, "CONSERVE names no state of the block")
            rows.append((replace, f"({self.expr(c.lhs, scope)}) - ({self.expr(c.rhs, scope)})"))
        self._post = pre + post if has_post else []
        return pre, order, exprs, rows

    def longitudinal_diffusion(self, block):
        """(state row, rate, volume) sources of each state element a KINETIC block's
        LONGITUDINAL_DIFFUSION names: the rate at i = k for X[k] with an index, the volume
        its COMPARTMENT gives (1 without), both read per instance after the states are
        solved, as NEURON's ldifus.cpp does."""
        volumes = {st: vol for c in block.body if isinstance(c, Compartment)
                   for st, vol in self.compartment_volumes(c)}
        out = []
        for s in block.body:
            if not isinstance(s, LongDiffusion):
                continue
            if self.mod.block("AFTER SOLVE") or self.mod.block("BEFORE STEP"):
                # NEURON diffuses after every mechanism's states, before AFTER SOLVE
                raise NmodlError(self.fn, s.pos, "LONGITUDINAL_DIFFUSION in a mechanism with "
                                                 "AFTER SOLVE / BEFORE STEP blocks is not "
                                                 "supported")
            for st in s.states:
                size = self.mod.arrays.get(st)
                if (st if size is None else f"{st}[0]") not in self.mod.states or \
                        (s.index is not None and size is None):
                    raise NmodlError(self.fn, s.pos, f"LONGITUDINAL_DIFFUSION of {st}: not a "
                                                     "STATE" + ("" if size is None and
                                                                s.index is None else
                                                                " array"))
                if st in self.ion_states:
                    raise NmodlError(self.fn, s.pos, f"LONGITUDINAL_DIFFUSION of {st}, an ion "
                                                     "concentration: not supported")
                for k in (range(size) if size is not None else [None]):
                    name = st if k is None else f"{st}[{k}]"
                    rate = s.rate if s.index is None else _substitute(s.rate, s.index, k)
                    vol = volumes.get(name)
                    out.append((self.states.index(name), self.expr(rate, set()),
                                "1.0" if vol is None else self.expr(vol, set())))
        return out

    def compartment_volumes(self, s):
        """(state, volume expression) pairs of a COMPARTMENT statement: every element of an
        array state; with an index (COMPARTMENT i, vol[i] {X}) X[k]'s volume is the
        expression at i = k."""
        out = []
        for st in s.states:
            size = self.mod.arrays.get(st)
            if s.index is not None and size is None:
                raise NmodlError(self.fn, s.pos, f"COMPARTMENT {s.index}, ...: {st} is not an "
                                                 "array")
            if size is None:
                out.append((st, s.volume))
            for k in range(size or 0):
                vol = s.volume if s.index is None else _substitute(s.volume, s.index, k)
                out.append((f"{st}[{k}]", vol))
        return out

    def implicit(self, block, helpers, steady=False):
        """Backward Euler (or the steady state) of a DERIVATIVE/KINETIC block by Newton."""
        pre, order, exprs, rows = self.system(block)
        post = self._post
        if not order:
            raise NmodlError(self.fn, block.pos, f"block {block.name} has no equations")
        reads, _ = self._reads_of(block)
        args = [self.py(n) for n in reads if n not in order]
        xs = [self.py(n) for n in order]
        fname = self.fname(block.name + ("_steady" if steady else "_step"))
        n = len(order)
        replaced = {r: k for k, (r, _) in enumerate(rows)}
        pre_reads, _ = [], []
        self._scan([s for s in block.body if not isinstance(s, (Deriv, Reaction, FluxIn,
                                                                  Conserve, Compartment,
                                                                  LongDiffusion))],
                   set(), pre_reads, _, ())
        hoist = not set(pre_reads) & set(order)     # rates not depending on the states
        f_lines = [f"{x} = _x[{k}]" for k, x in enumerate(xs)] + ([] if hoist else pre)
        for k, st in enumerate(order):
            if st in replaced:
                f_lines.append(f"_F[{k}] = {rows[replaced[st]][1]}")
            else:
                f_lines.append(f"_F[{k}] = _x[{k}] - _x0[{k}] - _dt * {exprs[st]}")
        resid = self.fname(block.name + "_residual")
        helpers.append(_DECORATOR + f"def {resid}(_x, _x0, _dt, _F, {', '.join(args)}):\n" +
                       "\n".join(_indent(f_lines)))
        dt_expr = "1e9" if steady else "dt"     # a steady state: backward Euler with dt -> inf
        # Arrays come from LOCAL_ARRAY (np.empty on the CPU, cuda.local.array on the GPU):
        # the same source serves both targets.
        step = (pre if hoist else []) + [
                f"_x = LOCAL_ARRAY({n})", f"_x0 = LOCAL_ARRAY({n})", f"_F = LOCAL_ARRAY({n})",
                f"_Fh = LOCAL_ARRAY({n})", f"_dx = LOCAL_ARRAY({n})",
                f"_J = LOCAL_ARRAY(({n}, {n}))"]
        step += [f"_x[{k}] = {x}" for k, x in enumerate(xs)]
        step += [f"_x0[{k}] = {x}" for k, x in enumerate(xs)] + [
                f"for _it in range({_NEWTON_MAXIT}):",
                f"    {resid}(_x, _x0, _dt, _F, {', '.join(args)})",
                f"    for _c in range({n}):",
                "        _keep = _x[_c]",
                "        _h = 1e-7 * max(abs(_keep), 1e-4)",
                "        _x[_c] = _keep + _h",
                f"        {resid}(_x, _x0, _dt, _Fh, {', '.join(args)})",
                "        _x[_c] = _keep",
                f"        for _r in range({n}):",
                "            _J[_r, _c] = (_Fh[_r] - _F[_r]) / _h",
                f"    for _r in range({n}):",
                "        _F[_r] = -_F[_r]",
                "    dense_solve(_J, _F, _dx)",
                "    _step = 0.0",
                "    _size = 0.0",
                f"    for _r in range({n}):",
                "        _x[_r] += _dx[_r]",
                "        _step = max(_step, abs(_dx[_r]))",
                "        _size = max(_size, abs(_x[_r]))",
                f"    if _step <= {_NEWTON_TOL} * (1.0 + _size):",
                "        break",
                f"return ({', '.join(f'_x[{k}]' for k in range(n))},)"]
        helpers.append(_DECORATOR + f"def {fname}(_dt, {', '.join(xs + args)}):\n" +
                       "\n".join(_indent(step)))
        return [f"{', '.join(xs)}, = {fname}({dt_expr}, {', '.join(xs + args)})"] + post

    def linear_solve(self, block, helpers):
        """A LINEAR block: its equations are linear in the states they name; solve them."""
        eqs, pre = [], []
        for s in block.body:
            if isinstance(s, LinearEq):
                eqs.append(s)
            else:
                pre += self.stmts([s], set())
        unknowns = []
        for s in eqs:
            for name in _names_in(s.lhs) + _names_in(s.rhs):
                if name in self.mod.states and name not in unknowns:
                    unknowns.append(name)
        if len(unknowns) != len(eqs):
            raise NmodlError(self.fn, block.pos, f"LINEAR {block.name}: {len(eqs)} equations "
                                                 f"for {len(unknowns)} unknowns")
        reads, _ = self._reads_of(block)
        args = [self.py(n) for n in reads if n not in unknowns]
        xs = [self.py(n) for n in unknowns]
        n = len(xs)
        resid = self.fname(block.name + "_residual")
        r_lines = [f"{x} = _x[{k}]" for k, x in enumerate(xs)] + pre
        r_lines += [f"_F[{k}] = ({self.expr(s.lhs, set())}) - ({self.expr(s.rhs, set())})"
                    for k, s in enumerate(eqs)]
        helpers.append(_DECORATOR + f"def {resid}(_x, _F, {', '.join(args)}):\n" +
                       "\n".join(_indent(r_lines)))
        fname = self.fname(block.name + "_solve")
        body = [f"_x = LOCAL_ARRAY({n})", f"_F0 = LOCAL_ARRAY({n})", f"_F = LOCAL_ARRAY({n})",
                f"_J = LOCAL_ARRAY(({n}, {n}))", f"for _c in range({n}):", "    _x[_c] = 0.0",
                f"{resid}(_x, _F0, {', '.join(args)})",
                f"for _c in range({n}):",
                "    _x[_c] = 1.0",
                f"    {resid}(_x, _F, {', '.join(args)})",
                "    _x[_c] = 0.0",
                f"    for _r in range({n}):",
                "        _J[_r, _c] = _F[_r] - _F0[_r]",
                f"for _r in range({n}):",
                "    _F0[_r] = -_F0[_r]",
                "dense_solve(_J, _F0, _x)",
                f"return ({', '.join(f'_x[{k}]' for k in range(n))},)"]
        helpers.append(_DECORATOR + f"def {fname}({', '.join(args)}):\n" +
                       "\n".join(_indent(body)))
        return [f"{', '.join(xs)}, = {fname}({', '.join(args)})"]

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


# blocks whose statements run in a simulation (their assignments are writes)
_RUN_BLOCKS = ("INITIAL", "BREAKPOINT", "NET_RECEIVE", "DERIVATIVE", "KINETIC", "CONSTRUCTOR",
               "BEFORE INITIAL", "AFTER INITIAL", "BEFORE BREAKPOINT", "AFTER SOLVE",
               "BEFORE STEP")
_CONSTRUCTED = "_constructed"      # per instance: 1 once the CONSTRUCTOR has run
_DECORATOR = "@device_function\n"      # njit on the CPU, cuda.jit(device=True) on the GPU
_COMMON_IONS = ("na", "k", "ca", "cl")


# NEURON's nrn_ghk (eion.cpp): the GHK current density factor, mA/cm2 for mM
_GHK = """def {name}(v, ci, co, z, celsius):
    x = z * v / (1000.0 * 8.31446261815324 * (celsius + 273.15) / 96485.33212331001)
    eco = co * (1.0 - x / 2.0 if abs(x) < 1e-4 else x / (math.exp(x) - 1.0))
    eci = ci * (1.0 + x / 2.0 if abs(x) < 1e-4 else -x / (math.exp(-x) - 1.0))
    return 0.001 * z * 96485.33212331001 * (eci - eco)"""


# x[k] read with k computed: NEURON's C reads x[(int)k] unchecked; outside the array (or k
# NaN) neurosim reads NaN, which shows in the variables it reaches
_ELEMENT = """def {name}(elements, k):
    if k > -1.0 and k < len(elements):
        return elements[int(k)]
    return math.nan"""


# FUNCTION_TABLE f(x0, x1, ...) as NEURON's hoc_func_table: per argument the interval of its
# axis holding it (the ends beyond the axis) and the fraction into it; linear interpolation
# in one dimension, bilinear in two, the lower corner's value in more.  The table array:
# [ndim, size per dimension, each axis, the values in row order] (with_function_table).
_FTABLE = """def {name}(tab, xs):
    nd = int(tab[0])
    at = 1 + nd
    j = 0
    f0 = 0.0
    f1 = 0.0
    for i in range(nd):
        n = int(tab[1 + i])
        x = xs[i]
        k = 0
        frac = 0.0
        if x >= tab[at + n - 1]:
            k = n - 1
        elif x > tab[at]:
            a = at
            b = at + n - 1
            while a < b - 1:
                m = (a + b) // 2
                if tab[m] <= x:
                    a = m
                else:
                    b = m
            k = a - at
            frac = (x - tab[a]) / (tab[a + 1] - tab[a])
        j = j * n + k
        if i == 0:
            f0 = frac
        elif i == 1:
            f1 = frac
        at += n
    if nd == 1:
        return (1.0 - f0) * tab[at + j] + f0 * tab[at + j + 1] if f0 > 0.0 else tab[at + j]
    if nd == 2:
        n1 = int(tab[2])
        y1 = (1.0 - f1) * tab[at + j] + f1 * tab[at + j + 1] if f1 > 0.0 else tab[at + j]
        if f0 > 0.0:
            j += n1
            y2 = (1.0 - f1) * tab[at + j] + f1 * tab[at + j + 1] if f1 > 0.0 else tab[at + j]
            return (1.0 - f0) * y1 + f0 * y2
        return y1
    return tab[at + j]"""


def _substitute(e, name, k):
    """Expression ``e`` with ``name`` the number k (an element x[name] becomes x[k])."""
    if isinstance(e, Name):
        return Num(float(k), e.pos) if e.id == name else e
    if isinstance(e, Unary):
        return Unary(e.op, _substitute(e.operand, name, k), e.pos)
    if isinstance(e, BinOp):
        return BinOp(e.op, _substitute(e.left, name, k), _substitute(e.right, name, k), e.pos)
    if isinstance(e, Call):
        return Call(e.func, tuple(_substitute(a, name, k) for a in e.args), e.pos)
    if isinstance(e, Element):
        index = _substitute(e.index, name, k)
        if isinstance(index, Num) and float(index.value).is_integer():
            return Name(f"{e.base}[{int(index.value)}]", e.pos)
        return Element(e.base, index, e.pos, e.size)
    return e


def _reactions_in(body):
    for s in body:
        if isinstance(s, Reaction):
            yield s
        elif isinstance(s, (From, If, While)):
            yield from _reactions_in(s.body + getattr(s, "orelse", []))


def _calls_in(node):
    """Every Call under ``node`` (statements, expressions, lists of them)."""
    if isinstance(node, Call):
        yield node
    if isinstance(node, (list, tuple)):
        for x in node:
            yield from _calls_in(x)
    elif hasattr(node, "__dataclass_fields__"):
        for key in node.__dataclass_fields__:
            yield from _calls_in(getattr(node, key))


def _elements(e):
    """The element names x[0] .. x[size-1] of the array an Element indexes."""
    return [f"{e.base}[{k}]" for k in range(e.size)]


def _newton_loop(n, residual, residual_h):
    """Newton's iteration on _x (n unknowns): ``residual`` fills _F, ``residual_h`` _Fh."""
    return [f"for _it in range({_NEWTON_MAXIT}):",
            f"    {residual}",
            f"    for _c in range({n}):",
            "        _keep = _x[_c]",
            "        _h = 1e-7 * max(abs(_keep), 1e-4)",
            "        _x[_c] = _keep + _h",
            f"        {residual_h}",
            "        _x[_c] = _keep",
            f"        for _r in range({n}):",
            "            _J[_r, _c] = (_Fh[_r] - _F[_r]) / _h",
            f"    for _r in range({n}):",
            "        _F[_r] = -_F[_r]",
            "    dense_solve(_J, _F, _dx)",
            "    _step = 0.0",
            "    _size = 0.0",
            f"    for _r in range({n}):",
            "        _x[_r] += _dx[_r]",
            "        _step = max(_step, abs(_dx[_r]))",
            "        _size = max(_size, abs(_x[_r]))",
            f"    if _step <= {_NEWTON_TOL} * (1.0 + _size):",
            "        break"]


def _exprs_of_all(body):
    """Every expression of a block's statements (for the names they read)."""
    out = []
    for s in body:
        if isinstance(s, (Assign, Deriv)):
            out.append(s.expr)
            if isinstance(s, Assign) and s.index is not None:
                out.append(s.index)
        elif isinstance(s, CallStmt):
            out.append(s.call)
        out += _exprs_of(s)
    return out


def _has_solve(s):
    """Whether statement ``s`` (an If) holds a SOLVE, at any depth."""
    bodies = [s.body, s.orelse] if isinstance(s, If) else [s] if isinstance(s, list) else []
    return isinstance(s, Solve) or any(_has_solve(x) for b in bodies for x in b)


def _cnexp_update(x, a, b):
    """x' = a + b x over dt, exactly (as the vectorised loop does)."""
    return (f"{x} = {x} + (1.0 - math.exp(dt * {b})) * (-{a} / {b} - {x}) "
            f"if {b} != 0.0 else {x} + dt * {a}")


def _ion_of_name(var):
    """The common ion whose variable ``var`` names (ena, ina, nai, nao ...), or None."""
    for ion in _COMMON_IONS:
        if var in (f"e{ion}", f"i{ion}", f"{ion}i", f"{ion}o"):
            return ion
    return None


def _indent(lines):
    return ["    " + line for line in lines]


def _exprs_of(s):
    if isinstance(s, Reaction):
        return [s.kf, s.kb] + [Name(n) for _, n in s.lhs + s.rhs]
    if isinstance(s, (Conserve, LinearEq)):
        return [s.lhs, s.rhs]
    if isinstance(s, Compartment):
        return [s.volume]
    if isinstance(s, LongDiffusion):
        return [s.rate]
    if isinstance(s, FluxIn):
        return [s.expr] + [Name(n) for n in s.states]
    if isinstance(s, Deriv):
        return [s.expr, Name(s.name)]
    return []


def _names_in(e):
    if isinstance(e, Name):
        return [e.id]
    if isinstance(e, Unary):
        return _names_in(e.operand)
    if isinstance(e, BinOp):
        return _names_in(e.left) + _names_in(e.right)
    if isinstance(e, Call):
        return [n for a in e.args for n in _names_in(a)]
    if isinstance(e, Element):
        return _names_in(e.index) + _elements(e)
    return []
