"""Connections become the kernel's rows: sorted by source gid (a counting sort), with their
delays checked against dt and the timing of NEST's models (events of a NEST model land one step
earlier; NEST stamps its spikes at the end of the step).  See docs/sonata.md, "Events and spike
times"."""

import numpy as np
from numba import njit

from neurosim.errors import ParameterError


class Connections:
    """The kernel's connection rows, sorted by source gid: the rows of gid g are
    ``ptr[g]:ptr[g + 1]``, in connection order within a source (so ordering events by
    (time, source, row) is the canonical order), a spike's events read consecutive memory.
    Each row: delay, target (table, instance) and weight vector; about 24 bytes.
    ``lead``: per target table, how many steps before its step an event is taken (1 for
    NEST's models whose state jumps with an input: NEST adds it in the step that ends at
    its time; see ``Mechanism.event_lead``)."""

    def __init__(self, ptr, delay, table, instance, weights, lead=None):
        self.ptr = ptr
        self.delay = np.asarray(delay, dtype=float)
        self.target_table = np.asarray(table)
        self.target_instance = np.asarray(instance)
        self.lead = np.zeros(int(self.target_table.max(initial=-1)) + 1, dtype=np.int64) \
            if lead is None else np.asarray(lead, dtype=np.int64)
        w = np.asarray(weights, dtype=float)
        self.weights = np.ascontiguousarray(w if w.ndim == 2 else w.reshape(len(w), 1))

    def __len__(self):
        return len(self.delay)


def by_source(source):
    """(ptr, index): a counting sort of connections by source gid, stable, the index as
    int32 where it fits (no int64 argsort and its copies: 3e8 connections must fit)."""
    n_gids = int(source.max()) + 1 if len(source) else 0
    ptr = np.zeros(n_gids + 1, dtype=np.int64)
    index = np.empty(len(source), dtype=np.int32 if len(source) < 2**31 else np.int64)
    _counting_sort(source, ptr, index)
    return ptr, index


@njit(cache=True, nogil=True)
def _counting_sort(source, ptr, index):
    for c in range(len(source)):
        ptr[source[c] + 1] += 1
    for g in range(1, len(ptr)):
        ptr[g] += ptr[g - 1]
    fill = ptr[:-1].copy()
    for c in range(len(source)):
        s = source[c]
        index[fill[s]] = c
        fill[s] += 1


def check_delays(delays, dt, made=None, source=None, target=None):
    """Delays of connections from cells (``made``; all without it) must be >= dt: a
    spike made in a step reaches its targets in a later step.  Spike sources' spikes are
    known in advance, so their connections may take any delay >= 0."""
    delays = np.asarray(delays, dtype=float)
    short = delays < dt * (1 - 1e-9)
    if made is not None:
        short &= made
    if short.any():
        c = int(np.flatnonzero(short)[np.argmin(delays[short])])
        which = f" {int(source[c])} -> {int(target[c])}" if source is not None else ""
        raise ParameterError(f"connection{which}: delay {delays[c]} ms is shorter than dt = "
                             f"{dt} ms; delays from cells must be >= dt (from spike "
                             "sources any delay >= 0 is delivered)")


def check_lead_delays(conns, dt, names):
    """An event taken a step before its time (``Connections.lead``) must still come after
    the step its spike left in: such connections need delays >= dt, from any source (NEST
    refuses delays below its resolution).  ``names``: the target tables' mechanisms."""
    if not conns.lead.any() or len(conns) == 0:
        return
    short = (conns.delay < dt * (1 - 1e-9)) & (conns.lead[conns.target_table] > 0)
    if short.any():
        c = int(np.flatnonzero(short)[0])
        source = int(np.searchsorted(conns.ptr, c, side="right") - 1)
        raise ParameterError(f"connection from gid {source} onto an "
                             f"{names[conns.target_table[c]]} neuron: delay {conns.delay[c]} "
                             f"ms is shorter than dt = {dt} ms (NEST takes its input in the "
                             "step that ends at the event: its delays must be >= the "
                             "resolution)")


NEST_MODELS = frozenset({"iaf_psc_exp", "iaf_psc_alpha", "iaf_psc_delta", "iaf_cond_exp",
                         "aeif_cond_exp", "izhikevich", "glif_psc"})


def nest_timing(net):
    """How spike sources' times become NEST steps: ``net.spike_timing`` -- "nest" (a
    spike_generator with precise_times, as PointNet makes them: the end of the step holding
    the time), "nest_grid" (precise_times off, allow_offgrid_times on, as NEST's
    SonataNetwork makes them: a time within half a tic of the grid is that grid point, others
    the end of their step) or "neuron" (the nearest step) -- else "nest" when every cell is
    one of NEST's point-neuron models, None otherwise."""
    mode = getattr(net, "spike_timing", None)
    if mode is not None:
        if mode not in ("nest", "nest_grid", "neuron"):
            raise ParameterError(f"spike_timing must be 'nest', 'nest_grid' or 'neuron', "
                                 f"got {mode!r}")
        return None if mode == "neuron" else mode
    nest = bool(net.artificial) and not net.cells and all(
        m.name in NEST_MODELS for m, _ in net.artificial.values())
    return "nest" if nest else None


def nest_stamps(times, dt, precise=True, tics_per_ms=1000.0):
    """NEST's spike_generator's step of each time (as a time in ms): with ``precise``
    (``Time::ms_stamp``) the end of the step holding it, a time on the grid staying;
    without, the time rounded to tics first (``Time::ms``), kept if on the grid, else the
    end of its step (allow_offgrid_times).  Computed as NEST does, in tics."""
    t = np.asarray(times, dtype=float)
    tics_per_step = int(round(dt * tics_per_ms))
    ms_per_step = tics_per_step / tics_per_ms
    n = np.trunc(t * tics_per_ms).astype(np.int64)
    n -= n % tics_per_step
    ms = n * (1.0 / tics_per_step) * ms_per_step
    n = np.where(ms < t, n + tics_per_step, n)
    if not precise:
        tics = np.trunc(t * tics_per_ms + 0.5).astype(np.int64)
        n = np.where(tics % tics_per_step == 0, tics, n)
    return (n // tics_per_step) * dt
