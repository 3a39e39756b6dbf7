"""Artificial cells (point neurons) in several cell groups, so that threads share them: the
split depends on the number of cells only, and a network gives the spikes it gave in one
group, to the bit."""

import numpy as np
import pytest

import neurosim as ns
from neurosim.backends.cpu import backend as cpu
from neurosim.models import microcircuit as mc


def test_the_split_is_consecutive_nearly_equal_and_depends_on_the_count_only():
    assert list(cpu.artificial_groups(0)) == [0, 0]              # one empty group
    assert list(cpu.artificial_groups(100)) == [0, 100]          # too few to split
    bounds = cpu.artificial_groups(2315)
    assert len(bounds) == 5 and bounds[0] == 0 and bounds[-1] == 2315
    assert np.ptp(np.diff(bounds)) <= 1
    big = cpu.artificial_groups(77169)
    assert len(big) - 1 == -(-77169 // cpu.ARTIFICIAL_GROUP_CELLS)
    assert np.diff(big).max() <= cpu.ARTIFICIAL_GROUP_CELLS


def _microcircuit_spikes(threads=1):
    net, pops = mc.microcircuit(scale=0.03, seed=5)
    sim = ns.Simulation(net, dt=0.1, threads=threads)
    spikes = sim.record_spikes(np.concatenate([pops[p] for p in mc.POPULATIONS]))
    sim.run(150.0)
    return sim, spikes.gids.copy(), spikes.times.copy()


def test_a_point_network_in_groups_gives_the_spikes_of_one_group(monkeypatch):
    split, gids, times = _microcircuit_spikes()
    tables = split.backend.tables
    artificial = [j for j, t in enumerate(tables) if t.mechanism.kind == "artificial"]
    groups = np.unique(np.concatenate([split.backend.inst_group[j] for j in artificial]))
    assert len(groups) == 4                                     # 2315 cells: 4 groups
    assert len(gids) > 300

    monkeypatch.setattr(cpu, "ARTIFICIAL_MIN_GROUPS", 1)
    monkeypatch.setattr(cpu, "ARTIFICIAL_GROUP_CELLS", 10 ** 9)
    one, gids1, times1 = _microcircuit_spikes()
    assert one.backend.n_groups == split.backend.n_groups - 3
    np.testing.assert_array_equal(gids, gids1)                  # same spikes, same order
    np.testing.assert_array_equal(times, times1)


@pytest.mark.slow
def test_groups_on_two_threads_give_the_one_thread_spikes():
    _, gids, times = _microcircuit_spikes(threads=1)
    _, gids2, times2 = _microcircuit_spikes(threads=2)
    np.testing.assert_array_equal(gids, gids2)
    np.testing.assert_array_equal(times, times2)


def test_epochs_whose_events_outgrow_the_buffers_give_the_same_spikes(monkeypatch):
    """Compiled epochs pop each epoch's events into buffers the threads share; an epoch
    with more events than they hold is run again from its start with larger ones."""
    _, gids, times = _microcircuit_spikes(threads=2)
    monkeypatch.setattr(cpu, "EPOCH_EVENTS", 1)
    grown = []
    buffers = cpu.CpuBackend._event_buffers
    monkeypatch.setattr(cpu.CpuBackend, "_event_buffers",
                        lambda self, n: grown.append(n) or buffers(self, n))
    _, gids1, times1 = _microcircuit_spikes(threads=2)
    assert len(grown) > 2 and grown[0] == 1 and grown[-1] > 1000
    np.testing.assert_array_equal(gids, gids1)
    np.testing.assert_array_equal(times, times1)
