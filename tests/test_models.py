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
    """Scale 0.03 (2 316 neurons, in-degrees x 0.03 with NEST's compensation): every
    population's rate within a factor 2.5 of NEST's full-scale rates, L2/3E and L6E the
    quietest excitatory ones as in the paper; the spikes file and the figure written."""
    import libsonata
    out = microcircuit_run
    summary = json.loads((out / "summary.json").read_text())
    rates = np.array([summary["rates"][p] for p in mc.POPULATIONS])
    assert np.all(np.isfinite(rates))
    ratio = rates / mc.PUBLISHED_RATES
    assert np.all((ratio > 0.4) & (ratio < 2.5)), dict(zip(mc.POPULATIONS, rates))
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
    np.testing.assert_array_equal(counts, plan["indegree"] * plan["n"][:, None])
    w = weights[:, 0]
    assert np.all(w[s % 2 == 0] > 0) and np.all(w[s % 2 == 1] < 0)   # Dale's law
    assert delays.min() >= 0.1                                   # clipped at dt
    # the DC makes up the background: an unconnected neuron sits at E_L + I_e R
    assert np.all(plan["dc"] > 0)


def test_ring_and_busyring_from_the_command_line(tmp_path):
    from neurosim.cli import main
    for name in ("ring", "busyring"):
        out = tmp_path / name
        assert main(["model", name, "--cells", "8", "--tstop", "60", "--out", str(out)]) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["spikes"] >= 8                            # the wave went round
        assert summary["connections"] == 8 + 1 + (80 if name == "busyring" else 0)
        assert (out / f"{name}.png").exists()


# ---------------------------------------------------------------------- C. elegans
def test_neuroml_cells_read_as_neuron_makes_them(tmp_path):
    """AVAL from c302: a section per unbranched group, the spherical soma a cylinder with
    length = diameter, neurites from its centre; the path length of every segment kept."""
    import xml.etree.ElementTree as ET
    from neurosim.io.neuroml import read_cell
    from neurosim.models.celegans import cell_files
    path = cell_files()["AVAL"]
    morph, props = read_cell(path)
    assert (props["cm"], props["ra"], props["v_init"]) == (1.0, 30.0, -65.0)
    assert props["channels"] == [("LeakConductance", 2.5e-05, -65.0)]
    soma = morph[0]
    assert soma.type_name == "soma" and soma.length == pytest.approx(soma.diameters[0])
    assert all(s.parent_x == 0.5 for s in morph.sections if s.parent == 0)
    # total neurite length: the distances between each segment's ends, from the XML
    total = 0.0
    ns_ = "{http://www.neuroml.org/schema/neuroml2}"
    segs = {s.get("id"): s for s in ET.parse(path).getroot().iter(f"{ns_}segment")}
    for s in segs.values():
        dist = s.find(f"{ns_}distal")
        prox = s.find(f"{ns_}proximal")
        if prox is None:
            prox = segs[s.find(f"{ns_}parent").get("segment")].find(f"{ns_}distal")
        total += np.linalg.norm([float(dist.get(k)) - float(prox.get(k)) for k in "xyz"])
    assert sum(s.length for s in morph.sections[1:]) == pytest.approx(total, rel=1e-9)
    bad = tmp_path / "bad.cell.nml"
    bad.write_text(open(path).read().replace('condDensity="0.025 mS_per_cm2"',
                                             'condDensity="0.025 furlongs"'))
    with pytest.raises(ns.MorphologyError, match="bad.cell.nml.*furlongs"):
        read_cell(bad)


@pytest.fixture(scope="module")
def worm_network():
    from neurosim.models import celegans as ce
    return ce.worm()


def test_the_worm_has_the_connectomes_synapses_and_gap_junctions(worm_network):
    from neurosim.models import celegans as ce
    net, gid = worm_network
    names, chemical, electrical = ce.connectome()
    assert len(gid) == 302 and len(net.cells) == 302
    rows = [names.index(n) for n in sorted(gid)]
    cs = chemical[np.ix_(rows, rows)]
    gj = electrical[np.ix_(rows, rows)]
    synapses = [s for g in gid.values() for s in net.cells[g].synapses]
    assert len(synapses) == np.count_nonzero(cs)
    contacts = sum(s.params["gmax"] for s in synapses) / ce.PARAMETERS["g_syn"]
    assert contacts == pytest.approx(cs.sum())
    assert len(net.pointers) == len(synapses)
    assert len(net.gap_junctions) == np.count_nonzero(np.triu(gj, 1))
    assert sum(g for *_, g in net.gap_junctions) / ce.PARAMETERS["g_gap"] == \
        pytest.approx(np.triu(gj, 1).sum())
    inhibitory = [s for g in gid.values() for s in net.cells[g].synapses
                  if s.label[len("from_"):] in ce.GABAERGIC]
    assert inhibitory and all(s.params["e"] == -70.0 for s in inhibitory)


def test_the_worm_rests_and_answers_touch(tmp_path):
    """neurosim model celegans: every soma rests near -65 mV before the step; the touch
    receptors depolarize, and their direct partners more than the other neurons; frames,
    a movie and the voltage map are written, nothing is NaN."""
    import imageio.v2 as imageio
    from neurosim.cli import main
    from neurosim.models import celegans as ce
    out = tmp_path / "worm"
    assert main(["model", "celegans", "--tstop", "200", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["neurons"] == 302 and abs(summary["rest_mv"] + 65.0) < 3.0
    with imageio.get_reader(out / "worm.mp4") as reader:
        assert sum(1 for _ in reader) == 101                    # 0, 2, ..., 200 ms
    assert (out / "celegans_somata.png").exists() and (out / "worm_00130ms.png").exists()
    assert_annotated(out / "worm_00130ms.png", (960, 360))
    # the responses, from a run of the same network in the API
    net, gid = ce.worm()
    ce.stimulate(net, gid)
    sim = ns.Simulation(net)
    names = sorted(gid)
    traces = sim.record("v", (0, 0.5), cell=[gid[n] for n in names], interval=1.0)
    sim.run(180.0)
    v = np.array([t.values for t in traces])
    assert np.all(np.isfinite(v))
    assert np.all(np.abs(v[:, 95] + 65.0) < 10.0)               # at rest before the step
    touch = np.isin(names, ce.TOUCH)
    assert np.all(v[touch, 180] - v[touch, 95] > 10.0)
    rise = v[:, 120] - v[:, 95]                 # 20 ms into the step: the first neighbours
    all_names, chemical, electrical = ce.connectome()
    idx = [all_names.index(n) for n in names]
    from_touch = (chemical[np.ix_([all_names.index(n) for n in ce.TOUCH], idx)].sum(0) +
                  electrical[np.ix_([all_names.index(n) for n in ce.TOUCH], idx)].sum(0)) > 0
    partners, others = rise[from_touch & ~touch], rise[~from_touch & ~touch]
    assert np.median(partners) > 2 * np.median(others) and np.median(partners) > 0.5


def test_the_worm_at_rest_stays_at_rest(worm_network):
    """Without input the excitable network does not ignite by itself."""
    net, gid = worm_network
    sim = ns.Simulation(net)
    traces = sim.record("v", (0, 0.5), cell=list(gid.values()), interval=10.0)
    sim.run(600.0)
    v = np.array([t.values for t in traces])
    assert np.all(np.abs(v + 65.0) < 2.0)


# ---------------------------------------------------------------------- V1 column
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
