"""NMODL source -> a small syntax tree (plain dataclasses carrying their file:line:column).

The grammar (``grammar.lark``) is parsed LALR(1) by lark; every error, from the parser or from
later stages, is an :class:`NmodlError` whose message starts with ``file:line:column``.
"""

import os
import re
from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ...errors import MechanismError
from .tree import (Assign, BinOp, Block, Call, CallStmt, Compartment, Conserve, Deriv, Element,
                   FluxIn, ForNetcons, From, If, LinearEq, Local, LongDiffusion, ModFile, Name,
                   NetInitial, Num, Reaction, Solve, Unary, Unsupported, While)
from .units import warn_unknown_units


class NmodlError(MechanismError):
    """A .mod file that neurosim cannot take, with ``file:line:column`` first."""

    def __init__(self, filename, pos, message):
        if pos and len(pos) == 3:          # a position in an INCLUDEd file names that file
            filename, pos = pos[2], pos[:2]
        self.filename, self.pos = filename, pos
        line, col = pos if pos else (0, 0)
        super().__init__(f"{filename}:{line}:{col}: {message}")


# Named units that nocmodl knows, as used in the wild: FARADAY = (faraday) (coulombs) etc.
UNIT_CONSTANTS = {
    "faraday": 96485.33212331001,        # C/mol (NEURON 9: 2019 SI values)
    "k-mole": 8.31446261815324,          # J/(mol K)
    "r": 8.31446261815324,
    "mole": 6.02214076e23,
    "e": 1.602176634e-19,
    "boltzmann": 1.380649e-23,
    "pi": 3.141592653589793,
}
_SCALE = {"coulombs": 1.0, "coulomb": 1.0, "coul": 1.0, "kilocoulombs": 1e-3, "joule/degc": 1.0,
          "joule/degk": 1.0, "millijoule/degc": 1e3, "1": 1.0}

_GRAMMAR = os.path.join(os.path.dirname(__file__), "grammar.lark")
_PARSER = None


def _parser():
    global _PARSER
    if _PARSER is None:
        with open(_GRAMMAR) as f:
            _PARSER = Lark(f.read(), parser="lalr", propagate_positions=True,
                           maybe_placeholders=True)
    return _PARSER


def _pos(item):
    if isinstance(item, Token):
        return (item.line, item.column)
    meta = getattr(item, "meta", None)
    if meta is not None and not meta.empty:
        return (meta.line, meta.column)
    return None


def _is(node, data):
    return isinstance(node, Tree) and node.data == data


def _num(tok):
    return float(str(tok))


@v_args(meta=True)
class _Build(Transformer):
    """lark tree -> the dataclasses above; declarations collected into a ModFile."""

    def __init__(self, filename):
        super().__init__()
        self.filename = filename

    # -- expressions
    def number(self, meta, c):
        return Num(_num(c[0]), (meta.line, meta.column))

    def signed_number(self, meta, c):
        return float(str(c[0]).replace(" ", "").replace("\t", ""))

    def name(self, meta, c):
        return Name(str(c[0]), (meta.line, meta.column))

    def call(self, meta, c):
        return Call(str(c[0]), tuple(a for a in c[1:] if a is not None), (meta.line, meta.column))

    def binop(self, meta, c):
        return BinOp(str(c[1]), c[0], c[2], (meta.line, meta.column))

    def compare(self, meta, c):
        return BinOp(str(c[1]), c[0], c[2], (meta.line, meta.column))

    def pow(self, meta, c):
        return BinOp("^", c[0], c[1], (meta.line, meta.column))

    def and_(self, meta, c):
        return BinOp("&&", c[0], c[1], (meta.line, meta.column))

    def or_(self, meta, c):
        return BinOp("||", c[0], c[1], (meta.line, meta.column))

    def neg(self, meta, c):
        return Unary("-", c[0], (meta.line, meta.column))

    def not_(self, meta, c):
        return Unary("!", c[0], (meta.line, meta.column))

    # -- statements
    def block(self, meta, c):
        return [s for s in c if s is not None]

    def local(self, meta, c):
        return Local([str(t) for t in c], (meta.line, meta.column))

    def element(self, meta, c):
        """x[k]: with a constant index, the element is a variable of its own, "x[k]"; else an
        Element that selects one at run time."""
        index = c[1]
        if isinstance(index, Num) and float(index.value).is_integer():
            return Name(f"{c[0]}[{int(index.value)}]", (meta.line, meta.column))
        return Element(str(c[0]), index, (meta.line, meta.column))

    def assign(self, meta, c):
        target = c[0]
        if isinstance(target, Unsupported):
            return target
        if isinstance(target, Element):
            return Assign(target.base, c[1], (meta.line, meta.column), index=target.index)
        name = target.id if isinstance(target, Name) else str(target)
        return Assign(name, c[1], (meta.line, meta.column))

    def deriv_assign(self, meta, c):
        name = str(c[0]).rstrip("'")
        if str(c[0]).count("'") > 1:
            return Unsupported("higher-order derivative", (meta.line, meta.column))
        if c[1] is not None:                       # s'[k] = ...: nocmodl's C++ fails on it
            return Unsupported(f"derivative of an array STATE element {name}'[...] (NEURON "
                               "does not translate it correctly either)",
                               (meta.line, meta.column))
        return Deriv(name, c[2], (meta.line, meta.column))

    def call_stmt(self, meta, c):
        call = Call(str(c[0]), tuple(a for a in c[1:] if a is not None), (meta.line, meta.column))
        return CallStmt(call, call.pos)

    def if_stmt(self, meta, c):
        cond, body = c[1], c[2]
        orelse = c[4] if len(c) > 4 and c[4] is not None else []
        if isinstance(orelse, If):
            orelse = [orelse]
        return If(cond, body, orelse, (meta.line, meta.column))

    def while_stmt(self, meta, c):
        return While(c[1], c[2], (meta.line, meta.column))

    def from_stmt(self, meta, c):
        return From(str(c[0]), c[1], c[2], c[3], c[4], (meta.line, meta.column))

    def solve(self, meta, c):
        return Solve(str(c[0]), str(c[1]) if c[1] else "", str(c[2]) if c[2] else "",
                     (meta.line, meta.column))

    def reactants(self, meta, c):
        return list(c)

    def reactant(self, meta, c):
        name = str(c[1])
        if c[2] is not None:                     # an array element X[k]
            element = self.element(meta, [name, c[2]])
            # X[i] in a FROM loop: an Element, until the compiler unrolls the loop
            name = element if isinstance(element, Element) else element.id
        return (int(str(c[0])) if c[0] is not None else 1, name)

    def reaction(self, meta, c):
        bad = [r for r in c[0] + c[2] if isinstance(r, Unsupported)]
        if bad:
            return bad[0]
        return Reaction(c[0], c[2], c[3], c[4], (meta.line, meta.column))

    def flux_in(self, meta, c):
        bad = [r for r in c[0] if isinstance(r, Unsupported)]
        if bad:
            return bad[0]
        return FluxIn([s for _, s in c[0]], c[1], (meta.line, meta.column))

    def linear_eq(self, meta, c):
        return LinearEq(c[0], c[1], (meta.line, meta.column))

    def conserve(self, meta, c):
        return Conserve(c[0], c[1], (meta.line, meta.column))

    def compartment(self, meta, c):
        names = [str(t) for t in c[2:]]
        index = str(c[0]) if c[0] is not None else None
        return Compartment(c[1], names, (meta.line, meta.column), index)

    def table(self, meta, c):
        return None          # TABLE only caches what the code computes: computing is exact

    def unitsonoff(self, meta, c):
        return None

    def for_netcons(self, meta, c):
        args = [a for a in c[:-1] if a is not None]
        return ForNetcons(args, c[-1], (meta.line, meta.column))

    def net_initial(self, meta, c):
        return NetInitial(c[0], (meta.line, meta.column))

    def protect(self, meta, c):
        return c[0]          # PROTECT x = ...: one thread at fixed step, so the assignment

    def mutex(self, meta, c):
        return None

    def longitudinal_diffusion(self, meta, c):
        index = str(c[0]) if c[0] is not None else None
        return LongDiffusion(c[1], [str(t) for t in c[2:]], (meta.line, meta.column), index)

    def lag(self, meta, c):
        return Unsupported("LAG", (meta.line, meta.column))

    def verbatim(self, meta, c):
        return Unsupported("VERBATIM", (meta.line, meta.column))

    def arg(self, meta, c):
        return str(c[0])


# Limits that keep every later stage (lark's recursive transformer, the compiler, Python's own
# parser of the generated code, which allows 200 nested parentheses) well inside its stack:
# past them a file is refused at once rather than failing deep inside after minutes.
MAX_SOURCE_BYTES = 1_000_000
MAX_NESTING = 150          # levels of the syntax tree: blocks, statements, operators


def parse(text, filename="<string>"):
    """Parse NMODL ``text`` into a :class:`ModFile`."""
    if len(text) > MAX_SOURCE_BYTES:
        raise NmodlError(filename, (1, 1), f"file of {len(text)} characters: neurosim reads "
                                           f".mod files up to {MAX_SOURCE_BYTES} characters")
    try:
        tree = _parser().parse(text)
    except UnexpectedToken as e:
        tok = e.token
        what = "end of file" if tok.type == "$END" else repr(str(tok))
        raise NmodlError(filename, (e.line, e.column),
                         f"syntax error: unexpected {what}") from None
    except UnexpectedCharacters as e:
        if e.char == "_":
            raise _leading_underscore(text, filename, e) from None
        raise NmodlError(filename, (e.line, e.column),
                         f"syntax error: unexpected character {e.char!r}") from None
    except UnexpectedInput as e:
        raise NmodlError(filename, (getattr(e, "line", 0), getattr(e, "column", 0)),
                         "syntax error") from None
    except LarkError as e:   # any other failure of the parser is still a clean error
        raise NmodlError(filename, (0, 0), f"syntax error: {e}") from None
    _check_nesting(tree, filename)
    return _collect(tree, filename)


def _leading_underscore(text, filename, err):
    """A name such as ``_g``: NMODL names begin with a letter (nocmodl refuses ``_g`` as a
    syntax error too); neurosim's generated code keeps names with ``_`` for itself."""
    word = re.match(r"\w*", text[err.pos_in_stream:]).group(0)
    return NmodlError(filename, (err.line, err.column),
                      f"name {word!r} begins with '_': NMODL names begin with a letter "
                      "(NEURON refuses it too)")


_EXPRESSION_NODES = {"binop", "compare", "pow", "and_", "or_", "neg", "not_", "call",
                     "name", "number"}


def _check_nesting(tree, filename):
    """Refuse a syntax tree deeper than MAX_NESTING (walked without recursion): a sum of
    thousands of terms is that deep, one level per operator.  The error names where the
    outermost expression of the too deep part begins."""
    stack = [(tree, 0, None)]
    while stack:
        node, depth, outer = stack.pop()
        if outer is None and node.data in _EXPRESSION_NODES:
            outer = _pos(node)
        if depth > MAX_NESTING:
            raise NmodlError(filename, outer or _pos(node) or (0, 0),
                             f"expression or block nested deeper than {MAX_NESTING} levels "
                             "(neurosim's limit; a sum counts one level per operator): "
                             "split it with LOCAL variables")
        stack.extend((c, depth + 1, outer) for c in node.children if isinstance(c, Tree))


def _collect(tree, filename):
    mod = ModFile(filename)
    build = _Build(filename)
    for item in tree.children:
        kind = item.data
        pos = _pos(item)
        if kind == "title":
            mod.title = str(item.children[0])[5:].strip()
        elif kind == "neuron_block":
            _neuron_block(mod, item)
        elif kind in _DECLARATIONS:
            _DECLARATIONS[kind](mod, item, build, filename)
        elif kind == "top_local":
            for t in item.children:
                mod.top_locals[str(t)] = _pos(t)
        elif kind == "define":
            mod.constants[str(item.children[0])] = (float(str(item.children[1])), pos)
        elif kind in _BLOCKS:
            mod.blocks.append(_BLOCKS[kind](kind, item, build, pos))
        elif kind == "verbatim":
            mod.unsupported.append(Unsupported("VERBATIM", pos))
        elif kind == "unsupported_block":
            mod.unsupported.append(Unsupported(str(item.children[0]), pos))
        elif kind == "function_table":
            _function_table(mod, item, filename, pos)
        elif kind == "include":
            _merge(mod, _include(filename, str(item.children[0])[1:-1], pos))
        elif kind in ("independent_block", "unitsonoff"):
            pass
    _check_units(tree, filename)
    return mod


def _units_block(mod, item, build, filename):
    for u in item.children:
        if u.data == "unit_constant":
            name, u1, u2 = u.children
            mod.unit_constants[str(name)] = _unit_constant(filename, u1, u2)
        elif u.data == "unit_number":
            mod.unit_constants[str(u.children[0])] = build.transform(u.children[1])


def _values_block(mod, item, build, filename):
    """PARAMETER or CONSTANT: name -> (value or None, position); parameters keep units."""
    parameters = item.data == "parameter_block"
    target = mod.parameters if parameters else mod.constants
    for d in item.children:
        if d.data == "array_decl":
            for name in _elements(mod, d):
                target[name] = (None, _pos(d))
            continue
        value = d.children[1]
        target[str(d.children[0])] = (None if value is None else build.transform(value),
                                      _pos(d))
        units = [str(t) for t in d.children if isinstance(t, Token) and t.type == "UNIT"]
        if units and parameters:
            mod.parameter_units[str(d.children[0])] = units[0].strip("() \t")


def _names_block(mod, item, build, filename):
    """ASSIGNED or STATE: name -> position (arrays by element)."""
    target = mod.assigned if item.data == "assigned_block" else mod.states
    for d in item.children:
        if d.data == "array_decl":
            target.update((n, _pos(d)) for n in _elements(mod, d))
            continue
        target[str(d.children[0])] = _pos(d)


_DECLARATIONS = {"units_block": _units_block, "parameter_block": _values_block,
                 "constant_block": _values_block, "assigned_block": _names_block,
                 "state_block": _names_block}


def _plain_block(kind, item, build, pos):
    """INITIAL, BREAKPOINT: one body."""
    return Block(kind.split("_")[0].upper(), "", [], build.transform(item.children[0]), pos)


def _named_block(kind, item, build, pos):
    """DERIVATIVE, KINETIC, LINEAR, NONLINEAR: a name and statements."""
    body = [build.transform(s) for s in item.children[1:]]
    if kind in ("derivative_block", "kinetic_block"):
        body = body[0]
    body = [s for s in body if s is not None]
    return Block(kind.split("_")[0].upper(), str(item.children[0]), [], body, pos)


def _callable_block(kind, item, build, pos):
    """PROCEDURE, FUNCTION: a name, arguments and a body."""
    args = [build.transform(a) for a in item.children[1:-1] if _is(a, "arg")]
    return Block(kind.split("_")[0].upper(), str(item.children[0]), args,
                 build.transform(item.children[-1]), pos)


def _net_receive_block(kind, item, build, pos):
    args = [build.transform(a) for a in item.children[:-1] if _is(a, "arg")]
    return Block("NET_RECEIVE", "", args, build.transform(item.children[-1]), pos)


def _constructor_block(kind, item, build, pos):
    """CONSTRUCTOR, DESTRUCTOR."""
    return Block(str(item.children[0]), "", [], build.transform(item.children[1]), pos)


def _ba_block(kind, item, build, pos):
    """BEFORE/AFTER BREAKPOINT, SOLVE, ...: the block's name is its two words."""
    return Block(f"{item.children[0]} {item.children[1]}", "", [],
                 build.transform(item.children[2]), pos)


_BLOCKS = {"initial_block": _plain_block, "breakpoint_block": _plain_block,
           "derivative_block": _named_block, "kinetic_block": _named_block,
           "linear_block": _named_block, "nonlinear_block": _named_block,
           "procedure_block": _callable_block, "function_block": _callable_block,
           "net_receive_block": _net_receive_block, "constructor_block": _constructor_block,
           "ba_block": _ba_block}


def _function_table(mod, item, filename, pos):
    """FUNCTION_TABLE f(v, x): its arguments, "(v, x)" when lexed as a unit."""
    args = [c for c in item.children[1:] if isinstance(c, Tree)]   # f(v (mV), x)
    first = item.children[1]
    if not args and isinstance(first, Token) and first.type == "UNIT":
        args = [n for n in str(first).strip("()").split(",") if n.strip()]
    if not args:
        raise NmodlError(filename, pos, f"FUNCTION_TABLE {item.children[0]} needs arguments")
    mod.function_tables[str(item.children[0])] = (len(args), pos)


def _elements(mod, decl):
    """x[n] declares the variables "x[0]" ... "x[n-1]" (the size an integer or a DEFINE)."""
    name, size = str(decl.children[0]), decl.children[1]
    if size.type == "INT":
        n = int(str(size))
    elif str(size) in mod.constants:
        n = int(mod.constants[str(size)][0])
    else:
        raise NmodlError(mod.filename, _pos(decl), f"array {name}[{size}]: {size} is not a "
                                                   "DEFINEd size")
    mod.arrays[name] = n
    return [f"{name}[{k}]" for k in range(n)]


def _include(filename, name, pos):
    """INCLUDE "name": the file read relative to the including file's folder (as nocmodl
    does; then $MODL_INCLUDE's folders), parsed on its own so its errors name it."""
    folders = [os.path.dirname(os.path.abspath(filename))]
    folders += [d for d in os.environ.get("MODL_INCLUDE", "").split(os.pathsep) if d]
    for folder in folders:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path) as f:
                return parse(f.read(), path)
    raise NmodlError(filename, pos, f"INCLUDE {name!r}: no such file in {folders[0]}"
                                    + (" or $MODL_INCLUDE" if len(folders) > 1 else ""))


def _merge(mod, inc):
    """Declarations and blocks of an included file into ``mod``; their positions keep the
    included file's name (a 3-tuple (line, column, file)) for later messages."""
    _tag_positions(inc, inc.filename)
    for name in ("ions", "nonspecific", "electrode_current", "range", "globals", "blocks",
                 "pointers", "unsupported", "externals", "randoms"):
        getattr(mod, name).extend(getattr(inc, name))
    for name in ("unit_constants", "parameters", "parameter_units", "constants", "assigned",
                 "states", "top_locals", "pos", "arrays", "function_tables"):
        getattr(mod, name).update(getattr(inc, name))
    if inc.kind:
        mod.kind, mod.name = inc.kind, inc.name
    mod.title = mod.title or inc.title


def _tag_positions(obj, filename):
    """Every (line, column) position under ``obj`` becomes (line, column, filename)."""
    stack, seen = [obj], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in list(node.items()):
                if _is_pos(value):
                    node[key] = (*value[:2], filename)
                elif isinstance(value, tuple) and value and _is_pos(value[-1]):
                    node[key] = (*value[:-1], (*value[-1][:2], filename))   # (value, pos)
                else:
                    stack.append(value)
        elif hasattr(node, "__dataclass_fields__"):
            for key in node.__dataclass_fields__:
                value = getattr(node, key)
                if key == "pos" and _is_pos(value):
                    object.__setattr__(node, key, (*value[:2], filename))
                else:
                    stack.append(value)


def fill_element_sizes(mod):
    """Each Element's ``size`` from the arrays the file (with its INCLUDEs) declares; an
    Element of a name that is not an array is refused where it stands."""
    stack, seen = [mod.blocks], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, (list, tuple)):
            stack.extend(node)
        elif hasattr(node, "__dataclass_fields__"):
            if isinstance(node, Element) or isinstance(node, Assign) and node.index is not None:
                base = node.base if isinstance(node, Element) else node.name
                if base not in mod.arrays:
                    raise NmodlError(mod.filename, node.pos, f"{base}[...]: {base} is not an "
                                                             "array")
                if isinstance(node, Element):
                    node.size = mod.arrays[base]
            stack.extend(getattr(node, key) for key in node.__dataclass_fields__)


def _is_pos(value):
    return isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int)
                                                                for v in value)


def _check_units(tree, filename):
    """Warn of every unit neither NEURON's table nor the UNITS block defines."""
    defined, aliases = set(), set()
    for alias in tree.find_data("unit_alias"):
        lhs = alias.children[0]
        aliases.add(id(lhs))
        defined.add(str(lhs).strip("() \t"))
    for table in tree.find_data("function_table"):    # FUNCTION_TABLE f(v): (v) lexed as a unit
        if isinstance(table.children[1], Token) and table.children[1].type == "UNIT":
            aliases.add(id(table.children[1]))
    units = [(str(t), (t.line, t.column)) for t in
             tree.scan_values(lambda v: isinstance(v, Token) and v.type == "UNIT")
             if id(t) not in aliases]
    warn_unknown_units(units, defined, filename)


def _unit_constant(filename, u1, u2):
    name = str(u1).strip("() \t").lower()
    scale = str(u2).strip("() \t").lower()
    if name not in UNIT_CONSTANTS:
        raise NmodlError(filename, _pos(u1), f"unknown physical constant unit {str(u1)}")
    return UNIT_CONSTANTS[name] * _SCALE.get(scale, 1.0)


def _neuron_block(mod, item):
    for st in item.children:
        kind = st.data
        names = [str(t) for t in st.children if isinstance(t, Token) and t.type == "NAME"]
        pos = _pos(st)
        if kind == "suffix":
            mod.kind, mod.name = str(st.children[0]), str(st.children[1])
            mod.pos["name"] = pos
        elif kind == "useion":
            ion = str(st.children[0])
            reads = [str(t) for t in st.children[1].children] if st.children[1] else []
            writes = [str(t) for t in st.children[2].children] if st.children[2] else []
            valence = None
            if st.children[3] is not None:
                valence = _Build(mod.filename).transform(st.children[3].children[0])
            mod.ions.append((ion, reads, writes, valence, pos))
        elif kind == "nonspecific":
            mod.nonspecific += names
        elif kind == "electrode_current":
            mod.electrode_current += names
        elif kind == "range_":
            mod.range += names
        elif kind == "global_":
            mod.globals += names
        elif kind == "pointer":
            mod.pointers += names
            mod.pos.update({f"pointer {n}": pos for n in names})
        elif kind == "external":
            mod.externals += names
            mod.pos.update({f"external {n}": pos for n in names})
        elif kind == "random_":
            mod.randoms += names
            mod.pos.update({f"random {n}": pos for n in names})
        elif kind == "bbcorepointer":
            mod.unsupported.append(Unsupported("BBCOREPOINTER", pos))
        elif kind == "verbatim":
            mod.unsupported.append(Unsupported("VERBATIM", pos))
