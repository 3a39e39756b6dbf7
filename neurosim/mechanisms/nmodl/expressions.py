"""The NMODL compiler's expressions: names (states, parameters, ions, arrays), operators,
calls of FUNCTIONs, math, FUNCTION_TABLEs and RANDOM streams, as Python text (a mixin of
:class:`.compiler._Compiler`)."""

from .. import random123
from .forms import (_PY_RESERVED, MATH, NEEDS_EVENTS, RANDOM_DRAWS, RANDOM_SETS, _calls_in,
                    _elements)
from .syntax import NmodlError
from .tree import BinOp, Call, Element, Name, Num, Unary


class _Expressions:

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
