"""The event queue against a direct reference: every event of every spike delivered once, at
NEURON's step, in NEURON's first-in first-out order (time, time sent, the order the spikes
were pushed in, connection), however the pushes and
pops interleave and across a save and load of the pending events."""

import numpy as np
import pytest

from neurosim.lowering.connections import Connections, by_source
from neurosim.run.events import EventQueue

DT = 0.1


def _network(seed=3, n_gids=40, n=3000):
    g = np.random.default_rng(seed)
    src = g.integers(0, n_gids, n).astype(np.int32)
    delay = np.round(g.uniform(DT, 3.0, n), 3)
    delay[::7] = 1.0                            # many equal times: the tie-breaks matter
    ptr, index = by_source(src)
    table = g.integers(0, 3, n).astype(np.int32)
    inst = g.integers(0, 50, n).astype(np.int32)
    conns = Connections(ptr, delay[index], table[index], inst[index], np.ones((n, 1)))
    return src, delay, table, inst, index, conns


def test_by_source_is_a_stable_sort():
    src, *_ = _network()
    ptr, index = by_source(src)
    assert np.array_equal(index, np.argsort(src, kind="stable"))
    assert np.array_equal(ptr, np.searchsorted(np.sort(src), np.arange(src.max() + 2)))


def _reference(src, delay, table, inst, index, spikes, detected):
    """Every event as (step, time, (sent, spike's place), connection row, table, instance),
    in delivery order: by time, then first in first out (time sent, spike, row)."""
    row_of = np.empty(len(index), dtype=np.int64)
    row_of[index] = np.arange(len(index))
    out = []
    for k, (gid, t) in enumerate(spikes):
        sent = np.ceil(t / DT - 1e-9) * DT if detected else t
        for c in np.flatnonzero(src == gid):
            te = sent + delay[c]
            out.append((int(np.ceil(te / DT - 0.5 - 1e-9)), te, (te - delay[c], k),
                        int(row_of[c]), int(table[c]), int(inst[c])))
    return sorted(out, key=lambda e: (e[1], e[2], e[3]))


def test_pops_give_every_event_once_in_canonical_order():
    src, delay, table, inst, index, conns = _network()
    g = np.random.default_rng(5)
    queue = EventQueue(conns, DT)
    spikes, got, step = [], [], 0
    for k in range(12):                         # push a burst, pop a stretch, again
        gids = g.integers(0, 45, 30)            # gids 40..44 have no connections
        times = step * DT + g.uniform(0, 2 * DT, 30)
        times[:5] = times[5]                    # several spikes at one time
        spikes += list(zip(gids.tolist(), times.tolist()))
        queue.push_spikes(gids, times)
        end = step + int(g.integers(1, 6))
        if k == 6:                              # a checkpoint's round trip on the way
            pending = queue.pending
            queue = EventQueue(conns, DT)
            queue.load(pending)
        s, t, tab, ins, row = queue.pop_before(end)
        assert np.all(s < end)
        got += list(zip(s.tolist(), t.tolist(), [None] * len(s), row.tolist(),
                        tab.tolist(), ins.tolist()))
        step = end
    s, t, tab, ins, row = queue.pop_before(10**9)
    got += list(zip(s.tolist(), t.tolist(), [None] * len(s), row.tolist(), tab.tolist(),
                    ins.tolist()))
    assert len(queue) == 0
    want = _reference(src, delay, table, inst, index, spikes, detected=True)
    assert len(got) == len(want) > 1000
    for a, b in zip(got, want):
        assert a[0] == b[0] and a[1] == b[1] and a[3:] == b[3:]


def test_one_pop_orders_by_time_then_source_then_connection():
    src, delay, table, inst, index, conns = _network(seed=9)
    queue = EventQueue(conns, DT)
    spikes = [(int(gid), 0.3) for gid in (17, 3, 17, 25, 3)]
    queue.push_spikes([s[0] for s in spikes[:3]], [s[1] for s in spikes[:3]], detected=False)
    queue.push_spikes([s[0] for s in spikes[3:]], [s[1] for s in spikes[3:]], detected=False)
    assert len(queue) == sum((src == gid).sum() for gid, _ in spikes)
    s, t, tab, ins, row = queue.pop_before(10**9)
    want = _reference(src, delay, table, inst, index, spikes, detected=False)
    assert [(a, b, c) for a, b, c in zip(s.tolist(), t.tolist(), row.tolist())] == \
        [(e[0], e[1], e[3]) for e in want]


@pytest.mark.parametrize("n_labels", [1, 4, 3000])
def test_targets_resolve_by_label_and_gid_in_row_order(n_labels):
    """Rows by source get each connection's (table, instance), looked up once per distinct
    (label, gid): a rule's single label, a few, and a SONATA circuit's label per synapse
    (over 2**22 label-gid pairs: the sorted path)."""
    from neurosim.lowering.wiring import resolve_targets
    g = np.random.default_rng(n_labels)
    n = 3000
    src = g.integers(0, 50, n).astype(np.int32)
    tgt = g.integers(0, 1500, n).astype(np.int32)
    tgt[0] = 1499
    codes = np.arange(n) % n_labels
    asked = []

    def find(code, gid):
        asked.append((code, gid))
        return code % 3, code * 7 + gid

    _, index = by_source(src)
    tables, insts = np.full(n, -1, np.int32), np.full(n, -1, np.int32)
    resolve_targets(index, tgt, codes, n_labels, find, tables, insts)
    c = index
    np.testing.assert_array_equal(tables, codes[c] % 3)
    np.testing.assert_array_equal(insts, codes[c] * 7 + tgt[c])
    assert sorted(asked) == sorted(set(zip(codes.tolist(), tgt.tolist())))
