"""The model library at reduced scale: properties a neuroscientist would check."""

import json

import numpy as np
import pytest

import neurosim as ns
from neurosim.models import microcircuit as mc


def test_microcircuit_numbers_are_the_papers():
    """Potjans & Diesmann (2014): 77 169 neurons, ~3e8 synapses, a 0.15 mV PSP is an
    87.8 pA current."""
    assert mc.N_FULL.sum() == 77169
    synapses = (mc.full_indegrees() * mc.N_FULL[:, None]).sum()
    assert 2.9e8 < synapses < 3.1e8
    assert mc.psc_of_psp(0.15) == pytest.approx(87.81, abs=0.01)
    # the in-degrees follow from the probabilities: p = 1 - (1 - 1/(Nt Ns))^synapses
    k = mc.full_indegrees()
    p = 1.0 - (1.0 - 1.0 / np.outer(mc.N_FULL, mc.N_FULL)) ** (k * mc.N_FULL[:, None])
    np.testing.assert_allclose(p, mc.CONN_PROBS, atol=1e-9)
    with pytest.raises(ns.ParameterError, match="scale"):
        mc.plan(scale=0.0)


@pytest.fixture(scope="module")
def microcircuit_run(tmp_path_factory):
    from neurosim.cli import main
    out = tmp_path_factory.mktemp("microcircuit")
    assert main(["model", "microcircuit", "--scale", "0.03", "--tstop", "700",
                 "--out", str(out)]) == 0
    return out


def test_microcircuit_at_reduced_scale_fires_as_published(microcircuit_run):
    """Scale 0.03 (2 316 neurons, synapses x 0.03^2 with NEST's compensation): every
    population fires, below 2.5 times and above 2 % of the paper's full-scale rates (the
    package's network in NEST, seeds 1-4 at this scale: L2/3E at 4-12 % of it, the others
    at 14-67 %; tests/models/test_microcircuit_nest.py compares the two simulators), L2/3E and L6E
    the quietest excitatory ones as in the paper; the spikes file and the figure written."""
    import libsonata
    out = microcircuit_run
    summary = json.loads((out / "summary.json").read_text())
    rates = np.array([summary["rates"][p] for p in mc.POPULATIONS])
    assert np.all(np.isfinite(rates))
    ratio = rates / mc.PUBLISHED_RATES
    assert np.all((ratio > 0.02) & (ratio < 2.5)), dict(zip(mc.POPULATIONS, rates))
    excitatory = rates[0::2]
    assert set(np.argsort(excitatory)[:2]) == {0, 3}           # L2/3E and L6E
    reader = libsonata.SpikeReader(str(out / "spikes.h5"))
    assert sorted(reader.get_population_names()) == sorted(mc.POPULATIONS)
    total = sum(len(reader[p].get()) for p in mc.POPULATIONS)
    assert total == summary["spikes"]
    assert (out / "microcircuit.png").read_bytes()[:4] == b"\x89PNG"


def test_microcircuit_connectivity_counts_equal_the_plan():
    net, pops = mc.microcircuit(scale=0.01, background="dc")
    plan = mc.plan(scale=0.01, background="dc")
    src, tgt, _, weights, delays = net.connections()
    where = {}
    for k, name in enumerate(mc.POPULATIONS):
        for g in pops[name]:
            where[int(g)] = k
    s = np.array([where[int(g)] for g in src])
    t = np.array([where[int(g)] for g in tgt])
    counts = np.zeros((8, 8), dtype=int)
    np.add.at(counts, (t, s), 1)
    np.testing.assert_array_equal(counts, plan["synapses"])     # NEST's fixed_total_number
    w = weights[:, 0]
    assert np.all(w[s % 2 == 0] > 0) and np.all(w[s % 2 == 1] < 0)   # Dale's law
    assert delays.min() >= 0.1 - 1e-12                           # at least one step
    # the DC makes up the background: an unconnected neuron sits at E_L + I_e R
    assert np.all(plan["dc"] > 0)


@pytest.mark.slow
def test_microcircuit_spikes_are_the_same_on_1_and_2_threads():
    """Scale 0.03: the same spikes, in the same order, whatever the thread count."""
    got = []
    for threads in (1, 2):
        net, pops = mc.microcircuit(scale=0.03, seed=2)
        sim = ns.Simulation(net, dt=0.1, threads=threads)
        spikes = sim.record_spikes(np.concatenate([pops[p] for p in mc.POPULATIONS]))
        sim.run(300.0)
        got.append((spikes.gids.copy(), spikes.times.copy()))
    assert len(got[0][0]) > 500
    np.testing.assert_array_equal(got[0][0], got[1][0])
    np.testing.assert_array_equal(got[0][1], got[1][1])


def test_ring_and_busyring_from_the_command_line(tmp_path):
    from neurosim.cli import main
    for name in ("ring", "busyring"):
        out = tmp_path / name
        assert main(["model", name, "--cells", "8", "--tstop", "60", "--out", str(out)]) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["spikes"] >= 8                            # the wave went round
        assert summary["connections"] == 8 + 1 + (80 if name == "busyring" else 0)
        assert (out / f"{name}.png").exists()


# ---------------------------------------------------------------------- V1 column
@pytest.mark.slow
def test_the_v1_column_answers_the_lgn_flash(tmp_path):
    """neurosim model v1 at a quarter of its size: a SONATA circuit built with bmtk from
    Allen cell models, run by neurosim: as many connections as the edge files hold, every
    population within physiological rates, the excitatory cells firing more during the
    LGN flash than before it; the soma report finite."""
    import h5py
    import libsonata

    from neurosim.cli import main
    out = tmp_path / "v1"
    assert main(["model", "v1", "--scale", "0.25", "--tstop", "800", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    storage = libsonata.EdgeStorage(str(out / "circuit" / "network" / "v1_v1_edges.h5"))
    lgn = libsonata.EdgeStorage(str(out / "circuit" / "network" / "lgn_v1_edges.h5"))
    edges = storage.open_population("v1_to_v1").size + lgn.open_population("lgn_to_v1").size
    assert summary["connections"] == edges
    from neurosim.models.v1_column import CELLS, COUNTS
    detailed = sum(max(1, round(COUNTS[n] * 0.25)) for n in CELLS)
    assert summary["detailed"] == detailed and summary["lgn"] == 100
    before, during = summary["rates_before_flash"], summary["rates_during_flash"]
    assert all(0.0 <= r < 100.0 for r in list(before.values()) + list(during.values()))
    for name in ("Scnn1a", "Rorb", "Nr5a1"):
        assert during[name] > 5.0 and during[name] > 2.0 * before[name]
    assert_annotated(out / "v1_column.png", (800, 600))
    with h5py.File(out / "circuit" / "output" / "soma_v.h5") as f:
        data = f["report/v1/data"][()]
    assert data.shape[1] == detailed and np.all(np.isfinite(data))
    assert (out / "v1_raster.png").exists() and (out / "v1_column.png").exists()


def assert_annotated(png, size):
    """A headless picture stands alone: its colour bar's ramp (the colormap's colours, in
    order) where the overlay puts it, and white text in its time box."""
    import matplotlib.pyplot as plt

    from neurosim.viz.overlay import Overlay
    from neurosim.viz.render import colormap_table
    image = (plt.imread(png)[:, :, :3] * 255).round().astype(int)
    assert image.shape[:2] == (size[1], size[0])
    layout = Overlay(size, 1.0)
    x, y, w, h = layout.colorbar
    row = image[y + h // 2, x:x + w]
    table = colormap_table()[:, :3].astype(int)
    index = ((row[:, None, :] - table[None]) ** 2).sum(axis=2).argmin(axis=1)
    assert np.all(np.diff(index) >= 0) and index[0] < 10 and index[-1] > 245
    x, y, w, h = layout.time_box
    assert (image[y:y + h, x:x + w] > 200).all(axis=2).sum() > 20
