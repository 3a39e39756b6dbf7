"""hoc's tokens and syntax tree: the Parser reads a file into Nodes."""

import re
from dataclasses import dataclass

from neurosim.errors import NeurosimError


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
# the statements a keyword begins: the Parser's method that reads the rest
_WORD_STATEMENTS = {
    "begintemplate": "_template",
    **dict.fromkeys(("proc", "func", "obfunc", "iterator"), "_procdef"),
    **dict.fromkeys(("public", "external", "objref", "objectvar", "local", "localobj",
                     "strdef", "create", "double"), "_declaration"),
    "connect": "_connect", "insert": "_insert", "uninsert": "_insert", "if": "_if",
    "while": "_while", "for": "_for", "forsec": "_forsec", "forall": "_forall",
    "return": "_return", "break": "_jump", "continue": "_jump",
}


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
            handler = _WORD_STATEMENTS.get(w)
            if handler is not None:
                self.next()
                return getattr(self, handler)(w, line)
            if w == "else":
                raise self.err(line, "'else' without 'if'")
            if w in self.sections and self.peek().kind not in (".", "=", "+=", "-=", "*=",
                                                                 "/="):
                node = self._section_statement(w, line)
                if node is not None:
                    return node
            if w in _STATEMENT_WORDS:
                raise self.err(line, f"unsupported statement '{w}'")
        if t.kind == "eof":
            raise self.err(line, "unexpected end of file")
        e = self.expr()
        return Node("expr", line, e)

    def _template(self, w, line):
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

    def _procdef(self, w, line):
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

    def _declaration(self, w, line):
        return Node("decl" if w != "create" else "create", line, w, self.names())

    def _connect(self, w, line):
        return self.connect(line, None)

    def _insert(self, w, line):
        return Node(w, line, self.expect("name", "a mechanism name").value)

    def _condition(self):
        self.expect("(", "(")
        cond = self.expr()
        self.expect(")", ")")
        return cond

    def _if(self, w, line):
        cond = self._condition()
        then = self.body()
        save = self.i
        self.skip_nl()
        if self.is_word("else"):
            self.next()
            return Node("if", line, cond, then, self.body())
        self.i = save
        return Node("if", line, cond, then, None)

    def _while(self, w, line):
        cond = self._condition()
        return Node("while", line, cond, self.body())

    def _for(self, w, line):
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

    def _forsec(self, w, line):
        target = self.tok
        if target.kind == "str":
            self.next()
            return Node("forsec", line, ("regex", target.value), self.body())
        target = self.expect("name", "a SectionList")
        return Node("forsec", line, ("list", target.value), self.body())

    def _forall(self, w, line):
        return Node("forall", line, None, self.body())

    def _return(self, w, line):
        val = None
        if self.tok.kind not in ("nl", ";", "}", "eof"):
            val = self.expr()
        return Node("return", line, val)

    def _jump(self, w, line):
        return Node(w, line)

    def _section_statement(self, w, line):
        """`sec stmt`, `sec { ... }`, `sec[i] stmt`, `sec connect ...`; None (nothing
        consumed) where the name begins an expression: sec[i].prop or sec(x)."""
        save = self.i
        self.next()
        idx = None
        if self.accept("["):
            idx = self.expr()
            self.expect("]", "]")
        if self.tok.kind == "." or self.tok.kind == "(":
            self.i = save
            return None
        if self.is_word("connect"):
            self.next()
            return self.connect(line, (w, idx))
        return Node("secstmt", line, (w, idx), self.body())

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
