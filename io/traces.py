"""Traces to HDF5: one group per probe with its sample times and values.

    /traces/<name>/time    float64 (ms)
    /traces/<name>/data    float64 (mV for v; the state's own units otherwise)
    attributes of <name>:  variable, cell, section, x

Files are written to a temporary name and renamed when complete, so a crash never leaves a
file that looks finished.
"""

import os

import h5py
import numpy as np


def trace_name(trace):
    if trace.location is None:                      # a point neuron's state
        return f"{trace.variable}_gid{trace.cell}"
    if isinstance(trace.location, str):             # a point process, by label
        return f"{trace.variable}_cell{trace.cell}_{trace.location}"
    sec, x = trace.location
    return f"{trace.variable}_cell{trace.cell}_sec{sec}_x{x:g}"


def write_traces(path, traces, **attrs):
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
            group = f.create_group("traces")
            for trace in traces:
                g = group.create_group(trace_name(trace))
                g.create_dataset("time", data=trace.times)
                g.create_dataset("data", data=trace.values)
                g["time"].attrs["units"] = "ms"
                g.attrs["variable"] = trace.variable
                g.attrs["cell"] = trace.cell
                g.attrs["section"] = trace.location[0]
                g.attrs["x"] = trace.location[1]
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_traces(path):
    """``{name: (time, data, attrs)}`` from a file written by :func:`write_traces`."""
    out = {}
    with h5py.File(path, "r") as f:
        for name, g in f["traces"].items():
            out[name] = (np.asarray(g["time"]), np.asarray(g["data"]), dict(g.attrs))
    return out
