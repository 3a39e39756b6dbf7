"""Where recordings go while a run streams them (``Simulation.stream_to``).

A stream (rank 0's, provided as "recording stream": ``neurosim.io.stream.Stream`` writes
HDF5) hands each trace and spike record a sink; a sink takes ``append(a, b)`` — (times,
values) of a trace, (gids, times) of spikes — and gives back ``read()`` and ``len()``.  On
the other ranks samples wait in a ``Forward`` sink until ``recording.share`` sends them to
rank 0, which writes them."""

import numpy as np


class Forward:
    """A sink on a rank other than 0: samples wait here until the next share sends them to
    rank 0; nothing reads back here."""

    def __init__(self):
        self.parts = []

    def append(self, a, b):
        self.parts.append((a, b))

    def drain(self):
        a = np.concatenate([p[0] for p in self.parts]) if self.parts else np.zeros(0)
        b = np.concatenate([p[1] for p in self.parts]) if self.parts else np.zeros(0)
        self.parts = []
        return a, b

    def read(self):
        return np.zeros(0), np.zeros(0)

    def __len__(self):
        return 0


class Elsewhere:
    """The stream of a rank other than 0: it writes nothing, its sinks forward."""

    def trace_sink(self, trace):
        return Forward()

    def spike_sink(self):
        return Forward()

    def flush(self):
        pass

    def close(self):
        pass
