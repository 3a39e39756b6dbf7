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
from neurosim.viz.camera import OrbitCamera
from neurosim.viz.frames import flash
from neurosim.viz.panels import Panels
from neurosim.viz.render import CompartmentMesh, colormap_table, decode_pick, use_headless

COLORMAPS = ("viridis", "plasma", "inferno", "magma", "cividis", "coolwarm", "gray")


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
        self.panels = Panels(self)
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
        self.panels.set_colormap(name)
        self.canvas.update()

    def set_range(self, vmin, vmax):
        if not vmax > vmin:
            raise ValueError(f"the colour range needs vmin < vmax, got [{vmin}, {vmax}]")
        self.vmin, self.vmax = float(vmin), float(vmax)
        self.mesh.set_range(self.vmin, self.vmax)
        self.panels.forget(trace=True)
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
        self.panels.forget(raster=True)
        self.canvas.update()

    def _set_shown(self):
        hidden = [self.source.populations[p] for p in self.hidden]
        gone = np.concatenate(hidden) if hidden else np.zeros(0, np.int64)
        self.mesh.set_shown(~np.isin(self.scene.gid, gone))

    # ------------------------------------------------------------------ layout
    def _on_resize(self, event):
        self.panels.layout(self.canvas)
        self._pick_fbo = None
        self.canvas.update()

    @property
    def rect(self):
        """The window's regions: view, raster, trace, timeline (x, y, w, h)."""
        return self.panels.rect

    def _frame_values(self):
        values = np.array(self.source.values(self.t), dtype=np.float32)
        values[np.isnan(values)] = self.vmin
        return flash(values, self.scene, self.source.spikes, self.t, self.vmax,
                     self.flash_ms)

    def source_name(self):
        return "live" if self.live else getattr(self.source, "report", "")

    def picked_label(self):
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
        self.panels.draw()

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
        self.panels.forget(trace=True)
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
        self._press = (tuple(event.pos), event.button, self.panels.region(event.pos),
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
            self.set_time(self.panels.t_of(region, event.pos[0]))
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
        region = region or self.panels.region((x, y))
        if region == "view":
            got = self.pick_at(x, y)
            if got >= 0:
                self.pick(got)
        elif region in ("timeline", "raster", "trace"):
            self.set_time(self.panels.t_of(region, x))
            if region == "raster":
                self._pick_spike(x, y)
        self.canvas.update()

    def _pick_spike(self, x, y):
        """A click on the raster: the spike drawn nearest (within 4 pixels) gives the time
        and the cell (its soma picked); elsewhere the row under the pointer."""
        gids, times, sx, sy = self.panels.spike_pixels()
        d = np.hypot(sx - x, sy - y)
        if len(d) and d.min() <= 4.0:
            k = int(np.argmin(d))
            gid = int(gids[k])
            self.set_time(times[k])
        else:
            rows = self.panels.rows()
            _, ry, _, rh = self.rect["raster"]
            gid = int(rows[int(np.clip((y - ry) / max(rh, 1) * len(rows), 0,
                                       len(rows) - 1))])
        if gid in self.scene.cell_range:
            lo, hi = self.scene.cell_range[gid]
            soma = np.flatnonzero(self.scene.section[lo:hi] == 0)
            self.pick(lo + (int(soma[0]) if len(soma) else 0))

    def _on_wheel(self, event):
        if self.panels.region(event.pos) == "view":
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
