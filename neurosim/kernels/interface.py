"""The step kernel's interface, declared once: every array (or number) a kernel takes, by
name, with its type and the part of the code that owns it, and the stages of a step.

Code generation writes the kernels' signatures from these lists (``codegen``: the module it
generates exports them as ``INIT_ARGS`` and ``RUN_ARGS``), and a backend binds its arrays to
them by name (:func:`bind`), so neither side depends on the other's argument order.

Types: ``f8``, ``i8``, ``b1`` a number; ``f8[:]``, ``i8[:,:]``, ... a C-contiguous array of
that dtype and dimension; ``any`` a mechanism's own table (its declaration is the mechanism's).

Owners (who fills the array): ``call`` — each ``advance`` call; ``backend`` — the backend's
state, work arrays and solver set-up; ``model`` — the lowered model
(:class:`neurosim.lowering.model.LoweredModel`); ``network`` — connections, drives, gap
junctions and detectors (:mod:`neurosim.lowering.wiring`); ``probes`` — what is recorded;
``mechanism`` — a mechanism's tables (parameters, states, ``aux_arrays``)."""

import functools
import re
from dataclasses import dataclass

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.lowering import drive

# The stages of a step, in order (NEURON's fadvance names the same): deliver the step's
# events (connections, drives, self-events); assemble the capacitive part of the system;
# add the currents (reversal potentials first, then mechanisms, gap junctions, clamps);
# solve for v(t+dt); advance the states to t+dt; detect threshold crossings; sample the
# probes (and membrane currents, ECP).  The CPU template (a ``# stage:`` line opens each)
# and the CUDA backend's step (``CudaBackend.advance``) follow this one list.
STAGES = ("deliver", "assemble", "currents", "solve", "states", "detect", "sample")


@dataclass(frozen=True)
class Arg:
    name: str          # a template: {j} the mechanism table, {ion} the ion
    type: str
    owner: str
    what: str = ""


def _args(owner, type_, *names):
    return [Arg(n, type_, owner) for n in names]


# every array the step loop reads besides the mechanisms' and the ions': the stimuli (_stim),
# gap junctions (_gj), detectors (_det), v probes (_rv), events (_ev) and the spike buffer
# (_spk) are sorted by cell group, each with CSR pointers (_*_gp) over the groups
STEP = [
    *_args("call", "i8", "_nsteps", "_step0"),
    *_args("backend", "f8", "dt", "celsius", "_cj"),
    Arg("_crank_nicolson", "b1", "backend", "NEURON's secondorder=1"),
    Arg("_v", "f8[:]", "backend", "membrane potential of every node (mV)"),
    *_args("model", "f8[:]", "_cap", "_area"),
    *_args("backend", "f8[:]", "_d_static", "_rhs_static"),
    Arg("_g_axial", "f8[:]", "model"),
    Arg("_parent", "i8[:]", "model"),
    *_args("backend", "f8[:]", "_rhs", "_d", "_inv", "_coupling"),
    Arg("_dynamic", "b1[:]", "backend", "nodes whose diagonal varies"),
    Arg("_dyn_gp", "i8[:]", "backend"),
    *_args("backend", "u8[:]", "_dyn_start", "_dyn_end"),
    Arg("_blk_gp", "i8[:]", "backend"),
    *_args("backend", "u8[:]", "_blk_start", "_blk_end", "_blk_par"),
    Arg("_blk_dyn", "b1[:]", "backend"),
    Arg("_grp_node", "i8[:]", "backend", "first node of each cell group"),
    *_args("model", "i8[:]", "_stim_gp", "_stim_node"),
    *_args("model", "f8[:]", "_stim_delay", "_stim_dur", "_stim_amp"),
    Arg("_rec_every", "i8[:]", "call"),
    Arg("_rec_count", "i8[:]", "call"),
    Arg("_rec_out", "f8[:,:]", "call"),
    *_args("probes", "i8[:]", "_rv_gp", "_rv_row", "_rv_node"),
    *_args("call", "i8[:]", "_ev_gp", "_ev_step"),
    Arg("_ev_t", "f8[:]", "call"),
    *_args("call", "i8[:]", "_ev_table", "_ev_inst", "_ev_conn"),
    Arg("_conn_w", "f8[:,:]", "network", "the weight vector of every connection"),
    # Poisson drives (their names are the drive loop's, neurosim.lowering.drive)
    *[Arg(name, type_, "network") for name, type_ in
      zip(drive.ARGS, ["i8[:]", "i4[:]", "i4[:]", "i8[:]", "f8[:]", "u8[:]", "i8[:]", "i8[:]"])],
    *_args("network", "i8[:]", "_gj_gp", "_gj_a", "_gj_b"),
    Arg("_gj_g", "f8[:]", "network"),
    *_args("network", "i8[:]", "_det_gp", "_det_node"),
    *_args("network", "f8[:]", "_det_thresh"),
    Arg("_det_prev", "f8[:]", "backend"),
    Arg("_det_gid", "i8[:]", "network"),
    *_args("call", "i8[:]", "_spk_gp", "_spk_count"),
    Arg("_spk_gid", "i8[:]", "backend"),
    Arg("_spk_t", "f8[:]", "backend"),
    Arg("_spk_exact", "i8[:]", "backend"),
    Arg("_im_on", "b1", "probes", "whether the step computes membrane currents"),
    Arg("_imem", "f8[:]", "backend"),
    *_args("probes", "i8[:]", "_rim_gp", "_rim_row", "_rim_node"),
    Arg("_ecp_every", "i8", "probes"),
    Arg("_ecp_tr", "f8[:,:]", "probes"),
    Arg("_ecp_out", "f8[:,:,:]", "call"),
    Arg("_ecp_count", "i8[:]", "call"),
]
STEP_ARGS = [a.name for a in STEP]

# what ``initialize`` takes besides the ions' and the mechanisms' arrays
INIT = [Arg("_v", "f8[:]", "backend"), *_args("backend", "f8", "dt", "celsius"),
        Arg("_area", "f8[:]", "model"), Arg("_conn_w", "f8[:,:]", "network"),
        # the target table and instance of each connection (int32: there are millions)
        *_args("network", "i4[:]", "_conn_table", "_conn_inst")]

ION = [*_args("backend", "f8[:]", "_ion_{ion}_e", "_ion_{ion}_ci", "_ion_{ion}_co",
              "_ion_{ion}_i"),
       Arg("_ion_{ion}_nernst", "i8[:]", "model", "nodes where e follows Nernst"),
       Arg("_ion_{ion}_z", "f8", "model", "valence")]


@dataclass(frozen=True)
class MechanismArg(Arg):
    when: str = ""     # the Mechanism attribute that must be true for a table to have it


# a mechanism table j's arrays, then its aux arrays (named by the mechanism)
MECHANISM = [
    MechanismArg("_m{j}_node", "i8[:]", "model", "node of each instance"),
    MechanismArg("_m{j}_p", "f8[:,:]", "mechanism", "parameters"),
    MechanismArg("_m{j}_s", "f8[:,:]", "mechanism", "states"),
    MechanismArg("_m{j}_a", "f8[:,:]", "mechanism", "assigned kept between phases"),
    MechanismArg("_m{j}_cx", "f8[:,:]", "backend", "cnexp scratch rows"),
    # the pending self-event of each instance: time, flag, source
    MechanismArg("_m{j}_nst", "f8[:]", "backend", when="uses_net_send"),
    MechanismArg("_m{j}_nsf", "f8[:]", "backend", when="uses_net_send"),
    MechanismArg("_m{j}_nsc", "i8[:]", "backend", when="uses_net_send"),
    # net_event: a spike of this gid
    MechanismArg("_m{j}_gid", "i8[:]", "network", when="emits_spikes"),
    # incoming connections of each instance (CSR)
    MechanismArg("_m{j}_inp", "i8[:]", "network", when="uses_for_netcons"),
    MechanismArg("_m{j}_inr", "i8[:]", "network", when="uses_for_netcons"),
    # the node or instance each POINTER points at
    MechanismArg("_m{j}_ptr", "i8[:,:]", "network", when="pointers"),
    # LONGITUDINAL_DIFFUSION: the instances' tree (parents, flux factors), work rows
    MechanismArg("_m{j}_ldp", "i8[:]", "backend", when="diffusion"),
    MechanismArg("_m{j}_ldf", "f8[:,:]", "backend", when="diffusion"),
    MechanismArg("_m{j}_ldw", "f8[:,:]", "backend", when="diffusion"),
]

# per cell group, CSR pointers over the groups (the CPU kernel's; the GPU's take none)
GROUPS = [Arg("_m{j}_grp", "i8[:]", "backend", "each table's instances of each group"),
          Arg("_ion_{ion}_ngrp", "i8[:]", "backend", "each ion's Nernst nodes of each group"),
          Arg("_ion_{ion}_used", "i8[:]", "backend", "nodes where a mechanism uses the ion"),
          Arg("_ion_{ion}_ugrp", "i8[:]", "backend")]

PROBES = [*_args("probes", "i8[:]", "_r{j}_row", "_r{j}_state", "_r{j}_inst")]
ION_PROBES = [*_args("probes", "i8[:]", "_ri_{ion}_row", "_ri_{ion}_field", "_ri_{ion}_node")]
PROBE_GP = Arg("_r{j}_gp", "i8[:]", "probes")
ION_PROBE_GP = Arg("_ri_{ion}_gp", "i8[:]", "probes")


def _has(mech, when):
    if when == "emits_spikes":
        return mech.kind == "artificial" or mech.uses_net_event
    return not when or bool(getattr(mech, when))


def ions_of(mechs):
    """Sorted names of the ions any of ``mechs`` uses."""
    return sorted({use.ion for m in mechs for use in m.ions})


def ion_args(ion):
    return [a.name.format(ion=ion) for a in ION]


def mechanism_args(j, mech, aux_names):
    return [a.name.format(j=j) for a in MECHANISM if _has(mech, a.when)] + list(aux_names)


def probe_args(j):
    return [a.name.format(j=j) for a in PROBES]


def ion_probe_args(ion):
    return [a.name.format(ion=ion) for a in ION_PROBES]


def group_args(mechs):
    """Per-group index ranges (CSR pointers over the cell groups) the advance kernel takes
    besides the arrays it shares with the GPU kernels."""
    ions = ions_of(mechs)
    return ([GROUPS[0].name.format(j=j) for j in range(len(mechs))] +
            [GROUPS[1].name.format(ion=ion) for ion in ions] +
            [a.name.format(ion=ion) for ion in ions for a in GROUPS[2:]])


def init_args(mechs, aux_names):
    """``initialize``'s arguments, in the generated signature's order."""
    return ([a.name for a in INIT] + [a for ion in ions_of(mechs) for a in ion_args(ion)] +
            [a for j, (m, n) in enumerate(zip(mechs, aux_names))
             for a in mechanism_args(j, m, n)])


def run_args(mechs, aux_names):
    """``advance``'s arguments after its thread's number, the thread count, the threads'
    shared counters, _done and _code, in order."""
    ions = ions_of(mechs)
    return (STEP_ARGS + init_args(mechs, aux_names)[len(INIT):] + group_args(mechs) +
            [a for j in range(len(mechs)) for a in probe_args(j)] +
            [a for ion in ions for a in ion_probe_args(ion)] +
            [PROBE_GP.name.format(j=j) for j in range(len(mechs))] +
            [ION_PROBE_GP.name.format(ion=ion) for ion in ions])


def per_table(j, **arrays):
    """Mechanism table j's arrays by argument name: ``per_table(0, node=a)`` is
    ``{"_m0_node": a}`` (the convention of MECHANISM, GROUPS and PROBES)."""
    return {f"_m{j}_{field}": value for field, value in arrays.items()}


def per_ion(ion, **arrays):
    """An ion's arrays by argument name: ``per_ion("na", e=a)`` is ``{"_ion_na_e": a}``."""
    return {f"_ion_{ion}_{field}": value for field, value in arrays.items()}


def named(templates, values, **where):
    """``values`` by the names of ``templates`` (Args, in order) filled with ``where``."""
    return {a.name.format(**where): v for a, v in zip(templates, values, strict=True)}


def _pattern(template):
    return re.compile(re.escape(template).replace(r"\{j\}", r"\d+")
                      .replace(r"\{ion\}", r"\w+") + "$")


_DECLARED = [(_pattern(a.name), a) for a in
             STEP + INIT + ION + MECHANISM + GROUPS + PROBES + ION_PROBES +
             [PROBE_GP, ION_PROBE_GP]]


@functools.lru_cache(maxsize=None)
def declaration(name):
    """The :class:`Arg` declaring kernel argument ``name`` (None: a mechanism's aux array)."""
    for pattern, arg in _DECLARED:
        if pattern.match(name):
            return arg
    return None


def _conforms(value, type_):
    base, _, dims = type_.partition("[")
    if not dims:
        # exactly the kind: Numba compiles the kernel again for an int where a float was
        kinds = {"f8": (float, np.floating), "i8": (int, np.integer), "b1": (bool, np.bool_)}
        return isinstance(value, kinds[base]) and (base == "b1" or not isinstance(value, bool))
    return (isinstance(value, np.ndarray) and value.dtype == np.dtype(base) and
            value.ndim == dims.count(":") and value.flags.c_contiguous)


def take(names, arrays, where):
    """The values for kernel arguments ``names`` from ``arrays`` (name -> value), in that
    order; a missing one is an error naming it.  Device arrays (already checked on the host,
    see :func:`bind`) are taken so."""
    missing = [n for n in names if n not in arrays]
    if missing:
        raise NeurosimError(f"internal: {where} has no value for kernel argument(s) {missing}")
    return [arrays[n] for n in names]


def bind(names, arrays, where):
    """The values for kernel arguments ``names``, taken from ``arrays`` (name -> value) and
    checked against their declarations; a missing or mistyped one is an error naming it
    (not a type error deep in Numba, or a kernel compiled again for another dtype)."""
    values = take(names, arrays, where)
    for name, value in zip(names, values):
        arg = declaration(name)
        if arg is not None and not _conforms(value, arg.type):
            got = (f"{value.dtype}, {value.ndim}-d" if isinstance(value, np.ndarray)
                   else type(value).__name__)
            raise NeurosimError(f"internal: {where} binds kernel argument {name} "
                                f"(declared {arg.type}, owner {arg.owner}) to {got}")
    return values
