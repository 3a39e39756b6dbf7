"""The viewer's 2D panels, drawn over the window with vispy's visuals in window pixels:
the spike raster, the picked compartment's trace, the timeline, the colour bar, the scale
bar and the labels.  ``Panels(viewer)`` reads the viewer's state (time, range, picks,
hidden populations, camera) each frame; it owns no state of its own but the layout and
what it has drawn (redrawn only when its inputs change)."""

import numpy as np

from neurosim.viz.camera import scale_bar
from neurosim.viz.render import colormap_table

POPULATION_COLOURS = ((0.35, 0.75, 1.0), (1.0, 0.55, 0.3), (0.5, 0.9, 0.4),
                      (0.95, 0.4, 0.7), (0.8, 0.8, 0.3), (0.6, 0.5, 1.0))
TRACE_COLOUR = (1.0, 0.85, 0.2, 1.0)
_FRAME = (0.35, 0.35, 0.35, 1.0)
_NOTHING = (np.zeros((2, 2)), (0, 0, 0, 0))


class Panels:
    def __init__(self, viewer):
        from vispy import visuals as V
        self.viewer = viewer
        self.text = {k: V.TextVisual("", color="white", font_size=9, anchor_x="left",
                                     anchor_y="center")
                     for k in ("status", "populations", "vmin", "vmax", "scale", "raster",
                               "trace", "trace_lo", "trace_hi", "t0", "t1")}
        self.lines = {k: V.LineVisual(np.zeros((2, 2)), color="white", connect="segments",
                                      method="gl")
                      for k in ("frames", "cursors", "scale", "picked")}
        self.raster = V.LineVisual(np.zeros((2, 2)), connect="segments", method="gl")
        self.trace = V.LineVisual(np.zeros((2, 2)), color=TRACE_COLOUR, method="gl")
        self.colorbar = V.ImageVisual(colormap_table(viewer.colormap)[None, :, :],
                                      interpolation="nearest")
        self.rect = {}
        self._raster_key = self._trace_key = None

    def visuals(self):
        return list(self.text.values()) + list(self.lines.values()) + \
            [self.raster, self.trace, self.colorbar]

    def layout(self, canvas):
        """The regions (x, y from the top left, w, h in window pixels): the 3D view at the
        left, raster and trace at the right, the timeline along the bottom."""
        w, h = canvas.size
        side = int(w * 0.36)
        upper = int((h - 84) * 0.55)
        self.rect = {"view": (0, 26, w - side - 10, h - 26 - 44),
                     "raster": (w - side, 40, side - 14, upper - 20),
                     "trace": (w - side, 40 + upper + 16, side - 14, h - 84 - upper - 36),
                     "timeline": (14, h - 30, w - 28, 14)}
        for v in self.visuals():
            v.transforms.configure(canvas=canvas, viewport=(0, 0) + tuple(canvas.physical_size))
        self._raster_key = self._trace_key = None

    def region(self, pos):
        """The region under window pixel ``pos`` (None: none)."""
        x, y = pos
        for name, (rx, ry, rw, rh) in self.rect.items():
            if rx <= x < rx + rw and ry - 6 <= y < ry + rh + 6:
                return name
        return None

    def set_colormap(self, name):
        self.colorbar.set_data(colormap_table(name)[None, :, :])

    def forget(self, raster=False, trace=False):
        """Redraw the raster / the trace at the next frame (their inputs changed)."""
        if raster:
            self._raster_key = None
        if trace:
            self._trace_key = None

    # ------------------------------------------------------------------ time <-> x
    def x_of(self, name, t):
        times = self.viewer.source.times
        t0, t1 = (float(times[0]), float(times[-1])) if len(times) > 1 else (0.0, 1.0)
        rx, _, rw, _ = self.rect[name]
        return rx + (np.asarray(t, float) - t0) / max(t1 - t0, 1e-12) * rw

    def t_of(self, name, x):
        times = self.viewer.source.times
        if not len(times):
            return self.viewer.t
        rx, _, rw, _ = self.rect[name]
        return float(times[0] + (x - rx) / max(rw, 1) * (times[-1] - times[0]))

    # ------------------------------------------------------------------ raster
    def rows(self):
        """Raster rows: every gid of every population, in gid order."""
        pops = self.viewer.source.populations
        return np.unique(np.concatenate([np.asarray(g, np.int64) for g in pops.values()]))

    def spike_pixels(self):
        """Shown spikes and where the raster draws them: gids, times, x, y."""
        v = self.viewer
        gids, times = v.source.spikes
        rows = self.rows()
        keep = np.isin(gids, rows)
        for p in v.hidden:
            keep &= ~np.isin(gids, v.source.populations[p])
        gids, times = gids[keep], times[keep]
        _, ry, _, rh = self.rect["raster"]
        y = ry + (np.searchsorted(rows, gids) + 0.5) / max(len(rows), 1) * rh
        return gids, times, self.x_of("raster", times), y

    def _update_raster(self):
        v = self.viewer
        key = (len(v.source.spikes[1]), frozenset(v.hidden), self.rect["raster"],
               tuple(v.source.times[[0, -1]]) if len(v.source.times) else ())
        if key == self._raster_key:
            return
        self._raster_key = key
        gids, times, x, y = self.spike_pixels()
        if not len(times):
            self.raster.set_data(*_NOTHING)
            return
        half = max(0.5, self.rect["raster"][3] / max(len(self.rows()), 1) / 2.0)
        pos = np.empty((2 * len(x), 2))
        pos[0::2, 0], pos[1::2, 0] = x, x
        pos[0::2, 1], pos[1::2, 1] = y - half, y + half
        colour = np.ones((len(x), 4))
        for k, ids in enumerate(v.source.populations.values()):
            colour[np.isin(gids, ids), :3] = POPULATION_COLOURS[k % len(POPULATION_COLOURS)]
        self.raster.set_data(pos, color=np.repeat(colour, 2, axis=0))

    # ------------------------------------------------------------------ trace
    def _update_trace(self):
        v = self.viewer
        if v.picked < 0:
            self.trace.set_data(*_NOTHING)
            return
        key = (v.picked, len(v.source.times), self.rect["trace"], v.vmin, v.vmax)
        if key == self._trace_key:       # a report's column is read once per pick
            return
        self._trace_key = key
        times, values = v.source.trace(v.picked)
        if len(times) < 2:
            self.trace.set_data(*_NOTHING)
            return
        _, ry, _, rh = self.rect["trace"]
        level = np.clip((values - v.vmin) / (v.vmax - v.vmin), 0.0, 1.0)
        pos = np.stack([self.x_of("trace", times), ry + rh * (1.0 - level)], axis=1)
        self.trace.set_data(np.nan_to_num(pos, nan=ry + rh), color=TRACE_COLOUR)

    # ------------------------------------------------------------------ the rest
    def _update_marks(self):
        """Panel frames, cursors at t, the cross on the picked compartment, the scale bar
        and the colour bar."""
        v = self.viewer
        vx, vy, vw, vh = self.rect["view"]
        segs, cursors = [], []
        for name in ("raster", "trace", "timeline"):
            x, y, w, h = self.rect[name]
            segs += [(x, y), (x + w, y), (x + w, y), (x + w, y + h), (x + w, y + h),
                     (x, y + h), (x, y + h), (x, y)]
            cx = float(self.x_of(name, v.t))
            cursors += [(cx, y), (cx, y + h)]
        self.lines["frames"].set_data(np.array(segs, float), color=_FRAME)
        tx, ty, tw, th = self.rect["timeline"]
        cursors += [(tx, ty + th / 2), (float(self.x_of("timeline", v.t)), ty + th / 2)]
        self.lines["cursors"].set_data(np.array(cursors, float), color=(1.0, 1.0, 1.0, 0.8))
        if v.picked >= 0:
            mid = (v.scene.p0[v.picked] + v.scene.p1[v.picked]) / 2.0
            clip = v.camera.transform(vw, vh) @ np.append(mid, 1.0)
            px, py = vx + (clip[0] + 1.0) / 2.0 * vw, vy + (1.0 - clip[1]) / 2.0 * vh
            cross = [(px - 9, py), (px - 3, py), (px + 3, py), (px + 9, py),
                     (px, py - 9), (px, py - 3), (px, py + 3), (px, py + 9)]
            self.lines["picked"].set_data(np.array(cross), color=TRACE_COLOUR)
        else:
            self.lines["picked"].set_data(*_NOTHING)
        # scale bar: a round length near a fifth of the view's width (orthographic: it
        # holds everywhere in the view)
        length, pixels = scale_bar(v.camera.pixels_per_um(vh), vw / 5.0)
        bx, by = vx + vw - 20 - pixels, vy + vh - 16
        self.lines["scale"].set_data(np.array([(bx, by), (bx + pixels, by)]),
                                     color="white", width=3)
        self.text["scale"].text, self.text["scale"].pos = f"{length:g} µm", (bx, by - 12)
        from vispy.visuals.transforms import STTransform
        cx, cy, cw, ch = self.colorbar_rect()
        self.colorbar.transform = STTransform(scale=(cw / 256.0, ch), translate=(cx, cy))

    def colorbar_rect(self):
        vx, vy, vw, vh = self.rect["view"]
        return vx + 16, vy + vh - 24, 160, 12

    def _update_labels(self):
        v, T = self.viewer, self.text
        cx, cy, cw, ch = self.colorbar_rect()
        T["vmin"].text, T["vmin"].pos = f"{v.vmin:g}", (cx, cy - 10)
        T["vmax"].text, T["vmax"].pos = f"{v.vmax:g}", (cx + cw - 24, cy - 10)
        state = "playing" if v.playing else "paused"
        T["status"].text = (f"t = {v.t:8.2f} ms   {state}   speed {v.speed:g} ms/s   "
                            f"{v.source_name()}   {v.colormap} [{v.vmin:g}, {v.vmax:g}]")
        T["status"].pos = (12, 13)
        vx, vy, _, _ = self.rect["view"]
        T["populations"].text = "   ".join(
            f"{k + 1}:{name}{' (hidden)' if name in v.hidden else ''}"
            for k, name in enumerate(v.source.populations))
        T["populations"].pos = (vx + 12, vy + 12)
        rx, ry, _, _ = self.rect["raster"]
        T["raster"].text = f"spikes ({len(v.source.spikes[1])})"
        T["raster"].pos = (rx, ry - 10)
        px, py, _, ph = self.rect["trace"]
        T["trace"].text, T["trace"].pos = v.picked_label(), (px, py - 10)
        T["trace_hi"].text, T["trace_hi"].pos = f"{v.vmax:g}", (px + 3, py + 8)
        T["trace_lo"].text, T["trace_lo"].pos = f"{v.vmin:g}", (px + 3, py + ph - 8)
        times = v.source.times
        tx, ty, tw, _ = self.rect["timeline"]
        if len(times):
            T["t0"].text, T["t0"].pos = f"{times[0]:g} ms", (tx, ty - 9)
            T["t1"].text, T["t1"].pos = f"{times[-1]:g} ms", (tx + tw - 50, ty - 9)

    def draw(self):
        self._update_raster()
        self._update_trace()
        self._update_marks()
        self._update_labels()
        for visual in self.visuals():
            visual.draw()
