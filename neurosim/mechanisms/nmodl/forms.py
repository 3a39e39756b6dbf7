"""The NMODL compiler's shared forms: the names NMODL gives special meaning (SPECIAL, MATH,
RANDOM_...), the Python templates of the helpers it emits (GHK, array elements,
FUNCTION_TABLEs) and small functions over the syntax tree (substitution, reactions, calls,
names read) used by :mod:`.compiler`, its mixins and :mod:`.unroll`."""

import builtins
import keyword
import re

from ..base import KERNEL_NAMES
from .tree import (Assign, BinOp, Call, CallStmt, Compartment, Conserve, Deriv, Element, FluxIn,
                   From, If, LinearEq, LongDiffusion, Name, Num, Reaction, Solve, Unary, While)

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

# a conductance (or conductance density): a negative one is refused when it is set
_CONDUCTANCE = re.compile(r"^\s*[munp]?(S|mho|siemens)\s*(/\s*(cm2|um2|cm\^?2|um\^?2))?\s*$")


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
