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
    assert frames == 21                                        # 0, 2, ..., 40 ms


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
