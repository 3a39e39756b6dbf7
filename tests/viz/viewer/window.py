"""The viewer in a real window (a GUI backend on an X display: Xvfb in the tests).

    python window.py view simulation_config.json out.json   a finished run's report
    python window.py live simulation_config.json out.json   neurosim run --view's path

Each opens the window, lets it play, drives it by its own key events, then closes it the
way a user does; what it saw goes to out.json."""

import json
import sys
import time


def closer(viewer, after, note, ready=lambda: True, patience=60.0):
    """A timer of the window's event loop: after ``after`` s, once ``ready()`` (or after
    ``patience`` s: a busy machine's software renderer can be slow to its first frames),
    note what the window shows and close it (as a user closing it)."""
    t0 = time.perf_counter()

    def check(event):
        waited = time.perf_counter() - t0
        if waited >= after and (ready() or waited >= patience) and not viewer.closed:
            timer.stop()
            note(viewer)
            viewer.close()
    timer = viewer.app.Timer(0.05, connect=check, start=True)
    return timer


def view(config, out):
    from vispy.util import keys

    from neurosim.viz.sources import RunSource
    from neurosim.viz.viewer import Viewer
    v = Viewer(RunSource(config, "all_v"), show=True, size=(800, 480))
    result = {"backend": v.app.use_app().backend_name}
    v.play()
    start = v.t

    def note(viewer):
        result["advanced"] = viewer.t - start
        viewer.canvas.events.key_press(key=keys.Key("C"), text="c")
        image = viewer.canvas.render()
        x, y, w, h = viewer.rect["view"]
        result["lit"] = int((image[y:y + h, x:x + w, :3].max(axis=2) > 40).sum())
        result["colormap"] = viewer.colormap
    timer = closer(v, 2.0, note, ready=lambda: v.t > start)
    v.run()                                     # returns when the window is closed
    result["closed"] = v.closed
    del timer
    json.dump(result, open(out, "w"))


def live(config, out):
    from neurosim.io.sonata import SonataRun
    run = SonataRun(config)
    viewer = run.live_view(interval=2.0, size=(800, 480))
    result = {}

    def note(v):
        result["frames"] = len(v.source.times)
        result["t"] = v.t
        result["spikes"] = int(len(v.source.spikes[1]))
    run.run(viewer=viewer)
    timer = closer(viewer.viewer, 0.5, note)
    viewer.wait()                               # as neurosim run --view ends
    del timer
    result["closed"] = viewer.closed
    result["tstop"] = run.tstop
    result["run_spikes"] = int(len(run.spikes.times))
    json.dump(result, open(out, "w"))


if __name__ == "__main__":
    {"view": view, "live": live}[sys.argv[1]](sys.argv[2], sys.argv[3])
