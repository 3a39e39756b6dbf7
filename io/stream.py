"""Recordings streamed to HDF5 as a run goes: memory holds one epoch's samples, not the run.

    sim.stream_to("run.h5")        # probes and spike records, from now on
    sim.run(10_000.0)

    /traces/<name>/time, /traces/<name>/data    as io.traces writes them (resizable here)
    /spikes/<k>/gids, /spikes/<k>/times         spike record k's spikes, in run order

Each Simulation call (an epoch) appends its samples and flushes the file, so a run that
stops early leaves everything recorded until then.  ``Trace.values`` and ``Spikes.times``
read back from the file.  Under MPI rank 0 writes the file with every rank's samples (the
other ranks forward theirs after every call: ``neurosim.run.recording.share``); spikes are
written call by call in (time, gid) order, so the file is the same for any rank count.
"""

import h5py
import numpy as np

from .traces import trace_name

_CHUNK = 4096


def _growable(group, name, dtype):
    return group.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype,
                                chunks=(_CHUNK,))


def _extend(dataset, values):
    n = dataset.shape[0]
    dataset.resize((n + len(values),))
    dataset[n:] = values


class Stream:
    """An open HDF5 file that traces and spike records write into."""

    def __init__(self, path, **attrs):
        self.file = h5py.File(path, "w")
        for key, value in attrs.items():
            self.file.attrs[key] = value
        self.traces = self.file.create_group("traces")
        self.spikes = self.file.create_group("spikes")

    def trace_sink(self, trace):
        """Datasets for ``trace`` (a fresh name even if two probes look alike)."""
        base = name = trace_name(trace)
        k = 1
        while name in self.traces:
            name, k = f"{base}_{k}", k + 1
        g = self.traces.create_group(name)
        g.attrs["variable"] = trace.variable
        g.attrs["cell"] = trace.cell
        g.attrs["location"] = str(trace.location)
        time, data = _growable(g, "time", np.float64), _growable(g, "data", np.float64)
        time.attrs["units"] = "ms"
        return Sink(time, data)

    def spike_sink(self):
        g = self.spikes.create_group(str(len(self.spikes)))
        return Sink(_growable(g, "gids", np.int64), _growable(g, "times", np.float64))

    def flush(self):
        self.file.flush()

    def close(self):
        if self.file.id.valid:
            self.file.close()


class Sink:
    """Two growable datasets appended together: (time, data) of a trace, (gids, times) of
    a spike record."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def append(self, a, b):
        _extend(self.first, a)
        _extend(self.second, b)

    def read(self):
        return self.first[:], self.second[:]

    def __len__(self):
        return self.first.shape[0]
