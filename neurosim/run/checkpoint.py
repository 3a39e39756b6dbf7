"""Checkpoints: a simulation's whole state in one HDF5 file, to go on later in a new process.

    sim.checkpoint("state.h5")                     # between runs, at any time
    sim = ns.Simulation.restore("state.h5")       # elsewhere: the same model, the same t
    sim.run(2000.0)                                # bitwise what one long run gives

The file holds data only, nothing that runs: the model description as plain HDF5
(``neurosim.run.serial``: numbers, strings, arrays; mechanisms by name and the digest of their
code, found again among the mechanisms the restoring process knows), the settings, and,
per rank, everything that changes as the simulation runs: voltages, every mechanism's
states, assigned variables and parameters, pending self-events (net_send), ion
concentrations and currents, the detectors' last voltages, connection weights
(plasticity), pending events and how far the spike-source trains are queued.  Each of
those datasets carries its sha256 and the model its digest: a changed byte is refused.
Spike-source trains are drawn before the run from counter-based streams, so no random
generator state needs saving.  Under MPI rank 0 writes one file with every rank's state; a
restore needs the same number of ranks.  A state is loaded only into the model and
settings it was taken of (dt, method, temperature, ranks): a difference is an error that
lists it.  Recordings are not part of the state: record again after a restore.  The file
is written under a temporary name and renamed: a crash never leaves a checkpoint that looks
complete.
"""

import hashlib
import json
import os

import h5py
import numpy as np

from neurosim.errors import ParameterError
from neurosim.run import serial
from neurosim.run.parallel import default_comm

FORMAT = 3     # 3: an event's "source" is its spike's emission order; events_next_order
_EVENT_FIELDS = ("step", "time", "source", "conn", "table", "instance")
# settings a state belongs to: restored into other values it would be silently wrong
_MUST_MATCH = ("dt", "method", "celsius", "use_tables", "precision", "spike_times")


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


def _settings(sim):
    return dict(dt=sim.dt, method=sim.method, celsius=sim.celsius,
                use_tables=sim._settings["use_tables"], backend=sim._settings["backend"],
                exchange=sim._settings["exchange"], overlap=sim._settings["overlap"],
                precision=sim._settings["precision"], spike_times=sim.spike_times)


def _sha(array):
    a = np.ascontiguousarray(array)
    return hashlib.sha256(a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes()) \
        .hexdigest()


def model_digest(network, former_names=False):
    """The digest of a network's description (as a checkpoint writes it; with
    ``former_names``, as one written before the stage folders did)."""
    with h5py.File(f"model-{id(network)}.h5", "w", driver="core", backing_store=False) as f:
        serial.encode(network, f.create_group("model"))
        if former_names:
            serial.with_former_names(f["model"])
        return serial.digest(f["model"])


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
            f.attrs["settings"] = json.dumps(_settings(sim))
            serial.encode(sim.network, f.create_group("model"))
            f.attrs["model_digest"] = serial.digest(f["model"])
            for rank, state in enumerate(states):
                g = f.create_group(f"rank{rank}")
                for name, array in state.items():
                    g.create_dataset(name, data=array).attrs["sha256"] = _sha(array)
            for name, array in (extra or {}).items():
                array = np.asarray(array)
                f.create_dataset(f"extra/{name}", data=array).attrs["sha256"] = _sha(array)
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
    try:
        fmt = f.attrs.get("format")
        if fmt == 1:
            raise ParameterError(f"{path}: a checkpoint of an older neurosim (format 1, which "
                                 "held a pickle); the format changed to plain data (format "
                                 f"{FORMAT}): run the simulation again to make a new one")
        if fmt != FORMAT or "model" not in f:
            raise ParameterError(f"{path}: not a neurosim checkpoint (format {FORMAT})")
        if int(f.attrs["ranks"]) != comm.size:
            raise ParameterError(f"{path}: written by {int(f.attrs['ranks'])} ranks; restore "
                                 f"it on as many (this run has {comm.size})")
    except ParameterError:
        f.close()
        raise
    except (KeyError, ValueError, TypeError, OSError, RuntimeError) as e:
        f.close()
        raise ParameterError(f"{path}: a damaged checkpoint ({e})") from None
    return f


def _read(path, f, group):
    """The datasets of ``group``, each checked against its sha256."""
    out = {}

    def take(name, obj):
        if isinstance(obj, h5py.Dataset):
            value = obj[()]
            if _sha(value) != obj.attrs.get("sha256"):
                raise ParameterError(f"{path}: {group}/{name} does not match its checksum: "
                                     "the checkpoint was changed or damaged")
            out[name] = value
    try:
        if group in f:
            f[group].visititems(take)
    except ParameterError:
        raise
    except (KeyError, ValueError, TypeError, OSError, RuntimeError) as e:
        raise ParameterError(f"{path}: a damaged checkpoint ({e})") from None
    return out


def _check_model(path, f):
    try:
        ok = serial.digest(f["model"]) == f.attrs["model_digest"]
    except (KeyError, ValueError, TypeError, OSError, RuntimeError) as e:
        raise ParameterError(f"{path}: a damaged checkpoint ({e})") from None
    if not ok:
        raise ParameterError(f"{path}: the model description does not match its digest: "
                             "the checkpoint was changed or damaged")


def restore(cls, path, threads=1, comm=None, mechanisms=()):
    """A Simulation at the checkpoint's time with its state (``cls``: Simulation), rebuilt
    from the model description the file holds; ``mechanisms``: Mechanism objects the model
    uses that are neither built in nor registered in this process."""
    comm = default_comm() if comm is None else comm
    with _open(path, comm) as f:
        _check_model(path, f)
        try:
            network = serial.decode(f["model"], mechanisms)
            settings = json.loads(f.attrs["settings"])
        except ParameterError as e:
            raise ParameterError(f"{path}: {e}") from None
        except (KeyError, ValueError, TypeError, OSError, RuntimeError) as e:
            raise ParameterError(f"{path}: a damaged checkpoint ({e})") from None
    sim = cls(network, threads=threads, comm=comm, **settings)
    load_state(sim, path)
    return sim


def load_state(sim, path):
    """Put the state saved in ``path`` into ``sim``, a simulation of the same model with
    the same settings built anew; returns the ``extra`` arrays saved with it."""
    with _open(path, sim.comm) as f:
        _check_model(path, f)
        saved = json.loads(f.attrs["settings"])
        now = _settings(sim)
        differ = [f"{k}: {saved.get(k)!r} in the checkpoint, {now[k]!r} here"
                  for k in _MUST_MATCH if saved.get(k) != now[k]]
        if f.attrs["model_digest"] not in (model_digest(sim.network),
                                           model_digest(sim.network, former_names=True)):
            differ.append("the model (cells, mechanisms, connections) differs")
        if differ:
            raise ParameterError(f"{path}: the checkpoint was taken of another simulation; "
                                 + "; ".join(differ))
        step = int(f.attrs["step"])
        state = _read(path, f, f"rank{sim.comm.rank}")
        extra = _read(path, f, "extra")
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
