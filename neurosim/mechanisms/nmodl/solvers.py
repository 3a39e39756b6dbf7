"""The NMODL compiler's SOLVE methods: cnexp, derivimplicit and sparse (Newton on the
implicit step), KINETIC systems with CONSERVE and COMPARTMENT, LINEAR and NONLINEAR blocks,
LONGITUDINAL_DIFFUSION; each as NEURON's nocmodl integrates it (a mixin of
:class:`.compiler._Compiler`)."""

from .forms import (_DECORATOR, _NEWTON_MAXIT, _NEWTON_TOL, _has_solve, _indent, _names_in,
                    _newton_loop, _substitute)
from .syntax import NmodlError
from .tree import (Call, Compartment, Conserve, Deriv, FluxIn, If, LinearEq, Local, LongDiffusion,
                   Reaction, Solve)


class _Solvers:

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
