"""The canonical order of events, compiled: the rules both event paths share (the Python
queue of :mod:`neurosim.run.events` and the compiled epochs of :mod:`neurosim.kernels.epochs`).

A spike of gid s travels every connection c from s and becomes an event at t + delay[c] for
the target point process (mechanism table, instance) with weight[c].  For a spike detected in a
step, t is the end of that step (NEURON's fixed-step rule; the recorded time follows the
Simulation's ``spike_times``); for a spike source or an artificial cell, its own time.  An
event at time te is delivered at the start of step n = ceil(te / dt - 1/2), the step whose
midpoint window holds te (NEURON's rule; a step earlier to a target whose ``event_lead`` is 1:
NEST's iaf_psc_delta adds an input in the step that ends at it), and events of one time are
delivered first in, first out as NEURON's queue does: by the time sent, then the spike's
emission order (numbered as spikes are pushed), then connection row.  See docs/sonata.md,
"Events and spike times".
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def before(time, events, delay, a, b):
    """Whether event a was sent before event b (``time``: their delivery times, equal):
    by the time sent, then the key (emission order << 32 | row)."""
    mask = np.int64(0xFFFFFFFF)
    ta = time[a] - delay[events[a, 1] & mask]
    tb = time[b] - delay[events[b, 1] & mask]
    if ta != tb:
        return ta < tb
    return events[a, 1] < events[b, 1]


@njit(cache=True, nogil=True)
def order_ties(sort, time, events, delay):
    """Within each run of equal times in ``sort``, order as NEURON's queue delivers them:
    first in, first out, i.e. by the time sent, then emission order, then row (an
    insertion sort for short runs, a sort by (sent, key) for long ones: a network with one
    delay and step-aligned spikes delivers a whole step's events at one time)."""
    start = 0
    for k in range(1, len(sort) + 1):
        if k < len(sort) and time[sort[k]] == time[sort[start]]:
            continue
        if k - start > 16:
            run = sort[start:k].copy()
            sent = np.empty(k - start)
            keys = np.empty(k - start, dtype=np.int64)
            for i in range(k - start):
                keys[i] = events[run[i], 1]
                sent[i] = time[run[i]] - delay[keys[i] & 0xFFFFFFFF]
            by_key = np.argsort(keys, kind="mergesort")
            by_sent = np.argsort(sent[by_key], kind="mergesort")
            sort[start:k] = run[by_key[by_sent]]
        else:
            for i in range(start + 1, k):
                e = sort[i]
                j = i - 1
                while j >= start and before(time, events, delay, e, sort[j]):
                    sort[j + 1] = sort[j]
                    j -= 1
                sort[j + 1] = e
        start = k


@njit(cache=True, nogil=True)
def unpack(events, sort, dt, target_table, target_instance, lead, step, time, source, conn,
            table, instance):
    """The fields of events (rows: time's bits, source << 32 | row) taken in ``sort``'s
    order, in one pass; the step is the one that takes the event (its target's lead)."""
    bits = np.empty(1, dtype=np.int64)
    t = bits.view(np.float64)
    for k in range(len(sort)):
        e = sort[k]
        bits[0] = events[e, 0]
        key = events[e, 1]
        c = key & 0xFFFFFFFF
        time[k] = t[0]
        step[k] = step_of(t[0], dt) - lead[target_table[c]]
        source[k] = key >> 32
        conn[k] = c
        table[k] = target_table[c]
        instance[k] = target_instance[c]


@njit(cache=True, nogil=True)
def step_of(time, dt):
    return np.int64(np.ceil(time / dt - 0.5 - 1e-9))


@njit(cache=True, nogil=True)
def events_of(gids, sent, order, ptr, delay, target_table, lead, dt):
    """The events of spikes (gids, times sent, emission order): rows (time's bits,
    order << 32 | row), in order of the step that takes them (their time's, less the
    target's lead), stably (a counting sort: the steps span only the delays); returns
    (events, first step, count of each step from the first)."""
    n_gids = len(ptr) - 1
    lo, hi, m = np.int64(2**62), np.int64(-2**62), 0
    for k in range(len(gids)):                  # pass 1: how many, over which steps
        g = gids[k]
        if 0 <= g < n_gids:
            for c in range(ptr[g], ptr[g + 1]):
                step = step_of(sent[k] + delay[c], dt) - lead[target_table[c]]
                lo, hi, m = min(lo, step), max(hi, step), m + 1
    events = np.empty((m, 2), dtype=np.int64)
    if m == 0:
        return events, 0, np.zeros(0, dtype=np.int64)
    counts = np.zeros(hi - lo + 1, dtype=np.int64)
    for k in range(len(gids)):                  # pass 2: count per step
        g = gids[k]
        if 0 <= g < n_gids:
            for c in range(ptr[g], ptr[g + 1]):
                counts[step_of(sent[k] + delay[c], dt) - lead[target_table[c]] - lo] += 1
    fill = np.zeros(hi - lo + 1, dtype=np.int64)
    fill[1:] = np.cumsum(counts)[:-1]
    time = np.empty(1)
    bits = time.view(np.int64)
    for k in range(len(gids)):                  # pass 3: write
        g = gids[k]
        if 0 <= g < n_gids:
            for c in range(ptr[g], ptr[g + 1]):
                time[0] = sent[k] + delay[c]
                step = step_of(time[0], dt) - lead[target_table[c]] - lo
                at = fill[step]
                fill[step] += 1
                events[at, 0] = bits[0]
                events[at, 1] = (order[k] << 32) | c
    return events, lo, counts
