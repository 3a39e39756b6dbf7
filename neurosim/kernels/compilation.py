"""Numba compilations: said before they happen, and timed, so that speed figures leave them
out.

The first run of a new set of mechanisms compiles its step kernel (seconds to a minute);
later runs load it from the disk cache (:func:`neurosim.kernels.codegen.cache_dir`).  When a
compile really starts — not when the cache is hit — rank 0 says so on stderr::

    neurosim: compiling kernels for 7 mechanisms — once, cached in ~/.cache/neurosim/kernels

The line goes through the ``neurosim`` logger at level INFO, so
``logging.getLogger("neurosim").setLevel(logging.WARNING)`` silences it (``neurosim run
--quiet`` does); an application that configures logging gets it in its own handlers.

Numba reports every compile it really does (a cache miss) as a ``numba:compile`` event; a
listener adds up their wall time (nested compiles of callees counted once), which
:func:`compile_seconds` returns and :class:`Stopwatch` subtracts.
"""

import logging
import sys
import time
from contextlib import contextmanager

from numba.core import event

logger = logging.getLogger("neurosim")
if logger.level == logging.NOTSET:
    # INFO shows by default: a silent minute of compiling looks like a hang
    logger.setLevel(logging.INFO)


def _rank():
    """This process's MPI rank, 0 without MPI (mpi4py is only asked if already imported)."""
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi.COMM_WORLD.Get_rank() if mpi is not None else 0


def say(message):
    """Tell the user ``message`` (rank 0 only): through logging where the application has
    set it up, else as a ``neurosim:`` line on stderr."""
    if _rank() != 0 or not logger.isEnabledFor(logging.INFO):
        return
    if logger.hasHandlers():
        logger.info(message)
    else:
        print(f"neurosim: {message}", file=sys.stderr, flush=True)


class _CompileClock(event.Listener):
    """Seconds spent in Numba compiles, and the announcement to make when the next one
    starts.  Numba compiles under its global lock, so these fields are never raced."""

    def __init__(self):
        self.seconds = 0.0
        self.depth = 0
        self.started = 0.0
        self.pending = None           # (key, message) to say when a compile starts
        self.announced = set()        # keys already said: one line per kernel

    def on_start(self, _event):
        if self.depth == 0:
            if self.pending is not None and self.pending[0] not in self.announced:
                self.announced.add(self.pending[0])
                say(self.pending[1])
            self.started = time.perf_counter()
        self.depth += 1

    def on_end(self, _event):
        self.depth -= 1
        if self.depth == 0:
            self.seconds += time.perf_counter() - self.started


_CLOCK = _CompileClock()
event.register("numba:compile", _CLOCK)


def compile_seconds():
    """Wall seconds this process has spent compiling with Numba so far."""
    return _CLOCK.seconds


@contextmanager
def announcing(key, message):
    """Within the block, the first Numba compile that starts says ``message`` first (once
    per ``key`` in this process); a block that only loads from the cache says nothing."""
    before = _CLOCK.pending
    _CLOCK.pending = (key, message)
    try:
        yield
    finally:
        _CLOCK.pending = before


class Stopwatch:
    """Wall time since it was made (or until :meth:`stop`), split into Numba compilation
    and the rest."""

    def __init__(self):
        self.start = time.perf_counter()
        self.compile_start = compile_seconds()
        self.end = None

    def stop(self):
        """Freeze the readings: a summary made later reports the stretch measured."""
        self.end = (time.perf_counter(), compile_seconds())
        return self

    def _now(self):
        return self.end or (time.perf_counter(), compile_seconds())

    @property
    def wall_s(self):
        return self._now()[0] - self.start

    @property
    def compile_s(self):
        return self._now()[1] - self.compile_start

    @property
    def work_s(self):
        """The wall time less the compilation within it: what speed figures divide by."""
        wall, compiled = self._now()
        return max(wall - self.start - (compiled - self.compile_start), 0.0)
