"""The kernel's threads (neurosim.kernels.threads): every group taken once, a barrier that
all threads pass together, and a failing thread that ends the others instead of leaving
them waiting."""

import threading

import numpy as np
import pytest
from numba import njit

from neurosim.kernels import threads
from neurosim.kernels.threads import Pool, new_sync


@njit(nogil=True)
def _take_groups(thread, n_threads, sync, taken, by):
    while True:
        g = threads.next_group(sync)
        if g >= taken.shape[0]:
            return 0
        taken[g] += 1
        by[g] = thread


@njit(nogil=True)
def _meet(thread, n_threads, sync, wrote, seen, rounds):
    for r in range(rounds):
        wrote[thread] = r + 1
        if not threads.barrier(sync, n_threads):
            return 3
        total = 0
        for k in range(n_threads):
            total += wrote[k]
        seen[r, thread] = total
        if not threads.barrier(sync, n_threads):    # nobody writes before all have read
            return 3
    return 0


@pytest.mark.parametrize("n", [1, 2, 3])
def test_every_group_is_taken_by_one_thread_once(n):
    taken = np.zeros(5000, dtype=np.int64)
    by = np.full(5000, -1, dtype=np.int64)
    assert Pool(n).run(_take_groups, new_sync(), taken, by) == 0
    assert np.all(taken == 1)
    assert set(np.unique(by)) <= set(range(n))


def test_threads_pass_the_barrier_together():
    n, rounds = 3, 200
    wrote = np.zeros(n, dtype=np.int64)
    seen = np.zeros((rounds, n), dtype=np.int64)
    assert Pool(n).run(_meet, new_sync(), wrote, seen, rounds) == 0
    # after each round's barrier every thread sees every thread's write of that round
    np.testing.assert_array_equal(seen, np.repeat((np.arange(rounds) + 1)[:, None] * n, n,
                                                  axis=1))


def test_a_failing_thread_ends_the_others_and_its_error_is_raised():
    def work(thread, n_threads, sync, wrote, seen, rounds):
        if thread == 1:
            raise ValueError("thread 1 failed")
        return _meet(thread, n_threads, sync, wrote, seen, rounds)

    outcome = []

    def call():
        try:
            Pool(3).run(work, new_sync(), np.zeros(3, dtype=np.int64),
                        np.zeros((5, 3), dtype=np.int64), 5)
        except ValueError as error:
            outcome.append(str(error))

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(60)
    assert not caller.is_alive(), "the other threads waited forever at the barrier"
    assert outcome == ["thread 1 failed"]
