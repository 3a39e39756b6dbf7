"""Code generation: one step kernel for the set of mechanisms a model uses.

The kernel source is plain Python, readable with :func:`kernel_source`, compiled by Numba and
cached on disk under a name made of the hash of everything that shapes it (the source, the
mechanisms' helper modules, the solver, the Numba version), so a second process loads the
compiled machine code instead of compiling again.  The cache lives in ``$NEUROSIM_CACHE_DIR``
(default ``~/.cache/neurosim``).

One call of ``advance`` runs many steps; within a step the sequence is NEURON's fixed step:
currents at v(t) (stimuli at t + dt/2) -> implicit cable solve for v(t+dt) -> states advanced
with v(t+dt) -> probes sampled.  No Python runs inside a call.
"""

import contextlib
import hashlib
import importlib.util
import inspect
import os
import re
import sys
import textwrap

import numba

from neurosim.kernels import epochs, event_order, fastmath, solver, threads
from neurosim.kernels.cpu_template import HELPERS_HEADER, KERNEL_TEMPLATE
from neurosim.kernels.interface import init_args, ions_of, run_args
from neurosim.lowering import diffusion, drive
from neurosim.mechanisms import linalg, random123

_RESERVED = {"v", "dt", "celsius", "math", "np"}   # i, g: outputs of `current`
# small work arrays in mechanism helpers: np.empty on the CPU, cuda.local.array on the GPU
LOCAL_ARRAY_CPU = re.compile(r"LOCAL_ARRAY\((\(?[0-9, ]+\)?)\)")


_PRIVATE = []          # the private folder used when the configured one is unsafe


@contextlib.contextmanager
def deep_recursion(limit=30_000):
    """Numba's SSA pass recurses once per basic block along a path of the kernel, so a
    kernel with many mechanisms (the NMODL use cases: about 60) passes Python's default
    limit of 1000 while it compiles; raised for the call that compiles it."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def cache_dir():
    """The kernel cache folder, ``$NEUROSIM_CACHE_DIR/kernels`` (default
    ``~/.cache/neurosim/kernels``), made private to the user.  A folder another user owns
    or can write to is not used: code planted there would run, so the kernels go to a
    private temporary folder instead (said once)."""
    d = os.environ.get("NEUROSIM_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "neurosim")
    path = os.path.join(d, "kernels")
    os.makedirs(path, mode=0o700, exist_ok=True)
    unsafe = _unsafe(path)
    if unsafe is None:
        return path
    if not _PRIVATE:
        import tempfile
        import warnings
        _PRIVATE.append(tempfile.mkdtemp(prefix="neurosim-kernels-"))
        warnings.warn(f"kernel cache {path}: {unsafe}; not used (kernels compiled into "
                      f"{_PRIVATE[0]} for this process)", stacklevel=2)
    return _PRIVATE[0]


def _unsafe(path):
    """Why ``path`` is not safe to import code from (None if it is)."""
    info = os.stat(path)
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"owned by uid {info.st_uid}, not by this user ({os.getuid()})"
    if info.st_mode & 0o022:
        return f"writable by others (mode {oct(info.st_mode & 0o777)})"
    return None


def _add(target, array, index, value):
    """``array[index] += value``; on the GPU atomically (point processes share nodes)."""
    if target == "cuda":
        return f"cuda.atomic.add({array}, {index}, {value})"
    return f"{array}[{index}] += {value}"


def _pointer_ref(j, mech, r, names):
    """The element POINTER r of mechanism j's instance ``_k`` points at: a node's voltage,
    or a row of the mechanism table (named in ``mech.pointer_targets``) it points into."""
    index = f"_m{j}_ptr[{r}, _k]"
    spec = mech.pointer_targets[r] if mech.pointer_targets else None
    if spec is None:
        return f"_v[{index}]"
    if names is None:
        raise ValueError(f"mechanism {mech.name!r}: POINTER {mech.pointers[r]} points at a "
                         f"variable of {spec[0]}: supported on the CPU backend only")
    return f"_m{names.index(spec[0])}_{spec[1]}[{spec[2]}, {index}]"


def _load_store(j, mech, phase, target, names=None):
    """Lines that load a mechanism instance's variables into locals, and store them back;
    ``names``: the kernel's mechanisms in table order (where POINTERs point)."""
    phase = "receive" if phase in ("self_event", "connection_init") else phase
    p = f"_m{j}"
    name = mech.code_name
    shared = target if mech.kind == "point" else "cpu"    # density: one instance per node
    load = [] if mech.kind == "artificial" else [f"_node = {p}_node[_k]", "v = _v[_node]"]
    if mech.kind != "artificial":
        load.append("area = _area[_node]")      # the segment's area, µm² (as NEURON's)
    load += [f"{name(n)} = {p}_p[{r}, _k]" for r, n in enumerate(mech.parameters)]
    load += [f"{n} = {_pointer_ref(j, mech, r, names)}" for r, n in enumerate(mech.pointers)]
    load += [f"{name(n)} = {p}_a[{r}, _k]" for r, n in enumerate(mech.assigned)]
    store = [f"{p}_a[{r}, _k] = {name(n)}" for r, n in enumerate(mech.assigned)]
    # a POINTER a block assigns writes its target when the instance's block ends (NEURON
    # writes at once; the same unless the instance points at one of its own variables)
    store += [f"{_pointer_ref(j, mech, r, names)} = {n}" for r, n in enumerate(mech.pointers)
              if n in mech.pointers_written]
    store += [f"{p}_p[{list(mech.parameters).index(n)}, _k] = {name(n)}"
              for n in mech.written_parameters]
    for use in mech.ions:
        for var in use.reads:
            load.append(f"{name(var)} = _ion_{use.ion}_{use.field(var)}[_node]")
        for var in use.writes:
            fld = use.field(var)
            if fld in ("ci", "co"):           # a written concentration: read it, write it back
                if var not in use.reads:
                    load.append(f"{name(var)} = _ion_{use.ion}_{fld}[_node]")
                if phase != "current":
                    store.append(f"_ion_{use.ion}_{fld}[_node] = {name(var)}")
            elif fld == "i" and phase == "current":
                load.append(f"{name(var)} = 0.0")
                # ion currents are densities (mA/cm²) as concentration mechanisms expect
                scale = "" if mech.kind == "density" else " * 100.0 / _area[_node]"
                store.append(_add(shared, f"_ion_{use.ion}_i", "_node", f"{name(var)}{scale}"))
            elif fld == "e" and phase != "current":
                if var not in use.reads:      # written, maybe not in every path: start from it
                    load.append(f"{name(var)} = _ion_{use.ion}_e[_node]")
                store.append(f"_ion_{use.ion}_e[_node] = {name(var)}")
    if mech.uses_net_send and phase in ("init", "receive"):
        load += ["_net_send_pending = False", "_net_send_t = 0.0", "_net_send_flag = 0.0"]
        keep = [f"{p}_nst[_k] = _net_send_t", f"{p}_nsf[_k] = _net_send_flag",
                f"{p}_nsc[_k] = " + ("_c" if phase == "receive" else "-1")]
        store.append("\n".join(["if _net_send_pending:"] + ["    " + line for line in keep]))
    if phase == "init":
        load += [f"{name(n)} = 0.0" for n in mech.states]
        store += [f"{p}_s[{r}, _k] = {name(n)}" for r, n in enumerate(mech.states)]
    elif phase == "receive":
        load += [f"{name(n)} = {p}_s[{r}, _k]" for r, n in enumerate(mech.states)]
        store += [f"{p}_s[{r}, _k] = {name(n)}" for r, n in enumerate(mech.states)]
    else:
        load += [f"{name(n)} = {p}_s[{r}, _k]" for r, n in enumerate(mech.states)]
        if phase == "advance":
            vectorised = {state for state, _, _ in mech.cnexp} if target == "cpu" else set()
            store += [f"{p}_s[{r}, _k] = {name(n)}" for r, n in enumerate(mech.states)
                      if n not in vectorised]
    return load, store


_NET_EVENT = re.compile(r"^(\s*)NET_EVENT\((.*)\)\s*$", re.M)


def _net_events(code, p, target="cpu"):
    """An artificial cell's net_event(t): a spike of its gid, exactly at t, into the group's
    spike buffer (a spike beyond its capacity is counted, not written: the caller raises);
    on the GPU into the next slot of one buffer (an atomic counter)."""
    if target == "cuda":
        lines = ["_spk_pos = cuda.atomic.add(_spk_count, 0, 1)",
                 "if _spk_pos < _spk_gid.shape[0]:",
                 "    _spk_gid[_spk_pos] = " + p + "_gid[_k]",
                 "    _spk_t[_spk_pos] = {t}", "    _spk_exact[_spk_pos] = 1"]
    else:
        lines = ["if _spk_pos < _spk_end:", "    _spk_gid[_spk_pos] = " + p + "_gid[_k]",
                 "    _spk_t[_spk_pos] = {t}", "    _spk_exact[_spk_pos] = 1",
                 "_spk_pos += 1"]
    return _NET_EVENT.sub(lambda m: "\n".join(m.group(1) + line.format(t=m.group(2))
                                              for line in lines), code)


def has_phase(mech, phase):
    if mech.kind == "artificial" and phase == "current":
        return False                     # no membrane: nothing to add to the cable
    if phase == "receive":
        return bool(mech.net_receive.strip())
    if phase == "connection_init":
        return bool(mech.net_receive_init.strip())
    return phase != "advance" or bool(mech.advance.strip() or mech.cnexp)


def instance_body(j, mech, phase, target="cpu", names=None):
    """The code for one instance of mechanism number j in ``phase`` (no loop around it).

    On the CPU the cnexp states' a and b go to scratch rows, updated afterwards by a
    vectorised loop; on the GPU each thread updates its own states at once."""
    p = f"_m{j}"
    shared = target if mech.kind == "point" else "cpu"
    load, store = _load_store(j, mech, phase, target, names)
    if phase == "init":
        body = load + [mech.init] + store
    elif phase in ("receive", "self_event", "connection_init"):
        # an event: the NET_RECEIVE arguments are the connection's weight vector, read and
        # written back (plasticity); a self-event has the connection that scheduled it
        # (none, -1, when INITIAL did)
        args = mech.net_receive_args
        get = [f"{a} = _conn_w[_c, {c}] if _c >= 0 else 0.0" for c, a in enumerate(args)]
        put = ["if _c >= 0:\n" + "\n".join(f"    _conn_w[_c, {c}] = {a}"
                                             for c, a in enumerate(args))] if args else []
        code = mech.net_receive_init if phase == "connection_init" else mech.net_receive
        code = code.replace("FOR_NETCONS_ROWS", f"range({p}_inp[_k], {p}_inp[_k + 1])")
        code = code.replace("NET_SEND_OUTSTANDING", f"{p}_nst[_k]")     # net_move's target
        code = re.sub(r"FOR_NETCONS_ROW\((\w+)\)", lambda m: f"{p}_inr[{m.group(1)}]", code)
        body = load + get + [_net_events(code, p, target)] + put + store
    elif phase == "current":
        # Solving for v(t+dt) itself: rhs gets g v - i, the diagonal g (NEURON's linearisation).
        # Density currents are mA/cm² (times area/100 -> nA), point currents already nA.
        fac = "_area[_node] * 0.01" if mech.kind == "density" else "1.0"
        body = load + [mech.current, f"_ifac = {fac}",
                       _add(shared, "_rhs", "_node", "(g * v - i) * _ifac"),
                       _add(shared, "_d", "_node", "g * _ifac")] + store
    else:
        advance = _net_events(mech.advance, p, target) if mech.kind == "artificial" \
            else mech.advance
        body = load + [mech.rates, advance]
        for c, (state, a, b) in enumerate(mech.cnexp):
            if target == "cpu":
                body += [f"{p}_cx[{2 * c}, _k] = {a}", f"{p}_cx[{2 * c + 1}, _k] = {b}"]
            else:
                x = mech.code_name(state)
                body += [f"_ca = {a}", f"_cb = {b}",
                         f"{x} = {x} + (1.0 - math.exp(dt * _cb)) * (-_ca / _cb - {x}) "
                         f"if _cb != 0.0 else {x} + dt * _ca"]
        body += store
    setup = [textwrap.dedent(mech.setup).strip()] if mech.setup.strip() else []
    return setup, [textwrap.dedent(b).strip() for b in body if b.strip()]


def _instance_loop(j, mech, phase, grouped=True, names=None):
    """Source of one CPU loop over the instances of mechanism number j for ``phase``: those
    of cell group ``_g`` (``grouped``), or all of them."""
    if not has_phase(mech, phase):
        return ""
    p = f"_m{j}"
    span = f"{p}_grp[_g], {p}_grp[_g + 1]" if grouped else f"{p}_node.shape[0]"
    setup, body = instance_body(j, mech, phase, names=names)
    out = "\n".join(setup + [f"for _k in range({span}):"]) + "\n" + \
        textwrap.indent("\n".join(body), "    ")
    if phase == "advance":
        # x' = a + b x over dt, exactly, on contiguous rows with a branch-free exp: vectorises
        # (over slices: indices from 0 let Numba and LLVM drop the negative-index handling)
        rows = f"{p}_grp[_g]:{p}_grp[_g + 1]" if grouped else ":"
        for c, (state, _, _) in enumerate(mech.cnexp):
            r = mech.states.index(state)
            out += f"""
_x = {p}_s[{r}, {rows}]
_ca = {p}_cx[{2 * c}, {rows}]
_cb = {p}_cx[{2 * c + 1}, {rows}]
for _k in range(_x.shape[0]):
    _e = fexp(dt * _cb[_k])
    _x[_k] += (1.0 - _e) * (-_ca[_k] / _cb[_k] - _x[_k]) if _cb[_k] != 0.0 else dt * _ca[_k]"""
        if mech.diffusion:     # after the states: NEURON's order within the mechanism
            if not grouped:
                raise ValueError(f"{mech.name}: LONGITUDINAL_DIFFUSION runs per cell group")
            load = _load_store(j, mech, "advance", "cpu", names)[0]
            out += "\n" + diffusion.kernel_code(j, mech, load)
    return out


ION_FIELDS = ("e", "ci", "co", "i")


def kernel_source(mechs, aux_names):
    """Source of the kernel module for mechanisms ``mechs`` (in table order) whose aux arrays
    are named ``aux_names[j]``; the same module serves every thread count."""
    _check_names(mechs, aux_names)
    table_names = [m.name for m in mechs]   # where POINTERs into mechanism variables point
    helpers = "\n\n".join(m.helpers for m in mechs if m.helpers.strip())
    helpers = LOCAL_ARRAY_CPU.sub(r"np.empty(\1)", helpers)
    ions = ions_of(mechs)

    def block(phase, indent, grouped=True):
        return _phase_block(mechs, table_names, phase, indent, grouped)

    def receive_block(indent, phase="receive", self_first=False):
        return _receive_block(mechs, table_names, indent, phase, self_first)

    init_names = init_args(mechs, aux_names)
    run_names = run_args(mechs, aux_names)
    source = KERNEL_TEMPLATE.format(
        mechanisms=", ".join(m.name for m in mechs) or "none", helpers=helpers,
        init_args=", ".join(init_names), run_args=", ".join(run_names),
        init_names=tuple(init_names), run_names=tuple(run_names),
        init_nernst=_nernst_block(ions, 4, grouped=False), init_block=block("init", 4, False),
        connection_init=receive_block(8, "connection_init"),
        receive=receive_block(16, self_first=True),
        drives=textwrap.indent(drive.delivery(receive_block(0)), " " * 12),
        drive_source=drive.SOURCE.format(jit="inline_function"),
        # the step's blocks sit in advance's loops over groups and steps: 12 spaces in
        self_events=_self_event_block(mechs, table_names, 12), nernst=_nernst_block(ions, 12),
        current=block("current", 12), advance=block("advance", 12),
        probes=_probe_block(len(mechs), ions, 12))
    return _uncached_if_recursive(source, helpers)


def _check_names(mechs, aux_names):
    for mech, names in zip(mechs, aux_names):
        for name in list(mech.parameters) + list(mech.states):
            name = mech.code_name(name)        # (the NMODL frontend renames reserved names)
            if name in _RESERVED or name.startswith("_"):
                raise ValueError(f"mechanism {mech.name!r}: variable name {name!r} is reserved")
        for name in names:
            if not name.startswith(mech.name + "_"):
                raise ValueError(f"mechanism {mech.name!r}: aux array {name!r} must start "
                                 f"with {mech.name + '_'!r}")


def _phase_block(mechs, table_names, phase, indent, grouped=True):
    """Every mechanism's loop over its instances for ``phase`` (init, current, advance)."""
    parts = [_instance_loop(j, m, phase, grouped, table_names) for j, m in enumerate(mechs)]
    return textwrap.indent("\n".join(p for p in parts if p), " " * indent)


def _receive_block(mechs, table_names, indent, phase="receive", self_first=False):
    """An event's NET_RECEIVE (or connection INITIAL), by its target table ``_tab``."""
    out = []
    for j, m in enumerate(mechs):
        if has_phase(m, phase):
            setup, body = instance_body(j, m, phase, names=table_names)
            first = []
            if self_first and m.uses_net_send:
                # the instance's self-event due at or before this event is delivered
                # first (NEURON's queue holds both in time order; at equal times the
                # self-event, sent earlier, goes first)
                s_setup, s_body = instance_body(j, m, "self_event", names=table_names)
                first = [f"""\
if _m{j}_nst[_k] <= t:
    _te = t
    _ce = _c
    t = _m{j}_nst[_k]
    flag = _m{j}_nsf[_k]
    _c = _m{j}_nsc[_k]
    _m{j}_nst[_k] = np.inf
""" + textwrap.indent("\n".join(s_setup + s_body), "    ") + """
    t = _te
    _c = _ce
    flag = 0.0"""]
            out.append(f"if _tab == {j}:\n" +
                       textwrap.indent("\n".join(first + setup + body), "    "))
    return textwrap.indent("\n".join(out) or "pass", " " * indent)


def _self_event_block(mechs, table_names, indent):
    """Self-events (net_send) due in this step, delivered after the network's events."""
    out = []
    for j, m in enumerate(mechs):
        if m.uses_net_send:
            setup, body = instance_body(j, m, "self_event", names=table_names)
            out.append(f"""\
for _k in range(_m{j}_grp[_g], _m{j}_grp[_g + 1]):
    if _m{j}_nst[_k] <= _t_mid:
        t = _m{j}_nst[_k]
        flag = _m{j}_nsf[_k]
        _c = _m{j}_nsc[_k]
        _m{j}_nst[_k] = np.inf
""" + textwrap.indent("\n".join(setup + body), " " * 8))
    return textwrap.indent("\n".join(out), " " * indent)


def _probe_block(n_mechs, ions, indent):
    """The probes of group _g (sorted by group; _r*_gp: their ranges)."""
    out = []
    for ion in ions:
        out.append(f"""\
for _r in range(_ri_{ion}_gp[_g], _ri_{ion}_gp[_g + 1]):
    _row = _ri_{ion}_row[_r]
    if _gnext % _rec_every[_row] == 0:
        _fld = _ri_{ion}_field[_r]
        _arr = _ion_{ion}_e if _fld == 0 else (_ion_{ion}_ci if _fld == 1 else (
            _ion_{ion}_co if _fld == 2 else _ion_{ion}_i))
        _rec_out[_row, _rec_count[_row]] = _arr[_ri_{ion}_node[_r]]
        _rec_count[_row] += 1""")
    for j in range(n_mechs):
        out.append(f"""\
for _r in range(_r{j}_gp[_g], _r{j}_gp[_g + 1]):
    _row = _r{j}_row[_r]
    if _gnext % _rec_every[_row] == 0:
        _q = _r{j}_state[_r]       # >= 0: a state row; < 0: assigned row -1 - _q
        if _q >= 0:
            _rec_out[_row, _rec_count[_row]] = _m{j}_s[_q, _r{j}_inst[_r]]
        else:
            _rec_out[_row, _rec_count[_row]] = _m{j}_a[-1 - _q, _r{j}_inst[_r]]
        _rec_count[_row] += 1""")
    return textwrap.indent("\n".join(out), " " * indent)


def _nernst_block(ions, indent, grouped=True):
    """Reversal potentials from concentrations where a mechanism writes them (NEURON's
    ion_style with eadvance), ion currents zeroed for the mechanisms to sum into."""
    out = ["_ktf = 1000.0 * 8.31446261815324 * (celsius + 273.15) / 96485.33212331001"]
    for ion in ions:
        nernst = (f"_ion_{ion}_ngrp[_g], _ion_{ion}_ngrp[_g + 1]" if grouped
                  else f"_ion_{ion}_nernst.shape[0]")
        # the currents are zeroed where a mechanism uses the ion (elsewhere they stay 0)
        zero = (f"""\
for _q in range(_ion_{ion}_ugrp[_g], _ion_{ion}_ugrp[_g + 1]):
    _ion_{ion}_i[_ion_{ion}_used[_q]] = 0.0""" if grouped else f"""\
for _i in range(_ion_{ion}_i.shape[0]):
    _ion_{ion}_i[_i] = 0.0""")
        out.append(f"""\
for _k in range({nernst}):
    _node = _ion_{ion}_nernst[_k]
    _ion_{ion}_e[_node] = _ktf / _ion_{ion}_z * math.log(_ion_{ion}_co[_node] / _ion_{ion}_ci[_node])
""" + zero)
    return textwrap.indent("\n".join(out), " " * indent)


def _uncached_if_recursive(source, helpers):
    """Numba's cache crashes loading code that holds a recursive function (numba issue 6061):
    with a recursive NMODL FUNCTION nothing of the module is cached (compiled each run)."""
    if "@recursive_function" not in helpers:
        return source
    return source.replace("cache=True", "cache=False")


_LOADED = {}


def load_module(src, prefix, key):
    """Write ``src`` to the cache as ``{prefix}_{key}.py`` (once) and import it.  A cached
    file is imported only if it holds exactly ``src``: one truncated or changed is written
    anew (atomically), so neither a half-written file nor planted code is ever run."""
    if key in _LOADED:
        return _LOADED[key]
    path = os.path.join(cache_dir(), f"{prefix}_{key}.py")
    if _read(path) != src:
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(src)
        # an existing good file is never touched: its mtime keys Numba's cache
        os.replace(tmp, path)
    name = f"neurosim_{prefix}_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _LOADED[key] = module
    return module


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def load_kernel(mechs, aux_names):
    """Compile (or load from the disk cache) the kernel module for ``mechs``."""
    src = kernel_source(mechs, aux_names)
    key = hashlib.sha256("\n".join(
        [src, numba.__version__, sys.version]
        + [inspect.getsource(module) for module in (solver, fastmath, linalg, random123, epochs,
                                                      event_order, threads)]
        + [m.fingerprint() for m in mechs]).encode()).hexdigest()[:20]
    return load_module(src, "kernel", key)


def load_helpers(mech):
    """The module of ``mech``'s helpers alone (its FUNCTIONs and PROCEDUREs, compiled as in
    the kernel, at their first call): what ``Mechanism.function`` calls from Python."""
    src = (f"# Generated by neurosim.kernels.codegen: the helpers of {mech.name}\n"
           + HELPERS_HEADER + "\n\n" + LOCAL_ARRAY_CPU.sub(r"np.empty(\1)", mech.helpers) + "\n")
    src = _uncached_if_recursive(src, mech.helpers)
    key = hashlib.sha256("\n".join([src, inspect.getsource(fastmath), inspect.getsource(linalg),
                                    inspect.getsource(random123),
                                    numba.__version__, sys.version]).encode()).hexdigest()[:20]
    return load_module(src, "helpers", key)
