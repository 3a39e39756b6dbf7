"""Frames of a SONATA run for the viewer: report values per compartment at a time, somata
flashing on spikes, written to PNG images or an MP4 movie.

A report's frames are read one at a time from the HDF5 file (never the whole report). An
element (node id, section, x) colours its compartment; a report with one element per cell
(a soma report) colours the whole cell.  A cell's soma shows ``vmax`` for ``flash`` ms after
each of its spikes.
"""

import os

import h5py
import numpy as np

from neurosim.io.sonata.config import SonataError


class ReportFrames:
    """One population of a SONATA report: ``times``, and ``values(scene, t)``."""

    def __init__(self, path, population, gid_offset):
        self.path = os.fspath(path)
        try:
            self.file = h5py.File(self.path, "r")
        except OSError as e:
            raise SonataError(f"{self.path}: not a readable report ({e})") from None
        where = f"report/{population}"
        if where not in self.file:
            raise SonataError(f"{self.path}: no /{where} group")
        g = self.file[where]
        for name in ("data", "mapping/node_ids", "mapping/element_ids", "mapping/time"):
            if name not in g:
                raise SonataError(f"{self.path}: dataset /{where}/{name} is missing (a "
                                  "report needs its mapping)")
        m = g["mapping"]
        pointers = m["index_pointers"] if "index_pointers" in m else m.get("index_pointer")
        if pointers is None:
            raise SonataError(f"{self.path}: dataset /{where}/mapping/index_pointers is "
                              "missing")
        self.data = g["data"]
        nodes, ptr = np.asarray(m["node_ids"]), np.asarray(pointers)
        self.gid = np.repeat(nodes.astype(np.int64) + gid_offset, np.diff(ptr).astype(int))
        self.section = np.asarray(m["element_ids"], dtype=np.int64)
        self.x = np.asarray(m["element_pos"], dtype=float) if "element_pos" in m else \
            np.full(len(self.section), 0.5)
        start, stop, step = (float(v) for v in m["time"][()])
        self.times = start + step * np.arange(self.data.shape[0])
        if len(self.gid) != self.data.shape[1]:
            raise SonataError(f"{self.path}: the mapping has {len(self.gid)} elements, the "
                              f"data {self.data.shape[1]} columns")
        self._targets = None

    def targets(self, scene):
        """(compartments, element of each): the scene compartments the report colours.
        An element is a segment (section, x); in a report of one element per cell (a soma
        report) it colours its whole cell."""
        if self._targets is None:
            cells = np.unique(self.gid)
            missing = [int(g) for g in cells if int(g) not in scene.cell_range]
            if missing:
                raise SonataError(f"{self.path}: the report has gid {missing[0]}, which the "
                                  "circuit shown does not have (mismatched circuit?)")
            # a cell of one element (a soma report, a point neuron): the whole cell
            counts = dict(zip(*(c.tolist() for c in np.unique(self.gid, return_counts=True))))
            comps, elems = [], []
            for j, (g, s, x) in enumerate(zip(self.gid, self.section, self.x)):
                if counts[int(g)] == 1:
                    lo, hi = scene.cell_range[int(g)]
                    comps.append(np.arange(lo, hi))
                    elems.append(np.full(hi - lo, j))
                else:
                    comps.append([scene.index(g, s, x)])
                    elems.append([j])
            self._targets = (np.concatenate(comps).astype(np.int64),
                             np.concatenate(elems).astype(np.int64))
        return self._targets

    def frame(self, t):
        """The index of the frame nearest ``t``."""
        if len(self.times) < 2:
            return 0
        step = self.times[1] - self.times[0]
        return int(np.clip(np.round((t - self.times[0]) / step), 0, len(self.times) - 1))

    def fill(self, out, scene, t):
        """Write the frame nearest ``t`` into ``out`` (one value per compartment)."""
        comps, elems = self.targets(scene)
        out[comps] = np.asarray(self.data[self.frame(t)])[elems]    # one row of the file
        return out

    def values(self, scene, t, fill):
        """One value per compartment at the frame nearest ``t`` (``fill`` where none)."""
        return self.fill(np.full(len(scene), fill, dtype=np.float32), scene, t)

    def column(self, scene, compartment):
        """Every frame's value at ``compartment`` (None: the report does not hold it)."""
        comps, elems = self.targets(scene)
        at = np.flatnonzero(comps == compartment)
        if not len(at):
            return None
        return np.asarray(self.data[:, int(elems[at[0]])], dtype=float)

    def close(self):
        self.file.close()


def flash(values, scene, spikes, t, vmax, duration=2.0):
    """Somata (section 0) of cells with a spike in (t - duration, t] shown at ``vmax``."""
    gids, times = spikes
    recent = np.unique(gids[(times <= t) & (times > t - duration)])
    for g in recent:
        if int(g) in scene.cell_range:
            lo, hi = scene.cell_range[int(g)]
            values[lo:hi][scene.section[lo:hi] == 0] = vmax
    return values


def write_movie(path, images, fps=25):
    """Frames (h, w, 4) uint8 to an MP4 (H.264 through imageio-ffmpeg)."""
    import imageio.v2 as imageio
    with imageio.get_writer(path, fps=fps, codec="libx264", macro_block_size=1) as out:
        for image in images:
            out.append_data(np.ascontiguousarray(image[:, :, :3]))
    return path
