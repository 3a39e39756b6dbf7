"""The Simulation API: continuing runs, probes, several cells, the kernel cache, the demo."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import neurosim as ns


def hh_ball_and_stick():
    cell = ns.Cell(ns.Morphology.ball_and_stick(), cm=1.0, ra=100.0, v_init=-65.0,
                   discretization=ns.NSeg(5))
    cell.insert("pas", region="dend", g=1e-4, e=-65.0)
    cell.insert("hh", region="soma")
    cell.add_iclamp((0, 0.5), delay=2.0, dur=30.0, amp=0.3)
    return cell


def test_run_continues_bitwise():
    a = ns.Simulation(hh_ball_and_stick())
    va = a.record("v", (1, 1.0))
    a.run(40.0)
    b = ns.Simulation(hh_ball_and_stick())
    vb = b.record("v", (1, 1.0))
    for t in (0.3, 7.0, 7.0, 21.05, 40.0):
        b.run(t)
    assert b.t == pytest.approx(40.0)
    np.testing.assert_array_equal(va.times, vb.times)
    np.testing.assert_array_equal(va.values, vb.values)


def test_sampling_interval_and_late_probes():
    sim = ns.Simulation(hh_ball_and_stick(), dt=0.025)
    every = sim.record("v", (0, 0.5), interval=0.5)
    sim.run(10.0)
    late = sim.record("m_hh", (0, 0.5))
    sim.run(20.0)
    np.testing.assert_allclose(every.times, np.arange(0, 20.0001, 0.5))
    assert late.times[0] == pytest.approx(10.0) and len(late) == 401
    assert np.all((late.values >= 0) & (late.values <= 1))


def test_several_cells_in_one_simulation_are_independent():
    cells = [hh_ball_and_stick(), hh_ball_and_stick()]
    cells[1].add_iclamp((0, 0.5), delay=10.0, dur=5.0, amp=0.5)
    both = ns.Simulation(cells)
    v0, v1 = both.record("v", (0, 0.5), cell=0), both.record("v", (0, 0.5), cell=1)
    both.run(30.0)
    alone = ns.Simulation(hh_ball_and_stick())
    va = alone.record("v", (0, 0.5))
    alone.run(30.0)
    np.testing.assert_allclose(v0.values, va.values, rtol=0, atol=1e-9)
    assert np.max(np.abs(v1.values - va.values)) > 1.0


def neuron_hh_ball_and_stick(cell):
    """hh_ball_and_stick() in NEURON, through the same 3D points."""
    from peers import build_from_morphology, clear, h
    clear()
    secs = build_from_morphology(cell.morphology, 5, ra=100.0, cm=1.0)
    secs[0].insert("hh")
    secs[1].insert("pas")
    for seg in secs[1]:
        seg.pas.g, seg.pas.e = 1e-4, -65.0
    stim = h.IClamp(secs[0](0.5))
    stim.delay, stim.dur, stim.amp = 2.0, 30.0, 0.3
    return secs, stim


def test_gating_state_probe_matches_neuron():
    from peers import clear, h, run
    cell = hh_ball_and_stick()
    sim = ns.Simulation(cell, dt=0.025, celsius=16.0)
    m_mine = sim.record("hh.m", (0, 0.5))
    n_mine = sim.record("n_hh", (0, 0.5))
    sim.run(30.0)
    secs, stim = neuron_hh_ball_and_stick(cell)
    h.celsius = 16.0
    m_rec = h.Vector().record(secs[0](0.5).hh._ref_m)
    n_rec = h.Vector().record(secs[0](0.5).hh._ref_n)
    run(30.0, 0.025, -65.0, celsius=16.0)
    np.testing.assert_allclose(m_mine.values, np.array(m_rec), atol=1e-4)
    np.testing.assert_allclose(n_mine.values, np.array(n_rec), atol=1e-4)
    clear()


def test_exact_rates_without_tables_match_neuron_without_tables():
    from peers import clear, h, run
    cell = hh_ball_and_stick()
    sim = ns.Simulation(cell, dt=0.025, use_tables=False)
    v = sim.record("v", (0, 0.5))
    sim.run(30.0)
    secs, stim = neuron_hh_ball_and_stick(cell)
    h.usetable_hh = 0
    try:
        _, (theirs,) = run(30.0, 0.025, -65.0, probes=[secs[0](0.5)])
    finally:
        h.usetable_hh = 1
    # rounding differences only (NEURON takes di/dv by finite difference), amplified a little
    # on spike upstrokes
    np.testing.assert_allclose(v.values, theirs, atol=1e-4)
    clear()


def test_kernels_come_from_the_disk_cache_in_a_new_process(tmp_path):
    code = textwrap.dedent("""
        import neurosim as ns
        cell = ns.Cell(ns.Morphology.ball_and_stick())
        cell.insert("hh")
        sim = ns.Simulation(cell)
        sim.run(1.0)
        st = sim.backend.kernel.advance.stats
        print(sum(st.cache_hits.values()), sum(st.cache_misses.values()))
    """)
    env = dict(os.environ, NEUROSIM_CACHE_DIR=str(tmp_path), NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(2)]
    (hits1, misses1), (hits2, misses2) = runs
    assert int(misses1) == 1 and int(hits1) == 0      # compiled the first time
    assert int(hits2) == 1 and int(misses2) == 0      # loaded the second time
    assert list((tmp_path / "kernels").glob("kernel_*.py"))


def test_generated_source_is_readable():
    sim = ns.Simulation(hh_ball_and_stick())
    src = open(sim.backend.kernel.__file__).read()
    assert "def advance(" in src and "hh_rates_fn" in src and "fexp" in src


def test_demo_command_runs_the_bundled_circuit(tmp_path):
    """The README's main job: the bundled SONATA circuit; spikes and a soma report that
    libsonata reads, every kind of cell firing, and a raster picture."""
    import libsonata

    from neurosim.cli import main
    assert main(["demo", "--out", str(tmp_path), "--tstop", "300"]) == 0
    spikes = np.array(libsonata.SpikeReader(str(tmp_path / "spikes.h5"))["cortex"].get())
    fired = np.unique(spikes[:, 0].astype(int))
    for lo, hi in ((0, 32), (32, 40), (40, 100), (100, 120)):    # pyr, basket, LIF e, i
        assert np.any((fired >= lo) & (fired < hi)), (lo, hi)
    assert spikes[:, 1].max() < 300.0
    report = libsonata.ElementReportReader(str(tmp_path / "soma_v.h5"))["cortex"]
    assert list(report.get_node_ids()) == list(range(40))
    data = np.asarray(report.get().data)
    assert data.shape == (3000, 40) and np.all(np.isfinite(data)) and data.max() > 0.0
    png = (tmp_path / "raster.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_the_bundled_circuit_is_what_its_builder_writes(tmp_path):
    import h5py

    from neurosim.models.circuit_builder import DEFAULT, build
    build(str(tmp_path))
    for root, _, files in os.walk(DEFAULT):
        for name in files:
            if "output" in root:
                continue
            mine = os.path.join(root, name)
            fresh = os.path.join(tmp_path, os.path.relpath(mine, DEFAULT))
            if name.endswith(".h5"):
                with h5py.File(mine, "r") as a, h5py.File(fresh, "r") as b:
                    names = []
                    a.visit(names.append)
                    for key in names:
                        if isinstance(a[key], h5py.Dataset):
                            np.testing.assert_array_equal(a[key][()], b[key][()])
            else:
                text = open(mine).read()
                assert text == open(fresh).read().replace(str(tmp_path), DEFAULT), name


def test_single_cell_demo_writes_traces_and_picture(tmp_path):
    pytest.importorskip("matplotlib")
    from neurosim.cli import main
    from neurosim.io.traces import read_traces
    assert main(["demo", "--cell", "--out", str(tmp_path), "--tstop", "50"]) == 0
    traces = read_traces(tmp_path / "demo_traces.h5")
    assert len(traces) == 4
    for t, data, attrs in traces.values():
        assert t[-1] == pytest.approx(50.0) and np.all(np.isfinite(data))
        assert attrs["variable"] == "v"
    png = (tmp_path / "demo_traces.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_seclamp_matches_neuron():
    """NEURON's SEClamp (built in): three command levels through an access resistance on
    the ball-and-stick's hh soma, the last ending before the run does; v at the soma and the
    dendrite's tip and the clamp's current i as NEURON computes them."""
    from peers import clear, h, run
    cell = hh_ball_and_stick()
    levels = dict(dur1=5.0, amp1=-70.0, dur2=10.0, amp2=-20.0, dur3=8.0, amp3=-50.0, rs=0.05)
    label = cell.add_synapse((0, 0.5), "SEClamp", **levels)
    sim = ns.Simulation(cell, dt=0.025)
    v_soma, v_tip = sim.record("v", (0, 0.5)), sim.record("v", (1, 1.0))
    i_mine, vc_mine = sim.record("i", label), sim.record("vc", label)
    sim.run(40.0)
    secs, _ = neuron_hh_ball_and_stick(cell)
    clamp = h.SEClamp(secs[0](0.5))
    for key, value in levels.items():
        setattr(clamp, key, value)
    i_rec, vc_rec = h.Vector().record(clamp._ref_i), h.Vector().record(clamp._ref_vc)
    _, (v0, v1) = run(40.0, 0.025, -65.0, probes=(secs[0](0.5), secs[1](1.0)))
    np.testing.assert_allclose(v_soma.values, v0, atol=1e-6)
    np.testing.assert_allclose(v_tip.values, v1, atol=1e-6)
    np.testing.assert_allclose(i_mine.values[1:], np.array(i_rec)[1:], atol=1e-6)
    np.testing.assert_allclose(vc_mine.values[1:], np.array(vc_rec)[1:], atol=1e-9)
    assert abs(v0[int(12.0 / 0.025)] + 20.0) < 1.0          # it clamps
    assert np.all(np.array(i_rec)[int(24.0 / 0.025):] == 0.0)       # and lets go
    clear()
