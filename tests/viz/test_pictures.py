"""Pictures that stand alone (issue "The first ten minutes", parts 3 and 6): headless
frames carry a colour bar, the time, a scale bar and a title; point neurons are drawn;
raster legends stay off the spikes; output folders do not collide; --help is plain text."""

import os

import numpy as np
import pytest

pytest.importorskip("vispy")
from neurosim.viz.render import Renderer, colormap_table  # noqa: E402
from neurosim.viz.scene import Scene  # noqa: E402


@pytest.fixture
def cable():
    """One straight 300 µm compartment along x, an annotated renderer of it."""
    scene = Scene([[0.0, 0.0, 0.0]], [[300.0, 0.0, 0.0]], [5.0], [5.0], [1], [0], [0.5])
    renderer = Renderer(scene, size=(400, 200), ambient=1.0, vmin=-80.0, vmax=40.0)
    renderer.annotate(title="a cable", units="V (mV)")
    yield scene, renderer
    renderer.close()


def _colormap_index(rgb):
    """The colormap entry nearest each colour."""
    table = colormap_table()[:, :3].astype(int)
    d = ((np.asarray(rgb, int)[:, None, :] - table[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1), d.min(axis=1)


def test_a_frame_has_the_colour_bars_gradient(cable):
    _, renderer = cable
    image = renderer.draw(np.array([0.0], np.float32), t=12.5)
    x, y, w, h = renderer.overlay.colorbar
    row = image[y + h // 2, x:x + w, :3]
    index, distance = _colormap_index(row)
    assert distance.max() < 12                       # the colormap's own colours
    assert np.all(np.diff(index) >= 0)              # a monotone ramp, vmin to vmax
    assert index[0] < 10 and index[-1] > 245
    # without the overlay, nothing is there
    renderer.overlay = None
    bare = renderer.draw(np.array([0.0], np.float32))
    assert not np.any(bare[y + h // 2, x:x + w, :3])


def test_the_time_text_changes_with_the_time(cable):
    _, renderer = cable
    values = np.array([0.0], np.float32)
    a, b = renderer.draw(values, t=12.5), renderer.draw(values, t=37.5)
    x, y, w, h = renderer.overlay.time_box
    box_a, box_b = a[y:y + h, x:x + w, :3], b[y:y + h, x:x + w, :3]
    assert (box_a > 200).all(axis=2).sum() > 20                  # white text is there
    assert np.any(box_a != box_b)                                # and says the time
    outside = np.ones(a.shape[:2], bool)
    outside[y:y + h, x:x + w] = False
    np.testing.assert_array_equal(a[outside], b[outside])        # the rest is static


def test_the_scale_bar_is_as_long_as_its_length_in_microns(cable):
    scene, renderer = cable
    image = renderer.draw(np.array([0.0], np.float32), t=0.0)
    x, y, w, h = renderer.overlay.scalebar
    assert (image[y + 1, x:x + w, :3] == 255).all()              # a white bar
    # its length from the projection: the 300 µm cable's drawn width in pixels
    drawn = np.flatnonzero(renderer.index_image()[100] == 0)
    per_um = (drawn[-1] - drawn[0] + 1) / 310.0                  # 300 µm + two radii
    assert w == pytest.approx(renderer.overlay.scale_um * per_um, abs=3)
    assert renderer.overlay.scale_um in (50.0, 100.0)


def test_point_neurons_are_spheres_coloured_by_their_value():
    scene = Scene.from_cells({}, positions={7: (0.0, 0.0, 0.0), 8: (200.0, 50.0, 0.0),
                                            9: (50.0, 80.0, 0.0)}, points=[7, 8])
    assert sorted(scene.cell_range) == [7, 8]                    # 9 is not a point neuron
    renderer = Renderer(scene, size=(300, 200), ambient=1.0, vmin=-80.0, vmax=40.0)
    try:
        values = np.full(len(scene), -80.0, np.float32)
        lo, hi = scene.cell_range[7]
        values[lo:hi] = 40.0
        image = renderer.draw(values)
        table = colormap_table()
        for gid, colour in ((7, table[255]), (8, table[0])):
            x, y = renderer.project([scene.p0[scene.cell_range[gid][0]] + [8.0, 0, 0]])[0]
            np.testing.assert_array_equal(image[int(y), int(x), :3], colour[:3])
            ids = renderer.index_image()
            mine = np.isin(ids, np.arange(*scene.cell_range[gid]))
            ys, xs = np.nonzero(mine)
            # round: as tall as wide
            assert abs((ys.max() - ys.min()) - (xs.max() - xs.min())) <= 2
    finally:
        renderer.close()


def test_raster_legends_stay_off_the_spikes(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosim.viz.plots import plot_raster
    figures = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig) or close(fig))
    rng = np.random.default_rng(1)
    gids, times = rng.integers(0, 100, 5000), rng.uniform(0, 100, 5000)
    plot_raster(gids, times, tmp_path / "r.png", groups=[("a", 0, 50), ("b", 50, 100)],
                tstop=100.0)
    fig = figures[0]
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent()
    assert not legend.overlaps(ax.get_window_extent())


def test_demo_and_model_write_to_their_own_folders(tmp_path, monkeypatch, capsys):
    from neurosim.cli import main
    monkeypatch.chdir(tmp_path)
    assert main(["model", "ring", "--cells", "4", "--tstop", "5"]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "neurosim_output" / "ring" / "spikes.h5").exists()
    wrote = [line.split()[1] for line in printed.splitlines() if line.startswith("wrote ")]
    assert wrote and all(p.startswith(os.path.join("neurosim_output", "ring"))
                         for p in wrote)                         # relative to the cwd
    assert main(["demo", "--cell", "--tstop", "5"]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "neurosim_output" / "demo" / "demo_traces.h5").exists()
    assert f"wrote {os.path.join('neurosim_output', 'demo', 'demo_traces.h5')}" in printed
    assert (tmp_path / "neurosim_output" / "ring" / "spikes.h5").exists()   # not touched


def test_paths_outside_the_cwd_stay_absolute(tmp_path, monkeypatch):
    from neurosim.cli import _shown
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert _shown(str(tmp_path / "here" / "a" / "b.h5")) == os.path.join("a", "b.h5")
    assert _shown(str(tmp_path / "c.h5")) == str(tmp_path / "c.h5")


@pytest.mark.parametrize("command", [[], ["demo"], ["run"], ["view"], ["render"],
                                     ["model"], ["info"]])
def test_help_is_plain_text(command, capsys):
    from neurosim.cli import main
    with pytest.raises(SystemExit):
        main(command + ["--help"])
    text = capsys.readouterr().out
    assert "usage: neurosim" in text
    assert "``" not in text and "see the issues" not in text
    if not command:
        for name in ("ring", "busyring", "microcircuit", "v1", "baaiworm"):
            assert name in text


def test_the_readme_lists_every_model():
    import re

    from neurosim import cli
    readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
    import inspect
    names = re.search(r'model\.add_argument\("name", choices=\(([^)]*)\)',
                      inspect.getsource(cli)).group(1)
    for name in re.findall(r'"(\w+)"', names):
        assert f"`{name}`" in readme, name
