"""The Python front-end: a channel in a few readable lines, equations as strings.

    kdr = ns.Mechanism.define(
        "kdr",
        parameters={"gbar": 0.036},
        ions={"k": {"read": ["ek"], "write": ["ik"]}},
        rates='''
            alpha = 0.01 * (v + 55) / (1 - exp(-(v + 55) / 10))
            beta = 0.125 * exp(-(v + 65) / 80)
            ninf = alpha / (alpha + beta)
            ntau = 1 / (alpha + beta)
        ''',
        states={"n": "(ninf - n) / ntau"},
        currents={"ik": "gbar * n^4 * (v - ek)"},
    )

The description is written out as NMODL and compiled by the same compiler as ``.mod`` files:
one intermediate representation, one code generator.  Expressions and ``rates`` statements use
NMODL's expression syntax (``^`` for powers, ``exp``, ``log``, ``fabs``, ``if (...) {...}``).
Variables that ``rates`` assigns become ASSIGNED; states start at their value given in
``initial`` (by default: each state's steady state, found from its equation as x' = 0 when it
is linear in x).
"""

import re
import textwrap

from .nmodl.compiler import compile_text

_ASSIGN = re.compile(r"^\s*([A-Za-z_]\w*)\s*=(?!=)", re.M)


def define(name, *, parameters=None, states=None, currents=None, rates="", ions=None,
           initial=None, method="cnexp", point_process=False, functions=None):
    """Build a Mechanism from equations (see the module docstring)."""
    return compile_text(to_nmodl(name, parameters=parameters, states=states, currents=currents,
                                 rates=rates, ions=ions, initial=initial, method=method,
                                 point_process=point_process, functions=functions),
                        f"<Mechanism.define {name}>")


def to_nmodl(name, *, parameters=None, states=None, currents=None, rates="", ions=None,
             initial=None, method="cnexp", point_process=False, functions=None):
    """The NMODL text that :func:`define` compiles."""
    parameters = dict(parameters or {})
    states = dict(states or {})
    currents = dict(currents or {})
    ions = dict(ions or {})
    functions = dict(functions or {})
    rates = textwrap.dedent(rates).strip()
    ion_currents = {f"i{ion}" for ion in ions}
    nonspecific = [c for c in currents if c not in ion_currents]
    assigned = [v for v in dict.fromkeys(_ASSIGN.findall(rates))
                if v not in parameters and v not in states]
    lines = ["NEURON {", f"    {'POINT_PROCESS' if point_process else 'SUFFIX'} {name}"]
    for ion, use in ions.items():
        read = " READ " + ", ".join(use.get("read", [])) if use.get("read") else ""
        write = " WRITE " + ", ".join(use.get("write", [])) if use.get("write") else ""
        valence = f" VALENCE {use['valence']}" if "valence" in use else ""
        lines.append(f"    USEION {ion}{read}{write}{valence}")
    if nonspecific:
        lines.append(f"    NONSPECIFIC_CURRENT {', '.join(nonspecific)}")
    if parameters:
        lines.append(f"    RANGE {', '.join(parameters)}")
    lines.append("}")
    lines += ["PARAMETER {"] + [f"    {p} = {float(v)!r}" for p, v in parameters.items()] + ["}"]
    declared = assigned + nonspecific
    if declared:
        lines += ["ASSIGNED {"] + [f"    {a}" for a in declared] + ["}"]
    if states:
        lines += ["STATE {"] + [f"    {s}" for s in states] + ["}"]
    bp = ["BREAKPOINT {"]
    if states:
        bp.append(f"    SOLVE states METHOD {method}")
    bp += [f"    {c} = {expr}" for c, expr in currents.items()] + ["}"]
    lines += bp
    call = "    rates()" if rates else ""
    if states:
        lines += ["DERIVATIVE states {", call] + \
                 [f"    {s}' = {expr}" for s, expr in states.items()] + ["}"]
    init = ["INITIAL {", call]
    for s, expr in states.items():
        if initial and s in initial:
            init.append(f"    {s} = {initial[s]}")
        else:
            # steady state of x' = f(x) = a + b x: x = -a/b with a = f(0), b = f(1) - f(0)
            init += [f"    {s} = 0", f"    ss_a = {expr}", f"    {s} = 1",
                     f"    {s} = -ss_a / (({expr}) - ss_a)"]
    init.append("}")
    if any(not (initial and s in initial) for s in states):
        init.insert(1, "    LOCAL ss_a")
    lines += init
    if rates:
        lines += ["PROCEDURE rates() {"] + \
                 ["    " + line for line in rates.splitlines()] + ["}"]
    for signature, body in functions.items():
        fname = signature.split("(")[0].strip()
        lines += [f"FUNCTION {signature} {{",
                  "    " + (body if "=" in body else f"{fname} = {body}"), "}"]
    return "\n".join(line for line in lines if line.strip()) + "\n"
