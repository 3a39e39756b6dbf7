"""The CPU backend: the LoweredModel's arrays and the Numba step kernel that advances them.

The kernel advances cell groups (``model.group_node``) one after another, or on ``threads``
threads: every per-step list (stimuli, gap junctions, detectors, probes, events, the spike
buffer) is kept sorted by group with CSR pointers over the groups.  The artificial cells
form more groups without nodes after those (:func:`artificial_groups`).
"""

import os

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.kernels import codegen, epochs, interface
from neurosim.kernels.compilation import announcing
from neurosim.kernels.solver import MIN_MEAN_BLOCK, runs, solve_blocks, static_pivots
from neurosim.kernels.threads import Pool, new_sync
from neurosim.lowering import diffusion, drive
from neurosim.lowering.cells import split_static

_EMPTY_I = np.zeros(0, dtype=np.int64)
ARTIFICIAL_SPIKES_PER_STEP = 2    # spikes an artificial cell may emit in one step (Izhikevich:
                                  # one from its inputs, one from its dynamics)


# room for an epoch's events in compiled epochs at first (grown when an epoch needs more)
EPOCH_EVENTS = 4096

# artificial cells (point neurons) per group: a few groups, so that threads share them, each
# large enough that a group's fixed cost per step (its loops over every table) stays small
ARTIFICIAL_GROUP_CELLS = 8192
ARTIFICIAL_MIN_GROUPS = 4
ARTIFICIAL_MIN_CELLS = 512


def artificial_groups(n):
    """Where each group of ``n`` artificial cells starts (and the end): consecutive, nearly
    equal runs of the cells in table order, so that a step visits them in the same order
    as one group would (the spikes' emission order).  The split depends on ``n`` only,
    never on the thread count: the same groups and the same spikes for any number of
    threads."""
    k = max(-(-n // ARTIFICIAL_GROUP_CELLS),
            min(ARTIFICIAL_MIN_GROUPS, n // ARTIFICIAL_MIN_CELLS), 1)
    return (np.arange(k + 1) * n) // k


def _pointers(sorted_keys, bounds):
    """CSR pointers: where each of ``bounds`` falls in ``sorted_keys``."""
    return np.searchsorted(sorted_keys, bounds).astype(np.int64)


SPIKE_OVERFLOW = (f"an artificial cell or a point process (net_event) emitted more than "
                  f"{ARTIFICIAL_SPIKES_PER_STEP} spikes in one step")


def _first_failure(done, code, nsteps):
    """(steps done, node) of the earliest blow-up among the groups (within a step, the
    lowest node); (nsteps, -1) when none blew up."""
    bad = np.flatnonzero(code >= 0)
    if len(bad):
        first = bad[np.lexsort((code[bad], done[bad]))[0]]
        return int(done[first]), int(code[first])
    return nsteps, -1


def _csr(per_group):
    """Per-group tuples of equal-length columns -> (pointers over the groups, the columns
    concatenated)."""
    counts = [len(columns[0]) for columns in per_group]
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return ptr, [np.concatenate(column) for column in zip(*per_group)]


class CpuBackend:
    @staticmethod
    def node_order():
        """None: the kernels take lowering's cell-group order as it is."""
        return None

    def __init__(self, model, *, dt, celsius, method, use_tables=True, threads=1):
        self.model = model
        self.dt = float(dt)
        self.celsius = float(celsius)
        self.threads = int(threads)
        # Backward Euler solves for v(t+dt); Crank-Nicolson (NEURON's secondorder=1) solves
        # the same system over dt/2 and extrapolates: v(t+dt) = v(t) + 2 dv.
        self.crank_nicolson = method == "crank_nicolson"
        self.cj = (2.0 if self.crank_nicolson else 1.0) / self.dt
        self.tables, self.d_axial_static, self.rhs_static = split_static(model)
        # scratch rows for the steady states and time constants of cnexp states
        self.cnexp_scratch = [np.zeros((2 * len(t.mechanism.cnexp), len(t.nodes)))
                              for t in self.tables]
        self.aux = [t.mechanism.aux_arrays(self.celsius, use_tables) for t in self.tables]
        # LONGITUDINAL_DIFFUSION: each diffusing mechanism's instance tree and work rows
        self.diffusion = [diffusion.arrays(model, t) if t.mechanism.diffusion else None
                          for t in self.tables]
        # one kernel for every thread count: the threads run its groups (kernels.threads)
        self.kernel = codegen.load_kernel([t.mechanism for t in self.tables],
                                          [list(a) for a in self.aux])
        self.pool, self.sync = Pool(self.threads), new_sync()
        n = model.n_nodes
        self.ions = {name: (t.e.copy(), t.ci.copy(), t.co.copy(), np.zeros(n), t.nernst,
                            t.valence) for name, t in model.ions.items()}
        self.v = model.v.copy()
        self.rhs = np.zeros(n)
        self.d = np.zeros(n)
        self._set_groups()
        self._epoch_events = self._event_buffers(EPOCH_EVENTS)
        self.set_probes([], [])
        self.set_detectors(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))
        self.set_connections(np.zeros((0, 1)), np.zeros(0, dtype=np.int32),
                             np.zeros(0, dtype=np.int32))
        self.set_gap_junctions([], [], [])
        self.set_drives(*[np.zeros(0, dtype=t) for t in (np.int64, np.int32, np.int32, float,
                                                         np.uint64, np.int64, np.int64)])
        self._spikes = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=bool))

    # ------------------------------------------------------------------ groups
    def _set_groups(self):
        """Node ranges of the groups (the last ones, empty, for the artificial cells), each
        table's instance ranges, the group of every instance."""
        m = self.model
        artificial = [t for t in self.tables if t.mechanism.kind == "artificial"]
        self.n_artificial = sum(len(t.nodes) for t in artificial)
        bounds = artificial_groups(self.n_artificial)
        n_cell_groups = len(m.group_node) - 1
        self.grp_node = np.append(m.group_node, np.full(len(bounds) - 1, m.n_nodes)
                                  ).astype(np.int64)
        self.n_groups = len(self.grp_node) - 1
        self.inst_grp, self.inst_group = [], []
        first = 0                       # the table's first cell among the artificial ones
        for t in self.tables:
            if t.mechanism.kind == "artificial":
                index = first + np.arange(len(t.nodes))
                first += len(t.nodes)
                group = n_cell_groups - 1 + np.searchsorted(bounds, index, side="right")
                group = group.astype(np.int64)
                ptr = _pointers(group, np.arange(self.n_groups + 1))
            else:
                ptr = _pointers(t.nodes, self.grp_node)
                ptr[-1] = len(t.nodes)
                group = self.group_of_node(t.nodes)
            self.inst_grp.append(ptr)
            self.inst_group.append(group)
        # artificial cells per group: the spike buffer's room for their spikes
        self.artificial_cells = np.zeros(self.n_groups, dtype=np.int64)
        self.artificial_cells[n_cell_groups:] = np.diff(bounds)
        self.ion_grp = {ion: _pointers(self.ions[ion][4], self.grp_node)
                        for ion in self.ions}
        # the nodes where a mechanism uses each ion: only there are its currents summed
        self.ion_used = {}
        for ion in self.ions:
            nodes = [t.nodes for t in self.tables if t.mechanism.kind != "artificial"
                     and any(use.ion == ion for use in t.mechanism.ions)]
            used = np.unique(np.concatenate(nodes + [np.zeros(0, dtype=np.int64)]))
            self.ion_used[ion] = (used.astype(np.int64), _pointers(used, self.grp_node))
        order = np.argsort(m.stim_node, kind="stable")
        self.stim = [a[order] for a in (m.stim_node, m.stim_delay, m.stim_dur, m.stim_amp)]
        self.stim_gp = _pointers(self.stim[0], self.grp_node)
        # membrane currents (i_membrane_), computed in the step while something reads them
        self.imem = np.zeros(m.n_nodes)
        self.rim_row = self.rim_node = np.zeros(0, dtype=np.int64)
        self.rim_gp = _pointers(self.rim_node, self.grp_node)
        self.ecp_every, self.ecp_tr = 0, np.zeros((m.n_nodes, 0))   # nodes x channels
        self._ecp = np.zeros((0, 0))
        # point processes calling net_event: per group, spikes they may add to its buffer
        self.event_points = sum((np.diff(self.inst_grp[j]) for j, t in enumerate(self.tables)
                                 if t.mechanism.kind == "point" and t.mechanism.uses_net_event),
                                np.zeros(self.n_groups, dtype=np.int64))

    def group_of_node(self, nodes):
        return np.searchsorted(self.grp_node, nodes, side="right").astype(np.int64) - 1

    # ------------------------------------------------------------------ set-up
    def set_detectors(self, nodes, thresholds, gids):
        """Threshold detectors: node, threshold (mV) and the gid whose spikes they are."""
        nodes = np.asarray(nodes, dtype=np.int64)
        order = np.argsort(nodes, kind="stable")
        self.det_node = nodes[order]
        self.det_thresh = np.asarray(thresholds, dtype=float)[order]
        self.det_gid = np.asarray(gids, dtype=np.int64)[order]
        self.det_prev = self.v[self.det_node].copy()
        self.det_gp = _pointers(self.det_node, self.grp_node)
        self._spk_size = -1          # the spike buffer is (re)allocated on first use

    def _spike_buffer(self, nsteps):
        """Each group's part of the spike buffer, large enough for ``nsteps`` steps: a
        detector crosses upward at most every second step."""
        per_group = np.diff(self.det_gp) * (nsteps // 2 + 1) + \
            self.event_points * ARTIFICIAL_SPIKES_PER_STEP * nsteps
        per_group += self.artificial_cells * ARTIFICIAL_SPIKES_PER_STEP * nsteps
        gp = np.concatenate([[0], np.cumsum(per_group)]).astype(np.int64)
        if gp[-1] > self._spk_size:
            self._spk_size = int(gp[-1] * 1.25) + 64
            self.spk_gid = np.zeros(self._spk_size, dtype=np.int64)
            self.spk_t = np.zeros(self._spk_size)
            self.spk_exact = np.zeros(self._spk_size, dtype=np.int64)  # 1: net_event
        return gp

    def host(self):
        """The state is in the host arrays already (a GPU backend copies it back here)."""

    def reload(self):
        """The host arrays were written (a restore): nothing to move on the CPU."""

    def take_spikes(self):
        """The spikes of the last ``advance``: (gids, times, exact) where ``exact`` marks
        net_event spikes of artificial cells (the others were detected in a step)."""
        out, self._spikes = self._spikes, (np.zeros(0, dtype=np.int64), np.zeros(0),
                                           np.zeros(0, dtype=bool))
        return out

    def set_gap_junctions(self, a, b, g):
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if np.any(self.group_of_node(a) != self.group_of_node(b)):
            raise NeurosimError("internal: a gap junction joins two cell groups; the cells "
                                "must be lowered as coupled")
        order = np.argsort(a, kind="stable")
        self.gj_a, self.gj_b = a[order], b[order]
        self.gj_g = np.asarray(g, dtype=float)[order]
        self.gj_gp = _pointers(self.gj_a, self.grp_node)
        self._factor_static()

    def _factor_static(self):
        """Constant pivots of the subtrees whose conductances never change (see
        ``solver.static_pivots``); nodes with a mechanism that linearises a current, or a
        gap junction, change."""
        m = self.model
        dynamic = np.zeros(m.n_nodes, dtype=np.bool_)
        for t in self.tables:
            if t.mechanism.kind != "artificial":
                dynamic[t.nodes] = True
        dynamic[self.gj_a] = True
        dynamic[self.gj_b] = True
        self.dynamic, self.inv, self.coupling, fold = static_pivots(
            m.parent, m.g_axial, m.cap * self.cj + self.d_axial_static, dynamic)
        self.d_static = self.d_axial_static + fold
        self._set_solve_blocks()

    def _set_solve_blocks(self):
        """Each group's runs of dynamic nodes (where the diagonal is assembled), and its
        blocks for ``solver.block_solve_range`` where their mean length makes it the faster
        solve; none (the node by node solve) elsewhere.  Both as CSR over the groups."""
        dyn_runs, blocks = [], []
        for lo, hi in zip(self.grp_node[:-1], self.grp_node[1:]):
            dyn_runs.append(runs(self.dynamic, lo, hi))
            mine = solve_blocks(self.model.parent, self.dynamic, lo, hi)
            long_runs = hi > lo and hi - lo >= MIN_MEAN_BLOCK * len(mine[0])
            blocks.append(mine if long_runs else [c[:0] for c in mine])
        self.dyn_gp, self.dyn_runs = _csr(dyn_runs)
        self.blk_gp, self.blocks = _csr(blocks)

    def load_network(self, events):
        """Take a rank's network as lowering placed it on the model
        (:class:`neurosim.lowering.network.EventModel`)."""
        det, gaps, rows = events.detectors, events.gap_junctions, events.rows
        self.set_detectors(det.nodes, det.thresholds, det.gids)
        self.set_gap_junctions(gaps.a, gaps.b, gaps.g)
        n = len(rows.connections)
        self.set_connections(rows.weights, rows.tables, rows.instances)
        self.set_drives(rows.drive_rows, rows.tables[n:], rows.instances[n:], rows.drive_mean,
                        rows.drive_key, rows.drive_first, rows.drive_end)

    def set_connections(self, weights, table, instance):
        """The connections' weight vectors (read and written by NET_RECEIVE) and targets."""
        self.conn_w, self.conn_table, self.conn_inst = weights, table, instance

    def set_drives(self, conn, table, instance, lam, key, on, off):
        """Poisson drives (``neurosim.lowering.drive``): the weight row (``conn``) and target of
        each, its mean count per step ``lam``, its key, and its first and end steps;
        sorted by the target's group."""
        group = np.zeros(len(conn), dtype=np.int64)
        for j, groups in enumerate(self.inst_group):
            sel = table == j
            group[sel] = groups[instance[sel]]
        order = np.argsort(group, kind="stable")
        self.drv_gp = _pointers(group[order], np.arange(self.n_groups + 1))
        self.drives = [np.ascontiguousarray(a[order]) for a in (table, instance, conn, lam,
                                                                 key, on, off)]

    def initialize(self):
        """NEURON's finitialize: v = v_init, every mechanism's INITIAL block at v_init, then
        NET_RECEIVE's INITIAL for every connection."""
        self.v[:] = self.model.v
        for t in self.tables:
            t.self_event[0][:] = np.inf
        for name, (e, ci, co, i, _, _) in self.ions.items():
            table = self.model.ions[name]
            e[:], ci[:], co[:], i[:] = table.e, table.ci, table.co, 0.0
        with self._announcing_compile(), codegen.deep_recursion():
            self.kernel.initialize(*interface.bind(self.kernel.INIT_ARGS, self._arrays(),
                                                   "the CPU backend's initialize"))
        self.det_prev = self.v[self.det_node].copy()

    def _announcing_compile(self):
        """Numba compiles the kernel at its first call with these argument types, unless
        its disk cache has it: then (only) a line says so first."""
        n = len(self.tables)
        return announcing(self.kernel.__name__,
                          f"compiling kernels for {n} mechanism{'s' * (n != 1)} — once, "
                          f"cached in {os.path.dirname(self.kernel.__file__)}")

    def set_imem_probes(self, probes):
        """``probes``: list of (row, node) recording the membrane current (nA)."""
        probes = sorted(probes, key=lambda p: p[1])
        self.rim_row = np.array([r for r, _ in probes], dtype=np.int64)
        self.rim_node = np.array([n for _, n in probes], dtype=np.int64)
        self.rim_gp = _pointers(self.rim_node, self.grp_node)

    def set_ecp(self, transfer, every):
        """Extracellular potential: ``transfer`` (channels, nodes) in mV/nA, sampled every
        ``every`` steps (0: none).  Each call's samples come back from ``take_ecp``."""
        self.ecp_tr = np.ascontiguousarray(np.asarray(transfer, dtype=float).T)
        self.ecp_every = int(every)

    def take_ecp(self):
        """The last call's ECP samples, (samples, channels), summed over the cell groups."""
        return self._ecp

    def set_probes(self, v_probes, state_probes, ion_probes=()):
        """``v_probes``: list of (row, node); ``state_probes``: list of (row, table, state,
        instance); ``ion_probes``: list of (row, ion, field index, node).  Rows index the
        recording buffer; each kind is sorted by cell group here."""
        def sorted_by(key, columns):
            order = np.argsort(np.asarray(key, dtype=np.int64), kind="stable")
            return [np.asarray(c, dtype=np.int64)[order] for c in columns]

        self.rv_row, self.rv_node = sorted_by([n for _, n in v_probes],
                                              ([r for r, _ in v_probes], [n for _, n in v_probes]))
        self.rv_gp = _pointers(self.rv_node, self.grp_node)
        self.rm, self.rm_gp = [], []
        for j in range(len(self.tables)):
            sel = [p for p in state_probes if p[1] == j]
            cols = sorted_by([p[3] for p in sel], [[p[k] for p in sel] for k in (0, 2, 3)])
            self.rm.append(tuple(cols))
            self.rm_gp.append(_pointers(cols[2], self.inst_grp[j]))
        for ion in codegen.ions_of([t.mechanism for t in self.tables]):
            sel = [p for p in ion_probes if p[1] == ion]
            cols = sorted_by([p[3] for p in sel], [[p[k] for p in sel] for k in (0, 2, 3)])
            self.rm.append(tuple(cols))
            self.rm_gp.append(_pointers(cols[2], self.grp_node))

    # ------------------------------------------------------------------ running
    def _table_arrays(self, j):
        """Mechanism table j's arrays by kernel argument name (``interface.MECHANISM``, then
        its aux arrays): the kernel takes those its mechanism uses."""
        t, mech = self.tables[j], self.tables[j].mechanism
        arrays = interface.per_table(j, node=t.nodes, p=t.params, s=t.states, a=t.assigned,
                                     cx=self.cnexp_scratch[j], **dict(zip(
                                         ("nst", "nsf", "nsc"), t.self_event)),
                                     inp=t.incoming[0], inr=t.incoming[1],
                                     ptr=t.pointer_nodes,
                                     gid=t.gids if mech.kind == "artificial" else t.event_gids)
        if self.diffusion[j] is not None:
            arrays.update(interface.per_table(j, **dict(zip(("ldp", "ldf", "ldw"),
                                                            self.diffusion[j]))))
        return {**arrays, **self.aux[j]}

    def _table_args(self, j):
        """The kernel's arguments for mechanism table j, in ``interface.mechanism_args``'
        order (the GPU's kernels take them so)."""
        t = self.tables[j]
        return interface.bind(interface.mechanism_args(j, t.mechanism, self.aux[j]),
                              self._table_arrays(j), f"mechanism table {j} ({t.name})")

    def _arrays(self):
        """Every array the backend holds for the kernels, by argument name."""
        m = self.model
        arrays = {"dt": self.dt, "celsius": self.celsius, "_cj": self.cj,
                  "_crank_nicolson": self.crank_nicolson, "_v": self.v, "_cap": m.cap,
                  "_area": m.area, "_d_static": self.d_static, "_rhs_static": self.rhs_static,
                  "_g_axial": m.g_axial, "_parent": m.parent, "_rhs": self.rhs, "_d": self.d,
                  "_inv": self.inv, "_coupling": self.coupling, "_dynamic": self.dynamic,
                  "_dyn_gp": self.dyn_gp, "_dyn_start": self.dyn_runs[0],
                  "_dyn_end": self.dyn_runs[1], "_blk_gp": self.blk_gp,
                  **dict(zip(("_blk_start", "_blk_end", "_blk_par", "_blk_dyn"), self.blocks)),
                  "_grp_node": self.grp_node, "_stim_gp": self.stim_gp,
                  **dict(zip(("_stim_node", "_stim_delay", "_stim_dur", "_stim_amp"),
                             self.stim)),
                  "_rv_gp": self.rv_gp, "_rv_row": self.rv_row, "_rv_node": self.rv_node,
                  "_conn_w": self.conn_w, "_conn_table": self.conn_table,
                  "_conn_inst": self.conn_inst, "_drv_gp": self.drv_gp,
                  **dict(zip(drive.ARGS[1:], self.drives, strict=True)),
                  "_gj_gp": self.gj_gp, "_gj_a": self.gj_a, "_gj_b": self.gj_b,
                  "_gj_g": self.gj_g, "_det_gp": self.det_gp, "_det_node": self.det_node,
                  "_det_thresh": self.det_thresh, "_det_prev": self.det_prev,
                  "_det_gid": self.det_gid,
                  "_im_on": bool(len(self.rim_node) > 0 or self.ecp_every > 0),
                  "_imem": self.imem, "_rim_gp": self.rim_gp, "_rim_row": self.rim_row,
                  "_rim_node": self.rim_node, "_ecp_every": self.ecp_every,
                  "_ecp_tr": self.ecp_tr}
        ions = codegen.ions_of([t.mechanism for t in self.tables])
        for ion in ions:
            arrays.update(interface.named(interface.ION, self.ions[ion], ion=ion))
            arrays.update(interface.per_ion(ion, ngrp=self.ion_grp[ion]))
            arrays.update(interface.per_ion(ion, **dict(zip(("used", "ugrp"),
                                                            self.ion_used[ion]))))
        for j in range(len(self.tables)):
            arrays.update(self._table_arrays(j))
            arrays.update(interface.per_table(j, grp=self.inst_grp[j]))
        # self.rm, self.rm_gp: the state probes of each table, then those of each ion
        n = len(self.tables)
        for j, (triple, gp) in enumerate(zip(self.rm[:n], self.rm_gp[:n])):
            arrays.update(interface.named(interface.PROBES + [interface.PROBE_GP],
                                          (*triple, gp), j=j))
        for ion, triple, gp in zip(ions, self.rm[n:], self.rm_gp[n:], strict=True):
            arrays.update(interface.named(interface.ION_PROBES + [interface.ION_PROBE_GP],
                                          (*triple, gp), ion=ion))
        return arrays

    def _group_events(self, events):
        """Events (step, time, table, instance, connection) in delivery order -> sorted by
        target group (stable: delivery order within a group), with the group pointers."""
        step, time, table, inst, conn = events
        group = np.zeros(len(step), dtype=np.int64)
        for j, groups in enumerate(self.inst_group):
            sel = table == j
            group[sel] = groups[inst[sel]]
        order = np.argsort(group, kind="stable")
        gp = _pointers(group[order], np.arange(self.n_groups + 1))
        return [gp] + [a[order] for a in (step, time, table, inst, conn)]

    def _event_buffers(self, capacity):
        """Where compiled epochs put an epoch's events for the threads: (group pointers,
        step, table, instance, row) and the times, room for ``capacity`` events."""
        pointers = np.zeros(self.n_groups + 1, dtype=np.int64)
        columns = [np.zeros(capacity, dtype=np.int64) for _ in range(4)]
        return (pointers, *columns), np.zeros(capacity)

    def _run_args(self, step0, nsteps, rec_every, rec_count, rec_out, grouped_events,
                  spk_gp, spk_count, ecp_out, ecp_count):
        """The kernel's ``advance`` arguments (after the threads' and the results'), bound by
        name (``RUN_ARGS``)."""
        arrays = self._arrays()
        arrays.update({"_nsteps": nsteps, "_step0": step0, "_rec_every": rec_every,
                       "_rec_count": rec_count, "_rec_out": rec_out, "_spk_gp": spk_gp,
                       "_spk_count": spk_count, "_spk_gid": self.spk_gid, "_spk_t": self.spk_t,
                       "_spk_exact": self.spk_exact, "_ecp_out": ecp_out,
                       "_ecp_count": ecp_count},
                      **dict(zip(("_ev_gp", "_ev_step", "_ev_t", "_ev_table", "_ev_inst",
                                  "_ev_conn"), grouped_events, strict=True)))
        return interface.bind(self.kernel.RUN_ARGS, arrays, "the CPU backend's step")

    def advance(self, step0, nsteps, rec_every, rec_count, rec_out, events):
        """Run ``nsteps`` steps delivering ``events`` (step, time, table, instance,
        connection); returns (steps done, code): -1 done, else the node that blew up (then
        steps done counts that node's group)."""
        spk_gp = self._spike_buffer(nsteps)
        spk_count = np.zeros(self.n_groups, dtype=np.int64)
        done = np.zeros(self.n_groups, dtype=np.int64)
        code = np.full(self.n_groups, -1, dtype=np.int64)
        n_ecp = nsteps // self.ecp_every + 1 if self.ecp_every > 0 else 0
        ecp_out = np.zeros((self.n_groups, n_ecp, self.ecp_tr.shape[1]))
        ecp_count = np.zeros(self.n_groups, dtype=np.int64)
        with self._announcing_compile(), codegen.deep_recursion():
            self.pool.run(self.kernel.advance, self.sync, done, code, *self._run_args(
                step0, nsteps, rec_every, rec_count, rec_out, self._group_events(events),
                spk_gp, spk_count, ecp_out, ecp_count))
        if self.ecp_every > 0:      # every group samples the same steps
            self._ecp = ecp_out[:, :int(ecp_count.max(initial=0))].sum(axis=0)
        capacity = np.diff(spk_gp)
        if np.any(spk_count > capacity):
            raise NeurosimError(SPIKE_OVERFLOW)
        take = np.repeat(spk_gp[:-1], spk_count) + (
            np.arange(spk_count.sum()) - np.repeat(np.cumsum(spk_count) - spk_count, spk_count))
        self._spikes = (self.spk_gid[take].copy(), self.spk_t[take].copy(),
                        self.spk_exact[take].astype(bool))
        return _first_failure(done, code, nsteps)

    def advance_epochs(self, step0, ends, rec_every, rec_count, rec_out, queue, records,
                       step_times, net):
        """Run epochs from ``step0`` to each step of ``ends`` (no ECP), the events between
        them in compiled code (``neurosim.kernels.epochs``; ``queue``, ``records`` and ``net`` as
        there, ``step_times``: spikes stamped with their step's end).  Returns (queue,
        records, steps done, code) as ``advance`` (code -1: all done)."""
        longest = int(np.max(np.diff(ends, prepend=step0), initial=1))
        spk_gp = self._spike_buffer(longest)
        spk_count = np.zeros(self.n_groups, dtype=np.int64)
        done = np.zeros(self.n_groups, dtype=np.int64)
        code = np.full(self.n_groups, -1, dtype=np.int64)
        no_events = [np.zeros(self.n_groups + 1, dtype=np.int64)] + [
            np.zeros(0, dtype=d) for d in (np.int64, float, np.int64, np.int64, np.int64)]
        first, start = step0, step0
        while True:
            with self._announcing_compile(), codegen.deep_recursion():
                queue, records, start, status = self.pool.run(
                    self.kernel.run_epochs, self.sync, *self._epoch_events, done, code, ends,
                    queue, records, step_times, net, *self._run_args(
                        start, 0, rec_every, rec_count, rec_out, no_events, spk_gp,
                        spk_count, np.zeros((self.n_groups, 0, 0)),
                        np.zeros(self.n_groups, dtype=np.int64)))
            if status != 4:
                break
            # the epoch from ``start`` has more events than the buffers hold: larger ones,
            # and on from there
            self._epoch_events = self._event_buffers(2 * epochs.pending_events(queue))
            ends = ends[ends > start]
        if status == 2:
            raise NeurosimError(SPIKE_OVERFLOW)
        if status == 1:
            done_in_epoch, node = _first_failure(done, code, 0)
            return queue, records, start - first + done_in_epoch, node
        return queue, records, (int(ends[-1]) - first if len(ends) else 0), -1
