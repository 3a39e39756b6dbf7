"""The step kernel's interface: the arrays ``advance`` takes are declared once
(``interface.STEP``, then per ion, per mechanism table, per group and per probe table), the
generated module says them by name, and the CPU backend binds its arrays by those names,
each of its declared type; the step's stages are named once and followed."""

import ast

import numpy as np
import pytest

import neurosim as ns
from neurosim.errors import NeurosimError
from neurosim.kernels import cpu_template, interface
from neurosim.kernels.codegen import kernel_source
from neurosim.kernels.interface import (STEP_ARGS, group_args, ion_args, ion_probe_args,
                                        ions_of, mechanism_args, probe_args)


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
    want = (["_thread", "_n_threads", "_thread_sync", "_group_done", "_group_code"] + STEP_ARGS
            + [a for ion in ions for a in ion_args(ion)]
            + [a for j, (m, n) in enumerate(zip(mechs, aux)) for a in mechanism_args(j, m, n)]
            + group_args(mechs) + [a for j in range(len(mechs)) for a in probe_args(j)]
            + [a for ion in ions for a in ion_probe_args(ion)]
            + [f"_r{j}_gp" for j in range(len(mechs))] + [f"_ri_{ion}_gp" for ion in ions])
    assert got == want
    assert len(set(got)) == len(got)                   # no array bound twice


def test_the_backend_binds_one_value_per_declared_name():
    sim = ns.Simulation(cell(), dt=0.025)
    backend = sim.backend
    names = arguments_of(open(backend.kernel.__file__).read(), "advance")[5:]  # less threads
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


def test_the_generated_module_says_its_arguments_by_name():
    sim = ns.Simulation(cell(), dt=0.025)
    source = open(sim.backend.kernel.__file__).read()
    assert list(sim.backend.kernel.RUN_ARGS) == arguments_of(source, "advance")[5:]
    assert list(sim.backend.kernel.INIT_ARGS) == arguments_of(source, "initialize")
    aux = {n for t in sim.backend.tables for n in t.mechanism.aux_arrays(sim.celsius, True)}
    for name in sim.backend.kernel.RUN_ARGS:          # each declared, or a mechanism's own
        assert interface.declaration(name) is not None or name in aux, name


def test_binding_names_a_missing_or_mistyped_array():
    good = {"_v": np.zeros(3), "_parent": np.zeros(3, dtype=np.int64), "dt": 0.025}
    assert interface.bind(["dt", "_v"], good, "here") == [0.025, good["_v"]]
    with pytest.raises(NeurosimError, match=r"here has no value .*'_parent', '_cap'"):
        interface.bind(["_v", "_parent", "_cap"], {"_v": good["_v"]}, "here")
    with pytest.raises(NeurosimError, match=r"_parent \(declared i8\[:\], owner model\) to "
                                            r"int32, 1-d"):
        interface.bind(["_parent"], {"_parent": np.zeros(3, dtype=np.int32)}, "here")
    with pytest.raises(NeurosimError, match=r"dt \(declared f8, owner backend\) to int"):
        interface.bind(["dt"], {"dt": 1}, "here")      # a second compile, for an int
    with pytest.raises(NeurosimError, match=r"_rec_out \(declared f8\[:,:\]"):
        interface.bind(["_rec_out"], {"_rec_out": np.zeros(4)}, "here")


def test_a_mistyped_array_is_refused_before_the_kernel_runs():
    sim = ns.Simulation(cell(), dt=0.025)
    sim.backend.det_thresh = sim.backend.det_thresh.astype(np.float32)
    with pytest.raises(NeurosimError, match="_det_thresh"):
        sim.run(1.0)


def test_the_cpu_template_follows_the_stages_in_order():
    marks = [line.split("# stage:")[1].strip()
             for line in cpu_template.KERNEL_TEMPLATE.splitlines() if "# stage:" in line]
    assert marks == list(interface.STAGES)


def test_the_cuda_backend_has_a_launch_sequence_for_every_stage():
    from neurosim.backends.cuda.backend import CudaBackend
    for name in interface.STAGES:
        assert callable(getattr(CudaBackend, f"_{name}")), name
