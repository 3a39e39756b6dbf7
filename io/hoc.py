"""A reader for NEURON hoc cell templates (the subset NeuroML exports and model repositories
use), producing a :class:`~neurosim.description.morphology.Morphology` and a
:class:`~neurosim.description.cell.Cell`.

It is a reader, not an interpreter.  It understands ``begintemplate``/``endtemplate``,
``public``/``objref``/``external`` declarations, ``create`` (also arrays), ``connect``,
``pt3dclear``/``pt3dadd`` (and ``n3d``, ``x3d`` ... ``pt3dchange``), ``SectionList``s with
``append`` and ``forsec``/``forall``, section statements (``sec { ... }``, ``sec stmt``,
``sec.prop = ...``), ``nseg``/``L``/``diam``/``Ra``/``cm``/``v`` assignments, ``insert`` with
parameter assignments (``g_pas = ...``), ion variables (``ena``, ``cai`` ...), ``proc``/``func``
with numeric arguments (``$1``) and ``local`` variables, ``for``/``while``/``if``/``else`` over
numbers, ``return``/``break``/``continue``, arithmetic and the hoc math functions.  Anything
else is a :class:`HocError` naming file, line and statement.

    cell = neurosim.Cell.from_hoc("AIAL.hoc")           # the file's one template
    cell.section_names["Axon"]                          # -> neurosim section id
"""

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurosim.errors import NeurosimError

__all__ = ["HocError", "HocTemplate", "read_hoc", "read_template"]


class HocError(NeurosimError, ValueError):
    """A hoc file uses something the reader does not support, or is malformed."""


# ============================================================================ lexer
_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f]+|\\\n)
  | (?P<comment>//[^\n]*)
  | (?P<bcomment>/\*.*?\*/)
  | (?P<nl>\n)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<dollar>\$[so]?\d+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<op>==|!=|<=|>=|&&|\|\||\+=|-=|\*=|/=|[-+*/^%<>=!(){}\[\],.;])
""", re.VERBOSE | re.DOTALL)


@dataclass
class Tok:
    kind: str
    value: object
    line: int


def tokenize(text, filename):
    toks, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            src = text.splitlines()[line - 1] if line <= len(text.splitlines()) else ""
            raise HocError(f"{filename}:{line}: unexpected character {text[pos]!r}: "
                           f"`{src.strip()}`")
        kind = m.lastgroup
        s = m.group()
        if kind == "num":
            toks.append(Tok("num", float(s), line))
        elif kind in ("name", "op", "dollar"):
            toks.append(Tok(kind if kind != "op" else s, s, line))
        elif kind == "str":
            toks.append(Tok("str", re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(
                m.group(1), m.group(1)), s[1:-1]), line))
        elif kind == "nl":
            toks.append(Tok("nl", s, line))
        line += s.count("\n")
        pos = m.end()
    toks.append(Tok("eof", None, line))
    return toks


# ============================================================================ syntax tree
@dataclass
class Node:
    kind: str
    line: int
    a: object = None
    b: object = None
    c: object = None
    d: object = None


_KEYWORDS = {"if", "else", "while", "for", "forsec", "forall", "proc", "func", "return",
             "break", "continue", "create", "connect", "insert", "uninsert", "objref",
             "objectvar", "public", "external", "local", "localobj", "strdef", "new",
             "begintemplate", "endtemplate", "access", "ifsec", "print", "double", "stop",
             "iterator", "obfunc", "delete", "setpointer", "help", "read", "debug",
             "eqn", "depvar", "em", "parallel", "pnode", "secondorder", "init", "quit"}
# names that only start a statement; everything else may be an expression
_STATEMENT_WORDS = _KEYWORDS - {"new", "init", "secondorder"}


class Parser:
    def __init__(self, text, filename):
        self.file = filename
        self.lines = text.splitlines()
        self.toks = tokenize(text, filename)
        self.i = 0
        # section names: every `create`d name in the file (known before use, as in hoc)
        self.sections = set()
        for k, t in enumerate(self.toks):
            if t.kind == "name" and t.value == "create":
                j = k + 1
                while j < len(self.toks) and self.toks[j].kind not in ("nl", ";", "eof", "}"):
                    if self.toks[j].kind == "name" and self.toks[j - 1].kind in ("name", ","):
                        self.sections.add(self.toks[j].value)
                    j += 1

    # -- helpers
    def err(self, line, msg):
        src = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        return HocError(f"{self.file}:{line}: {msg}: `{src}`")

    @property
    def tok(self):
        return self.toks[self.i]

    def peek(self, k=1):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def accept(self, kind, value=None):
        t = self.tok
        if t.kind == kind and (value is None or t.value == value):
            self.i += 1
            return t
        return None

    def expect(self, kind, what=None):
        t = self.tok
        if t.kind != kind:
            raise self.err(t.line, f"expected {what or kind!r}, found "
                                   f"{t.value if t.value is not None else 'end of file'!r}")
        self.i += 1
        return t

    def skip_nl(self):
        while self.tok.kind in ("nl", ";"):
            self.i += 1

    def is_word(self, word):
        return self.tok.kind == "name" and self.tok.value == word

    # -- top level
    def parse_file(self):
        out = []
        while True:
            self.skip_nl()
            if self.tok.kind == "eof":
                return out
            out.append(self.statement(top=True))

    def block(self):
        """`{ statements }` (the `{` already read)."""
        body = []
        while True:
            self.skip_nl()
            if self.accept("}"):
                return body
            if self.tok.kind == "eof":
                raise self.err(self.tok.line, "missing '}'")
            body.append(self.statement())

    def body(self):
        """The statement after if/for/forsec/a section name: a block or one statement."""
        self.skip_nl_only()
        line = self.tok.line
        if self.accept("{"):
            return Node("block", line, self.block())
        return self.statement()

    def skip_braces(self, line):
        """Skip to the `}` that closes the block whose `{` was just read."""
        depth = 1
        while depth:
            t = self.next()
            if t.kind == "eof":
                raise self.err(line, "missing '}'")
            depth += {"{": 1, "}": -1}.get(t.kind, 0)

    def skip_nl_only(self):
        while self.tok.kind == "nl":
            self.i += 1

    def names(self):
        """`a, b[3], c` -> [(name, index expr or None, line)]"""
        out = []
        while True:
            t = self.expect("name", "a name")
            idx = None
            if self.accept("["):
                idx = self.expr()
                self.expect("]", "]")
            out.append((t.value, idx, t.line))
            if not self.accept(","):
                return out

    def statement(self, top=False):
        t = self.tok
        line = t.line
        if t.kind == "{":
            self.next()
            return Node("block", line, self.block())
        if t.kind == "name":
            w = t.value
            if w == "begintemplate":
                self.next()
                name = self.expect("name", "a template name").value
                body = []
                while True:
                    self.skip_nl()
                    if self.is_word("endtemplate"):
                        self.next()
                        end = self.expect("name", "the template name")
                        if end.value != name:
                            raise self.err(end.line, f"endtemplate {end.value} closes "
                                                     f"template {name}")
                        return Node("template", line, name, body)
                    if self.tok.kind == "eof":
                        raise self.err(line, f"template {name} has no endtemplate")
                    body.append(self.statement(top=True))
            if w in ("proc", "func", "obfunc", "iterator"):
                self.next()
                name = self.expect("name", "a procedure name").value
                self.expect("(", "(")
                self.expect(")", ")")
                self.skip_nl_only()
                self.expect("{", "{")
                start = self.i
                try:
                    if w in ("obfunc", "iterator"):
                        raise self.err(line, f"'{w}' is not supported")
                    return Node("procdef", line, name, self.block(), w == "func")
                except HocError as e:
                    # a proc the reader cannot read is an error only if it is called
                    self.i = start
                    self.skip_braces(line)
                    return Node("procdef", line, name, [], w == "func", e)
            if w in ("public", "external", "objref", "objectvar", "local", "localobj",
                     "strdef", "create", "double"):
                self.next()
                return Node("decl" if w != "create" else "create", line, w, self.names())
            if w == "connect":
                self.next()
                return self.connect(line, None)
            if w == "insert" or w == "uninsert":
                self.next()
                return Node(w, line, self.expect("name", "a mechanism name").value)
            if w == "if":
                self.next()
                self.expect("(", "(")
                cond = self.expr()
                self.expect(")", ")")
                then = self.body()
                save = self.i
                self.skip_nl()
                if self.is_word("else"):
                    self.next()
                    return Node("if", line, cond, then, self.body())
                self.i = save
                return Node("if", line, cond, then, None)
            if w == "while":
                self.next()
                self.expect("(", "(")
                cond = self.expr()
                self.expect(")", ")")
                return Node("while", line, cond, self.body())
            if w == "for":
                self.next()
                if self.accept("("):
                    init = None if self.tok.kind == ";" else self.expr()
                    if self.tok.kind == "," or self.tok.kind == ")":
                        raise self.err(line, "segment loops (`for (x, 0)`, `for (x)`) are "
                                             "not supported")
                    self.expect(";", ";")
                    cond = None if self.tok.kind == ";" else self.expr()
                    self.expect(";", ";")
                    step = None if self.tok.kind == ")" else self.expr()
                    self.expect(")", ")")
                    return Node("cfor", line, (init, cond, step), self.body())
                var = self.expect("name", "a loop variable").value
                self.expect("=", "=")
                lo = self.expr()
                self.expect(",", ",")
                hi = self.expr()
                return Node("rangefor", line, (var, lo, hi), self.body())
            if w == "forsec":
                self.next()
                target = self.tok
                if target.kind == "str":
                    self.next()
                    return Node("forsec", line, ("regex", target.value), self.body())
                target = self.expect("name", "a SectionList")
                return Node("forsec", line, ("list", target.value), self.body())
            if w == "forall":
                self.next()
                return Node("forall", line, None, self.body())
            if w == "return":
                self.next()
                val = None
                if self.tok.kind not in ("nl", ";", "}", "eof"):
                    val = self.expr()
                return Node("return", line, val)
            if w in ("break", "continue"):
                self.next()
                return Node(w, line)
            if w == "else":
                raise self.err(line, "'else' without 'if'")
            if w in self.sections and self.peek().kind not in (".", "=", "+=", "-=", "*=",
                                                                 "/="):
                # `sec stmt`, `sec { ... }`, `sec[i] stmt`, `sec connect ...`
                save = self.i
                self.next()
                idx = None
                if self.accept("["):
                    idx = self.expr()
                    self.expect("]", "]")
                if self.tok.kind == "." or self.tok.kind == "(":
                    self.i = save        # sec[i].prop or sec(x) in an expression
                else:
                    if self.is_word("connect"):
                        self.next()
                        return self.connect(line, (w, idx))
                    return Node("secstmt", line, (w, idx), self.body())
            if w in _STATEMENT_WORDS:
                raise self.err(line, f"unsupported statement '{w}'")
        if t.kind == "eof":
            raise self.err(line, "unexpected end of file")
        e = self.expr()
        return Node("expr", line, e)

    def connect(self, line, current):
        """`connect child(x), parent(y)` or, under a section, `connect child(x), y`."""
        child = self.section_ref()
        cx = self.paren_arg(line)
        self.expect(",", ",")
        if self.tok.kind == "name" and self.tok.value in self.sections:
            parent = self.section_ref()
            px = self.paren_arg(line)
        else:
            if current is None:
                # `connect child(x), y` uses the currently accessed section, which a
                # template does not have
                raise self.err(line, "connect to a number needs a section in front "
                                     "(`parent connect child(0), 1`)")
            parent, px = current, self.expr()
        # (`sec connect a(x), b(y)`: the section in front only sets the context)
        return Node("connect", line, child, cx, parent, px)

    def section_ref(self):
        t = self.expect("name", "a section name")
        if t.value not in self.sections:
            raise self.err(t.line, f"{t.value!r} is not a section (no `create {t.value}`)")
        idx = None
        if self.accept("["):
            idx = self.expr()
            self.expect("]", "]")
        return (t.value, idx)

    def paren_arg(self, line):
        if not self.accept("("):
            return Node("num", line, 0.5)  # NEURON's default: sec means sec(0.5)
        e = self.expr()
        self.expect(")", ")")
        return e

    # -- expressions (hoc precedence: = < || < && < comparisons < + - < * / % < unary < ^)
    def expr(self):
        left = self.or_()
        t = self.tok
        if t.kind in ("=", "+=", "-=", "*=", "/="):
            if left.kind not in ("var", "dot", "dollar"):
                raise self.err(t.line, "cannot assign to this expression")
            self.next()
            return Node("assign", t.line, left, t.kind, self.expr())
        return left

    def _binary(self, sub, ops):
        left = sub()
        while self.tok.kind in ops:
            t = self.next()
            left = Node("bin", t.line, t.kind, left, sub())
        return left

    def or_(self):
        return self._binary(self.and_, ("||",))

    def and_(self):
        return self._binary(self.cmp, ("&&",))

    def cmp(self):
        return self._binary(self.add, ("==", "!=", "<", ">", "<=", ">="))

    def add(self):
        return self._binary(self.mul, ("+", "-"))

    def mul(self):
        return self._binary(self.unary, ("*", "/", "%"))

    def unary(self):
        t = self.tok
        if t.kind in ("-", "!", "+"):
            self.next()
            return Node("unary", t.line, t.kind, self.unary())
        return self.power()

    def power(self):
        base = self.postfix()
        if self.tok.kind == "^":
            t = self.next()
            return Node("bin", t.line, "^", base, self.unary())
        return base

    def args(self):
        self.expect("(", "(")
        out = []
        if self.accept(")"):
            return out
        while True:
            out.append(self.expr())
            if self.accept(")"):
                return out
            self.expect(",", ",")

    def postfix(self):
        e = self.atom()
        while self.tok.kind == ".":
            t = self.next()
            member = self.expect("name", "a member name").value
            idx = None
            if self.accept("["):
                idx = self.expr()
                self.expect("]", "]")
            args = self.args() if self.tok.kind == "(" else None
            e = Node("dot", t.line, e, member, args, idx)
        return e

    def atom(self):
        t = self.next()
        if t.kind == "num":
            return Node("num", t.line, t.value)
        if t.kind == "str":
            return Node("str", t.line, t.value)
        if t.kind == "dollar":
            if t.value[1] in "so":
                raise self.err(t.line, f"{t.value}: only numeric arguments ($1, $2 ...) are "
                                       "supported")
            return Node("dollar", t.line, int(t.value[1:]))
        if t.kind == "(":
            e = self.expr()
            self.expect(")", ")")
            return e
        if t.kind == "name":
            if t.value == "new":
                cls = self.expect("name", "a class name").value
                return Node("new", t.line, cls, self.args())
            if t.value in _STATEMENT_WORDS:
                raise self.err(t.line, f"unsupported use of '{t.value}'")
            if self.tok.kind == "(":
                return Node("call", t.line, t.value, self.args())
            idx = None
            if self.accept("["):
                idx = self.expr()
                self.expect("]", "]")
            return Node("var", t.line, t.value, idx)
        raise self.err(t.line, f"unexpected {t.value if t.value is not None else 'end of file'!r}")


# ============================================================================ evaluation
@dataclass
class HocSection:
    """One section as the template builds it (NEURON's state, before any conversion)."""
    name: str
    order: int
    pt3d: list = field(default_factory=list)      # [x, y, z, diam]
    L: float = 100.0                               # NEURON's defaults
    diam: float = 500.0
    nseg: int = 1
    Ra: float = 35.4
    cm: float = 1.0
    v: float = None
    parent: object = None                          # HocSection
    parent_x: float = 1.0
    child_x: float = 0.0
    mechanisms: dict = field(default_factory=dict)  # name -> {param: value}
    ions: dict = field(default_factory=dict)        # ion -> {"e"/"ci"/"co": value}

    @property
    def length(self):
        if self.pt3d:
            p = np.asarray(self.pt3d)[:, :3]
            return float(np.sum(np.linalg.norm(np.diff(p, axis=0), axis=1)))
        return self.L


class _Return(Exception):
    def __init__(self, value):
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _SectionList(list):
    pass


class _Opaque:
    """An object the reader creates but does not use (``new List()``)."""

    def __init__(self, cls):
        self.cls = cls


_MATH = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "atan": math.atan,
         "atan2": math.atan2, "sqrt": math.sqrt, "exp": math.exp, "log": math.log,
         "log10": math.log10, "abs": abs, "fabs": abs, "int": lambda v: float(int(v)),
         "floor": math.floor, "ceil": math.ceil, "erf": math.erf, "erfc": math.erfc,
         "tanh": math.tanh, "sinh": math.sinh, "cosh": math.cosh, "pow": math.pow,
         "max": max, "min": min}
_CONSTANTS = {"PI": math.pi, "E": math.e}
_ION_VAR = re.compile(r"^(?:e([a-z]+[a-z0-9]*)|([a-z]+[a-z0-9]*)(i|o))$")
_STDLIB_FILES = {"stdlib.hoc", "stdrun.hoc", "nrngui.hoc", "subiter.hoc", "noload.hoc"}


def _single(values):
    return [float(np.float32(v)) for v in values]


class TemplateInstance:
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
        k = st.kind
        self.stmt_line = st.line
        if k == "expr":
            self.eval(st.a)
        elif k == "block":
            self.exec_all(st.a)
        elif k == "create":
            for name, idx, line in st.b:
                if name in self.sections:
                    raise self.err(line, f"section {name} created twice (NEURON would "
                                         "delete and recreate it)")
                if idx is None:
                    self.sections[name] = self.new_section(name)
                else:
                    n = self.int_value(idx, line, "array size")
                    self.sections[name] = [self.new_section(f"{name}[{i}]")
                                           for i in range(n)]
        elif k == "connect":
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
        elif k == "insert":
            sec = self.current(st.line, "insert")
            from neurosim import mechanisms
            try:
                mech = mechanisms.get(st.a)
            except NeurosimError as e:
                raise self.err(st.line, f"unknown mechanism {st.a!r} ({e})") from None
            if mech.kind != "density":
                raise self.err(st.line, f"{st.a!r} is not a density mechanism")
            sec.mechanisms.setdefault(mech.name, {})
        elif k == "uninsert":
            sec = self.current(st.line, "uninsert")
            sec.mechanisms.pop(st.a, None)
        elif k == "secstmt":
            sec = self.section(st.a, st.line)
            self.stack.append(sec)
            try:
                self.exec(st.b)
            finally:
                self.stack.pop()
        elif k == "forsec":
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
        elif k == "forall":
            self.each_section(list(self.created), st.b)
        elif k == "if":
            if self.eval(st.a):
                self.exec(st.b)
            elif st.c is not None:
                self.exec(st.c)
        elif k == "while":
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
        elif k == "cfor":
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
        elif k == "rangefor":
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
        elif k == "return":
            raise _Return(None if st.a is None else self.eval(st.a))
        elif k == "break":
            raise _Break()
        elif k == "continue":
            raise _Continue()
        elif k == "decl":
            if st.a in ("local", "localobj"):
                if not self.frames:
                    raise self.err(st.line, f"'{st.a}' outside a proc")
                for name, idx, line in st.b:
                    self.frames[-1]["locals"][name] = 0.0 if st.a == "local" else None
            elif st.a in ("public", "external"):
                pass
            elif st.a in ("objref", "objectvar"):
                for name, idx, line in st.b:
                    self.vars.setdefault(name, None)
            else:
                raise self.err(st.line, f"'{st.a}' is not supported here")
        elif k == "procdef":
            raise self.err(st.line, "a proc defined inside a proc")
        elif k == "template":
            raise self.err(st.line, "a template inside a template")
        else:
            raise self.err(st.line, f"unsupported statement ({k})")

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
        elif name == "L":
            if sec.pt3d:
                raise self.err(line, f"L of {sec.name}, which has 3-D points: rescaling the "
                                     "points is not supported")
            if value <= 0:
                raise self.err(line, f"L = {value}: must be > 0")
            sec.L = value
        elif name == "diam":
            if sec.pt3d:
                raise self.err(line, f"diam of {sec.name}, which has 3-D points: changing "
                                     "3-D diameters is not supported")
            if value <= 0:
                raise self.err(line, f"diam = {value}: must be > 0")
            sec.diam = value
        elif name == "Ra":
            if value <= 0:
                raise self.err(line, f"Ra = {value}: must be > 0")
            sec.Ra = value
        elif name == "cm":
            if value <= 0:
                raise self.err(line, f"cm = {value}: must be > 0")
            sec.cm = value
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
        from neurosim import mechanisms
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
        from neurosim import mechanisms
        m = mechanisms.get(mech)
        defaults = getattr(m, "parameters", {}) or {}
        if param in defaults:
            return float(defaults[param])
        raise self.err(line, f"{name}: default value unknown")

    # -- expressions
    def eval(self, e):
        k = e.kind
        if k == "num":
            return e.a
        if k == "str":
            raise self.err(e.line, "strings are not supported here")
        if k == "var":
            return self.lookup(e.a, e.line, e.b)
        if k == "dollar":
            if not self.frames:
                raise self.err(e.line, f"${e.a} outside a proc")
            args = self.frames[-1]["args"]
            if not 1 <= e.a <= len(args):
                raise self.err(e.line, f"${e.a}: only {len(args)} arguments were given")
            return args[e.a - 1]
        if k == "bin":
            op = e.a
            if op == "&&":
                return 1.0 if (self.eval(e.b) and self.eval(e.c)) else 0.0
            if op == "||":
                return 1.0 if (self.eval(e.b) or self.eval(e.c)) else 0.0
            x, y = self.num(e.b), self.num(e.c)
            try:
                if op == "+":
                    return x + y
                if op == "-":
                    return x - y
                if op == "*":
                    return x * y
                if op == "/":
                    return x / y
                if op == "%":
                    return math.fmod(x, y)
                if op == "^":
                    return x ** y
            except (ZeroDivisionError, OverflowError, ValueError) as ex:
                raise self.err(e.line, f"arithmetic error ({ex})") from None
            eps = 1e-9                   # hoc compares with float_epsilon
            if op == "==":
                return float(abs(x - y) <= eps)
            if op == "!=":
                return float(abs(x - y) > eps)
            if op == "<":
                return float(x < y - eps)
            if op == ">":
                return float(x > y + eps)
            if op == "<=":
                return float(x <= y + eps)
            if op == ">=":
                return float(x >= y - eps)
        if k == "unary":
            v = self.num(e.b)
            return -v if e.a == "-" else (float(not v) if e.a == "!" else v)
        if k == "assign":
            return self.assign(e)
        if k == "call":
            return self.call(e)
        if k == "new":
            if e.a == "SectionList":
                return _SectionList()
            if e.a == "List" and not e.b:
                return _Opaque("List")
            raise self.err(e.line, f"new {e.a}(): only SectionList and List objects are "
                                   "supported")
        if k == "dot":
            return self.dot(e)
        raise self.err(e.line, f"unsupported expression ({k})")

    def num(self, e):
        v = self.eval(e)
        if not isinstance(v, float) and not isinstance(v, int):
            raise self.err(e.line, "an object used as a number")
        return v

    def assign(self, e):
        target, op, rhs = e.a, e.b, e.c
        value = self.eval(rhs)
        if op != "=":
            old = self.eval(target)
            value = {"+=": old + value, "-=": old - value, "*=": old * value,
                     "/=": old / value if value else math.inf}[op]
        if target.kind == "var":
            return self.assign_name(target.a, target.b, value, e.line)
        if target.kind == "dot":
            base = target.a
            if base.kind == "var" and base.a in self.sections and target.c is None:
                sec = self.section((base.a, base.b), e.line)
                self.set_section_var(sec, target.b, value, e.line)
                return value
            raise self.err(e.line, "assignment to an object member is not supported")
        raise self.err(e.line, "cannot assign to this")

    def dot(self, e):
        base, member, args, idx = e.a, e.b, e.c, e.d
        if base.kind == "var" and base.a in self.sections:
            sec = self.section((base.a, base.b), e.line)
            if args is None:
                return self.get_section_var(sec, member, e.line)
            self.stack.append(sec)
            try:
                return self.builtin_call(member, args, e.line)
            finally:
                self.stack.pop()
        obj = self.eval(base)
        if isinstance(obj, _SectionList):
            if member == "append" and args is not None and not args:
                sec = self.current(e.line, f"{base.a}.append()")
                if not any(s is sec for s in obj):
                    obj.append(sec)
                return 1.0
            raise self.err(e.line, f"SectionList.{member}: only append() is supported")
        raise self.err(e.line, f".{member}: object members are not supported")

    def call(self, e):
        name = e.a
        if name in self.procs:
            args = [self.eval(a) for a in e.b]
            for a in args:
                if not isinstance(a, (float, int)):
                    raise self.err(e.line, f"{name}(): only numeric arguments are supported")
            return self.call_proc(name, [float(a) for a in args], e.line)
        return self.builtin_call(name, e.b, e.line)

    def builtin_call(self, name, arg_nodes, line):
        if name in _MATH:
            args = [self.num(a) for a in arg_nodes]
            try:
                return float(_MATH[name](*args))
            except (TypeError, ValueError, OverflowError) as ex:
                raise self.err(line, f"{name}(): {ex}") from None
        if name == "pt3dclear":
            self.current(line, "pt3dclear()").pt3d.clear()
            return 0.0
        if name == "pt3dadd":
            args = [self.num(a) for a in arg_nodes]
            if len(args) != 4:
                raise self.err(line, "pt3dadd needs x, y, z, diam")
            if not all(math.isfinite(a) for a in args):
                raise self.err(line, "pt3dadd: non-finite value")
            # NEURON keeps 3-D points in single precision: so do we, for equal areas
            self.current(line, "pt3dadd()").pt3d.append(_single(args))
            return 0.0
        if name == "n3d":
            return float(len(self.current(line, "n3d()").pt3d))
        if name in ("x3d", "y3d", "z3d", "diam3d", "arc3d"):
            sec = self.current(line, f"{name}()")
            args = [self.num(a) for a in arg_nodes]
            if len(args) != 1:
                raise self.err(line, f"{name} takes one index")
            i = int(args[0])
            if not 0 <= i < len(sec.pt3d):
                raise self.err(line, f"{name}({i}): {sec.name} has {len(sec.pt3d)} points")
            if name == "arc3d":
                p = np.asarray(sec.pt3d)[: i + 1, :3]
                return float(np.sum(np.linalg.norm(np.diff(p, axis=0), axis=1)))
            return float(sec.pt3d[i][("x3d", "y3d", "z3d", "diam3d").index(name)])
        if name == "pt3dchange":
            sec = self.current(line, "pt3dchange()")
            args = [self.num(a) for a in arg_nodes]
            if len(args) != 5:
                raise self.err(line, "pt3dchange: only the (i, x, y, z, diam) form is "
                                     "supported")
            i = int(args[0])
            if not 0 <= i < len(sec.pt3d):
                raise self.err(line, f"pt3dchange({i}): {sec.name} has {len(sec.pt3d)} "
                                     "points")
            sec.pt3d[i] = _single(args[1:])
            return 0.0
        raise self.err(line, f"{name}() is not supported")


# ============================================================================ public API
@dataclass
class HocTemplate:
    """A template instantiated by the reader: its sections (creation order), named lists."""
    name: str
    path: str
    sections: list                  # HocSection, creation order
    section_lists: dict             # name -> [section name]


def _parse(path):
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise HocError(f"{path}: cannot read ({e.strerror})") from None
    parser = Parser(text, str(path))
    return parser, parser.parse_file()


def read_template(path, template=None, args=()):
    """Instantiate ``template`` (default: the file's only template) from hoc file ``path``,
    as ``h.<template>(*args)`` would; return a :class:`HocTemplate`."""
    parser, stmts = _parse(path)
    templates = {}
    for st in stmts:
        if st.kind == "template":
            templates[st.a] = st
        elif st.kind == "expr" and st.a.kind == "call" and st.a.a in ("load_file", "xopen") \
                and len(st.a.b) == 1 and st.a.b[0].kind == "str" \
                and Path(st.a.b[0].a).name in _STDLIB_FILES:
            continue                 # NEURON's own library files: nothing for the reader
        else:
            raise parser.err(st.line, "only templates (begintemplate ... endtemplate) and "
                                      "load_file of NEURON's library are read outside a "
                                      "template")
    if not templates:
        raise HocError(f"{path}: no template (begintemplate) in the file")
    if template is None:
        if len(templates) > 1:
            raise HocError(f"{path}: {len(templates)} templates ({', '.join(templates)}); "
                           "choose one with template=")
        template = next(iter(templates))
    if template not in templates:
        raise HocError(f"{path}: no template {template!r} (found {', '.join(templates)})")
    inst = TemplateInstance(parser, templates[template], args)
    lists = {name: [s.name for s in v] for name, v in inst.vars.items()
             if isinstance(v, _SectionList)}
    return HocTemplate(template, str(path), list(inst.created), lists)


_TYPE_WORDS = (("soma", 1), ("axon", 2), ("dend", 3), ("basal", 3), ("apic", 4))


def _section_type(sec, lists):
    low = sec.name.lower()
    for word, code in _TYPE_WORDS:
        if low.startswith(word):
            return code
    for lname, members in lists.items():
        if sec.name in members and lname.lower() not in ("all",):
            ll = lname.lower()
            for word, code in _TYPE_WORDS:
                if word in ll:
                    return code
    return 3


def to_morphology(tpl, section_type=None):
    """The :class:`Morphology` of an instantiated template and ``{hoc name: section id}``.

    Sections with 3-D points keep them as given; a section without gets a straight line of
    its ``L`` and ``diam`` from where it attaches (NEURON computes its areas from L and diam
    alone, which this reproduces).  Types come from the name (soma*, axon*, dend*, apic*),
    else from a SectionList whose name says (soma_group, axon_group, dendrite_group ...),
    else dend; ``section_type(name) -> code or name`` overrides."""
    from neurosim.description.morphology import Morphology, Section, _sonata_order, type_code
    secs = tpl.sections
    index = {id(s): k for k, s in enumerate(secs)}
    roots = [s.name for s in secs if s.parent is None]
    if len(roots) != 1:
        raise HocError(f"{tpl.path}: template {tpl.name} is {len(roots)} trees (root sections "
                       f"{', '.join(roots[:10])}); a cell must be one tree")
    for s in secs:
        if len(s.pt3d) == 1:
            raise HocError(f"{tpl.path}: section {s.name} has a single 3-D point")
    # parents before children, to lay out sections without 3-D points
    order, seen = [], set()

    def visit(s):
        if id(s) in seen:
            return
        if s.parent is not None:
            visit(s.parent)
        seen.add(id(s))
        order.append(s)

    for s in secs:
        visit(s)
    pts = {}
    for s in order:
        if s.pt3d:
            pts[id(s)] = np.asarray(s.pt3d, dtype=float)
            continue
        if s.parent is None:
            start = np.zeros(3)
        else:
            pp = pts[id(s.parent)][:, :3]
            arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pp, axis=0),
                                                                  axis=1))])
            start = np.array([np.interp(s.parent_x * arc[-1], arc, pp[:, j])
                              for j in range(3)])
        end = start + np.array([s.L, 0.0, 0.0])
        pts[id(s)] = np.array([[*start, s.diam], [*end, s.diam]])
    out = []
    for k, s in enumerate(secs):
        if section_type is not None:
            code = type_code(section_type(s.name))
        else:
            code = _section_type(s, tpl.section_lists)
        p = pts[id(s)]
        parent = -1 if s.parent is None else index[id(s.parent)]
        out.append(Section(k, code, p[:, :3], p[:, 3], parent,
                           s.parent_x if s.parent is not None else 1.0,
                           single_precision=bool(s.pt3d)))
    ordered = _sonata_order(out)
    # _sonata_order sorts by (type rank, creation order): rebuild the name map likewise
    rank = {1: 0, 2: 1, 3: 2, 4: 3}
    order_ids = sorted(range(len(out)), key=lambda i: (rank.get(out[i].type, 3 + out[i].type),
                                                       i))
    names = {secs[old].name: new for new, old in enumerate(order_ids)}
    try:
        morph = Morphology(ordered, source=f"{tpl.path} ({tpl.name})")
    except NeurosimError as e:
        raise HocError(str(e)) from None
    return morph, names


def read_hoc(path, template=None, args=(), v_init=-65.0, section_type=None):
    """A :class:`~neurosim.description.cell.Cell` from a hoc template, with ``cell.section_names``
    (hoc name -> section id) and ``cell.hoc`` (the :class:`HocTemplate`)."""
    from neurosim.description.cell import Cell
    from neurosim.description.discretization import NSeg
    tpl = read_template(path, template, args)
    morph, names = to_morphology(tpl, section_type)
    by_id = {names[s.name]: s for s in tpl.sections}
    n = len(morph)

    def groups(key):
        out = {}
        for i in range(n):
            out.setdefault(key(by_id[i]), []).append(i)
        return out

    cell = Cell(morph, cm=1.0, ra=35.4, v_init=v_init, discretization=NSeg(1))
    for value, ids in groups(lambda s: (s.cm, s.Ra)).items():
        if value != (1.0, 35.4):
            cell.paint(ids, cm=value[0], ra=value[1])
    for value, ids in groups(lambda s: s.v).items():
        if value is not None:
            cell.paint(ids, v_init=value)
    for value, ids in groups(lambda s: s.nseg).items():
        if value != 1:
            cell.set_discretization(NSeg(value), region=ids)
    def with_ions(sec):
        # a mechanism that keeps an ion variable as its own parameter (the built-in hh's ena
        # and ek) takes the section's value of that variable
        from neurosim import mechanisms
        out = []
        for mname, params in sec.mechanisms.items():
            params = dict(params)
            mech = mechanisms.get(mname)
            for pname in mech.parameters:
                if any(use.field(pname) for use in mech.ions):
                    continue
                m = _ION_VAR.match(pname)
                if m and pname not in params:
                    ion, which = (m.group(1), "e") if m.group(1) else \
                        (m.group(2), "ci" if m.group(3) == "i" else "co")
                    if which in sec.ions.get(ion, {}):
                        params[pname] = sec.ions[ion][which]
            out.append((mname, tuple(sorted(params.items()))))
        return tuple(out)

    for value, ids in groups(with_ions).items():
        for mech, params in value:
            cell.insert(mech, region=ids, **dict(params))
    for value, ids in groups(lambda s: tuple((ion, tuple(sorted(v.items())))
                                             for ion, v in s.ions.items())).items():
        for ion, vals in value:
            cell.set_ion(ion, region=ids, **dict(vals))
    cell.section_names = names
    cell.hoc = tpl
    return cell
