"""Evaluating hoc expressions inside a template instance: names, section variables,
assignments, calls of procs and of hoc's built-in functions."""

import math

import numpy as np

from .values import _MATH, _Opaque, _SectionList, _single


class Evaluation:
    """TemplateInstance's expressions (a part of TemplateInstance)."""

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
