"""FROM loops of reactions in a KINETIC block (``FROM i=0 TO N-2 { ~ X[i] <-> X[i+1] }``),
unrolled: the reactions of every i, each with constant array elements, as the equations of
one system (nocmodl writes the loop out the same way).  A loop whose bounds are not
constants, or holding other statements, is kept: its reactions are refused by name."""

from .forms import _substitute
from .tree import Assign, BinOp, Element, FluxIn, From, Name, Num, Reaction, Unary


def unrolled(body, constants):
    """``body`` with its loops of reactions unrolled; ``constants``: DEFINE and CONSTANT
    names -> (value, position)."""
    out = []
    for s in body:
        if isinstance(s, From) and _kinetic_only(s.body):
            bounds = [_constant(e, constants) for e in (s.start, s.stop, s.step or Num(1.0))]
            if None not in bounds and bounds[2] != 0:
                for k in range(int(bounds[0]), int(bounds[1]) + 1, int(bounds[2])):
                    out += unrolled([_at(t, s.var, k, constants) for t in s.body], constants)
                continue
        out.append(s)
    return out


def reactant_error(st):
    """A reactant left with a computed index (outside an unrollable loop), or None."""
    if isinstance(st, Element):
        return (f"reaction of an array element {st.base}[...] with an index that is not a "
                "constant (outside a FROM loop of constant bounds)")
    return None


def _kinetic_only(body):
    return any(isinstance(t, (Reaction, FluxIn)) for t in body) and \
        all(isinstance(t, (Reaction, FluxIn, From)) or
            (isinstance(t, Assign) and t.index is None) for t in body)


def _constant(e, constants):
    """The number an expression of numbers and constants is, else None."""
    if isinstance(e, Num):
        return float(e.value)
    if isinstance(e, Name) and e.id in constants:
        return float(constants[e.id][0])
    if isinstance(e, Unary) and e.op == "-":
        v = _constant(e.operand, constants)
        return None if v is None else -v
    if isinstance(e, BinOp) and e.op in ("+", "-", "*"):
        a, b = _constant(e.left, constants), _constant(e.right, constants)
        if a is None or b is None:
            return None
        return a + b if e.op == "+" else a - b if e.op == "-" else a * b
    return None


def _at(s, var, k, constants):
    """Statement ``s`` with loop variable ``var`` = k."""
    if isinstance(s, Reaction):
        return Reaction([(n, _element(st, var, k, constants)) for n, st in s.lhs],
                        [(n, _element(st, var, k, constants)) for n, st in s.rhs],
                        _substitute(s.kf, var, k), _substitute(s.kb, var, k), s.pos)
    if isinstance(s, FluxIn):
        return FluxIn([_element(st, var, k, constants) for st in s.states],
                      _substitute(s.expr, var, k), s.pos)
    if isinstance(s, Assign):
        return Assign(s.name, _substitute(s.expr, var, k), s.pos, s.index)
    if isinstance(s, From):
        return From(s.var, _substitute(s.start, var, k), _substitute(s.stop, var, k),
                    None if s.step is None else _substitute(s.step, var, k),
                    [_at(t, var, k, constants) for t in s.body], s.pos)
    return s


def _element(st, var, k, constants):
    """A reactant X[i + 1] at i = k: the element "X[k+1]" (X[...] kept if not constant)."""
    if not isinstance(st, Element):
        return st
    index = _constant(_substitute(st.index, var, k), constants)
    if index is None or not index.is_integer():
        return Element(st.base, _substitute(st.index, var, k), st.pos, st.size)
    return f"{st.base}[{int(index)}]"
