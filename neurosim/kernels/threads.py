"""Threads for the cell groups without Numba's ``parallel=True``: one compiled kernel for
every thread count.

A ``prange`` loop makes Numba compile a second kernel (its parfor lowering of a loop over
the kernel's ~90 arguments costs 15-30 s), and a call per epoch launches and joins its
pool.  Here the kernel's ``advance`` and ``run_epochs`` take the thread's number and a
small shared array instead: every thread (this Python thread and ``threads - 1`` more, each
inside the same nogil compiled function) takes the next cell group from an atomic counter,
and the threads of ``run_epochs`` meet at a barrier between an epoch's groups and the
serial work between epochs (thread 0 files and pops the events).  With one thread the same
code runs alone: its counter and barrier cost a few atomic operations per epoch.

The shared array ``sync`` (int64): ``ARRIVED`` threads at the barrier, its ``GENERATION``,
the ``NEXT`` group to take, the epoch loop's ``STOP`` status and ``ABORT`` (set when a
thread failed: the others leave their barrier instead of waiting for it forever).
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

ARRIVED, GENERATION, NEXT, STOP, ABORT = range(5)
SYNC_SIZE = 8
SPINS_BEFORE_YIELD = 2000        # a waiting thread spins, then gives its core away


def new_sync():
    return np.zeros(SYNC_SIZE, dtype=np.int64)


def _slot(context, builder, array_type, array, index, index_type):
    ary = context.make_array(array_type)(context, builder, array)
    index = context.cast(builder, index, index_type, types.intp)
    return cgutils.get_item_pointer(context, builder, array_type, ary, [index])


def _slot_and_value(context, builder, signature, args):
    """The element's pointer and the value as int64, for (array, index, value) arguments."""
    array, index, value = signature.args
    ptr = _slot(context, builder, array, args[0], args[1], index)
    return ptr, context.cast(builder, args[2], value, types.int64)


def _int64_array(array):
    return isinstance(array, types.Array) and array.dtype == types.int64 and array.ndim == 1


@intrinsic
def atomic_add(typingctx, array, index, value):
    """array[index] += value, atomically; the value before."""
    if not _int64_array(array):
        return None

    def codegen(context, builder, signature, args):
        return builder.atomic_rmw("add", *_slot_and_value(context, builder, signature, args),
                                  "seq_cst")
    return types.int64(array, index, value), codegen


@intrinsic
def atomic_load(typingctx, array, index):
    """array[index], read atomically (seen as other threads wrote it)."""
    if not _int64_array(array):
        return None

    def codegen(context, builder, signature, args):
        ptr = _slot(context, builder, array, args[0], args[1], index)
        return builder.load_atomic(ptr, "seq_cst", 8)
    return types.int64(array, index), codegen


@intrinsic
def atomic_store(typingctx, array, index, value):
    """array[index] = value, atomically."""
    if not _int64_array(array):
        return None

    def codegen(context, builder, signature, args):
        ptr, value_ = _slot_and_value(context, builder, signature, args)
        builder.store_atomic(value_, ptr, "seq_cst", 8)
        return context.get_dummy_value()
    return types.void(array, index, value), codegen


@intrinsic
def yield_core(typingctx):
    """sched_yield(): let another thread (of this process or another) run on this core."""
    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(32), []), "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@njit(cache=True, nogil=True)
def barrier(sync, nthreads):
    """Wait until all ``nthreads`` threads are here; False if a thread failed (ABORT)."""
    if nthreads == 1:
        return True
    generation = atomic_load(sync, GENERATION)
    if atomic_add(sync, ARRIVED, 1) == nthreads - 1:
        atomic_store(sync, ARRIVED, 0)          # the last one in opens it
        atomic_add(sync, GENERATION, 1)
        return True
    spins = 0
    while atomic_load(sync, GENERATION) == generation:
        if atomic_load(sync, ABORT) != 0:
            return False
        spins += 1
        if spins > SPINS_BEFORE_YIELD:
            yield_core()
    return True


@njit(cache=True, nogil=True)
def next_group(sync):
    """The next cell group for this thread to run."""
    return atomic_add(sync, NEXT, 1)


class Pool:
    """``threads - 1`` worker threads beside the caller's, kept for the backend's life."""

    def __init__(self, threads):
        self.threads = int(threads)
        self._pool = ThreadPoolExecutor(self.threads - 1, "neurosim-group") \
            if self.threads > 1 else None
        self._lock = threading.Lock()

    def run(self, function, sync, *args):
        """``function(thread, threads, sync, *args)`` on every thread (this one is thread
        0); thread 0's result.  A thread's exception is raised here, after all returned."""
        sync[:] = 0
        if self._pool is None:
            return function(0, 1, sync, *args)
        with self._lock:
            others = [self._pool.submit(self._guarded, function, k, sync, args)
                      for k in range(1, self.threads)]
            try:
                result = self._guarded(function, 0, sync, args)
            finally:
                errors = [f.exception() for f in others]
        for error in errors:
            if error is not None:
                raise error
        return result

    def _guarded(self, function, thread, sync, args):
        try:
            return function(thread, self.threads, sync, *args)
        except BaseException:
            sync[ABORT] = 1          # the others leave their barriers
            raise
