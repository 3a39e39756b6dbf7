"""A running simulation in the viewer: ``sim.run(t_stop, viewer=LiveView(sim))``.

Every rank makes a ``LiveView`` (it is collective, as ``record`` is).  Each rank sends the
cones of its own cells to rank 0 once; after each frame's stretch of simulated time each
rank sends the voltage of its cells' compartments (one float each) and rank 0 shows the
frame with the spikes of that stretch (spike records already hold every rank's).  The
other ranks open no window.  Cells without a position are laid out on a grid so that they
do not sit on one another.
"""

import numpy as np

from neurosim.errors import ParameterError
from neurosim.lowering.cells import discretize
from neurosim.validate import finite


def _centre_nodes(model, cell_index, body):
    """The model's nodes of a cell's compartments (membrane nodes, in cell order)."""
    layout = model.layouts[cell_index]
    nodes = layout.first_node + np.flatnonzero(body.area > 0)
    return nodes if layout.new_of is None else layout.new_of[nodes]


def grid_positions(cones, positions):
    """Positions for the cells in ``cones`` ({gid: (p0, ...)}) that have none: a square
    grid, one cell's extent apart, beside the placed ones."""
    missing = [g for g in sorted(cones) if g not in positions]
    if not missing:
        return dict(positions)
    extent = max(float(np.ptp(np.concatenate([cones[g][0], cones[g][1]]), axis=0)[:2].max())
                 for g in missing)
    step = max(extent * 1.1, 10.0)
    columns = int(np.ceil(np.sqrt(len(missing))))
    out = dict(positions)
    for k, g in enumerate(missing):
        out[g] = np.array([(k % columns) * step, -(k // columns) * step, 0.0])
    return out


class LiveView:
    """``LiveView(sim, interval=1.0, show=True, rotations=None, populations=None, **kw)``:
    a frame every ``interval`` ms of simulated time; ``show=False`` draws off-screen
    (``viewer.render()``); further keywords go to ``Viewer`` (size, vmin, vmax, colormap).
    ``populations``: {name: gids} for the raster's colours and show/hide (default: one)."""

    def __init__(self, sim, interval=1.0, show=True, rotations=None, populations=None,
                 **viewer_options):
        from neurosim.viz.scene import Scene, cell_cones, rotation
        self.sim, self.comm = sim, sim.comm
        self.interval = finite("interval", interval, positive=True)
        if self.interval < sim.dt:
            raise ParameterError(f"viewer interval {interval} ms is shorter than dt = "
                                 f"{sim.dt} ms")
        rotations = rotations or {}
        cones, nodes, done = {}, [], {}
        for ci, gid in enumerate(sim.gids):
            cell = sim.cells[ci]
            key = cell.geometry_key()
            if key not in done:
                done[key] = (cell_cones(cell), discretize(cell, point_processes=False))
            (p0, p1, r0, r1, sec, x), body = done[key]
            turn = rotation(rotations.get(int(gid), (0.0, 0.0, 0.0)))
            cones[int(gid)] = (p0 @ turn.T, p1 @ turn.T, r0, r1, sec, x)
            nodes.append(_centre_nodes(sim.model, ci, body))
        self._nodes = np.concatenate(nodes + [np.zeros(0, np.int64)]).astype(np.int64)
        placed = {int(g): np.asarray(p, float) for g, p in sim.network.positions.items()
                  if int(g) in cones}
        every = self.comm.gather((cones, placed))
        self.spikes = sim.record_spikes()
        self._seen = 0
        self.viewer = None
        if self.comm.rank != 0:
            self._open(None, show, viewer_options)
            return
        cones, placed = {}, {}
        for c, p in every:
            cones.update(c)
            placed.update(p)
        at = grid_positions(cones, placed)
        parts = [(c[0] + at[g], c[1] + at[g], c[2], c[3], np.full(len(c[2]), g), c[4], c[5])
                 for g, c in sorted(cones.items())]
        self.scene = Scene(*(np.concatenate(k) for k in zip(*parts))) if parts else \
            Scene(np.zeros((0, 3)), np.zeros((0, 3)), [], [], [], [], [])
        # where each rank's values land in the scene, in the order the rank sends them
        gids_of_rank = [sorted(c) for c, _ in every]
        self._where = [np.concatenate([np.arange(*self.scene.cell_range[g]) for g in gids]
                                      + [np.zeros(0, np.int64)]).astype(np.int64)
                       for gids in gids_of_rank]
        pops = populations or {"cells": np.array(sorted(set(sim.network.cells) |
                                                      set(sim.network.artificial)))}
        self._open(pops, show, viewer_options)

    def _open(self, populations, show, options):
        """Rank 0 opens the viewer; a failure (no display) is every rank's error."""
        from neurosim.errors import NeurosimError
        from neurosim.viz.sources import LiveSource
        from neurosim.viz.viewer import Viewer
        problem = None
        if self.comm.rank == 0:
            try:
                self.source = LiveSource(self.scene, populations)
                self.viewer = Viewer(self.source, show=show, **options)
            except Exception as e:
                problem = f"{type(e).__name__}: {e}" if not isinstance(e, NeurosimError) \
                    else str(e)
        problem = next((p for p in self.comm.allgather(problem) if p), None)
        if problem:
            raise NeurosimError(f"the live viewer could not open: {problem}")
        if self.viewer is not None:
            self.viewer.live = True
            self.viewer.play()                 # follow the simulation's front
        self.frame()

    def frame(self):
        """Send this moment's voltages to rank 0 and show them (every rank calls it)."""
        self.sim.backend.host()                   # a GPU's state
        got = self.comm.gather(np.asarray(self.sim.backend.v[self._nodes], np.float32))
        if self.viewer is None:
            return
        values = np.empty(len(self.scene), np.float32)
        for where, v in zip(self._where, got):
            values[where] = v
        gids, times = self.spikes.gids, self.spikes.times
        new = (gids[self._seen:], times[self._seen:])
        self._seen = len(times)
        self.source.push(self.sim.t, values, new)
        if self.viewer.playing:
            self.viewer.set_time(self.sim.t)
        self.viewer.process()

    def wait(self):
        """Keep the window open (rank 0) until it is closed."""
        if self.viewer is not None:
            self.viewer.pause()
            self.viewer.run()

    @property
    def closed(self):
        return self.viewer is None or self.viewer.closed
