"""The CPU backend: the LoweredModel's arrays and the Numba step kernel that advances them."""

import numpy as np

from .. import codegen
from ..lowering import split_static

_EMPTY_I = np.zeros(0, dtype=np.int64)


class CpuBackend:
    def __init__(self, model, *, dt, celsius, method, use_tables=True):
        self.model = model
        self.dt = float(dt)
        self.celsius = float(celsius)
        # Backward Euler solves for v(t+dt); Crank-Nicolson (NEURON's secondorder=1) solves
        # the same system over dt/2 and extrapolates: v(t+dt) = v(t) + 2 dv.
        self.crank_nicolson = method == "crank_nicolson"
        self.cj = (2.0 if self.crank_nicolson else 1.0) / self.dt
        self.tables, self.d_static, self.rhs_static = split_static(model)
        # scratch rows for the steady states and time constants of cnexp states
        self.cnexp_scratch = [np.zeros((2 * len(t.mechanism.cnexp), len(t.nodes)))
                              for t in self.tables]
        self.aux = [t.mechanism.aux_arrays(self.celsius, use_tables) for t in self.tables]
        self.kernel = codegen.load_kernel([t.mechanism for t in self.tables],
                                          [list(a) for a in self.aux])
        n = model.n_nodes
        self.ions = {name: (t.e.copy(), t.ci.copy(), t.co.copy(), np.zeros(n), t.nernst,
                            t.valence) for name, t in model.ions.items()}
        self.v = model.v.copy()
        self.rhs = np.zeros(n)
        self.d = np.zeros(n)
        self.set_probes([], [])
        self.set_detectors(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))
        self.set_connections(np.zeros((0, 1)), np.zeros(0, dtype=np.int64),
                             np.zeros(0, dtype=np.int64))
        self.set_gap_junctions([], [], [])

    def set_detectors(self, nodes, thresholds, gids, capacity=None):
        """Threshold detectors: node, threshold (mV) and the gid whose spikes they are."""
        self.det_node = np.asarray(nodes, dtype=np.int64)
        self.det_thresh = np.asarray(thresholds, dtype=float)
        self.det_gid = np.asarray(gids, dtype=np.int64)
        self.det_prev = self.v[self.det_node].copy()
        artificial = sum(len(t.nodes) for t in self.tables if t.mechanism.kind == "artificial")
        size = capacity or max(4096, 8 * (len(self.det_node) + artificial))
        self.spk_gid = np.zeros(size, dtype=np.int64)
        self.spk_t = np.zeros(size)
        self.spk_exact = np.zeros(size, dtype=np.int64)   # 1: net_event (exact time)
        self.spk_n = np.zeros(1, dtype=np.int64)

    def take_spikes(self):
        """The spikes since the last call: (gids, times, exact) where ``exact`` marks
        net_event spikes of artificial cells (the others were detected in a step)."""
        n = int(self.spk_n[0])
        out = (self.spk_gid[:n].copy(), self.spk_t[:n].copy(),
               self.spk_exact[:n].astype(bool))
        self.spk_n[0] = 0
        return out

    def _mech_args(self):
        args = []
        for t, aux, cx in zip(self.tables, self.aux, self.cnexp_scratch):
            args += [t.nodes, t.params, t.states, t.assigned, cx]
            if t.mechanism.uses_net_send:
                args += list(t.self_event)
            if t.mechanism.kind == "artificial":
                args.append(t.gids)
            if t.mechanism.uses_for_netcons:
                args += list(t.incoming)
            if t.mechanism.pointers:
                args.append(t.pointer_nodes)
            args += list(aux.values())
        return args

    def _ion_args(self):
        from ..codegen import ions_of
        args = []
        for ion in ions_of([t.mechanism for t in self.tables]):
            args += list(self.ions[ion])
        return args

    def set_gap_junctions(self, a, b, g):
        self.gj_a = np.asarray(a, dtype=np.int64)
        self.gj_b = np.asarray(b, dtype=np.int64)
        self.gj_g = np.asarray(g, dtype=float)

    def set_connections(self, weights, table, instance):
        """The connections' weight vectors (read and written by NET_RECEIVE) and targets."""
        self.conn_w, self.conn_table, self.conn_inst = weights, table, instance

    def initialize(self):
        """NEURON's finitialize: v = v_init, every mechanism's INITIAL block at v_init, then
        NET_RECEIVE's INITIAL for every connection."""
        self.v[:] = self.model.v
        for t in self.tables:
            t.self_event[0][:] = np.inf
        for name, (e, ci, co, i, _, _) in self.ions.items():
            table = self.model.ions[name]
            e[:], ci[:], co[:], i[:] = table.e, table.ci, table.co, 0.0
        self.kernel.initialize(self.v, self.dt, self.celsius, self.model.area, self.conn_w,
                               self.conn_table, self.conn_inst, *self._ion_args(),
                               *self._mech_args())
        self.det_prev = self.v[self.det_node].copy()

    def set_probes(self, v_probes, state_probes, ion_probes=()):
        """``v_probes``: list of (row, node); ``state_probes``: list of (row, table, state,
        instance); ``ion_probes``: list of (row, ion, field index, node).  Rows index the
        recording buffer."""
        self.rv_row = np.array([r for r, _ in v_probes], dtype=np.int64)
        self.rv_node = np.array([n for _, n in v_probes], dtype=np.int64)
        self.rm = []
        for j in range(len(self.tables)):
            sel = [p for p in state_probes if p[1] == j]
            self.rm.append((np.array([p[0] for p in sel], dtype=np.int64),
                            np.array([p[2] for p in sel], dtype=np.int64),
                            np.array([p[3] for p in sel], dtype=np.int64)))
        from ..codegen import ions_of
        for ion in ions_of([t.mechanism for t in self.tables]):
            sel = [p for p in ion_probes if p[1] == ion]
            self.rm.append(tuple(np.array([p[k] for p in sel], dtype=np.int64)
                                 for k in (0, 2, 3)))

    def advance(self, step0, nsteps, rec_every, rec_count, rec_out, events):
        """Run ``nsteps`` steps delivering ``events`` (step, time, table, instance, weights,
        pointer); returns (steps done, code): -1 done, -2 spike buffer full, else the node
        that blew up."""
        m = self.model
        probe_args = [a for triple in self.rm for a in triple]
        done, bad = self.kernel.advance(
            nsteps, step0, self.dt, self.celsius, self.cj, self.crank_nicolson, self.v, m.cap,
            m.area,
            self.d_static, self.rhs_static, m.g_axial, m.parent, self.rhs, self.d,
            m.stim_node, m.stim_delay, m.stim_dur, m.stim_amp,
            rec_every, rec_count, rec_out, self.rv_row, self.rv_node, *events, self.conn_w,
            self.gj_a, self.gj_b, self.gj_g,
            self.det_node, self.det_thresh, self.det_prev, self.det_gid,
            self.spk_gid, self.spk_t, self.spk_exact, self.spk_n,
            *self._ion_args(), *self._mech_args(), *probe_args)
        return int(done), int(bad)
