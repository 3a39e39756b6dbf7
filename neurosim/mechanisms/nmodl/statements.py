"""The NMODL compiler's statements: assignments, IF/WHILE/FROM, LOCALs, procedure calls and
the events of NET_RECEIVE, as Python lines; FUNCTIONs and PROCEDUREs as helpers (a mixin of
:class:`.compiler._Compiler`)."""

from .forms import _DECORATOR, RANDOM_SETS, _indent
from .syntax import NmodlError
from .tree import (Assign, CallStmt, Compartment, Conserve, Deriv, FluxIn, ForNetcons, From, If,
                   LinearEq, Local, LongDiffusion, NetInitial, Reaction, Solve, Unsupported,
                   While)


class _Statements:

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
