"""SONATA spike and report files: read (inputs) and write (results).

Written files follow the SONATA spec strictly enough for libsonata: ``sorting`` as an HDF5
enum {none, by_id, by_time} on uint8, ``node_ids`` uint64, ``timestamps`` float64 in ms;
reports ``/report/<pop>/data`` float32 [frame x element] with ``mapping/{node_ids,
index_pointers, element_ids, element_pos, time}`` (and ``index_pointer``, the same dataset
under the name bmtk's reader wants).  Every file is written under a temporary
name and renamed when complete: a crash never leaves a file that looks finished.
"""

import os

import h5py
import numpy as np

from .config import SonataError
from .tables import open_h5

SORTING = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="u1")
_SORT_CODES = {"none": 0, "by_id": 1, "id": 1, "gid": 1, "by_time": 2, "time": 2}


def read_spikes(path, population=None):
    """``{population: (node_ids, timestamps)}`` from a SONATA spikes file; also the legacy
    ``/spikes/gids`` + ``/spikes/timestamps`` layout (population None: the caller's)."""
    out = {}
    with open_h5(path, "spikes file") as f:
        if "spikes" not in f:
            raise SonataError(f"{path}: no /spikes group: not a SONATA spikes file")
        spikes = f["spikes"]
        if "timestamps" in spikes and isinstance(spikes["timestamps"], h5py.Dataset):
            ids = spikes.get("gids", spikes.get("node_ids"))
            if ids is None:
                raise SonataError(f"{path}: /spikes/timestamps without /spikes/gids")
            groups = {population: (ids, spikes["timestamps"])}
        else:
            groups = {}
            for name, g in spikes.items():
                for key in ("node_ids", "timestamps"):
                    if key not in g:
                        raise SonataError(f"{path}: dataset /spikes/{name}/{key} is missing")
                groups[name] = (g["node_ids"], g["timestamps"])
        for name, (ids, times) in groups.items():
            ids, times = np.asarray(ids), np.asarray(times)
            if ids.dtype.kind not in "iu":
                raise SonataError(f"{path}: node ids of /spikes/{name} have dtype "
                                  f"{ids.dtype}, integers were expected")
            if times.dtype.kind not in "iuf" or len(times) != len(ids):
                raise SonataError(f"{path}: /spikes/{name}: timestamps must be numbers, one "
                                  "per node id")
            if not np.all(np.isfinite(times)):
                raise SonataError(f"{path}: /spikes/{name}/timestamps holds non-finite times")
            out[name] = (ids.astype(np.int64), times.astype(float))
    return out


def _atomic(path, write):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_spikes(path, populations, sort="by_time", attrs=None):
    """``populations``: ``{name: (node_ids, timestamps)}``; ``sort`` by_time, by_id or none;
    ``attrs``: more attributes of the file (a run's ``complete`` and ``time_reached``)."""
    if sort not in _SORT_CODES:
        raise SonataError(f"spikes sort order {sort!r} is not one of by_time, by_id, none")
    code = _SORT_CODES[sort]

    def write(f):
        f.attrs["magic"] = np.uint32(0x0A7A)
        f.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
        root = f.create_group("spikes")
        for name, (ids, times) in populations.items():
            ids, times = np.asarray(ids, dtype=np.uint64), np.asarray(times, dtype=float)
            order = (np.lexsort((ids, times)) if code == 2 else
                     np.lexsort((times, ids)) if code == 1 else np.arange(len(ids)))
            g = root.create_group(name)
            g.attrs.create("sorting", code, dtype=SORTING)
            g.create_dataset("node_ids", data=ids[order])
            g.create_dataset("timestamps", data=times[order]).attrs["units"] = "ms"
    return _atomic(path, write)


def write_spikes_csv(path, populations, sort="by_time"):
    """bmtk's spikes CSV (``output.spikes_file_csv``): a header ``timestamps population
    node_ids`` and a line per spike, space-separated; ``sort`` by_time (then population and
    node id), by_id (population, node id, time) or none.  Written whole, then renamed."""
    if sort not in _SORT_CODES:
        raise SonataError(f"spikes sort order {sort!r} is not one of by_time, by_id, none")
    names = list(populations)
    times = np.concatenate([np.asarray(populations[n][1], dtype=float) for n in names] +
                           [np.zeros(0)])
    ids = np.concatenate([np.asarray(populations[n][0], dtype=np.int64) for n in names] +
                         [np.zeros(0, dtype=np.int64)])
    pop = np.concatenate([np.full(len(populations[n][0]), k) for k, n in enumerate(names)] +
                         [np.zeros(0, dtype=np.int64)]).astype(np.int64)
    code = _SORT_CODES[sort]
    order = (np.lexsort((ids, pop, times)) if code == 2 else
             np.lexsort((times, ids, pop)) if code == 1 else np.arange(len(ids)))
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write("timestamps population node_ids\n")
            t, p, n = times[order].tolist(), pop[order].tolist(), ids[order].tolist()
            f.writelines(f"{t[k]!r} {names[p[k]]} {n[k]}\n" for k in range(len(t)))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


class ReportWriter:
    """A SONATA element report written frame block by frame block into ``<path>.partial``,
    renamed into place by ``close``; one ``/report/<population>`` per ``add``.  With
    ``resume`` an earlier run's partial file (a checkpointed run) is continued."""

    def __init__(self, path, resume=False):
        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.tmp = f"{self.path}.partial"
        self.resume = resume and os.path.exists(self.tmp)
        if resume and not self.resume:
            raise SonataError(f"{self.tmp}: the partial report of the checkpointed run is "
                              "missing; it cannot be continued")
        self.file = h5py.File(self.tmp, "a" if self.resume else "w")
        self.file.attrs["magic"] = np.uint32(0x0A7A)
        self.file.attrs["version"] = np.array([0, 1], dtype=np.uint32)
        self.populations = []

    def add(self, population, node_ids, elements, start, step, units="mV", last=False,
            dtype=float, extra=None, variable=None):
        """A population's report: ``elements`` per node id, its (section ids, x); returns
        its index for ``append``.  The file's time is [start, stop, step]: stop is the end
        of the last frame's step (BioNet), or with ``last`` its time (PointNet).  ``dtype``:
        the data's, float64 as BioNet and PointNet write it, or float32 (the reports
        libsonata 0.2 reads).  ``extra``: more per-element mapping datasets (a netcon
        report's src_ids and trg_ids).  ``variable`` and ``units`` (None: unknown, not
        written) are attributes of the data, as BioNet writes them (bmtk's readers use
        them)."""
        if self.resume:                     # the groups exist: go on appending
            g = self.file[f"report/{population}"]
            m = g["mapping"]
            self.populations.append((g["data"], m["time"], float(m["time"][0]),
                                     float(m["time"][2]), bool(m["time"].attrs.get("last"))))
            return len(self.populations) - 1
        g = self.file.create_group(f"report/{population}")
        counts = np.array([len(e[0]) for e in elements], dtype=np.uint64)
        width = int(counts.sum())
        m = g.create_group("mapping")
        m.create_dataset("node_ids", data=np.asarray(node_ids, dtype=np.uint64))
        m.create_dataset("index_pointers",
                         data=np.concatenate([[0], np.cumsum(counts)]).astype(np.uint64))
        m["index_pointer"] = m["index_pointers"]    # a hard link: bmtk reads this name
        m.create_dataset("element_ids", data=np.concatenate(
            [np.asarray(e[0], dtype=np.uint32) for e in elements] +
            [np.zeros(0, dtype=np.uint32)]))
        m.create_dataset("element_pos", data=np.concatenate(
            [np.asarray(e[1], dtype=float) for e in elements] + [np.zeros(0)]))
        for key, values in (extra or {}).items():
            m.create_dataset(key, data=np.asarray(values, dtype=np.int64))
        time = m.create_dataset("time", data=np.array([start, start, step], dtype=float))
        time.attrs["units"] = "ms"
        if last:
            time.attrs["last"] = True
        rows = max(1, min(1024, 2 ** 20 // max(width, 1)))
        data = g.create_dataset("data", shape=(0, width), dtype=dtype,
                                maxshape=(None, width), chunks=(rows, max(1, width)))
        if units is not None:
            data.attrs["units"] = units
        if variable is not None:
            data.attrs["variable"] = variable
        self.populations.append((data, time, float(start), float(step), last))
        return len(self.populations) - 1

    def append(self, index, frames):
        """Frames [n x elements] of population ``index``, in time order."""
        data, time, start, step, last = self.populations[index]
        frames = np.asarray(frames, dtype=data.dtype).reshape(-1, data.shape[1])
        n = data.shape[0]
        data.resize((n + len(frames), data.shape[1]))
        data[n:] = frames
        time[1] = start + step * (n + len(frames) - (1 if last else 0))

    def flush(self):
        self.file.flush()

    def close(self, attrs=None):
        """Complete the file: rename it into place (``attrs``: the run's ``complete`` and
        ``time_reached``, set on the file first)."""
        for key, value in (attrs or {}).items():
            if value is not None:
                self.file.attrs[key] = value
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self):
        if self.file.id.valid:
            self.file.close()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)
