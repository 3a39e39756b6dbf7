"""The viewer's scene and renderer, headless (Mesa EGL): pixels asserted."""

import numpy as np
import pytest

import neurosim as ns

pytest.importorskip("vispy")
from neurosim.viz.render import Renderer, colormap_table  # noqa: E402
from neurosim.viz.scene import Scene, rotation  # noqa: E402


@pytest.fixture(scope="module")
def cable():
    cell = ns.Cell(ns.Morphology.cable(200.0, 20.0), discretization=ns.NSeg(4))
    scene = Scene.from_cells({0: cell})
    renderer = Renderer(scene, size=(200, 100), ambient=1.0, vmin=-80.0, vmax=40.0)
    yield scene, renderer
    renderer.close()


def test_scene_cuts_sections_into_compartment_cones():
    cell = ns.Cell(ns.Morphology.cable(200.0, 20.0), discretization=ns.NSeg(4))
    scene = Scene.from_cells({7: cell}, positions={7: (0.0, 0.0, 5.0)},
                             rotations={7: (0.0, 0.0, np.pi / 2)})
    assert len(scene) == 4 and scene.cell_range == {7: (0, 4)}
    # turned a quarter about z: the cable runs along y, moved up by 5 in z
    np.testing.assert_allclose(scene.p0[:, 0], 0.0, atol=1e-9)
    np.testing.assert_allclose(scene.p1[:, 1], [50.0, 100.0, 150.0, 200.0], atol=1e-9)
    np.testing.assert_allclose(scene.p0[:, 2], 5.0)
    assert scene.index(7, 0, 0.6) == 2
    np.testing.assert_allclose(rotation((0.3, -0.2, 1.1)) @ rotation((0.3, -0.2, 1.1)).T,
                               np.eye(3), atol=1e-12)


def test_a_compartment_at_a_known_voltage_has_the_colormaps_colour(cable):
    _, renderer = cable
    image = renderer.draw(np.array([-80.0, -20.0, 10.0, 100.0]))
    table = colormap_table("viridis")
    # pixel columns over the 4 compartments of the 200 µm cable fitted in 200 pixels
    for column, level in ((25, 0), (75, 128), (175, 255)):        # -80, -20, clipped 100
        np.testing.assert_array_equal(image[50, column, :3], table[level, :3])
    assert tuple(image[3, 3]) == (0, 0, 0, 255)                    # background
    assert renderer.uploaded == 4 * 4                              # one float each


def test_picking_a_pixel_returns_its_compartment(cable):
    _, renderer = cable
    assert [renderer.pick(x, 50) for x in (20, 70, 120, 180)] == [0, 1, 2, 3]
    assert renderer.pick(100, 2) == -1


def test_a_circuit_of_many_cells_in_one_draw():
    """The bundled circuit's 40 detailed cells at their positions and rotations: every
    compartment drawn and pickable, a voltage change seen where the compartment is."""
    from neurosim.io.sonata import Circuit, load_config
    from neurosim.models.circuit_builder import DEFAULT
    circuit = Circuit(load_config(f"{DEFAULT}/simulation_config.json"))
    net = circuit.network
    scene = Scene.from_cells(net.cells, net.positions, circuit.rotations)
    assert len(scene) > 40 * 20 and set(scene.cell_range) == set(net.cells)
    renderer = Renderer(scene, size=(300, 300), view="xy", ambient=1.0)
    try:
        rest = renderer.draw(np.full(len(scene), -80.0))
        values = np.full(len(scene), -80.0)
        values[scene.cell_range[5][0]:scene.cell_range[5][1]] = 40.0   # cell 5 fires
        lit = renderer.draw(values)
        changed = np.any(lit[:, :, :3] != rest[:, :, :3], axis=2)
        assert changed.sum() > 20                                   # cell 5's pixels
        y, x = np.argwhere(changed)[len(np.argwhere(changed)) // 2]
        assert scene.gid[renderer.pick(x, y)] == 5              # the front one is cell 5's
    finally:
        renderer.close()


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    """The bundled circuit, 40 ms, with an every-segment report."""
    import json
    import shutil

    from neurosim.cli import main
    from neurosim.models.circuit_builder import DEFAULT
    folder = tmp_path_factory.mktemp("layer4")
    shutil.copytree(DEFAULT, folder / "c", ignore=shutil.ignore_patterns("output"))
    config = folder / "c" / "simulation_config.json"
    cfg = json.loads(config.read_text())
    cfg["run"]["tstop"] = 40.0
    cfg["reports"]["all_v"] = {"cells": "detailed", "variable_name": "v", "sections": "all",
                               "dt": 1.0}
    config.write_text(json.dumps(cfg))
    assert main(["run", str(config), "--quiet"]) == 0
    return config


def test_render_a_frame_where_a_spiking_soma_flashes(run_output, tmp_path):
    import libsonata

    from neurosim.cli import main
    from neurosim.io.sonata import Circuit, load_config
    from neurosim.viz.frames import ReportFrames, flash
    out = run_output.parent / "output"
    spikes = np.array(libsonata.SpikeReader(str(out / "spikes.h5"))["cortex"].get())
    node, t = int(spikes[0, 0]), float(spikes[0, 1])
    assert main(["render", str(run_output), "--report", "all_v", "--time", str(t + 0.5),
                 "--out", str(tmp_path / "frame.png"), "--size", "320", "240"]) == 0
    assert (tmp_path / "frame.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same frame by the API: the soma of the cell that spiked shows vmax's colour
    circuit = Circuit(load_config(str(run_output)))
    net = circuit.network
    scene = Scene.from_cells(net.cells, net.positions, circuit.rotations)
    frames = ReportFrames(out / "all_v.h5", "cortex", circuit.offset["cortex"])
    renderer = Renderer(scene, size=(320, 240), ambient=1.0, vmin=-80.0, vmax=40.0)
    try:
        values = flash(frames.values(scene, t + 0.5, -80.0), scene,
                       (spikes[:, 0].astype(int), spikes[:, 1]), t + 0.5, 40.0)
        image = renderer.draw(values)
        soma = scene.index(node, 0, 0.5)
        pixels = np.argwhere(renderer.index_image() == soma)
        assert len(pixels) > 3                                  # the soma is in view
        y, x = pixels[len(pixels) // 2]
        np.testing.assert_array_equal(image[y, x, :3], colormap_table()[255, :3])
    finally:
        renderer.close()
        frames.close()


def test_a_movie_has_the_expected_frame_count(run_output, tmp_path):
    import imageio.v2 as imageio

    from neurosim.cli import main
    movie = tmp_path / "run.mp4"
    assert main(["render", str(run_output), "--report", "soma_v", "--every", "2",
                 "--out", str(movie), "--size", "160", "120"]) == 0
    with imageio.get_reader(movie) as reader:
        frames = sum(1 for _ in reader)
    assert frames == 20              # the report holds 40 frames (after each 1 ms); every 2nd


def test_bad_reports_are_clear_errors(run_output, tmp_path, capsys):
    import h5py

    from neurosim.cli import main
    out = run_output.parent / "output"
    broken = tmp_path / "broken.h5"
    with h5py.File(out / "soma_v.h5") as src, h5py.File(broken, "w") as dst:
        src.copy("report", dst)
        del dst["report/cortex/mapping"]
    assert main(["render", str(run_output), "--report-file", str(broken),
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "mapping" in capsys.readouterr().err
    alien = tmp_path / "alien.h5"
    with h5py.File(out / "soma_v.h5") as src, h5py.File(alien, "w") as dst:
        src.copy("report/cortex", dst, name="report/hippocampus")
    assert main(["render", str(run_output), "--report-file", str(alien),
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "mismatched circuit" in capsys.readouterr().err


def test_lines_the_coarsest_level_of_detail():
    """sides=0 (the default beyond 5e5 compartments): a line per compartment, still
    coloured by the colormap and pickable."""
    cell = ns.Cell(ns.Morphology.cable(200.0, 20.0), discretization=ns.NSeg(4))
    scene = Scene.from_cells({0: cell})
    renderer = Renderer(scene, size=(200, 100), ambient=1.0, sides=0)
    try:
        assert renderer.mode == "lines"
        image = renderer.draw(np.array([-80.0, -20.0, 10.0, 40.0]))
        row = np.flatnonzero(np.any(image[:, 100, :3] > 0, axis=1))   # the line's pixel row
        assert 1 <= len(row) <= 2
        y = int(row[0])
        np.testing.assert_array_equal(image[y, 25, :3], colormap_table()[0, :3])
        np.testing.assert_array_equal(image[y, 175, :3], colormap_table()[255, :3])
        assert renderer.pick(175, y) == 3
    finally:
        renderer.close()


# ---------------------------------------------------------------------- the window
def press(viewer, text="", name=None):
    from vispy.util import keys
    key = getattr(keys, name.upper()) if name else keys.Key(text.upper() or "?")
    viewer.canvas.events.key_press(key=key, text=text)


def click(viewer, x, y, button=1):
    viewer.canvas.events.mouse_press(pos=(x, y), button=button)
    viewer.canvas.events.mouse_release(pos=(x, y), button=button)


def inside(image, rect):
    x, y, w, h = rect
    return image[y + 2:y + h - 1, x + 2:x + w - 1, :3]


@pytest.fixture()
def window(run_output):
    from neurosim.viz.sources import RunSource
    from neurosim.viz.viewer import Viewer
    viewer = Viewer(RunSource(run_output, "all_v"), size=(900, 520))
    yield viewer
    viewer.close()
    viewer.source.close()


def test_the_window_plays_steps_and_scrubs_by_its_keys_and_mouse(window):
    v = window
    times = v.source.times
    assert v.t == times[0] and not v.playing
    press(v, " ")
    assert v.playing
    v.tick(0.5)                                       # half a wall second at the speed
    assert v.t == pytest.approx(times[0] + 0.5 * v.speed)
    press(v, " ")
    assert not v.playing
    press(v, name="End")
    assert v.t == times[-1]
    press(v, name="Left")
    assert v.t == times[-2]
    press(v, name="Home")
    press(v, name="Right")
    assert v.t == times[1]
    speed = v.speed
    press(v, name="Up")
    assert v.speed == 2 * speed
    x, y, w, h = v.rect["timeline"]
    click(v, x + w // 2, y + h // 2)                  # the timeline's middle
    assert v.t == pytest.approx((times[0] + times[-1]) / 2, abs=(times[-1] - times[0]) / w)
    v.canvas.events.mouse_press(pos=(x + 5, y + 5), button=1)     # drag along it
    v.canvas.events.mouse_move(pos=(x + w // 4, y + 5), button=1)
    v.canvas.events.mouse_release(pos=(x + w // 4, y + 5), button=1)
    assert v.t == pytest.approx(times[0] + (w // 4) / w * (times[-1] - times[0]), abs=0.2)


def test_the_window_picks_shows_the_trace_and_a_raster(window):
    v = window
    press(v, name="End")
    image = v.render()
    # the raster shows the run's spikes: lit pixels in its frame
    assert np.count_nonzero(inside(image, v.rect["raster"]).max(axis=2) > 60) > 20
    def yellow(image):
        trace = inside(image, v.rect["trace"]).astype(int)
        return ((trace[:, :, 0] > 200) & (trace[:, :, 1] > 150) &
                (trace[:, :, 0] - trace[:, :, 2] > 100)).sum()
    assert yellow(image) == 0                          # no trace until a pick
    # click a pixel of the 3D view where a compartment is drawn: that compartment
    vx, vy, vw, vh = v.rect["view"]
    target = v.scene.cell_range[5][0]                 # the soma of gid 5
    mid = (v.scene.p0[target] + v.scene.p1[target]) / 2
    clip = v.camera.transform(vw, vh) @ np.append(mid, 1.0)
    px, py = vx + (clip[0] + 1) / 2 * vw, vy + (1 - clip[1]) / 2 * vh
    click(v, int(px), int(py))
    assert v.scene.gid[v.picked] == 5
    image = v.render()
    assert yellow(image) > 30                         # the picked compartment's trace
    marker = image[int(py) - 1:int(py) + 2, int(px) + 5:int(px) + 9, :3].astype(int)
    assert np.any((marker[..., 0] > 200) &
                  (marker[..., 0] - marker[..., 2] > 100))      # a cross marks it in 3D
    # a click on the raster: that time, and that row's cell picked (its soma)
    gids, st = v.source.spikes
    rows = v.panels.rows()
    rx, ry, rw, rh = v.rect["raster"]
    sx = rx + (st - v.source.times[0]) / (v.source.times[-1] - v.source.times[0]) * rw
    sy = ry + (np.searchsorted(rows, gids) + 0.5) / len(rows) * rh
    apart = np.hypot(sx[:, None] - sx[None, :], sy[:, None] - sy[None, :])
    np.fill_diagonal(apart, np.inf)
    k = int(np.flatnonzero(apart.min(axis=1) > 6)[0])       # a spike with room around it
    g, ts = int(gids[k]), float(st[k])
    click(v, int(round(sx[k])), int(round(sy[k])))
    assert v.t == ts and v.scene.gid[v.picked] == g
    assert v.scene.section[v.picked] == 0


def test_colormap_range_populations_camera_and_scale_bar(window):
    from neurosim.viz.camera import nice_length
    v = window
    vx, vy, vw, vh = v.rect["view"]
    cx, cy = vx + 16, vy + vh - 24                    # the colour bar: 160 x 12 pixels
    image = v.render()
    np.testing.assert_allclose(image[cy + 6, cx + 81, :3], colormap_table()[129, :3], atol=2)
    press(v, "c")
    assert v.colormap == "plasma"
    image = v.render()
    np.testing.assert_allclose(image[cy + 6, cx + 81, :3],
                               colormap_table("plasma")[129, :3], atol=2)   # an image visual
    press(v, "[")
    press(v, "}")
    assert (v.vmin, v.vmax) == (-85.0, 45.0)
    press(v, "a")                                    # range from this frame's values
    assert -85.0 < v.vmin < v.vmax < 45.0
    # the scale bar: a white line of a round length at the view's bottom right
    image = v.render()
    length = nice_length(vw / 5.0 / v.camera.pixels_per_um(vh))
    row = image[vy + vh - 16, vx:vx + vw, :3]
    white = np.flatnonzero(row.min(axis=1) > 240)
    assert abs(len(white) - length * v.camera.pixels_per_um(vh)) <= 2
    # turning the camera by a drag changes the picture; the wheel zooms
    before = inside(image, v.rect["view"]).copy()
    v.canvas.events.mouse_press(pos=(vx + 200, vy + 200), button=1)
    v.canvas.events.mouse_move(pos=(vx + 260, vy + 230), button=1)
    v.canvas.events.mouse_release(pos=(vx + 260, vy + 230), button=1)
    assert v.camera.azimuth != 0.0 and v.camera.elevation != 0.0
    assert np.any(inside(v.render(), v.rect["view"]) != before)
    v.canvas.events.mouse_wheel(pos=(vx + 200, vy + 200), delta=(0, 2))
    assert v.camera.zoom == pytest.approx(1.15 ** 2)
    press(v, "r")
    # hiding the population of every detailed cell empties the 3D view and its spikes
    cells = inside(v.render(), (vx, vy + 30, vw, vh - 70))
    assert np.count_nonzero(cells.max(axis=2) > 40) > 500
    press(v, "1")
    assert v.hidden == {"cortex"}
    image = v.render()
    assert np.count_nonzero(inside(image, (vx, vy + 30, vw, vh - 70)).max(axis=2) > 40) \
        < 50                                          # the labels' pixels only
    raster = inside(image, v.rect["raster"]).max(axis=2) > 60
    press(v, "1")
    assert not v.hidden
    assert (inside(v.render(), v.rect["raster"]).max(axis=2) > 60).sum() > raster.sum()


def test_view_and_run_view_need_a_display(run_output, monkeypatch, capsys):
    from neurosim.cli import main
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view", str(run_output)]) == 2
    assert "needs a display" in capsys.readouterr().err


def test_a_report_file_finds_its_config(run_output, tmp_path, capsys):
    from neurosim.cli import main
    report = run_output.parent / "output" / "soma_v.h5"
    assert main(["render", str(report), "--out", str(tmp_path / "f.png"),
                 "--size", "160", "120"]) == 0
    assert (tmp_path / "f.png").exists()
    lonely = tmp_path / "lonely" / "soma_v.h5"
    lonely.parent.mkdir()
    lonely.write_bytes(report.read_bytes())
    assert main(["render", str(lonely), "--out", str(tmp_path / "g.png")]) == 2
    assert "--config" in capsys.readouterr().err
    assert main(["render", str(lonely), "--config", str(run_output),
                 "--out", str(tmp_path / "g.png"), "--size", "160", "120"]) == 0


# ---------------------------------------------------------------------- live
def test_a_running_simulation_shown_live():
    """sim.run(viewer=...): a frame per interval, each compartment's value the
    simulation's voltage there at that time; the spikes so far in the raster."""
    from neurosim.models.ring import ring_network
    from neurosim.viz.live import LiveView
    net, gids = ring_network(6, extra=2, depth=2, branch_nseg=3)
    sim = ns.Simulation(net)
    soma = sim.record("v", (0, 0.5), cell=3, interval=2.0)
    dend = sim.record("v", (2, 0.4), cell=4, interval=2.0)
    spikes = sim.record_spikes()
    view = LiveView(sim, interval=2.0, show=False, size=(500, 300))
    sim.run(20.0, viewer=view)
    sim.run(30.0, viewer=view)
    src, scene = view.source, view.scene
    np.testing.assert_allclose(src.times, np.arange(0.0, 30.1, 2.0))
    for trace, (gid, sec, x) in ((soma, (3, 0, 0.5)), (dend, (4, 2, 0.4))):
        times, values = src.trace(scene.index(gid, sec, x))
        np.testing.assert_allclose(times, trace.times)
        np.testing.assert_allclose(values, trace.values, atol=1e-4)    # float32
    np.testing.assert_array_equal(np.sort(src.spikes[1]), np.sort(spikes.times))
    assert len(spikes.times) >= 4
    assert view.viewer.t == 30.0 and view.viewer.live
    # cells without positions are laid out apart: six cells, six places
    centres = {g: scene.p0[lo] for g, (lo, hi) in scene.cell_range.items()}
    assert len({tuple(np.round(c, 3)) for c in centres.values()}) == 6
    image = view.viewer.render()
    assert np.count_nonzero(inside(image, view.viewer.rect["raster"]).max(axis=2) > 60) > 4


@pytest.mark.slow
def test_live_view_under_mpi_gathers_on_rank_0(tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    here = os.path.join(os.path.dirname(__file__), "..", "run")
    sys.path.insert(0, os.path.join(here, "mpi"))
    import live_view
    serial = live_view.frames()
    out = tmp_path / "frames.npz"
    done = subprocess.run([shutil.which("mpiexec"), "-n", "2", sys.executable,
                           os.path.join(here, "mpi", "live_view.py"), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    got = np.load(out)
    for key in ("times", "gid", "section", "x"):
        np.testing.assert_array_equal(got[key], serial[key])
    np.testing.assert_array_equal(got["values"], serial["values"])
    order = np.lexsort((got["spike_gids"], got["spike_times"]))
    ref = np.lexsort((serial["spike_gids"], serial["spike_times"]))
    np.testing.assert_array_equal(got["spike_times"][order], serial["spike_times"][ref])
    np.testing.assert_array_equal(got["spike_gids"][order], serial["spike_gids"][ref])


def test_live_view_bad_input_is_a_clear_error(monkeypatch):
    from neurosim.errors import NeurosimError, ParameterError
    from neurosim.viz.live import LiveView
    sim = ns.Simulation(ns.Cell(ns.Morphology.ball_and_stick()))
    with pytest.raises(ParameterError, match="shorter than dt"):
        LiveView(sim, interval=0.01, show=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(NeurosimError, match="needs a display"):
        LiveView(sim)                                # a window, and no display here


# ---------------------------------------------------------------------- a real window
@pytest.fixture
def x_display(tmp_path):
    """A virtual X display (Xvfb, from Debian; .ci/run installs it) for a real window: one
    server per test, started with -noreset (a server that resets when its last client leaves
    was once gone by the second test), its log kept for the failure message."""
    import os
    import shutil
    import subprocess
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is needed for the window's tests: apt-get install xvfb"
    log = tmp_path / "xvfb.log"
    read, write = os.pipe()
    with open(log, "w") as stderr:
        server = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0",
                                   "1024x768x24", "-nolisten", "tcp", "-noreset"],
                                  pass_fds=(write,), stderr=stderr)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    assert number, f"Xvfb did not start: {log.read_text()}"
    yield XServer(f":{number}", server, log)
    server.terminate()
    server.wait(timeout=10)


class XServer(str):
    """The display name, with the server's process and log for a failure's message."""

    def __new__(cls, name, process, log):
        display = super().__new__(cls, name)
        display.process, display.log = process, log
        return display

    def state(self):
        alive = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"Xvfb {self} {alive}; its log:\n{self.log.read_text()}"


def window_script(display, mode, config, tmp_path):
    import json
    import os
    import subprocess
    import sys
    out = tmp_path / f"{mode}.json"
    env = {k: v for k, v in os.environ.items() if k not in ("EGL_PLATFORM",
                                                            "WAYLAND_DISPLAY")}
    done = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "viewer",
                                                        "window.py"), mode, str(config),
                           str(out)], env={**env, "DISPLAY": display}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr + display.state()
    return json.loads(out.read_text())


def test_a_real_window_plays_and_closes(x_display, run_output, tmp_path):
    """neurosim view's window on an X display (glfw): it plays on its own timer, answers
    its keys, draws the cells, and its event loop ends when the window is closed."""
    got = window_script(x_display, "view", run_output, tmp_path)
    assert got["backend"].lower() != "egl"
    assert got["advanced"] > 0 and got["colormap"] == "plasma"
    assert got["lit"] > 1000 and got["closed"]


@pytest.mark.slow
def test_a_live_run_in_a_real_window(x_display, run_output, tmp_path):
    """neurosim run --view's path: a frame per 2 ms to tstop, the window kept open at the
    end until closed."""
    got = window_script(x_display, "live", run_output, tmp_path)
    assert got["frames"] == int(got["tstop"] / 2.0) + 1 and got["t"] == got["tstop"]
    assert got["spikes"] >= got["run_spikes"] > 0 and got["closed"]


def test_neurites_thinner_than_a_pixel_stay_visible():
    """A 0.1 µm cable drawn at 1 pixel per µm: its tubes are widened to a pixel (the C.
    elegans neurites at whole-worm scale), not lost between pixels."""
    cell = ns.Cell(ns.Morphology.cable(200.0, 0.1), discretization=ns.NSeg(4))
    scene = Scene.from_cells({0: cell})
    renderer = Renderer(scene, size=(220, 100), ambient=1.0)
    try:
        image = renderer.draw(np.full(4, 40.0))
        lit = np.all(image[:, :, :3] == colormap_table()[255, :3], axis=2)
        assert lit.any(axis=0).sum() > 150                  # along most of its length
        assert lit.sum(axis=0).max() <= 3                   # and about a pixel wide
    finally:
        renderer.close()


def test_rendered_frames_stand_alone(run_output, tmp_path):
    """neurosim render's PNG: the colour bar's ramp and the time (pixel checks); the point
    neurons are in the scene, drawn at their positions."""
    import matplotlib.pyplot as plt

    from neurosim.cli import main
    from neurosim.viz.overlay import Overlay
    from neurosim.viz.sources import RunSource
    frames = []
    for t in (10.0, 30.0):
        assert main(["render", str(run_output), "--time", str(t), "--out",
                     str(tmp_path / f"f{t:g}.png"), "--size", "320", "240"]) == 0
        frames.append((plt.imread(tmp_path / f"f{t:g}.png")[:, :, :3] * 255).round())
    layout = Overlay((320, 240), 1.0)                 # where the overlay puts things
    x, y, w, h = layout.colorbar
    row = frames[0][y + h // 2, x:x + w].astype(int)
    table = colormap_table()[:, :3].astype(int)
    index = ((row[:, None, :] - table[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.all(np.diff(index) >= 0) and index[0] < 10 and index[-1] > 245
    x, y, w, h = layout.time_box
    assert np.any(frames[0][y:y + h, x:x + w] != frames[1][y:y + h, x:x + w])
    assert (frames[0][y:y + h, x:x + w] > 200).all(axis=2).sum() > 20
    source = RunSource(str(run_output))
    try:
        net = source.circuit.network
        assert net.artificial and set(net.artificial) <= set(source.scene.cell_range)
    finally:
        source.close()
