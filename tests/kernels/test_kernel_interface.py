"""The step kernel's interface: the arrays ``advance`` takes are declared once
(``cpu_template.STEP_ARGS``, then per ion, per mechanism table, per group and per probe
table), and the CPU backend passes exactly that many, each of the kind its name says."""

import ast

import numpy as np

import neurosim as ns
from neurosim.kernels.codegen import (group_args, ion_args, ion_probe_args, ions_of,
                                      kernel_source, mechanism_args, probe_args)
from neurosim.kernels.cpu_template import STEP_ARGS


def arguments_of(source, function):
    tree = ast.parse(source)
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function]
    return [a.arg for a in node.args.args]


def cell():
    c = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    c.insert("hh", region="soma")
    c.insert("pas", region="dend", g=1e-4)
    c.add_synapse((1, 0.5), "ExpSyn", label="syn")
    c.add_detector((0, 0.5), threshold=-20.0)
    return c


def test_advance_takes_the_declared_arrays_in_their_order():
    sim = ns.Simulation(cell(), dt=0.025)
    mechs = [t.mechanism for t in sim.backend.tables]
    aux = [list(m.aux_arrays(sim.celsius, False)) for m in mechs]
    got = arguments_of(kernel_source(mechs, aux), "advance")
    ions = ions_of(mechs)
    want = (["_done", "_code"] + STEP_ARGS + [a for ion in ions for a in ion_args(ion)]
            + [a for j, (m, n) in enumerate(zip(mechs, aux)) for a in mechanism_args(j, m, n)]
            + group_args(mechs) + [a for j in range(len(mechs)) for a in probe_args(j)]
            + [a for ion in ions for a in ion_probe_args(ion)]
            + [f"_r{j}_gp" for j in range(len(mechs))] + [f"_ri_{ion}_gp" for ion in ions])
    assert got == want
    assert len(set(got)) == len(got)                   # no array bound twice


def test_the_backend_binds_one_value_per_declared_name():
    sim = ns.Simulation(cell(), dt=0.025)
    backend = sim.backend
    names = arguments_of(open(backend.kernel.__file__).read(), "run_group")[1:]  # less _g
    events = [np.zeros(backend.n_groups + 1, dtype=np.int64)] + [
        np.zeros(0, dtype=d) for d in (np.int64, float, np.int64, np.int64, np.int64)]
    spk_gp = backend._spike_buffer(1)
    values = backend._run_args(0, 1, np.ones(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                               np.zeros((0, 1)), events, spk_gp,
                               np.zeros(backend.n_groups, dtype=np.int64),
                               np.zeros((backend.n_groups, 0, 0)),
                               np.zeros(backend.n_groups, dtype=np.int64))
    assert len(values) == len(names)
    by_name = dict(zip(names, values))
    assert by_name["_nsteps"] == 1 and by_name["dt"] == 0.025
    assert by_name["_v"] is backend.v and by_name["_parent"] is sim.model.parent
    for name, value in by_name.items():     # every per-node array is as long as the nodes
        if name in ("_v", "_cap", "_area", "_g_axial", "_parent", "_rhs", "_d"):
            assert len(value) == sim.model.n_nodes, name
