"""The interactive viewer: the circuit in 3D coloured by a report over time, a spike raster
and the picked compartment's trace beside it, a timeline below.

    mouse   drag: turn | right-drag or shift-drag: pan | wheel: zoom | click: pick
            click or drag on the timeline, the raster or the trace: go to that time
            (a click on the raster also picks that cell's soma)
    keys    space: play / pause | left, right: a frame back / on | up, down: speed x2 / /2
            home, end: first / last frame | c, C: next / previous colormap
            [ ]: vmin -/+ 5 | { }: vmax -/+ 5 | a: range from this frame
            1-9: show / hide population k | r: reset view | x y z: look along that axis
            q, escape: close

The window and headless images are one code path: ``Viewer(source, show=False).render()``
draws the same canvas off-screen (Mesa's EGL), which is how the tests drive it — through
the canvas's own key and mouse events.  ``source``: a ``RunSource`` (a finished SONATA
run) or a ``LiveSource`` (a running simulation, ``neurosim.viz.live``).
"""

import os
import sys
import time

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.viz.camera import OrbitCamera, nice_length
from neurosim.viz.frames import flash
from neurosim.viz.render import CompartmentMesh, colormap_table, decode_pick, use_headless

COLORMAPS = ("viridis", "plasma", "inferno", "magma", "cividis", "coolwarm", "gray")
POPULATION_COLOURS = ((0.35, 0.75, 1.0), (1.0, 0.55, 0.3), (0.5, 0.9, 0.4),
                      (0.95, 0.4, 0.7), (0.8, 0.8, 0.3), (0.6, 0.5, 1.0))
_PANEL = (0.35, 0.35, 0.35, 1.0)


def need_display():
    """An interactive window needs a display and a GUI backend for vispy."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or
                                                 os.environ.get("WAYLAND_DISPLAY")):
        raise NeurosimError("neurosim view needs a display (none here: DISPLAY is not set); "
                            "headless, use neurosim render --out frame.png | movie.mp4")
    from vispy import app
    try:
        backend = app.use_app().backend_name
    except Exception as e:
        backend = f"none ({e})"
    if backend.lower().startswith(("egl", "osmesa", "none")):
        raise NeurosimError(f"no GUI backend for vispy (found {backend}); pip install glfw "
                            "(or PyQt6)")


class Viewer:
    """``Viewer(source, size=(w, h), show=True)``; ``run()`` opens the window's event loop.
    With ``show=False`` it draws off-screen: ``render()`` is the window's image."""

    def __init__(self, source, size=(1280, 760), vmin=-80.0, vmax=40.0, colormap="viridis",
                 show=False, title="neurosim", flash_ms=2.0):
        if show:
            need_display()
        else:
            use_headless()
        from vispy import app, gloo, visuals
        self.app, self.gloo, self.visuals = app, gloo, visuals
        self.source, self.scene = source, source.scene
        self.canvas = app.Canvas(size=tuple(size), show=False, title=title, keys=None)
        self.canvas.set_current()
        self.mesh = CompartmentMesh(self.scene, colormap, vmin, vmax)
        self.camera = OrbitCamera(*self.scene.bounds())
        self.colormap, self.vmin, self.vmax, self.flash_ms = colormap, vmin, vmax, flash_ms
        times = source.times
        self.t = float(times[0]) if len(times) else 0.0
        self.playing, self.live = False, not hasattr(source, "frames")
        span = float(times[-1] - times[0]) if len(times) > 1 else 100.0
        self.speed = max(span / 10.0, 1e-3)      # simulated ms per wall second: 10 s a run
        self.picked = -1
        self.hidden = set()
        self.closed = False
        self._press = None
        self._pick_fbo = None
        self._raster_key = self._trace_key = None
        self._make_visuals()
        self._set_shown()
        c = self.canvas.events
        c.draw.connect(self._on_draw)
        c.resize.connect(self._on_resize)
        c.key_press.connect(self._on_key)
        c.mouse_press.connect(self._on_mouse_press)
        c.mouse_move.connect(self._on_mouse_move)
        c.mouse_release.connect(self._on_mouse_release)
        c.mouse_wheel.connect(self._on_wheel)
        c.close.connect(self._on_close)
        self._timer = app.Timer(1.0 / 30.0, connect=self._on_timer, start=False)
        self._wall = None
        self._on_resize(None)
        if show:
            self.canvas.show()
            self._timer.start()

    # ------------------------------------------------------------------ state
    def play(self):
        self.playing, self._wall = True, None

    def pause(self):
        self.playing = False

    def toggle(self):
        self.pause() if self.playing else self.play()

    def set_time(self, t):
        times = self.source.times
        if len(times):
            t = float(np.clip(t, times[0], times[-1]))
        self.t = t
        self.canvas.update()

    def step(self, frames):
        """Go ``frames`` frames on (back if negative), paused."""
        times = self.source.times
        self.pause()
        if len(times):
            k = int(np.argmin(np.abs(times - self.t)))
            self.set_time(times[int(np.clip(k + frames, 0, len(times) - 1))])

    def tick(self, wall_seconds):
        """Advance by ``wall_seconds`` of playing (the timer calls this)."""
        if not self.playing:
            return
        times = self.source.times
        if self.live and len(times):
            self.set_time(times[-1])           # a running simulation: follow its front
            return
        end = float(times[-1]) if len(times) else self.t
        self.set_time(self.t + self.speed * wall_seconds)
        if self.t >= end:
            self.pause()

    def set_speed(self, speed):
        self.speed = float(max(speed, 1e-6))

    def set_colormap(self, name):
        colormap_table(name)                    # an unknown name: matplotlib's KeyError
        self.colormap = name
        self.mesh.set_colormap(name)
        self._colorbar.set_data(colormap_table(name)[None, :, :])
        self.canvas.update()

    def set_range(self, vmin, vmax):
        if not vmax > vmin:
            raise ValueError(f"the colour range needs vmin < vmax, got [{vmin}, {vmax}]")
        self.vmin, self.vmax = float(vmin), float(vmax)
        self.mesh.set_range(self.vmin, self.vmax)
        self._trace_key = None
        self.canvas.update()

    def autoscale(self):
        """The colour range of this frame's values (2nd to 98th percentile)."""
        v = self.source.values(self.t)
        v = v[np.isfinite(v)]
        if len(v):
            lo, hi = np.percentile(v, [2, 98])
            self.set_range(lo, hi if hi > lo else lo + 1.0)

    def toggle_population(self, name):
        if name not in self.source.populations:
            raise KeyError(f"no population {name!r} (populations: "
                           f"{sorted(self.source.populations)})")
        self.hidden ^= {name}
        self._set_shown()
        self._raster_key = None
        self.canvas.update()

    def _set_shown(self):
        hidden = [self.source.populations[p] for p in self.hidden]
        gone = np.concatenate(hidden) if hidden else np.zeros(0, np.int64)
        self.mesh.set_shown(~np.isin(self.scene.gid, gone))

    # ------------------------------------------------------------------ layout
    def _on_resize(self, event):
        w, h = self.canvas.size
        side = int(w * 0.36)
        self.rect = {"view": (0, 26, w - side - 10, h - 26 - 44),
                     "raster": (w - side, 40, side - 14, int((h - 84) * 0.55) - 20),
                     "trace": (w - side, 40 + int((h - 84) * 0.55) + 16, side - 14,
                               h - 84 - int((h - 84) * 0.55) - 36),
                     "timeline": (14, h - 30, w - 28, 14)}
        for v in self._all_visuals():
            v.transforms.configure(canvas=self.canvas,
                                   viewport=(0, 0) + tuple(self.canvas.physical_size))
        self._pick_fbo = None
        self._raster_key = self._trace_key = None
        self.canvas.update()

    def _region(self, pos):
        x, y = pos
        for name, (rx, ry, rw, rh) in self.rect.items():
            if rx <= x < rx + rw and ry - 6 <= y < ry + rh + 6:
                return name
        return None

    # ------------------------------------------------------------------ visuals
    def _make_visuals(self):
        V = self.visuals
        self._text = {k: V.TextVisual("", color="white", font_size=9, anchor_x="left",
                                      anchor_y="center")
                      for k in ("status", "populations", "vmin", "vmax", "scale", "raster",
                                "trace", "trace_lo", "trace_hi", "t0", "t1")}
        self._lines = {k: V.LineVisual(np.zeros((2, 2)), color="white", connect="segments",
                                       method="gl")
                       for k in ("frames", "cursors", "scale", "picked")}
        self._raster = V.LineVisual(np.zeros((2, 2)), connect="segments", method="gl")
        self._trace = V.LineVisual(np.zeros((2, 2)), color=(1.0, 0.85, 0.2, 1.0),
                                   method="gl")
        self._colorbar = V.ImageVisual(colormap_table(self.colormap)[None, :, :],
                                       interpolation="nearest")

    def _all_visuals(self):
        return list(self._text.values()) + list(self._lines.values()) + \
            [self._raster, self._trace, self._colorbar]

    def _x_of(self, rect, t):
        times = self.source.times
        t0, t1 = (float(times[0]), float(times[-1])) if len(times) > 1 else (0.0, 1.0)
        rx, _, rw, _ = rect
        return rx + (np.asarray(t, float) - t0) / max(t1 - t0, 1e-12) * rw

    def _t_of(self, rect, x):
        times = self.source.times
        if not len(times):
            return self.t
        rx, _, rw, _ = rect
        return float(times[0] + (x - rx) / max(rw, 1) * (times[-1] - times[0]))

    def _rows(self):
        """Raster rows: every gid of every population, populations in order."""
        gids = np.concatenate([np.asarray(g, np.int64)
                               for g in self.source.populations.values()])
        return np.unique(gids)

    def _update_raster(self):
        rect = self.rect["raster"]
        key = (len(self.source.spikes[1]), frozenset(self.hidden), rect,
               tuple(self.source.times[[0, -1]]) if len(self.source.times) else ())
        if key == self._raster_key:
            return
        self._raster_key = key
        gids, times, x, y = self._spike_pixels()
        if not len(times):
            self._raster.set_data(np.zeros((2, 2)), color=(0, 0, 0, 0))
            return
        half = max(0.5, rect[3] / max(len(self._rows()), 1) / 2.0)
        pos = np.empty((2 * len(x), 2))
        pos[0::2, 0], pos[1::2, 0] = x, x
        pos[0::2, 1], pos[1::2, 1] = y - half, y + half
        colour = np.ones((len(x), 4))
        for k, ids in enumerate(self.source.populations.values()):
            colour[np.isin(gids, ids), :3] = POPULATION_COLOURS[k % len(POPULATION_COLOURS)]
        self._raster.set_data(pos, color=np.repeat(colour, 2, axis=0))

    def _update_trace(self):
        if self.picked < 0:
            self._trace.set_data(np.zeros((2, 2)), color=(0, 0, 0, 0))
            return
        times, values = self.source.trace(self.picked)
        key = (self.picked, len(times), self.rect["trace"], self.vmin, self.vmax)
        if key == self._trace_key:
            return
        self._trace_key = key
        if len(times) < 2:
            self._trace.set_data(np.zeros((2, 2)), color=(0, 0, 0, 0))
            return
        rx, ry, rw, rh = self.rect["trace"]
        level = np.clip((values - self.vmin) / (self.vmax - self.vmin), 0.0, 1.0)
        pos = np.stack([self._x_of(self.rect["trace"], times), ry + rh * (1.0 - level)],
                       axis=1)
        self._trace.set_data(np.nan_to_num(pos, nan=ry + rh), color=(1.0, 0.85, 0.2, 1.0))

    def _frame_values(self):
        values = np.array(self.source.values(self.t), dtype=np.float32)
        values[np.isnan(values)] = self.vmin
        return flash(values, self.scene, self.source.spikes, self.t, self.vmax,
                     self.flash_ms)

    def _update_overlay(self):
        """Frames of the panels, cursors at t, the colour bar, the scale bar, labels."""
        T = self._text
        vx, vy, vw, vh = self.rect["view"]
        segs = []
        for name in ("raster", "trace", "timeline"):
            x, y, w, h = self.rect[name]
            segs += [(x, y), (x + w, y), (x + w, y), (x + w, y + h), (x + w, y + h),
                     (x, y + h), (x, y + h), (x, y)]
        self._lines["frames"].set_data(np.array(segs, float), color=_PANEL)
        cursors = []
        for name in ("raster", "trace", "timeline"):
            x, y, w, h = self.rect[name]
            cx = float(self._x_of(self.rect[name], self.t))
            cursors += [(cx, y), (cx, y + h)]
        tx, ty, tw, th = self.rect["timeline"]
        cursors += [(tx, ty + th / 2), (float(self._x_of(self.rect["timeline"], self.t)),
                                        ty + th / 2)]
        self._lines["cursors"].set_data(np.array(cursors, float),
                                        color=(1.0, 1.0, 1.0, 0.8))
        # the picked compartment: a cross over it in the 3D view
        if self.picked >= 0:
            mid = (self.scene.p0[self.picked] + self.scene.p1[self.picked]) / 2.0
            clip = self.camera.transform(vw, vh) @ np.append(mid, 1.0)
            px, py = vx + (clip[0] + 1.0) / 2.0 * vw, vy + (1.0 - clip[1]) / 2.0 * vh
            cross = [(px - 9, py), (px - 3, py), (px + 3, py), (px + 9, py),
                     (px, py - 9), (px, py - 3), (px, py + 3), (px, py + 9)]
            self._lines["picked"].set_data(np.array(cross), color=(1.0, 0.85, 0.2, 1.0))
        else:
            self._lines["picked"].set_data(np.zeros((2, 2)), color=(0, 0, 0, 0))
        # scale bar: a round length near a fifth of the view's width
        per_um = self.camera.pixels_per_um(vh)
        length = nice_length(vw / 5.0 / per_um)
        bx, by = vx + vw - 20 - length * per_um, vy + vh - 16
        self._lines["scale"].set_data(np.array([(bx, by), (bx + length * per_um, by)]),
                                      color="white", width=3)
        T["scale"].text, T["scale"].pos = f"{length:g} µm", (bx, by - 12)
        # colour bar, bottom left of the view
        cx, cy, cw, ch = vx + 16, vy + vh - 24, 160, 12
        from vispy.visuals.transforms import STTransform
        self._colorbar.transform = STTransform(scale=(cw / 256.0, ch), translate=(cx, cy))
        T["vmin"].text, T["vmin"].pos = f"{self.vmin:g}", (cx, cy - 10)
        T["vmax"].text, T["vmax"].pos = f"{self.vmax:g}", (cx + cw - 24, cy - 10)
        state = "playing" if self.playing else "paused"
        T["status"].text = (f"t = {self.t:8.2f} ms   {state}   speed {self.speed:g} ms/s   "
                            f"{self.source_name()}   {self.colormap} "
                            f"[{self.vmin:g}, {self.vmax:g}]")
        T["status"].pos = (12, 13)
        T["populations"].text = "   ".join(
            f"{k + 1}:{name}{' (hidden)' if name in self.hidden else ''}"
            for k, name in enumerate(self.source.populations))
        T["populations"].pos = (vx + 12, vy + 12)
        rx, ry, rw, rh = self.rect["raster"]
        T["raster"].text, T["raster"].pos = f"spikes ({len(self.source.spikes[1])})", \
            (rx, ry - 10)
        px, py, pw, ph = self.rect["trace"]
        T["trace"].text, T["trace"].pos = self._picked_label(), (px, py - 10)
        T["trace_hi"].text, T["trace_hi"].pos = f"{self.vmax:g}", (px + 3, py + 8)
        T["trace_lo"].text, T["trace_lo"].pos = f"{self.vmin:g}", (px + 3, py + ph - 8)
        times = self.source.times
        if len(times):
            T["t0"].text, T["t0"].pos = f"{times[0]:g} ms", (tx, ty - 9)
            T["t1"].text, T["t1"].pos = f"{times[-1]:g} ms", (tx + tw - 50, ty - 9)

    def source_name(self):
        return "live" if self.live else getattr(self.source, "report", "")

    def _picked_label(self):
        if self.picked < 0:
            return "click a compartment to see its trace"
        s = self.scene
        i = self.picked
        value = self.source.values(self.t)[i]
        return (f"gid {int(s.gid[i])}  section {int(s.section[i])}  x {s.x[i]:.3g}  "
                f"{value:.2f} at t")

    # ------------------------------------------------------------------ drawing
    def _draw_view(self, pick=False):
        gloo = self.gloo
        vx, vy, vw, vh = self.rect["view"]
        gloo.set_state(depth_test=True, blend=False)
        self.mesh.draw(self.camera.transform(vw, vh), pick, height=vh)

    def _gl_viewport(self, rect):
        """A rectangle (x, y from the top left, logical pixels) as GL's viewport."""
        ratio = self.canvas.pixel_scale
        x, y, w, h = rect
        H = self.canvas.size[1]
        return (int(x * ratio), int((H - y - h) * ratio), int(w * ratio), int(h * ratio))

    def _on_draw(self, event):
        gloo = self.gloo
        gloo.set_viewport(0, 0, *self.canvas.physical_size)
        gloo.set_clear_color((0.0, 0.0, 0.0, 1.0))
        gloo.clear(color=True, depth=True)
        self.mesh.set_values(self._frame_values())
        gloo.set_viewport(*self._gl_viewport(self.rect["view"]))
        self._draw_view()
        gloo.set_viewport(0, 0, *self.canvas.physical_size)
        gloo.set_state(depth_test=False, blend=True,
                       blend_func=("src_alpha", "one_minus_src_alpha"))
        self._update_raster()
        self._update_trace()
        self._update_overlay()
        for v in self._all_visuals():
            v.draw()

    def render(self):
        """The window's image, (h, w, 4) uint8 (drawn off-screen)."""
        return self.canvas.render(alpha=True)

    def pick_at(self, x, y):
        """The compartment under window pixel (x, y) (top left origin), or -1."""
        vx, vy, vw, vh = self.rect["view"]
        ratio = self.canvas.pixel_scale
        w, h = int(vw * ratio), int(vh * ratio)
        gloo = self.gloo
        if self._pick_fbo is None:
            self._pick_fbo = gloo.FrameBuffer(color=gloo.RenderBuffer((h, w, 4)),
                                              depth=gloo.RenderBuffer((h, w), format="depth"))
        self.canvas.set_current()
        with self._pick_fbo:
            gloo.set_viewport(0, 0, w, h)
            gloo.set_clear_color((0, 0, 0, 0))
            gloo.clear(color=True, depth=True)
            self._draw_view(pick=True)
            image = self._pick_fbo.read()
        px, py = int((x - vx) * ratio), int((y - vy) * ratio)
        if not (0 <= px < w and 0 <= py < h):
            return -1
        return int(decode_pick(image[py, px]))

    def pick(self, compartment):
        self.picked = int(compartment)
        self._trace_key = None
        self.canvas.update()

    # ------------------------------------------------------------------ events
    def _on_key(self, event):
        name = event.key.name if event.key is not None else ""
        text = event.text or ""
        if name == "Space" or text == " ":
            self.toggle()
        elif name in ("Right", "Left"):
            self.step(1 if name == "Right" else -1)
        elif name in ("Up", "Down"):
            self.set_speed(self.speed * (2.0 if name == "Up" else 0.5))
        elif name in ("Home", "End"):
            times = self.source.times
            if len(times):
                self.set_time(times[0] if name == "Home" else times[-1])
        elif text in ("c", "C"):
            k = COLORMAPS.index(self.colormap) if self.colormap in COLORMAPS else -1
            self.set_colormap(COLORMAPS[(k + (1 if text == "c" else -1)) % len(COLORMAPS)])
        elif text in ("[", "]"):
            self.set_range(min(self.vmin + (5.0 if text == "]" else -5.0), self.vmax - 1.0),
                           self.vmax)
        elif text in ("{", "}"):
            self.set_range(self.vmin,
                           max(self.vmax + (5.0 if text == "}" else -5.0), self.vmin + 1.0))
        elif text == "a":
            self.autoscale()
        elif text.isdigit() and text != "0":
            names = list(self.source.populations)
            if int(text) <= len(names):
                self.toggle_population(names[int(text) - 1])
        elif text == "r":
            self.camera.reset()
        elif text in ("x", "y", "z"):
            self.camera.reset(*{"x": (90.0, 0.0), "y": (0.0, 90.0), "z": (0.0, 0.0)}[text])
        elif text == "q" or name == "Escape":
            self.close()
            return
        self.canvas.update()

    def _on_mouse_press(self, event):
        self._press = (tuple(event.pos), event.button, self._region(event.pos),
                       tuple(event.pos), False)

    def _on_mouse_move(self, event):
        if self._press is None:
            return
        start, button, region, last, moved = self._press
        dx, dy = event.pos[0] - last[0], event.pos[1] - last[1]
        moved = moved or abs(event.pos[0] - start[0]) + abs(event.pos[1] - start[1]) > 3
        self._press = (start, button, region, tuple(event.pos), moved)
        if not moved:
            return
        if region == "view":
            shift = any(getattr(m, "name", m) == "Shift" for m in (event.modifiers or ()))
            if button == 2 or shift:
                _, _, vw, vh = self.rect["view"]
                self.camera.move(dx, dy, vw, vh)
            else:
                self.camera.drag(dx, dy)
        elif region in ("timeline", "raster", "trace"):
            self.set_time(self._t_of(self.rect[region], event.pos[0]))
        self.canvas.update()

    def _on_mouse_release(self, event):
        if self._press is None:
            return
        _, _, region, _, moved = self._press
        self._press = None
        if not moved:
            self.click(*event.pos, region=region)

    def click(self, x, y, region=None):
        """What a click at window pixel (x, y) does: pick in the 3D view; go to a time on
        the timeline, the raster or the trace (on the raster, also pick the cell's soma)."""
        region = region or self._region((x, y))
        if region == "view":
            got = self.pick_at(x, y)
            if got >= 0:
                self.pick(got)
        elif region in ("timeline", "raster", "trace"):
            self.set_time(self._t_of(self.rect[region], x))
            if region == "raster":
                self._pick_spike(x, y)
        self.canvas.update()

    def _spike_pixels(self):
        """Shown spikes and their raster pixels: gids, times, x, y."""
        gids, times = self.source.spikes
        rows = self._rows()
        keep = np.isin(gids, rows)
        for p in self.hidden:
            keep &= ~np.isin(gids, self.source.populations[p])
        gids, times = gids[keep], times[keep]
        rx, ry, rw, rh = self.rect["raster"]
        y = ry + (np.searchsorted(rows, gids) + 0.5) / max(len(rows), 1) * rh
        return gids, times, self._x_of(self.rect["raster"], times), y

    def _pick_spike(self, x, y):
        """A click on the raster: the spike drawn nearest (within 4 pixels) gives the time
        and the cell (its soma picked); elsewhere the row under the pointer."""
        gids, times, sx, sy = self._spike_pixels()
        d = np.hypot(sx - x, sy - y)
        if len(d) and d.min() <= 4.0:
            k = int(np.argmin(d))
            gid = int(gids[k])
            self.set_time(times[k])
        else:
            rows = self._rows()
            _, ry, _, rh = self.rect["raster"]
            gid = int(rows[int(np.clip((y - ry) / max(rh, 1) * len(rows), 0,
                                       len(rows) - 1))])
        if gid in self.scene.cell_range:
            lo, hi = self.scene.cell_range[gid]
            soma = np.flatnonzero(self.scene.section[lo:hi] == 0)
            self.pick(lo + (int(soma[0]) if len(soma) else 0))

    def _on_wheel(self, event):
        if self._region(event.pos) == "view":
            self.camera.scroll(event.delta[1])
            self.canvas.update()

    def _on_timer(self, event):
        now = time.perf_counter()
        if self._wall is not None:
            self.tick(now - self._wall)
        self._wall = now

    def _on_close(self, event):
        self.closed = True
        self._timer.stop()

    # ------------------------------------------------------------------ loop
    def process(self):
        """Let the window handle its events and redraw (a live run calls this between
        frames)."""
        if not self.closed:
            self.canvas.update()
            self.app.process_events()

    def run(self):
        """The event loop, until the window closes."""
        if not self.closed:
            self.app.run()

    def close(self):
        if not self.closed:
            self.closed = True
            self._timer.stop()
            self.canvas.close()
