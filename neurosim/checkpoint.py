"""Checkpoints: a simulation's whole state in one HDF5 file, to go on later in a new process.

    sim.checkpoint("state.h5")                     # between runs, at any time
    sim = ns.Simulation.restore("state.h5")       # elsewhere: the same model, the same t
    sim.run(2000.0)                                # bitwise what one long run gives

The file holds the model (the Network, pickled), the simulation's settings and, per rank,
everything that changes as it runs: voltages, every mechanism's states, assigned variables
and parameters, pending self-events (net_send), ion concentrations and currents, the
detectors' last voltages, connection weights (plasticity), pending events and how far the
spike-source trains are queued.  Spike-source trains are drawn before the run from
counter-based streams, so no random generator state needs saving.  Under MPI rank 0 writes
one file with every rank's state; a restore needs the same number of ranks.  Recordings
are not part of the state: record again after a restore.  The file is written under a
temporary name and renamed: a crash never leaves a checkpoint that looks complete.
"""

import os
import pickle

import h5py
import numpy as np

from .errors import ParameterError

FORMAT = 2     # 2: an event's "source" is its spike's emission order; events_next_order
_EVENT_FIELDS = ("step", "time", "source", "conn", "table", "instance")


def _state(sim):
    """This rank's changing arrays, by name."""
    b = sim.backend
    out = {"v": b.v, "det_prev": b.det_prev, "weights": sim.connections.weights,
           "source_next": np.array(sim._source_next),
           "events_next_order": np.array(sim.events.next_order)}
    for name, (e, ci, co, i, _, _) in b.ions.items():
        for field, a in zip(("e", "ci", "co", "i"), (e, ci, co, i)):
            out[f"ions/{name}/{field}"] = a
    for j, t in enumerate(b.tables):
        out[f"tables/{j}/states"] = t.states
        out[f"tables/{j}/assigned"] = t.assigned
        out[f"tables/{j}/params"] = t.params
        for k, a in enumerate(t.self_event):
            out[f"tables/{j}/self_event{k}"] = a
    pending = sim.events.pending
    for key in _EVENT_FIELDS:
        out[f"events/{key}"] = pending[key]
    return out


def save(sim, path, extra=None):
    """Write ``sim``'s state to ``path`` (a collective under MPI: rank 0 writes), with
    ``extra`` arrays (rank 0's) a caller wants back (``load_state``)."""
    if sim.network.remote_kinds is not None:
        raise ParameterError("checkpoint: this rank holds only its part of a Recipe's "
                             "network; checkpoints of Recipe runs under MPI are not "
                             "supported yet (build a Network, or run on one rank)")
    sim.backend.host()                          # a GPU's state to the host arrays
    states = sim.comm.gather({k: np.asarray(v) for k, v in _state(sim).items()})
    if sim.comm.rank != 0:
        return path
    path = os.fspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["step"] = sim._step
            f.attrs["ranks"] = sim.comm.size
            settings = dict(dt=sim.dt, method=sim.method, celsius=sim.celsius,
                            use_tables=sim._settings["use_tables"],
                            backend=sim._settings["backend"], exchange=sim._settings["exchange"],
                            overlap=sim._settings["overlap"], spike_times=sim.spike_times)
            f.attrs["settings"] = repr(settings)
            f.create_dataset("model", data=np.frombuffer(pickle.dumps(sim.network),
                                                         dtype=np.uint8))
            for rank, state in enumerate(states):
                g = f.create_group(f"rank{rank}")
                for name, array in state.items():
                    g.create_dataset(name, data=array)
            for name, array in (extra or {}).items():
                f.create_dataset(f"extra/{name}", data=np.asarray(array))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _open(path, comm):
    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ParameterError(f"{path}: not a readable checkpoint ({e})") from None
    if f.attrs.get("format") != FORMAT or "model" not in f:
        f.close()
        raise ParameterError(f"{path}: not a neurosim checkpoint (format {FORMAT})")
    if int(f.attrs["ranks"]) != comm.size:
        ranks = int(f.attrs["ranks"])
        f.close()
        raise ParameterError(f"{path}: written by {ranks} ranks; restore it on as many "
                             f"(this run has {comm.size})")
    return f


def restore(cls, path, threads=1, comm=None):
    """A Simulation at the checkpoint's time with its state (``cls``: Simulation), rebuilt
    from the model the file holds."""
    import ast
    from .parallel import default_comm
    comm = default_comm() if comm is None else comm
    with _open(path, comm) as f:
        network = pickle.loads(f["model"][()].tobytes())
        settings = ast.literal_eval(f.attrs["settings"])
    sim = cls(network, threads=threads, comm=comm, **settings)
    load_state(sim, path)
    return sim


def load_state(sim, path):
    """Put the state saved in ``path`` into ``sim``, a simulation of the same model built
    anew; returns the ``extra`` arrays saved with it."""
    with _open(path, sim.comm) as f:
        step = int(f.attrs["step"])
        state = {}
        f[f"rank{sim.comm.rank}"].visititems(
            lambda name, obj: state.__setitem__(name, obj[()])
            if isinstance(obj, h5py.Dataset) else None)
        extra = {k: v[()] for k, v in f["extra"].items()} if "extra" in f else {}
    for name, target in _state(sim).items():
        if name.startswith("events/") or name in ("source_next", "events_next_order"):
            continue
        if name not in state or state[name].shape != target.shape:
            raise ParameterError(f"{path}: {name} does not fit the model rebuilt from it")
        target[...] = state[name]
    sim.events.load({key: state[f"events/{key}"] for key in _EVENT_FIELDS})
    sim._source_next = int(state["source_next"])
    if "events_next_order" in state:
        sim.events.next_order = int(state["events_next_order"])
    sim._step = step
    sim.backend.reload()
    return extra
