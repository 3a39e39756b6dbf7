"""Events between epochs in compiled code: one kernel call runs many epochs.

Within an epoch (at most the minimum delay) the cell groups are independent; between two
epochs the spikes of the first become events of later ones.  ``Simulation`` does that in
Python once per kernel call, which for cheap cells (point neurons, artificial cells) costs
more than the steps.  Here the same work -- spike-source spikes queued, the epoch's events
popped in NEURON's delivery order and sorted by cell group, the epoch's spikes recorded and
turned into events -- is compiled, and the kernel module's ``run_epochs`` loops over epochs
calling its ``advance`` between them (no Python between epochs).  Every number is the one
the Python path computes (``events.EventQueue``, ``Simulation._take_spikes``,
``_queue_events``, ``_queue_source_spikes``), so both give the same spikes bit for bit.

The pending events live in a ring of per-step lists over a pool:
``queue = (head, tail, next, time bits, key, counters)``, all int64.  Slot
``step % len(head)`` lists the events taken in that step first in, first out; the ring spans
an epoch plus the longest delay, so a step never meets another's slot.  Spikes are queued in
emission order and a spike's rows in order, so a slot's list is in key order already, and
often in delivery order (one delay, spikes on the grid): a pop sorts a step's events only
where they are not.
"""

import numpy as np
from numba import njit

from neurosim.kernels.event_order import before, events_of, order_ties, unpack

# counters (the queue's fifth array)
FREE, USED, PENDING, BASE, ORDER, SOURCE, RECORDS = range(7)
N_COUNTERS = 7


def new_queue(ring, capacity=1024):
    """An empty queue whose ring spans ``ring`` steps."""
    head = np.full(ring, -1, dtype=np.int64)
    tail = np.full(ring, -1, dtype=np.int64)
    pool = [np.zeros(capacity, dtype=np.int64) for _ in range(3)]
    counters = np.zeros(N_COUNTERS, dtype=np.int64)
    counters[FREE] = -1
    return (head, tail, *pool, counters)


@njit(cache=True, nogil=True)
def _grown(queue, extra):
    """The queue with room for ``extra`` more events (its pool doubled as needed)."""
    head, tail, nxt, bits, key, c = queue
    free = 0                                 # the free list is walked only when short
    if c[USED] + extra > nxt.shape[0]:
        k = c[FREE]
        while k >= 0 and c[USED] + extra - free > nxt.shape[0]:
            free += 1
            k = nxt[k]
    if c[USED] + extra - free <= nxt.shape[0]:
        return queue
    size = max(2 * nxt.shape[0], c[USED] + extra + 1024)
    out = []
    for a in (nxt, bits, key):
        b = np.empty(size, dtype=np.int64)
        b[:a.shape[0]] = a
        out.append(b)
    return head, tail, out[0], out[1], out[2], c


@njit(cache=True, nogil=True)
def file_events(queue, events, first, counts):
    """File events (rows: time bits, key) given in step order, ``counts[k]`` of step
    ``first + k``; returns the queue (its pool may have grown)."""
    queue = _grown(queue, events.shape[0])
    head, tail, nxt, bits, key, c = queue
    ring = head.shape[0]
    at = 0
    for k in range(counts.shape[0]):
        # an event due before the current step (a spike between grid points onto a target
        # that takes inputs a step early) is delivered in the next pop, as in Python's queue
        step = max(first + k, c[BASE])
        if counts[k] and step >= c[BASE] + ring:
            raise ValueError("internal: an event beyond the event ring's steps")
        slot = step % ring
        for _ in range(counts[k]):
            node = c[FREE]
            if node >= 0:
                c[FREE] = nxt[node]
            else:
                node = c[USED]
                c[USED] += 1
            bits[node] = events[at, 0]
            key[node] = events[at, 1]
            nxt[node] = -1
            if tail[slot] >= 0:
                nxt[tail[slot]] = node
            else:
                head[slot] = node
            tail[slot] = node
            at += 1
    c[PENDING] += at
    return queue


@njit(cache=True, nogil=True)
def take_before(queue, end):
    """Remove the events of steps ``base .. end - 1``: rows (time bits, key) step by step,
    each step's first in, first out, and where each step's rows start (``end - base + 1``
    pointers)."""
    head, tail, nxt, bits, key, c = queue
    ring = head.shape[0]
    base = c[BASE]
    out = np.empty((c[PENDING], 2), dtype=np.int64)
    starts = np.zeros(max(end - base, 0) + 1, dtype=np.int64)
    n = 0
    for step in range(base, end):
        slot = step % ring
        node = head[slot]
        while node >= 0:
            out[n, 0] = bits[node]
            out[n, 1] = key[node]
            n += 1
            after = nxt[node]
            nxt[node] = c[FREE]
            c[FREE] = node
            node = after
        head[slot] = -1
        tail[slot] = -1
        starts[step - base + 1] = n
    c[PENDING] -= n
    c[BASE] = max(base, end)
    return out[:n], starts


@njit(cache=True, nogil=True)
def all_pending(queue):
    """Every pending event, rows (time bits, key), by step, with the first step and the
    count of each step from it (the queue is left empty)."""
    head, tail, nxt, bits, key, c = queue
    ring = head.shape[0]
    counts = np.zeros(ring, dtype=np.int64)
    out = np.empty((c[PENDING], 2), dtype=np.int64)
    n = 0
    for k in range(ring):
        node = head[(c[BASE] + k) % ring]
        while node >= 0:
            out[n, 0] = bits[node]
            out[n, 1] = key[node]
            counts[k] += 1
            n += 1
            node = nxt[node]
        head[(c[BASE] + k) % ring] = -1
        tail[(c[BASE] + k) % ring] = -1
    c[PENDING] = 0
    c[FREE] = -1
    c[USED] = 0
    return out[:n], c[BASE], counts


@njit(cache=True, nogil=True)
def pop_grouped(queue, end, dt, delay, target_table, target_instance, lead, group_flat,
                group_start, n_groups):
    """The events to deliver before step ``end`` in delivery order (as
    ``EventQueue.pop_before``), then stably by target cell group (as
    ``CpuBackend._group_events``): (group pointers, step, time, table, instance, row)."""
    events, starts = take_before(queue, end)
    n = events.shape[0]
    time = np.ascontiguousarray(events[:, 0]).view(np.float64)
    sort = np.arange(n)
    one_lead = True                 # the steps' order is the times' order
    for j in range(lead.shape[0]):
        one_lead = one_lead and lead[j] == lead[0]
    if one_lead:
        for s in range(starts.shape[0] - 1):
            _delivery_order(sort, starts[s], starts[s + 1], time, events, delay)
    else:
        _delivery_order(sort, 0, n, time, events, delay)
    step, t = np.empty(n, np.int64), np.empty(n)
    source, conn = np.empty(n, np.int64), np.empty(n, np.int64)
    table, inst = np.empty(n, np.int64), np.empty(n, np.int64)
    unpack(events, sort, dt, target_table, target_instance, lead, step, t, source, conn,
            table, inst)
    gp = np.zeros(n_groups + 1, dtype=np.int64)
    group = np.empty(n, np.int64)
    for k in range(n):
        group[k] = group_flat[group_start[table[k]] + inst[k]]
        gp[group[k] + 1] += 1
    for g in range(n_groups):
        gp[g + 1] += gp[g]
    for g in range(n_groups):           # all in one group (the artificial cells'): as is
        if gp[g + 1] - gp[g] == n:
            return gp, step, t, table, inst, conn
    by_group = np.empty(n, np.int64)            # a stable counting sort
    fill = gp[:-1].copy()
    for k in range(n):
        by_group[fill[group[k]]] = k
        fill[group[k]] += 1
    return (gp, step[by_group], t[by_group], table[by_group], inst[by_group],
            conn[by_group])


@njit(cache=True, nogil=True)
def begin_epoch(queue, records, end, dt, net, buffers, times):
    """The work before an epoch that ends before step ``end``: spike-source spikes queued,
    then the epoch's events popped (``pop_grouped``) into ``buffers`` (group pointers,
    step, table, instance, row) and ``times``, which the threads running the epoch share.
    Returns (queue, records, status): status 4 when the events might not fit the buffers
    (nothing popped: the caller grows them to ``pending_events(queue)`` and calls again)."""
    ptr, delay, ttab, tinst, lead, gflat, gstart, src_t, src_sent, src_gid = net
    queue, records = queue_sources(queue, records, end, dt, src_t, src_sent, src_gid, ptr,
                                   delay, ttab, lead)
    if queue[5][PENDING] > times.shape[0]:
        return queue, records, 4
    gp_out, step_out, table_out, inst_out, conn_out = buffers
    gp, step, t, table, inst, conn = pop_grouped(queue, end, dt, delay, ttab, tinst, lead,
                                                 gflat, gstart, gp_out.shape[0] - 1)
    gp_out[:] = gp
    n = step.shape[0]
    step_out[:n] = step
    times[:n] = t
    table_out[:n] = table
    inst_out[:n] = inst
    conn_out[:n] = conn
    return queue, records, 0


def pending_events(queue):
    """How many events the queue holds (due in any step)."""
    return int(queue[5][PENDING])


@njit(cache=True, nogil=True)
def _delivery_order(sort, lo, hi, time, events, delay):
    """Put ``sort[lo:hi]`` (first in, first out: key order) in NEURON's delivery order, by
    (time, time sent, key).  Usually the events of a step were queued in order of the time
    they were sent (spikes are queued epoch by epoch), so a stable sort by time is enough;
    the general sort only where they were not."""
    in_order, by_sent = True, True
    mask = np.int64(0xFFFFFFFF)
    for k in range(lo + 1, hi):
        a, b = sort[k - 1], sort[k]
        if in_order and (time[a] > time[b] or (time[a] == time[b] and
                                                before(time, events, delay, b, a))):
            in_order = False
        sa = time[a] - delay[events[a, 1] & mask]
        sb = time[b] - delay[events[b, 1] & mask]
        if sa > sb or (sa == sb and events[a, 1] > events[b, 1]):
            by_sent = False
            break
    if in_order and by_sent:
        return
    part = sort[lo:hi]
    if by_sent:
        sort[lo:hi] = part[np.argsort(time[part], kind="mergesort")]
        return
    part = part[np.argsort(time[part])]
    order_ties(part, time, events, delay)
    sort[lo:hi] = part


@njit(cache=True, nogil=True)
def _push(queue, gids, sent, dt, ptr, delay, target_table, lead):
    """Queue the events of spikes already in emission order (``EventQueue.push_spikes``
    with detected=False)."""
    c = queue[5]
    order = c[ORDER] + np.arange(gids.shape[0])
    c[ORDER] += gids.shape[0]
    if delay.shape[0] == 0 or gids.shape[0] == 0:
        return queue
    events, first, counts = events_of(gids, sent, order, ptr, delay, target_table, lead, dt)
    return file_events(queue, events, first, counts)


@njit(cache=True, nogil=True)
def _recorded(records, c, gids, times):
    """Append spikes to the records (rows: gid, time bits; ``c[RECORDS]`` of them so far);
    returns them (grown if needed)."""
    n = c[RECORDS]
    if n + gids.shape[0] > records.shape[1]:
        grown = np.zeros((2, max(2 * records.shape[1], n + gids.shape[0] + 1024)),
                         dtype=np.int64)
        grown[:, :n] = records[:, :n]
        records = grown
    bits = np.ascontiguousarray(times).view(np.int64)
    for k in range(gids.shape[0]):
        records[0, n + k] = gids[k]
        records[1, n + k] = bits[k]
    c[RECORDS] = n + gids.shape[0]
    return records


@njit(cache=True, nogil=True)
def queue_sources(queue, records, end, dt, source_times, source_sent, source_gids, ptr,
                  delay, target_table, lead):
    """Spike-source spikes before step ``end`` become events and are recorded
    (``Simulation._queue_source_spikes``)."""
    c = queue[5]
    stop = np.searchsorted(source_times, end * dt, side="left")
    if stop > c[SOURCE]:
        lo = c[SOURCE]
        queue = _push(queue, source_gids[lo:stop], source_sent[lo:stop], dt, ptr, delay,
                      target_table, lead)
        records = _recorded(records, c, source_gids[lo:stop], source_times[lo:stop])
        c[SOURCE] = stop
    return queue, records


@njit(cache=True, nogil=True)
def queue_spikes(queue, records, spk_gp, spk_count, spk_gid, spk_t, spk_exact, dt,
                 step_times, ptr, delay, target_table, lead):
    """An epoch's spikes, group by group from the spike buffer: recorded and queued as
    ``Simulation._take_spikes`` and ``_queue_events`` do; ``step_times``: a detected
    spike's time is its step's end.  Returns (queue, records, overflow)."""
    n_groups = spk_count.shape[0]
    n = 0
    for g in range(n_groups):
        if spk_count[g] > spk_gp[g + 1] - spk_gp[g]:
            return queue, records, True
        n += spk_count[g]
    gids, times = np.empty(n, np.int64), np.empty(n)
    exact = np.empty(n, np.bool_)
    at = 0
    for g in range(n_groups):
        for k in range(spk_gp[g], spk_gp[g] + spk_count[g]):
            gids[at], times[at], exact[at] = spk_gid[k], spk_t[k], spk_exact[k] != 0
            at += 1
    if n == 0:
        return queue, records, False
    for k in range(n):
        if step_times:
            if not exact[k]:
                times[k] = np.ceil(times[k] / dt - 1e-9) * dt
        else:
            exact[k] = True
    records = _recorded(records, queue[5], gids, times)
    sent, tie = np.empty(n), np.empty(n, np.int64)
    for k in range(n):
        sent[k] = times[k] if exact[k] else np.ceil(times[k] / dt - 1e-9) * dt
        tie[k] = -1 if exact[k] else gids[k]
    order = np.argsort(tie, kind="mergesort")       # np.lexsort((arange, tie, sent))
    order = order[np.argsort(sent[order], kind="mergesort")]
    queue = _push(queue, gids[order], sent[order], dt, ptr, delay, target_table, lead)
    return queue, records, False
