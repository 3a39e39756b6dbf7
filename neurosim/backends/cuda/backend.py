"""The GPU backend: the model's arrays on the device, every per-step stage a ``numba.cuda``
kernel, the host launching them step by step.

Per step, in NEURON's order (the CPU kernel's): events and self-events (one thread per cell
group, in delivery order) -> Nernst potentials -> assembly (per node) -> mechanism currents
(per instance, point processes adding atomically) -> gap junctions, current clamps -> the
cable solve in place -> new voltages, blow-up flag -> mechanism states -> threshold
detection -> probes.  Host and device exchange data once per call of ``advance`` (an
epoch): events in, spikes and probe samples out.

The model's nodes are in the solve's order from lowering on (``node_order()``: a
``dhs.DhsOrder`` policy that ``lower`` applies; ``dhs.DeviceLayout``, within each cell
group): cells of at least ``SMALL_CELL`` nodes by DHS with ``LANES`` lanes each
(``NEUROSIM_DHS_LANES``, default 16), ``THREADS // LANES`` cells a block, each step's nodes
consecutive; smaller cells one thread per cell, identical cells interleaved.  Every other
kernel reads the same numbering, so none gathers or scatters between orders.  Set-up
(lowering, static terms) and NEURON's finitialize run on the host with the CPU backend's
code, once; the arrays then move to the device (numba-cuda's device arrays on a GPU;
under Numba's CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``, the host's NumPy arrays
themselves).  Artificial
cells (point neurons) run one thread per cell, their net_event spikes taking slots of the
spike buffer by an atomic counter.
"""

import dataclasses
import os
import warnings

import numpy as np

from neurosim.backends.cpu.backend import ARTIFICIAL_SPIKES_PER_STEP, CpuBackend
from neurosim.backends.cuda.dhs import DhsOrder
from neurosim.errors import NeurosimError, ParameterError
from neurosim.kernels import interface
from neurosim.kernels.interface import STAGES


@dataclasses.dataclass
class _StepCall:
    """What one ``advance`` call's steps share on the device."""
    step0: int
    clock: object
    ev_pos: object
    ev_end: object
    ev: list
    has_events: bool
    receivers: list
    spikes: list
    bad: object
    probes: tuple
    every: object
    count: object
    out: object

LANES = int(os.environ.get("NEUROSIM_DHS_LANES", "16"))     # k: DHS lanes per cell
# cells with fewer nodes than this are solved one thread per cell, identical ones
# interleaved (a warp of 32 such cells beats a block of k mostly idle lanes)
SMALL_CELL = int(os.environ.get("NEUROSIM_SMALL_CELL", str(2 * LANES)))
THREADS = 128                                               # threads per block elsewhere


def simulated():
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


# the rank's index among the ranks of its node, as MPI launchers and Slurm set it
_LOCAL_RANK = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
               "PMIX_LOCAL_RANK")


def local_rank():
    """This rank's index among the ranks of its node (0 outside MPI)."""
    return next((int(os.environ[k]) for k in _LOCAL_RANK if os.environ.get(k, "").isdigit()),
                0)


def device_module():
    """(to_device, to_host, stream): numba-cuda's device arrays and a stream of this
    backend's own on a GPU (a stream other than the default one can be captured into a
    CUDA graph); under the simulator the host's arrays themselves and the default stream.
    Under MPI each rank of a node takes the GPU of its local rank (modulo the node's GPUs).

    Not CuPy's arrays: numba-cuda imports such an array through
    ``__cuda_array_interface__`` at every launch and synchronises the stream it names, so
    each launch would wait for every kernel before it (measured: 2.5x the host time of a
    step on the H200, docs/gpu.md)."""
    if simulated():
        return (lambda a: a), (lambda a: a), 0
    if not hasattr(np, "row_stack"):
        # numba-cuda 0.30 (its last release) registers np.row_stack, gone in NumPy 2.5,
        # and fails at the first kernel (NVIDIA/numba-cuda#907)
        raise ParameterError(f"backend 'cuda' needs NumPy < 2.5 (numba-cuda cannot compile "
                             f"kernels under NumPy {np.__version__}): pip install 'numpy<2.5'")
    try:
        from numba import cuda
        gpus = len(cuda.gpus) if cuda.is_available() else 0
        if gpus < 1:
            raise RuntimeError("no CUDA device (numba.cuda.is_available() is False)")
        if gpus > 1:                 # a node of several GPUs: this rank's (one: numba's own)
            cuda.select_device(local_rank() % gpus)
        stream = cuda.stream()
    except Exception as e:
        raise ParameterError(f"backend 'cuda' needs an NVIDIA GPU and numba-cuda (pip install "
                             f"'neurosim[gpu]'); here: {type(e).__name__}: {e}") from None
    return (lambda a: cuda.to_device(np.ascontiguousarray(a))), \
        (lambda d: d.copy_to_host()), stream


class CudaBackend(CpuBackend):
    """``Simulation(..., backend="cuda")``."""

    advance_epochs = None           # a call is one epoch: events between them in Python

    @staticmethod
    def node_order():
        """DHS's node order (``LANES``, ``SMALL_CELL`` as they are now), applied by lowering."""
        return DhsOrder(LANES, SMALL_CELL)

    def __init__(self, model, precision="float64", **options):
        if precision not in ("float64", "float32"):
            raise ParameterError(f"precision must be 'float64' or 'float32', got "
                                 f"{precision!r}")
        # float32: voltages, matrix, mechanism states and parameters, ion variables; times
        # of pending self-events, weights and rate tables stay float64
        self.real = np.float32 if precision == "float32" else np.float64
        self.to_device, self.to_host, self.stream = self._transfers()
        # a call's steps after its first replay one captured step (cuda_graph.py); off
        # under the simulator, which has no graphs, or after a capture failed
        self.graphs = not simulated() and os.environ.get("NEUROSIM_CUDA_GRAPHS", "1") != "0"
        # the nodes are in the solve's order since lowering (node_order(): DhsOrder)
        policy = getattr(model, "node_order", None)
        if not isinstance(policy, DhsOrder) or policy.layout is None:
            raise ParameterError("the CUDA backend runs a model lowered in its node order: "
                                 "lower(cells, node_order=CudaBackend.node_order())")
        self.layout = policy.layout
        self.lanes = policy.lanes             # the layout's: launches use the same
        super().__init__(model, **options)
        from neurosim.backends.cuda import kernels as cuda_kernels
        from neurosim.backends.cuda.dhs_kernel import dhs_solve, interleaved_solve
        from neurosim.kernels.codegen_cuda import load_cuda_kernels, receiver_args, table_args
        self.dhs_solve, self.interleaved_solve = dhs_solve, interleaved_solve
        self.k = cuda_kernels
        mechs, aux_names = [t.mechanism for t in self.tables], [list(a) for a in self.aux]
        self.gen = load_cuda_kernels(mechs, aux_names)
        # DHS cells a block: THREADS threads (fewer if there are fewer cells)
        self.dhs_cells = max(1, min(THREADS // self.lanes, self.layout.cells))
        # the names of each mechanism kernel's own arguments and of the event kernel's
        self.table_arg_names = [table_args(j, m, aux_names[j]) for j, m in enumerate(mechs)]
        self.receiver_names = receiver_args(mechs, aux_names)
        self.self_events = any(t.mechanism.uses_net_send for t in self.tables)
        self._on_device = False

    def _transfers(self):
        """(to_device, to_host, stream): the copies between host and device, the stream
        of the launches."""
        return device_module()

    def _launch(self, kernel, n, *args):
        """One thread per item: ``n`` items in blocks of ``THREADS``."""
        if n > 0:
            threads = min(THREADS, n)
            self._run(kernel, (n + threads - 1) // threads, threads, args)

    def _run(self, kernel, blocks, threads, args):
        kernel[blocks, threads, self.stream](*args)

    # ------------------------------------------------------------------ device state
    def _to_device(self):
        """Move the state and the constant arrays to the device (once per set-up change)."""
        m, lay, real = self.model, self.layout, self.real

        def dev(a):
            a = np.asarray(a)
            return self.to_device(a.astype(real, copy=False) if a.dtype == np.float64 else a)
        self.d_v = dev(self.v)
        self.d_small = [self.to_device(a) for a in lay.small_arrays()]
        self.d_const = {name: dev(np.ascontiguousarray(a)) for name, a in (
            ("cap", m.cap), ("area", m.area), ("rhs_static", self.rhs_static),
            ("d_static", self.d_axial_static), ("parent", m.parent), ("g", m.g_axial),
            ("step_lo", lay.step_lo), ("step_hi", lay.step_hi),
            ("cell_step", lay.cell_step), ("block_steps", lay.block_steps(self.dhs_cells)),
            ("stim_node", self.stim[0]), ("stim_delay", self.stim[1]),
            ("stim_dur", self.stim[2]), ("stim_amp", self.stim[3]),
            ("gj_a", self.gj_a), ("gj_b", self.gj_b), ("gj_g", self.gj_g),
            ("det_node", self.det_node), ("det_thresh", self.det_thresh),
            ("det_gid", self.det_gid))}
        self.d_const["conn_w"] = self.to_device(self.conn_w)        # weights: float64
        self.d_drives = [self.to_device(np.ascontiguousarray(a))
                         for a in [self.drv_gp] + self.drives]
        self.d_det_prev = dev(self.det_prev)
        self.d_rhs, self.d_d = dev(np.zeros(m.n_nodes)), dev(np.zeros(m.n_nodes))
        self._host_named, self.d_named = self._named_device_arrays(dev)
        take = interface.take
        # each kernel's own arguments, taken by name once (launches pass the lists)
        self.d_table_args = [take(names, self.d_named, f"the device arrays of table {j}")
                             for j, names in enumerate(self.table_arg_names)]
        self.d_receivers = take(self.receiver_names, self.d_named,
                                "the event kernel's device arrays")
        self.d_ions = {ion: take(interface.ion_args(ion), self.d_named, f"ion {ion}")
                       for ion in self.ions}
        self._on_device = True

    def _named_device_arrays(self, dev):
        """(host, device): the arrays of the mechanism tables (those their kernels take),
        the tables' group pointers and the ions, by kernel argument name, on the host and
        on the device.  A table's self-event times and aux arrays stay float64."""
        host = {}
        for ion in self.ions:
            host.update(interface.named(interface.ION, self.ions[ion], ion=ion))
        keep = set()
        for j, t in enumerate(self.tables):
            names = interface.mechanism_args(j, t.mechanism, self.aux[j])
            host.update(zip(names, self._table_args(j)))      # bound (and checked) by name
            host[f"_m{j}_grp"] = self.inst_grp[j]
            keep |= {id(a) for a in t.self_event} | {id(a) for a in self.aux[j].values()}
        device = {name: a if not isinstance(a, np.ndarray) else
                  self.to_device(a) if id(a) in keep else dev(a) for name, a in host.items()}
        return host, device

    def host(self):
        """Copy the device state back into the host arrays (the Simulation reads them to
        sample a new probe, checkpoint or explain a blow-up); nothing to do when the
        device arrays are the host's (the simulator)."""
        if not self._on_device or (simulated() and self.real is np.float64):
            return                       # the device arrays are the host's
        self.v[:] = self.to_host(self.d_v)
        self.det_prev[:] = self.to_host(self.d_det_prev)
        self.conn_w[:] = self.to_host(self.d_const["conn_w"])
        for name, host in self._host_named.items():
            if isinstance(host, np.ndarray):             # not an ion's valence
                host[...] = self.to_host(self.d_named[name])

    def initialize(self):
        super().initialize()                 # NEURON's finitialize, on the host
        self._to_device()

    def reload(self):
        """The host arrays were written (a restored checkpoint): upload them next call."""
        self._on_device = False

    def set_drives(self, conn, table, instance, lam, key, on, off):
        super().set_drives(conn, table, instance, lam, key, on, off)
        self._on_device = False

    def set_connections(self, weights, table, instance):
        super().set_connections(weights, table, instance)
        self._on_device = False

    def set_detectors(self, nodes, thresholds, gids):
        super().set_detectors(nodes, thresholds, gids)
        self._on_device = False

    def set_gap_junctions(self, a, b, g):
        super().set_gap_junctions(a, b, g)
        self._on_device = False

    def set_probes(self, v_probes, state_probes, ion_probes=()):
        super().set_probes(v_probes, state_probes, ion_probes)
        self._probes = (list(v_probes), list(state_probes), list(ion_probes))

    # ------------------------------------------------------------------ stepping
    def advance(self, step0, nsteps, rec_every, rec_count, rec_out, events):
        if not self._on_device:          # after set-up or a restore: the host's state
            self._to_device()
        dev = self.to_device
        gp, step, time, table, inst, conn = self._group_events(events)
        capacity = len(self.det_node) * (nsteps // 2 + 1) + 16 + \
            (self.n_artificial + int(self.event_points.sum())) * \
            ARTIFICIAL_SPIKES_PER_STEP * nsteps
        spikes = [dev(np.zeros(1, dtype=np.int64)), dev(np.zeros(capacity, dtype=np.int64)),
                  dev(np.zeros(capacity)), dev(np.zeros(capacity, dtype=np.int64))]
        spk_count, spk_gid, spk_t, spk_exact = spikes
        none = np.iinfo(np.int64).max
        call = _StepCall(
            step0=step0, clock=dev(np.array([step0], dtype=np.int64)),  # the step in the making
            ev_pos=dev(gp[:-1].copy()), ev_end=dev(gp[1:].copy()),
            ev=[dev(a) for a in (step, time, table, inst, conn)],
            # nothing to deliver (no events this call, no drives, no self-events): no launch
            has_events=len(step) > 0 or len(self.drives[0]) > 0 or self.self_events,
            receivers=self.d_receivers, spikes=spikes,
            bad=dev(np.array([none], dtype=np.int64)),     # step 2^32 + node of a blow-up
            probes=self._device_probes(dev), every=dev(rec_every), count=dev(rec_count),
            out=dev(rec_out))
        stages = [getattr(self, f"_{name}") for name in STAGES]

        def one_step():
            for stage in stages:
                stage(call)

        self._repeat(one_step, nsteps)
        # once per call: the results to the host
        rec_count[:] = self.to_host(call.count)
        rec_out[...] = self.to_host(call.out)
        m = int(self.to_host(spk_count)[0])
        if m > capacity:
            raise NeurosimError(f"an artificial cell or a point process (net_event) emitted "
                                f"more than "
                                f"{ARTIFICIAL_SPIKES_PER_STEP} spikes in one step")
        # only the m spikes come back, not the buffer (sized for the worst case)
        gids, times = self.to_host(spk_gid[:m]), self.to_host(spk_t[:m])
        exact = self.to_host(spk_exact[:m]).astype(bool)
        order = np.lexsort((gids, times))
        self._spikes = (gids[order].copy(), times[order].copy(), exact[order].copy())
        key = int(self.to_host(call.bad)[0])
        if key != none:
            self.host()
            return key >> 32, key & 0xFFFFFFFF
        return nsteps, -1

    # the step's stages (interface.STAGES), each a few launches
    def _deliver(self, call):
        if call.has_events:
            c = self.d_const
            self._launch(self.gen.deliver, self.n_groups, call.clock, self.dt, self.celsius,
                         self.d_v, c["area"], call.ev_pos, call.ev_end, *call.ev, c["conn_w"],
                         *self.d_drives, *call.receivers, *call.spikes)

    def _assemble(self, call):
        c = self.d_const
        self._launch(self.k.assemble, self.model.n_nodes, self.d_v, c["cap"], self.cj,
                     c["rhs_static"], c["d_static"], self.d_rhs, self.d_d)

    def _currents(self, call):
        c, n = self.d_const, self.model.n_nodes
        ktf = 1000.0 * 8.31446261815324 * (self.celsius + 273.15) / 96485.33212331001
        for ion in sorted(self.d_ions):
            nernst = self.d_named[f"_ion_{ion}_nernst"]
            self._launch(getattr(self.gen, f"nernst_{ion}"), len(nernst), ktf,
                         *self.d_ions[ion])
            self._launch(getattr(self.gen, f"zero_current_{ion}"), n,
                         self.d_named[f"_ion_{ion}_i"])
        self._phase("current", 0.5, call.clock, (self.d_rhs, self.d_d))
        self._launch(self.k.gap_junctions, len(self.gj_a), c["gj_a"], c["gj_b"], c["gj_g"],
                     self.d_v, self.d_rhs, self.d_d)
        self._launch(self.k.clamps, len(self.stim[0]), call.clock, self.dt, c["stim_node"],
                     c["stim_delay"], c["stim_dur"], c["stim_amp"], self.d_rhs)

    def _solve(self, call):
        c = self.d_const
        if self.layout.cells:                  # the solve in place: rhs becomes x
            self._run(self.dhs_solve, len(c["block_steps"]), (self.lanes, self.dhs_cells),
                      (c["cell_step"], c["block_steps"], c["step_lo"], c["step_hi"],
                       c["parent"], c["g"], self.d_d, self.d_rhs))
        self._launch(self.interleaved_solve, self.layout.small_cells, *self.d_small, c["g"],
                     self.d_d, self.d_rhs)
        self._launch(self.k.set_voltage, self.model.n_nodes, self.d_rhs, self.d_v,
                     self.crank_nicolson, call.bad, call.clock, call.step0)

    def _states(self, call):
        self._phase("advance", 1.0, call.clock, (), call.spikes)

    def _detect(self, call):
        c = self.d_const
        self._launch(self.k.detect, len(self.det_node), call.clock, self.dt, c["det_node"],
                     c["det_thresh"], self.d_det_prev, c["det_gid"], self.d_v, *call.spikes)

    def _sample(self, call):
        self._sample_probes(call.clock, call.probes, call.every, call.count, call.out)
        self._launch(self.k.tick, 1, call.clock)

    def _phase(self, phase, shift, clock, extra, spikes=()):
        """Every mechanism's kernel of ``phase``, at time (clock + shift) dt."""
        for j, arrays in enumerate(self.d_table_args):
            kernel = getattr(self.gen, f"m{j}_{phase}", None)
            if kernel is not None:
                artificial = self.tables[j].mechanism.kind == "artificial"
                self._launch(kernel, len(self.tables[j].nodes), self.d_v, clock, shift,
                             self.dt, self.celsius, self.d_const["area"], *extra,
                             *arrays, *(spikes if artificial else ()))

    def _repeat(self, issue, nsteps):
        """``issue()`` (one step's launches) ``nsteps`` times: the first directly (kernels
        compile and load), the others by replaying a CUDA graph of one step, or directly
        where graphs are off or capturing failed (said once)."""
        done = 0
        if nsteps > 0:
            issue()
            done = 1
        if self.graphs and nsteps > 1:
            from neurosim.backends.cuda.graph import StepGraph
            try:
                graph = StepGraph(self.stream, issue)
            except Exception as e:
                self.graphs = False
                warnings.warn(f"neurosim: no CUDA graph ({type(e).__name__}: {e}); "
                              "launching kernel by kernel", RuntimeWarning, stacklevel=3)
            else:
                try:
                    for _ in range(done, nsteps):
                        graph.launch()
                finally:
                    graph.close()           # freed once its launches are done
                done = nsteps
        for _ in range(done, nsteps):
            issue()

    def _device_probes(self, dev):
        v_probes, state_probes, ion_probes = self._probes
        as_int = lambda xs: dev(np.asarray(xs, dtype=np.int64))      # noqa: E731
        pv = (as_int([r for r, _ in v_probes]), as_int([n for _, n in v_probes]))
        ps = []
        for j in range(len(self.tables)):
            sel = [p for p in state_probes if p[1] == j]
            if sel:
                ps.append((j, as_int([p[0] for p in sel]), as_int([p[2] for p in sel]),
                           as_int([p[3] for p in sel])))
        pi = []
        for ion in sorted(self.d_ions):
            sel = [p for p in ion_probes if p[1] == ion]
            if sel:
                pi.append((ion, as_int([p[0] for p in sel]), as_int([p[2] for p in sel]),
                           as_int([p[3] for p in sel])))
        return pv, ps, pi

    def _sample_probes(self, clock, probes, every, count, out):
        (rows, nodes), states, ions = probes
        k = self.k
        self._launch(k.probe_voltage, len(rows), clock, rows, nodes, every, count, out,
                     self.d_v)
        for j, rows, state, inst in states:
            self._launch(k.probe_state, len(rows), clock, rows, state, inst, every,
                         count, out, self.d_named[f"_m{j}_s"], self.d_named[f"_m{j}_a"])
        for ion, rows, field, node in ions:
            named = self.d_named
            self._launch(k.probe_ion, len(rows), clock, rows, field, node, every, count,
                         out, *(named[f"_ion_{ion}_{f}"] for f in ("e", "ci", "co", "i")))
