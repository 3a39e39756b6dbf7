"""Running a template's statements: sections, their properties and mechanisms, procs and
loops (expressions are evaluated in ``evaluation``)."""

import math
import re

from neurosim import mechanisms
from neurosim.errors import NeurosimError

from .evaluation import Evaluation
from .values import (_CONSTANTS, _ION_VAR, HocSection, _Break, _Continue, _Opaque, _Return,
                     _SectionList)


# section variables that must be positive; L and diam of a section with 3-D points come from
# its points (NEURON rescales them; the reader refuses rather than guess)
_POSITIVE = ("L", "diam", "Ra", "cm")
_FROM_POINTS = {"L": "rescaling the points", "diam": "changing 3-D diameters"}


class TemplateInstance(Evaluation):
    """Runs one template's ``init()`` (and what it calls) over numbers and sections."""

    def __init__(self, parser, template, args=()):
        self.p = parser
        self.name = template.a
        self.sections = {}           # name -> HocSection or list of HocSection
        self.created = []            # HocSection in creation order
        self.vars = {}
        self.procs = {}
        self.stack = []
        self.frames = []
        self.stmt_line = template.line
        for st in template.b:
            self.declare(st)
        if "init" in self.procs:
            self.call_proc("init", [float(a) for a in args], template.line)
        elif args:
            raise self.p.err(template.line, f"template {self.name} has no init() to take "
                                            "arguments")

    def err(self, line, msg):
        return self.p.err(line, msg)

    # -- template body: declarations and top-level statements
    def declare(self, st):
        if st.kind == "procdef":
            self.procs[st.a] = st
        elif st.kind == "decl":
            if st.a in ("local", "localobj"):
                raise self.err(st.line, f"'{st.a}' outside a proc")
            if st.a in ("objref", "objectvar"):
                for name, idx, line in st.b:
                    if idx is not None:
                        raise self.err(line, "arrays of objects are not supported")
                    self.vars[name] = None
            if st.a == "double":
                for name, idx, line in st.b:
                    n = 1 if idx is None else int(self.eval(idx))
                    self.vars[name] = [0.0] * n if idx is not None else 0.0
            if st.a == "strdef":
                raise self.err(st.line, "strings (strdef) are not supported")
        else:
            self.exec(st)

    # -- statements
    def exec_all(self, stmts):
        for st in stmts:
            self.exec(st)

    def exec(self, st):
        self.stmt_line = st.line
        run = getattr(self, "_exec_" + st.kind, None)
        if run is None:
            raise self.err(st.line, f"unsupported statement ({st.kind})")
        run(st)

    def _exec_expr(self, st):
        self.eval(st.a)

    def _exec_block(self, st):
        self.exec_all(st.a)

    def _exec_create(self, st):
        for name, idx, line in st.b:
            if name in self.sections:
                raise self.err(line, f"section {name} created twice (NEURON would "
                                     "delete and recreate it)")
            if idx is None:
                self.sections[name] = self.new_section(name)
            else:
                n = self.int_value(idx, line, "array size")
                self.sections[name] = [self.new_section(f"{name}[{i}]") for i in range(n)]

    def _exec_connect(self, st):
        child = self.section(st.a, st.line)
        cx = self.eval(st.b)
        parent = self.section(st.c, st.line)
        px = self.eval(st.d)
        if cx not in (0.0, 1.0):
            raise self.err(st.line, f"connect at child x = {cx}: only 0 or 1 are allowed")
        if cx != 0.0:
            raise self.err(st.line, "a child connected by its 1-end (reversed section) "
                                    "is not supported")
        if not 0.0 <= px <= 1.0:
            raise self.err(st.line, f"parent x = {px} outside [0, 1]")
        p = parent
        while p is not None:
            if p is child:
                raise self.err(st.line, "connect would make a loop")
            p = p.parent
        child.parent, child.parent_x = parent, float(px)

    def _exec_insert(self, st):
        sec = self.current(st.line, "insert")
        try:
            mech = mechanisms.get(st.a)
        except NeurosimError as e:
            raise self.err(st.line, f"unknown mechanism {st.a!r} ({e})") from None
        if mech.kind != "density":
            raise self.err(st.line, f"{st.a!r} is not a density mechanism")
        sec.mechanisms.setdefault(mech.name, {})

    def _exec_uninsert(self, st):
        sec = self.current(st.line, "uninsert")
        sec.mechanisms.pop(st.a, None)

    def _exec_secstmt(self, st):
        sec = self.section(st.a, st.line)
        self.stack.append(sec)
        try:
            self.exec(st.b)
        finally:
            self.stack.pop()

    def _exec_forsec(self, st):
        how, what = st.a
        if how == "list":
            lst = self.lookup(what, st.line)
            if not isinstance(lst, _SectionList):
                raise self.err(st.line, f"forsec {what}: not a SectionList")
            secs = list(lst)
        else:
            # NEURON searches the full name (`Template[0].dend[2]`) with its own regular
            # expressions; plain names are searched the same way, patterns are refused
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", what):
                raise self.err(st.line, f'forsec "{what}": only a plain name is '
                                        "supported, not a regular expression")
            secs = [s for s in self.created if what in f"{self.name}.{s.name}"]
        self.each_section(secs, st.b)

    def _exec_forall(self, st):
        self.each_section(list(self.created), st.b)

    def _exec_if(self, st):
        if self.eval(st.a):
            self.exec(st.b)
        elif st.c is not None:
            self.exec(st.c)

    def _exec_while(self, st):
        guard = 0
        while self.eval(st.a):
            guard += 1
            if guard > 10_000_000:
                raise self.err(st.line, "loop runs more than 10^7 times")
            try:
                self.exec(st.b)
            except _Break:
                break
            except _Continue:
                continue

    def _exec_cfor(self, st):
        init, cond, step = st.a
        if init is not None:
            self.eval(init)
        while cond is None or self.eval(cond):
            try:
                self.exec(st.b)
            except _Break:
                break
            except _Continue:
                pass
            if step is not None:
                self.eval(step)

    def _exec_rangefor(self, st):
        var, lo, hi = st.a
        i = self.eval(lo)
        hi = self.eval(hi)
        while i <= hi:
            self.assign_name(var, None, i, st.line)
            try:
                self.exec(st.b)
            except _Break:
                break
            except _Continue:
                pass
            i = self.lookup(var, st.line) + 1

    def _exec_return(self, st):
        raise _Return(None if st.a is None else self.eval(st.a))

    def _exec_break(self, st):
        raise _Break()

    def _exec_continue(self, st):
        raise _Continue()

    def _exec_decl(self, st):
        if st.a in ("local", "localobj"):
            if not self.frames:
                raise self.err(st.line, f"'{st.a}' outside a proc")
            for name, _, _ in st.b:
                self.frames[-1]["locals"][name] = 0.0 if st.a == "local" else None
        elif st.a in ("objref", "objectvar"):
            for name, _, _ in st.b:
                self.vars.setdefault(name, None)
        elif st.a not in ("public", "external"):
            raise self.err(st.line, f"'{st.a}' is not supported here")

    def _exec_procdef(self, st):
        raise self.err(st.line, "a proc defined inside a proc")

    def _exec_template(self, st):
        raise self.err(st.line, "a template inside a template")

    def each_section(self, secs, body):
        for s in secs:
            self.stack.append(s)
            try:
                self.exec(body)
            finally:
                self.stack.pop()

    def new_section(self, name):
        s = HocSection(name, len(self.created))
        self.created.append(s)
        return s

    def section(self, ref, line):
        name, idx = ref
        s = self.sections.get(name)
        if s is None:
            raise self.err(line, f"section {name} is used before `create {name}`")
        if isinstance(s, list):
            if idx is None:
                raise self.err(line, f"{name} is an array of sections; give an index")
            i = self.int_value(idx, line, "section index")
            if not 0 <= i < len(s):
                raise self.err(line, f"{name}[{i}]: index outside 0..{len(s) - 1}")
            return s[i]
        if idx is not None:
            raise self.err(line, f"{name} is not an array of sections")
        return s

    def current(self, line, what):
        if not self.stack:
            raise self.err(line, f"{what} needs a section (`sec {{ {what} ... }}` or "
                                 "forsec); a template has no accessed section")
        return self.stack[-1]

    def int_value(self, e, line, what):
        v = self.eval(e)
        if v != int(v):
            raise self.err(line, f"{what} {v} is not an integer")
        return int(v)

    # -- procedures
    def call_proc(self, name, args, line):
        proc = self.procs[name]
        if proc.d is not None:
            raise proc.d          # the statement in the proc the reader could not parse
        if len(self.frames) > 200:
            raise self.err(line, f"recursion deeper than 200 calls in {name}()")
        self.frames.append({"locals": {}, "args": args})
        try:
            self.exec_all(proc.b)
            value = 0.0
        except _Return as r:
            value = 0.0 if r.value is None else r.value
        except (_Break, _Continue):
            raise self.err(line, "break/continue outside a loop") from None
        finally:
            self.frames.pop()
        return value

    # -- names
    def lookup(self, name, line, idx=None):
        if self.frames and name in self.frames[-1]["locals"]:
            val = self.frames[-1]["locals"][name]
        elif name in self.vars:
            val = self.vars[name]
        elif name in _CONSTANTS:
            val = _CONSTANTS[name]
        elif self.stack and self.is_section_var(name):
            return self.get_section_var(self.stack[-1], name, line)
        elif name in self.sections:
            raise self.err(line, f"section {name} used as a number")
        else:
            raise self.err(line, f"{name!r} is not defined")
        if idx is not None:
            if not isinstance(val, list) or isinstance(val, _SectionList):
                raise self.err(line, f"{name} is not an array")
            i = self.int_value(idx, line, "index")
            if not 0 <= i < len(val):
                raise self.err(line, f"{name}[{i}]: index out of range")
            return val[i]
        return val

    def is_section_var(self, name):
        if name in ("nseg", "L", "diam", "Ra", "cm", "v"):
            return True
        if _ION_VAR.match(name):
            return True
        return "_" in name and not (self.frames and name in self.frames[-1]["locals"]) \
            and name not in self.vars

    def assign_name(self, name, idx, value, line):
        if self.frames and name in self.frames[-1]["locals"]:
            if idx is not None:
                raise self.err(line, f"local {name} is not an array")
            self.frames[-1]["locals"][name] = value
            return value
        if name in self.vars:
            old = self.vars[name]
            if idx is not None:
                if not isinstance(old, list) or isinstance(old, _SectionList):
                    raise self.err(line, f"{name} is not an array")
                i = self.int_value(idx, line, "index")
                old[i] = float(value)
                return value
            if isinstance(old, list) and not isinstance(old, _SectionList):
                raise self.err(line, f"{name} is an array")
            self.vars[name] = value
            return value
        if self.stack and self.is_section_var(name):
            if idx is not None:
                raise self.err(line, f"{name}[...]: indexed range variables are not "
                                     "supported")
            self.set_section_var(self.stack[-1], name, value, line)
            return value
        if name in self.sections or name in self.procs:
            raise self.err(line, f"cannot assign to {name}")
        if idx is not None:
            raise self.err(line, f"{name} is not an array")
        self.vars[name] = value              # hoc creates a variable on first assignment
        return value

    # -- section variables
    def set_section_var(self, sec, name, value, line):
        if isinstance(value, (_SectionList, _Opaque)) or value is None:
            raise self.err(line, f"{name} takes a number")
        value = float(value)
        if not math.isfinite(value):
            raise self.err(line, f"{name} = {value}: not finite")
        if name == "nseg":
            n = int(value)
            if n < 1:
                raise self.err(line, f"nseg = {value}: must be >= 1")
            if n > 32767:
                raise self.err(line, f"nseg = {value}: too large")
            sec.nseg = n
        elif name in _POSITIVE:
            if name in _FROM_POINTS and sec.pt3d:
                raise self.err(line, f"{name} of {sec.name}, which has 3-D points: "
                                     f"{_FROM_POINTS[name]} is not supported")
            if value <= 0:
                raise self.err(line, f"{name} = {value}: must be > 0")
            setattr(sec, name, value)
        elif name == "v":
            sec.v = value
        else:
            mech, param = self.find_param(sec, name, line)
            if mech is None:
                ion, which = param
                sec.ions.setdefault(ion, {})[which] = value
            else:
                sec.mechanisms[mech][param] = value

    def find_param(self, sec, name, line):
        for mname in sec.mechanisms:
            if name.endswith("_" + mname):
                mech = mechanisms.get(mname)
                try:
                    return mname, mech.resolve_parameter(name)
                except NeurosimError as e:
                    raise self.err(line, f"{name}: not a parameter of {mname} ({e})") from None
        m = _ION_VAR.match(name)
        if m:
            if m.group(1):
                return None, (m.group(1), "e")
            return None, (m.group(2), "ci" if m.group(3) == "i" else "co")
        raise self.err(line, f"{name!r}: not a variable of section {sec.name} (no inserted "
                             "mechanism has it)")

    def get_section_var(self, sec, name, line):
        if name == "nseg":
            return float(sec.nseg)
        if name == "L":
            return sec.length
        if name == "diam":
            if sec.pt3d:
                raise self.err(line, f"reading diam of {sec.name}, which has 3-D points, is "
                                     "not supported")
            return sec.diam
        if name in ("Ra", "cm"):
            return getattr(sec, name)
        if name == "v":
            if sec.v is None:
                raise self.err(line, f"v of {sec.name} was not set")
            return sec.v
        mech, param = self.find_param(sec, name, line)
        if mech is None:
            ion, which = param
            if which in sec.ions.get(ion, {}):
                return sec.ions[ion][which]
            raise self.err(line, f"{name} of {sec.name} was not set")
        vals = sec.mechanisms[mech]
        if param in vals:
            return vals[param]
        m = mechanisms.get(mech)
        defaults = getattr(m, "parameters", {}) or {}
        if param in defaults:
            return float(defaults[param])
        raise self.err(line, f"{name}: default value unknown")

    # -- expressions
