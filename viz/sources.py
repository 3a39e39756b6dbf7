"""What the viewer shows over time, from a finished SONATA run or from a running simulation.

A source has ``times`` (its frames, ms), ``values(t)`` (one float per scene compartment at
the frame nearest ``t``, NaN where nothing is reported), ``trace(compartment)`` (times and
values of one compartment), ``spikes`` (gids, times) and ``populations`` ({name: gids}).

``RunSource`` reads a SONATA run: the circuit of its simulation config, one report (frames
read from the HDF5 file one at a time, never whole) and the spikes file.  ``LiveSource``
holds the frames a running simulation pushes, up to a memory budget (the oldest dropped).
"""

import glob
import os

import numpy as np

from neurosim.io.sonata.config import SonataError


class RunSource:
    """A finished SONATA run: ``RunSource(simulation_config, report=None, report_file=None)``.
    ``report``: the report's name in the config (default: the first); ``report_file``: its
    file, where not the config's (a copy, a report of another run of the same circuit)."""

    def __init__(self, config, report=None, report_file=None):
        from neurosim.io.sonata import Circuit, load_simulation
        from neurosim.io.sonata.config import resolve
        from neurosim.viz.scene import Scene
        cfg = load_simulation(config)
        reports = cfg.get("reports", {})
        name = report or next(iter(reports), None)
        if name is None or name not in reports:
            raise SonataError(f"{cfg['_path']}: no report {name!r} to show (reports: "
                              f"{sorted(reports)})")
        self.report, self.variable = name, reports[name].get("variable_name", "v")
        self.circuit = Circuit(cfg, dl=float(cfg.get("run", {}).get("dL", 20.0)))
        out_dir = resolve(cfg, cfg.get("output", {}).get("output_dir", "output"))
        self.path = report_file or os.path.join(
            out_dir, reports[name].get("file_name", f"{name}.h5"))
        net = self.circuit.network
        self.scene = Scene.from_cells(net.cells, net.positions, self.circuit.rotations,
                                      points=net.artificial)
        self.frames = self._open_frames()
        self.times = self.frames[0].times
        self.spikes = self._read_spikes(os.path.join(
            out_dir, cfg.get("output", {}).get("spikes_file", "spikes.h5")))
        self.populations = {}
        for pop, nodes in self.circuit.nodes.items():
            self.populations[pop] = self.circuit.gids(pop, nodes.ids)

    def _open_frames(self):
        import h5py
        from neurosim.viz.frames import ReportFrames
        try:
            with h5py.File(self.path, "r") as f:
                pops = list(f.get("report", {}))
        except OSError as e:
            raise SonataError(f"{self.path}: not a readable report ({e})") from None
        frames = []
        for pop in pops:
            if pop not in self.circuit.offset:
                raise SonataError(f"{self.path}: report population {pop!r} is not in the "
                                  "circuit of the simulation config (mismatched circuit?)")
            frames.append(ReportFrames(self.path, pop, self.circuit.offset[pop]))
        if not frames:
            raise SonataError(f"{self.path}: no /report/<population> group")
        for f in frames:
            f.targets(self.scene)            # a gid the scene lacks: an error now
        return frames

    def _read_spikes(self, path):
        from neurosim.io.sonata.output import read_spikes
        gids, times = [np.zeros(0, dtype=np.int64)], [np.zeros(0)]
        if os.path.exists(path):
            for pop, (ids, t) in read_spikes(path).items():
                if pop in self.circuit.offset:
                    gids.append(np.asarray(ids, dtype=np.int64) + self.circuit.offset[pop])
                    times.append(np.asarray(t, dtype=float))
        return np.concatenate(gids), np.concatenate(times)

    def values(self, t):
        key = tuple(f.frame(t) for f in self.frames)
        if key != getattr(self, "_last", (None,))[0]:       # a frame is read once
            out = np.full(len(self.scene), np.nan, dtype=np.float32)
            for f in self.frames:
                f.fill(out, self.scene, t)
            self._last = (key, out)
        return self._last[1].copy()

    def trace(self, compartment):
        for f in self.frames:
            got = f.column(self.scene, compartment)
            if got is not None:
                return f.times, got
        return self.times[:0], np.zeros(0)

    def close(self):
        for f in self.frames:
            f.close()


def find_config(report_path):
    """The simulation config whose report file is ``report_path``: looked for in the
    report's folder and the one above it."""
    from neurosim.io.sonata import load_config
    from neurosim.io.sonata.config import resolve
    target = os.path.realpath(report_path)
    folder = os.path.dirname(target)
    for where in (folder, os.path.dirname(folder)):
        for candidate in sorted(glob.glob(os.path.join(where, "*.json"))):
            try:
                cfg = load_config(candidate, "simulation config")
            except SonataError:
                continue
            out = resolve(cfg, cfg.get("output", {}).get("output_dir", "output"))
            for name, spec in (cfg.get("reports") or {}).items():
                path = os.path.join(out, spec.get("file_name", f"{name}.h5"))
                if os.path.realpath(path) == target:
                    return candidate, name
    raise SonataError(f"{report_path}: no simulation config in {folder} or above it "
                      "names this report; give it with --config")


class LiveSource:
    """Frames pushed by a running simulation (``push(t, values, spikes)``), the newest kept
    up to ``budget`` bytes."""

    def __init__(self, scene, populations=None, budget=256 << 20):
        self.scene, self.budget = scene, int(budget)
        self.populations = populations or {"cells": np.array(sorted(scene.cell_range))}
        self._times, self._frames = [], []
        self._gids, self._spike_times = [np.zeros(0, np.int64)], [np.zeros(0)]
        self.spikes = (self._gids[0], self._spike_times[0])

    @property
    def times(self):
        return np.asarray(self._times, dtype=float)

    def push(self, t, values, spikes=None):
        values = np.asarray(values, dtype=np.float32)
        if values.shape != (len(self.scene),):
            raise ValueError(f"{len(self.scene)} values expected, got {values.shape}")
        self._times.append(float(t))
        self._frames.append(values)
        keep = max(1, self.budget // max(values.nbytes, 1))
        if len(self._frames) > keep:
            del self._frames[:-keep], self._times[:-keep]
        if spikes is not None and len(spikes[0]):
            self._gids.append(np.asarray(spikes[0], np.int64))
            self._spike_times.append(np.asarray(spikes[1], float))
            self.spikes = (np.concatenate(self._gids), np.concatenate(self._spike_times))
            self._gids, self._spike_times = [self.spikes[0]], [self.spikes[1]]

    def values(self, t):
        if not self._frames:
            return np.full(len(self.scene), np.nan, dtype=np.float32)
        k = int(np.argmin(np.abs(self.times - t)))
        return self._frames[k]

    def trace(self, compartment):
        return self.times, np.array([f[compartment] for f in self._frames], dtype=float)

    def close(self):
        pass
