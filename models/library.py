"""The model library's runs: each builds its model, runs it, writes its spikes (SONATA) and
its figure, and returns a summary; ``neurosim model NAME`` and the figure scripts call
these.

    ring          the ring of branched HH cells (Arbor's and NEURON's ring example)
    busyring      the ring with k-way zero-weight fan-in per cell (the event load of Arbor's
                  busyring benchmark)
    microcircuit  Potjans & Diesmann (2014), LIF, scale 0.01-1
    v1            a V1 layer-4 column: Allen perisomatic cells, LIF neurons, LGN input
    baaiworm      the BAAIWorm C. elegans brain: its tuned circuit of 136 detailed neurons
"""

import os
import resource
import sys

import numpy as np

import neurosim as ns
from neurosim.kernels.compilation import Stopwatch


def _peak_memory_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run_timed(sim, tstop, progress=False, viewer=None):
    """Run ``sim`` to ``tstop`` in hundredths of the run, with ``neurosim run``'s progress
    line on rank 0 when ``progress``; returns the run's Stopwatch, whose ``work_s`` (the
    wall time less the kernels' compilation) the speed figures divide by."""
    from neurosim.io.sonata.simulation import Progress
    clock = Stopwatch()
    show = Progress(tstop) if progress and sim.comm.rank == 0 else None
    block = max(sim.dt, tstop / 100.0)
    if viewer is not None:          # blocks on the viewer's frame grid: no extra frames
        block = max(1, round(block / viewer.interval)) * viewer.interval
    while sim.t < tstop - 0.5 * sim.dt:
        sim.run(min(tstop, sim.t + block), viewer=viewer)
        if show is not None:
            show(sim.t, clock.wall_s, clock.compile_s)
    if show is not None and show.tty:
        sys.stderr.write("\n")
    return clock


def _timings(setup, run):
    """The summary's times: set-up and run without compilation, the compilation apart."""
    return dict(setup_s=setup.work_s, compile_s=setup.compile_s + run.compile_s,
                run_s=run.work_s)


def _write_spikes(path, pops, spikes):
    from neurosim.io.sonata.output import write_spikes
    out = {}
    for name, gids in pops.items():
        gids = np.asarray(gids)
        keep = np.isin(spikes.gids, gids)
        out[name] = (spikes.gids[keep] - gids.min(), spikes.times[keep])
    return write_spikes(path, out)


def run_ring(out, cells=128, fan=0, tstop=200.0, threads=1, progress=False):
    """The ring (``fan`` = 0) or the busyring (``fan`` zero-weight inputs per cell)."""
    from neurosim.models.ring import ring_network
    from neurosim.viz.plots import plot_raster
    os.makedirs(out, exist_ok=True)
    setup = Stopwatch()
    net, gids = ring_network(int(cells), extra=int(fan))
    sim = ns.Simulation(net, dt=0.025, threads=threads)
    spikes = sim.record_spikes(gids)
    setup.stop()
    run = _run_timed(sim, tstop, progress).stop()
    name = "busyring" if fan else "ring"
    files = [_write_spikes(os.path.join(out, "spikes.h5"), {name: gids}, spikes),
             plot_raster(spikes.gids, spikes.times, os.path.join(out, f"{name}.png"),
                         groups=[(name, int(gids[0]), int(gids[-1]) + 1)], tstop=tstop,
                         title=f"{name}: {cells} cells, fan-in {fan}, "
                               f"{sim.n_compartments} compartments")]
    return dict(model=name, cells=int(cells), compartments=sim.n_compartments,
                connections=net.n_connections, spikes=len(spikes.times),
                **_timings(setup, run),
                compartment_steps_per_s=sim.n_compartments * tstop / 0.025 / run.work_s,
                memory_mb=_peak_memory_mb(), files=files)


def run_microcircuit(out, scale=0.1, k_scale=None, background="poisson", tstop=1000.0,
                     transient=200.0, threads=1, seed=1, progress=False):
    """Potjans & Diesmann at ``scale``: spikes, population rates beside NEST's published
    ones (after a ``transient``), a raster and a rate figure."""
    from neurosim.models import microcircuit as mc
    if not tstop > transient:
        raise ns.ParameterError(f"tstop ({tstop} ms) must exceed the transient "
                                f"({transient} ms) over which rates are not counted")
    os.makedirs(out, exist_ok=True)
    setup = Stopwatch()
    net, pops = mc.microcircuit(scale, k_scale, background, seed=seed)
    sim = ns.Simulation(net, dt=0.1, threads=threads)
    neurons = np.concatenate([pops[p] for p in mc.POPULATIONS])
    spikes = sim.record_spikes(neurons)
    setup.stop()
    run = _run_timed(sim, tstop, progress).stop()
    rates = mc.rates(spikes, pops, transient, tstop)
    files = [_write_spikes(os.path.join(out, "spikes.h5"), pops, spikes),
             microcircuit_figure(os.path.join(out, "microcircuit.png"), spikes, pops, rates,
                                 scale, transient, tstop)]
    return dict(model="microcircuit", scale=scale, neurons=int(len(neurons)),
                connections=net.n_connections, spikes=len(spikes.times),
                rates=dict(zip(mc.POPULATIONS, np.round(rates, 3).tolist())),
                published=dict(zip(mc.POPULATIONS, mc.PUBLISHED_RATES.tolist())),
                **_timings(setup, run), memory_mb=_peak_memory_mb(), files=files)


def microcircuit_figure(path, spikes, pops, rates, scale, transient, tstop):
    """A raster of the last 200 ms (every population, top to bottom as in the paper) and
    the population rates beside NEST's published full-scale ones."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosim.models.microcircuit import POPULATIONS, PUBLISHED_RATES
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 5), dpi=120,
                                 gridspec_kw={"width_ratios": [3, 2]})
    t0 = max(transient, tstop - 200.0)
    keep = spikes.times >= t0
    order = {}
    row = 0
    for name in POPULATIONS:                    # L2/3 at the top, as in the paper
        order[name] = row
        row += len(pops[name])
    for k, name in enumerate(POPULATIONS):
        gids = np.asarray(pops[name])
        sel = keep & np.isin(spikes.gids, gids)
        y = row - (order[name] + (spikes.gids[sel] - gids.min()))
        ax.scatter(spikes.times[sel], y, s=0.5, color="C0" if k % 2 == 0 else "C3")
    ax.set_yticks([row - order[n] - len(pops[n]) / 2 for n in POPULATIONS])
    ax.set_yticklabels(POPULATIONS)
    ax.set_xlabel("time (ms)")
    ax.set_title(f"Potjans & Diesmann microcircuit, scale {scale:g}")
    x = np.arange(len(POPULATIONS))
    bx.barh(x - 0.2, rates, height=0.4, label="neurosim")
    bx.barh(x + 0.2, PUBLISHED_RATES, height=0.4, label="NEST, full scale (published)")
    bx.set_yticks(x)
    bx.set_yticklabels(POPULATIONS)
    bx.invert_yaxis()
    bx.set_xlabel("rate (Hz)")
    bx.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _save_png(path, image):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    plt.imsave(path, image)
    return path


def run_v1(out, scale=1.0, tstop=1000.0, threads=1, progress=False):
    """The V1 layer-4 column (``neurosim.models.v1_column``): build the SONATA circuit
    with bmtk, run it as ``neurosim run`` does, then a raster by population with the rates
    before and during the LGN flash, and a 3D frame of the column during the flash."""
    from neurosim.io.sonata import SonataRun
    from neurosim.models import v1_column as v1
    from neurosim.viz.render import Renderer
    from neurosim.viz.sources import RunSource
    os.makedirs(out, exist_ok=True)
    setup = Stopwatch()
    config = v1.build(os.path.join(out, "circuit"), scale=scale, tstop=tstop)
    run = SonataRun(config, threads=threads)
    setup.stop()
    run.run(progress=progress)
    run.write()
    c = run.circuit
    names = c.nodes["v1"].attribute("pop_name")
    pops = {n: c.gids("v1", c.nodes["v1"].ids[names == n]) for n in dict.fromkeys(names)}
    spikes = run.spikes
    flash = v1.FLASH
    rates = {}
    for name, gids in pops.items():
        mine = np.isin(spikes.gids, gids)
        before = mine & (spikes.times < flash[0])
        during = mine & (spikes.times >= flash[0]) & (spikes.times < flash[1])
        rates[name] = (before.sum() / len(gids) / (flash[0] * 1e-3),
                       during.sum() / len(gids) / ((flash[1] - flash[0]) * 1e-3))
    files = [os.path.join(out, "v1_raster.png")]
    _v1_raster(files[0], spikes, pops, rates, tstop, flash, len(c.network.spike_sources))
    source = RunSource(config, "soma_v")
    renderer = Renderer(source.scene, size=(800, 600), view="xy", vmin=-80.0, vmax=0.0,
                        ambient=0.6)
    renderer.annotate(title=f"V1 layer-4 column (scale {scale:g}): soma V, LGN flash",
                      units="V (mV)")
    from neurosim.viz.frames import flash as flash_somata
    t = 0.5 * (flash[0] + flash[1])
    values = np.nan_to_num(source.values(t), nan=-80.0)
    files.append(_save_png(os.path.join(out, "v1_column.png"), renderer.draw(
        flash_somata(values, source.scene, source.spikes, t, 0.0), t)))
    renderer.close()
    source.close()
    return dict(model="v1", scale=scale, detailed=len(c.network.cells),
                point=len(c.network.artificial), lgn=len(c.network.spike_sources),
                connections=c.network.n_connections, compartments=run.sim.n_compartments,
                spikes=len(spikes.times),
                rates_before_flash={k: round(float(v[0]), 2) for k, v in rates.items()},
                rates_during_flash={k: round(float(v[1]), 2) for k, v in rates.items()},
                setup_s=setup.work_s, compile_s=setup.compile_s + run.compile_s,
                run_s=run.run_s, memory_mb=_peak_memory_mb(), files=files)


def _v1_raster(path, spikes, pops, rates, tstop, flash, lgn=0):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(11, 6), dpi=120, layout="constrained")
    ax.axvspan(*flash, color="0.9", label="LGN flash")
    for k, (name, gids) in enumerate(pops.items()):
        sel = np.isin(spikes.gids, gids)
        before, during = rates[name]
        ax.scatter(spikes.times[sel], spikes.gids[sel], s=2, color=f"C{k}",
                   label=f"{name}: {before:.1f} -> {during:.1f} Hz")
    ax.set_xlim(0, tstop)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("gid")
    ax.set_title("V1 layer-4 column: Allen perisomatic cells and LIF neurons; "
                 f"{lgn} LGN inputs (virtual nodes, not drawn)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=7,
              markerscale=4)
    fig.savefig(path)
    plt.close(fig)
    return path


def run_baaiworm(out, stimulus=None, tstop=1000.0, dt=0.5, data=None, threads=1,
                 progress=False, movie=True, frame_every=5.0, size=(960, 360)):
    """The BAAIWorm tuned circuit (``neurosim.models.baaiworm``) from the model's files
    (``data`` or $NEUROSIM_BAAIWORM_DATA), with the current clamps of ``stimulus`` (a JSON
    file; None: no input): every soma's v as a SONATA report (``soma_v.h5``, one frame per
    ``dt`` from 0 to ``tstop``), ``cells.csv`` (node_id, name), a figure, the paper's
    validation figure against the measured calcium correlations (when the data folder has
    ``cb2022_data``) and, with ``movie``, the brain in 3D (every compartment coloured by its
    voltage, a frame per ``frame_every`` ms: ``baaiworm.mp4`` and a still at the end)."""
    from neurosim.models import baaiworm as bw
    folder = bw.data_folder(data)            # a missing folder fails before DIR is made
    clamps = bw.read_stimulus(stimulus) if stimulus else []
    measured = bw.read_cb2022(folder)
    os.makedirs(out, exist_ok=True)
    setup = Stopwatch()
    net, names = bw.build(data)
    bw.add_clamps(net, names, clamps)
    sim = ns.Simulation(net, dt=dt, threads=threads)
    somata = [bw.soma_section(net.cells[gid]) for gid in range(len(names))]
    traces = [sim.record("v", (sec, 0.5), cell=gid) for gid, sec in enumerate(somata)]
    view = None
    if movie:
        from neurosim.viz.live import LiveView
        view = LiveView(sim, interval=max(frame_every, dt), show=False, size=(400, 300))
    setup.stop()
    run = _run_timed(sim, tstop, progress, viewer=view).stop()
    volts = np.array([tr.values for tr in traces])
    if not np.all(np.isfinite(volts)):
        raise ns.NumericalInstabilityError("the BAAIWorm run produced non-finite voltages")
    files = [_soma_report(os.path.join(out, "soma_v.h5"), somata, volts, dt),
             _cells_csv(os.path.join(out, "cells.csv"), names),
             _baaiworm_figure(os.path.join(out, "baaiworm.png"), names, volts, dt, clamps)]
    validation = {}
    if measured is not None:
        simulated, r, mse, pairs = bw.compare_with_cb2022(names, volts, *measured)
        files.append(_correlation_figure(os.path.join(out, "baaiworm_correlation.png"),
                                         measured[0], simulated, measured[1], r, mse, pairs))
        defined = pairs > 2                 # no input: no neuron moves, nothing correlates
        validation = dict(cb2022_correlation=r if defined else None,
                          cb2022_mse=mse if defined else None, cb2022_pairs=pairs)
    if view is not None:
        files += _brain_movie(out, view, len(names), size)
    counts = net.baaiworm["counts"]
    return dict(model="baaiworm", neurons=len(names), compartments=sim.n_compartments,
                exc_synapses=counts.get("neuron_to_neuron_exc_syn", 0),
                inh_synapses=counts.get("neuron_to_neuron_inh_syn", 0),
                gap_junctions=counts.get("gapjunction", 0) // 2, clamps=len(clamps),
                tstop_ms=float(tstop), dt_ms=float(dt),
                rest_mv=float(np.median(volts[:, 0])),
                median_final_mv=float(np.median(volts[:, -1])), **validation,
                **_timings(setup, run), memory_mb=_peak_memory_mb(), files=files)


def _brain_movie(out, view, neurons, size):
    """The worm's brain from the side, every compartment coloured by its voltage (colour
    bar, time, scale bar): ``baaiworm.mp4`` and its last frame as ``baaiworm_3d.png``."""
    from neurosim.viz.frames import write_movie
    from neurosim.viz.render import Renderer
    source, scene = view.source, view.scene
    view.viewer.close()
    renderer = Renderer(scene, size=size, view="yz", vmin=-80.0, vmax=0.0, ambient=0.6)
    renderer.annotate(title=f"BAAIWorm brain, {neurons} neurons, side view", units="V (mV)")

    def frame(t):
        return renderer.draw(np.nan_to_num(source.values(t), nan=-80.0), t)
    still = _save_png(os.path.join(out, "baaiworm_3d.png"), frame(source.times[-1]))
    movie = write_movie(os.path.join(out, "baaiworm.mp4"), (frame(t) for t in source.times),
                        fps=25)
    renderer.close()
    return [still, movie]


def _correlation_figure(path, cells, simulated, measured, r, mse, pairs):
    """The paper's validation figure: the simulated soma-voltage correlations of the measured
    neurons beside the measured calcium correlations (cb2022), with their agreement."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 6.2), dpi=120, layout="constrained")
    cmap = plt.get_cmap("coolwarm").with_extremes(bad="0.85")
    for ax, matrix, title in ((axes[0], simulated, "simulated: soma voltage (neurosim)"),
                              (axes[1], measured, "measured: calcium imaging (cb2022)")):
        im = ax.imshow(np.ma.masked_invalid(matrix), vmin=-1, vmax=1, cmap=cmap,
                       interpolation="nearest")
        ax.set_title(title)
        ax.set_xticks(range(len(cells)))
        ax.set_xticklabels(cells, fontsize=4, rotation=90)
        ax.set_yticks(range(len(cells)))
        ax.set_yticklabels(cells, fontsize=4)
    fig.colorbar(im, ax=axes, shrink=0.8, label="Pearson correlation (grey: undefined)")
    fig.suptitle(f"BAAIWorm, {len(cells)} measured neurons: element-wise correlation "
                 f"r = {r:.3f}, mean squared difference {mse:.3f} ({pairs} pairs; the paper's "
                 "fit, under its own input: 0.076)")
    fig.savefig(path)
    plt.close(fig)
    return path


def _soma_report(path, somata, volts, dt):
    """A SONATA membrane report of the somata (population ``baaiworm``, node id = gid):
    frames at 0, dt, ..., tstop (the time's stop is the last frame's)."""
    from neurosim.io.sonata.output import ReportWriter
    writer = ReportWriter(path)
    k = writer.add("baaiworm", np.arange(len(somata)), [([s], [0.5]) for s in somata],
                   start=0.0, step=dt, last=True, variable="v")
    writer.append(k, volts.T)
    return writer.close()


def _cells_csv(path, names):
    with open(path, "w") as f:
        f.write("node_id,name\n")
        f.writelines(f"{k},{name}\n" for k, name in enumerate(names))
    return path


def _baaiworm_figure(path, names, volts, dt, clamps):
    """Every soma's v over time (neurons by their largest excursion from rest) and the
    traces of the clamped neurons."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    times = np.arange(volts.shape[1]) * dt
    order = np.argsort(-np.abs(volts - volts[:, :1]).max(axis=1), kind="stable")
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(10, 8), dpi=120, height_ratios=[3, 2],
                                 sharex=True, layout="constrained")
    im = ax.imshow(volts[order], aspect="auto", cmap="viridis", vmin=-80, vmax=0,
                   extent=(times[0], times[-1], len(names), 0), interpolation="nearest")
    ax.set_yticks([k + 0.5 for k in range(0, len(names), 10)])
    ax.set_yticklabels([names[order[k]] for k in range(0, len(names), 10)], fontsize=7)
    ax.set_ylabel("neuron (by largest excursion)")
    ax.set_title(f"BAAIWorm tuned circuit, {len(names)} neurons: soma voltage")
    # the colour bar inside the top panel's row keeps both panels' time axes aligned
    fig.colorbar(im, cax=ax.inset_axes([1.01, 0.0, 0.015, 1.0]), label="V (mV)")
    clamped = list(dict.fromkeys(c["cell"] for c in clamps))
    shown = clamped or [names[k] for k in order[:5]]
    for name in shown[:10]:
        bx.plot(times, volts[names.index(name)], lw=1, label=name)
    bx.set_xlabel("time (ms)")
    bx.set_ylabel("soma V (mV)")
    bx.legend(fontsize=7, ncol=5, title="clamped" if clamped else "largest excursions",
              title_fontsize=7)
    fig.savefig(path)
    plt.close(fig)
    return path
