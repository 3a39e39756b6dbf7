"""The neurosim command.

    neurosim demo                                the bundled SONATA circuit (--cell: one cell)
    neurosim run simulation_config.json          a SONATA simulation (also under mpiexec)
        [--threads N] [--checkpoint FILE [--checkpoint-every MS]] [--restore FILE]
        [--view [--view-every MS]]               ... shown in the viewer as it runs
    neurosim info simulation_config.json         what a circuit holds, before running it
    neurosim model ring | busyring | microcircuit | v1 | baaiworm   a model of the library
    neurosim model baaiworm --tstop T --dt DT --stimulus FILE.json --out DIR [--data DIR]
    neurosim view simulation_config.json | report.h5     the interactive 3D window
    neurosim render simulation_config.json --out frame.png | movie.mp4   the 3D view, headless

Exit codes, for batch systems: 0 done; 2 bad input (a config, a file, a parameter);
3 the simulation blew up numerically; 130 / 143 stopped by Ctrl-C / SIGTERM (recordings
complete to the stop); 1 anything else.
"""

import argparse
import logging
import os
import sys
import warnings

from neurosim.errors import NeurosimError, NumericalInstabilityError


def _shown(path):
    """``path`` relative to the current folder when it is under it, else absolute."""
    full = os.path.abspath(path)
    here = os.getcwd()
    if os.path.commonpath([full, here]) == here:
        return os.path.relpath(full, here)
    return full


def _compiling(seconds):
    """What a summary says about the Numba compilation within a time (nothing when the
    kernels came from the cache and little else compiled)."""
    return f", {seconds:.1f} s of it compiling" if seconds >= 0.05 else ""


def _demo(args):
    """The bundled SONATA circuit (models/circuits/layer4): spikes, a soma report and a
    raster picture in ``--out``; ``--cell``: the single reconstructed cell instead."""
    if args.cell:
        return _demo_cell(args)
    import numpy as np

    from neurosim.io.sonata import SonataRun
    from neurosim.kernels.compilation import Stopwatch
    from neurosim.models.circuit_builder import DEFAULT
    from neurosim.viz.plots import plot_raster
    config = os.path.join(DEFAULT, "simulation_config.json")
    clock = Stopwatch()
    args.out = args.out or os.path.join("neurosim_output", "demo")
    run = SonataRun(config, output_dir=args.out, tstop=args.tstop)
    run.run(progress=not args.quiet)
    spikes_file = run.write()
    report = run.reports[0].path
    c = run.circuit
    kinds = c.nodes["cortex"].attribute("pop_name")
    groups = []
    for name in dict.fromkeys(kinds):
        ids = c.gids("cortex", c.nodes["cortex"].ids[kinds == name])
        groups.append((name, int(ids.min()), int(ids.max()) + 1))
    virtual = sorted(c.network.spike_sources)
    spike_gids, spike_times = run.spikes.gids, run.spikes.times
    if virtual:                 # the thalamic inputs' trains, named, above the column
        trains = [(g, np.asarray(c.network.spike_sources[g], float)) for g in virtual]
        trains = [(g, t[t <= run.tstop]) for g, t in trains]
        spike_gids = np.concatenate([spike_gids] + [np.full(len(t), g) for g, t in trains])
        spike_times = np.concatenate([spike_times] + [t for _, t in trains])
        inputs = [name for name in c.nodes if name != "cortex"]
        groups.append((f"{', '.join(inputs) or 'virtual'} inputs (virtual)",
                       int(virtual[0]), int(virtual[-1]) + 1))
    png = plot_raster(spike_gids, spike_times,
                      os.path.join(args.out, "raster.png"), groups=groups, tstop=run.tstop,
                      title=f"layer-4 column: {len(c.network.cells)} detailed cells, "
                            f"{len(c.network.artificial)} LIF neurons, "
                            f"{len(c.network.spike_sources)} thalamic inputs")
    n = len(run.spikes.times)
    print(f"simulated {run.tstop:g} ms of the bundled circuit in {clock.wall_s:.1f} s "
          f"(set-up included{_compiling(clock.compile_s)}); {n} spikes, "
          f"{np.unique(run.spikes.gids).size} cells fired")
    for path in (spikes_file, report, png):
        print(f"wrote {_shown(path)}")
    return 0


def _demo_cell(args):
    from neurosim.io.traces import write_traces
    from neurosim.kernels.compilation import Stopwatch
    from neurosim.models.demo import run_demo
    from neurosim.viz.plots import plot_traces

    args.out = args.out or os.path.join("neurosim_output", "demo")
    os.makedirs(args.out, exist_ok=True)
    clock = Stopwatch()
    sim, traces = run_demo(tstop=args.tstop or 320.0)
    h5 = write_traces(os.path.join(args.out, "demo_traces.h5"), traces, dt=sim.dt,
                      celsius=sim.celsius, method=sim.method)
    morph = sim.cells[0].morphology
    labels = [f"{morph[tr.location[0]].type_name} (section {tr.location[0]}, "
              f"x={tr.location[1]:g})" for tr in traces]
    png = plot_traces(traces, os.path.join(args.out, "demo_traces.png"), labels=labels,
                      title=f"Allen Scnn1a cell, {sim.n_compartments} compartments, "
                            "three current steps into the soma")
    soma = traces[0].values
    spikes = int(((soma[:-1] < 0) & (soma[1:] >= 0)).sum())
    print(f"simulated {sim.t:g} ms of a {sim.n_compartments}-compartment cell in "
          f"{clock.wall_s:.2f} s (set-up included{_compiling(clock.compile_s)}); {spikes} "
          "somatic spikes")
    print(f"wrote {_shown(h5)}")
    print(f"wrote {_shown(png)}")
    return 0


def _run(args):
    from neurosim.io.sonata import SonataRun
    from neurosim.kernels.compilation import Stopwatch
    clock = Stopwatch()
    run = SonataRun(args.config, threads=args.threads, backend=args.backend,
                    restore=args.restore, force=args.force, spike_times=args.spike_times)
    rank0 = run.sim.comm.rank == 0
    if rank0:
        net = run.circuit.network
        print(f"neurosim: {len(net.cells)} cells, {len(net.artificial)} point neurons, "
              f"{len(net.spike_sources)} virtual nodes, {net.n_connections} connections; "
              f"set-up {clock.wall_s:.1f} s{_compiling(clock.compile_s)}", flush=True)
    viewer = run.live_view(args.view_every) if args.view else None
    run.run(progress=not args.quiet, checkpoint=args.checkpoint, every=args.checkpoint_every,
            viewer=viewer)
    spikes_file = run.write()
    if rank0:
        n = len(run.spikes.times)
        cells = len(run.circuit.network.cells) + len(run.circuit.network.artificial)
        rate = n / max(cells, 1) / (run.tstop / 1000.0) if run.tstop > 0 else 0.0
        # the speed leaves the compilation out: it is paid once, not per simulated second
        per = run.run_s / (run.tstop / 1000.0) if run.tstop else 0.0
        compiled = f", after {run.compile_s:.1f} s compiling" if run.compile_s >= 0.05 else ""
        print(f"simulated {run.tstop:g} ms in {run.run_s:.2f} s ({per:.2f} s per simulated "
              f"s){compiled}; {n} spikes ({rate:.2f} Hz per simulated cell)")
        print(f"wrote {_shown(spikes_file)}")
        for report in run.reports:
            print(f"wrote {_shown(report.path)}")
    if viewer is not None:
        viewer.wait()                   # the window stays until it is closed
    return 0


def _open_run(args):
    """The run to show: ``args.path`` a simulation config, or a report file (its config
    found beside it, or given by ``--config``)."""
    from neurosim.viz.sources import RunSource, find_config
    if args.path.endswith((".h5", ".hdf5")):
        if args.config:
            return RunSource(args.config, args.report, report_file=args.path)
        config, name = find_config(args.path)
        return RunSource(config, args.report or name, report_file=args.path)
    return RunSource(args.path, args.report, report_file=args.report_file)


def _render(args):
    """Frames of a SONATA run: the circuit's cells at their positions, each compartment
    coloured by a report at a time (somata flash on spikes); a PNG or an MP4."""
    import numpy as np

    from neurosim.viz.frames import flash, write_movie
    from neurosim.viz.render import Renderer
    source = _open_run(args)
    scene = source.scene
    from neurosim.viz.overlay import units_of
    renderer = Renderer(scene, size=tuple(args.size), vmin=args.vmin, vmax=args.vmax,
                        view=args.view, colormap=args.colormap)
    name = os.path.basename(os.path.dirname(os.path.abspath(args.path))) \
        if not args.path.endswith((".h5", ".hdf5")) else os.path.basename(args.path)
    renderer.annotate(title=f"{name}: report {source.report}, {args.view} view",
                      units=units_of(source.variable))

    def frame(t):
        values = source.values(t)
        values[np.isnan(values)] = args.vmin
        return renderer.draw(flash(values, scene, source.spikes, t, args.vmax), t)

    times = source.times
    if args.out.endswith(".mp4"):
        every = args.every or float(times[1] - times[0]) if len(times) > 1 else 1.0
        at = np.arange(times[0], times[-1] + 1e-9, every)
        write_movie(args.out, (frame(t) for t in at), fps=args.fps)
        print(f"wrote {_shown(args.out)}: {len(at)} frames of {len(scene)} compartments")
    else:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
        t = times[-1] if args.time is None else args.time
        plt.imsave(args.out, frame(t))
        print(f"wrote {_shown(args.out)}: t = {t:g} ms, {len(scene)} compartments")
    renderer.close()
    source.close()
    return 0


def _view(args):
    """The interactive window on a SONATA run (see ``neurosim.viz.viewer``)."""
    from neurosim.viz.viewer import Viewer, need_display
    need_display()
    source = _open_run(args)
    viewer = Viewer(source, size=tuple(args.size), vmin=args.vmin, vmax=args.vmax,
                    colormap=args.colormap, show=True)
    viewer.play()
    viewer.run()
    return 0


def _model(args):
    """A model of the library (``neurosim.models.library``): run, spikes and figure."""
    import json

    from neurosim.models import library
    args.out = args.out or os.path.join("neurosim_output", args.name)
    progress = not args.quiet               # the progress line of neurosim run
    if args.name in ("ring", "busyring"):
        fan = args.fan if args.fan is not None else (10 if args.name == "busyring" else 0)
        got = library.run_ring(args.out, cells=args.cells or 128, fan=fan,
                               tstop=args.tstop or 200.0, threads=args.threads,
                               progress=progress)
    elif args.name == "v1":
        got = library.run_v1(args.out, scale=args.scale or 1.0,
                             tstop=args.tstop or 1000.0, threads=args.threads,
                             progress=progress)
    elif args.name == "baaiworm":
        got = library.run_baaiworm(args.out, stimulus=args.stimulus,
                                   tstop=args.tstop or 1000.0, dt=args.dt or 0.5,
                                   data=args.data, threads=args.threads, progress=progress,
                                   movie=not args.no_movie)
    else:
        got = library.run_microcircuit(args.out, scale=args.scale or 0.1,
                                       background=args.background,
                                       tstop=args.tstop or 1000.0, threads=args.threads,
                                       progress=progress)
    files = got.pop("files")
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(got, f, indent=1)
    for key, value in got.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    for path in files + [os.path.join(args.out, "summary.json")]:
        print(f"wrote {_shown(path)}")
    return 0


def _info(args):
    from neurosim.io.sonata.info import describe
    print(describe(args.config))
    return 0


QUIET = "no progress line, no line about compiling kernels"


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as one line naming what it is about, not the code that warned."""
    from neurosim.io.sonata import SonataWarning
    if issubclass(category, SonataWarning):
        print(f"neurosim: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _parser():
    """The command line: one subcommand per job."""
    parser = argparse.ArgumentParser(
        prog="neurosim", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="neurosim: spiking circuits of detailed neurons.",
        epilog="\n".join(line[4:] if line.startswith("    ") else line
                          for line in __doc__.split("\n")[2:]).strip())
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_demo, _add_run, _add_view_and_render, _add_model, _add_info):
        add(sub)
    return parser


def _add_demo(sub):
    demo = sub.add_parser("demo", help="run the bundled SONATA circuit; write spikes, a soma "
                                       "report and a raster PNG")
    demo.add_argument("--out", default=None,
                      help="output folder (default: neurosim_output/demo)")
    demo.add_argument("--tstop", type=float, default=None, help="simulated time (ms)")
    demo.add_argument("--cell", action="store_true",
                      help="a single reconstructed neuron instead (traces HDF5 + PNG)")
    demo.add_argument("--quiet", action="store_true", help=QUIET)
    demo.set_defaults(func=_demo)


def _add_run(sub):
    run = sub.add_parser("run", help="run a SONATA simulation config")
    run.add_argument("config", help="simulation_config.json")
    run.add_argument("--threads", type=int, default=1, help="threads per rank")
    run.add_argument("--backend", default="cpu",
                     help="cpu (default) or cuda (an NVIDIA GPU, through numba.cuda)")
    run.add_argument("--quiet", action="store_true", help=QUIET)
    run.add_argument("--checkpoint", metavar="FILE",
                     help="save the state here on SIGTERM / Ctrl-C (and periodically)")
    run.add_argument("--checkpoint-every", type=float, metavar="MS",
                     help="also save it every MS ms of simulated time")
    run.add_argument("--restore", metavar="FILE", help="go on from a checkpoint")
    run.add_argument("--force", action="store_true",
                     help="run even if the memory estimate exceeds what the machine has")
    run.add_argument("--spike-times", choices=("step", "interpolated"), default="step",
                     help="step (default): a crossing stamped with the end of its step, as "
                          "NEURON's fixed-step run; interpolated: within the step, as NEURON's "
                          "cvode.condition_order(2)")
    run.add_argument("--view", action="store_true",
                     help="show the run in the viewer as it goes (rank 0's display)")
    run.add_argument("--view-every", type=float, default=1.0, metavar="MS",
                     help="simulated ms between the viewer's frames")
    run.set_defaults(func=_run)


def _add_view_and_render(sub):
    view = sub.add_parser("view", help="the interactive 3D window on a SONATA run: play, "
                                       "scrub, pick, raster and trace")
    render = sub.add_parser("render", help="a frame (PNG) or a movie (MP4) of a SONATA run's "
                                           "report, headless")
    for p in (view, render):
        p.add_argument("path", help="simulation_config.json (after neurosim run) or a "
                                    "report .h5")
        p.add_argument("--report", help="the report's name (default: the first)")
        p.add_argument("--report-file", help="the report file, if not the config's")
        p.add_argument("--config", help="the simulation config, when the path is a report "
                                        "that has none beside it")
        p.add_argument("--vmin", type=float, default=-80.0)
        p.add_argument("--vmax", type=float, default=40.0)
        p.add_argument("--colormap", default="viridis")
    view.add_argument("--size", type=int, nargs=2, default=(1280, 760))
    view.set_defaults(func=_view)
    render.add_argument("--out", required=True, help="frame.png or movie.mp4")
    render.add_argument("--time", type=float, help="ms (a PNG; default: the last frame)")
    render.add_argument("--every", type=float, help="ms between movie frames")
    render.add_argument("--fps", type=int, default=25)
    render.add_argument("--size", type=int, nargs=2, default=(800, 600))
    render.add_argument("--view", choices=("xy", "xz", "yz"), default="xy")
    render.set_defaults(func=_render)


def _add_model(sub):
    model = sub.add_parser("model", help="run a model of the library: ring, busyring, "
                                         "microcircuit, v1, baaiworm (output, figure, summary)")
    model.add_argument("name", choices=("ring", "busyring", "microcircuit", "v1", "baaiworm"))
    model.add_argument("--out", default=None,
                       help="output folder (default: neurosim_output/NAME)")
    model.add_argument("--tstop", type=float,
                       help="ms (ring 200, microcircuit 1000, baaiworm 1000)")
    model.add_argument("--dt", type=float, help="baaiworm: time step, ms (0.5)")
    model.add_argument("--stimulus", metavar="FILE.json",
                       help='baaiworm: {"clamps": [{"cell": "AWAL", "delay": 500, "dur": 1000, '
                            '"amp": 0.02}, ...]} (ms, nA; at the soma; default: none)')
    model.add_argument("--data", metavar="DIR",
                       help="baaiworm: the model's files (default: $NEUROSIM_BAAIWORM_DATA)")
    model.add_argument("--no-movie", action="store_true",
                       help="baaiworm: no 3D movie of the brain (it renders a frame per 5 ms)")
    model.add_argument("--threads", type=int, default=1)
    model.add_argument("--cells", type=int, help="ring: number of cells (128)")
    model.add_argument("--fan", type=int, help="busyring: zero-weight inputs per cell (10)")
    model.add_argument("--scale", type=float, default=None,
                       help="microcircuit: fraction of the neurons and in-degrees (0.1); "
                            "v1: cell numbers (1)")
    model.add_argument("--background", choices=("poisson", "dc"), default="poisson",
                       help="microcircuit: Poisson trains (drawn ahead) or their mean")
    model.add_argument("--quiet", action="store_true", help=QUIET)
    model.set_defaults(func=_model)


def _add_info(sub):
    info = sub.add_parser("info", help="populations, cells, compartments, synapses, memory")
    info.add_argument("config", help="simulation_config.json or circuit_config.json")
    info.set_defaults(func=_info)


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    logger = logging.getLogger("neurosim")
    level = logger.level
    try:
        if getattr(args, "quiet", False):
            # the compile line goes through the neurosim logger (neurosim.kernels.compilation)
            logger.setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.func(args)
    except NumericalInstabilityError as e:
        print(f"neurosim: error: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt as e:          # the run stopped every rank at one step
        print(str(e) or "neurosim: interrupted", file=sys.stderr)
        return 130
    except NeurosimError as e:
        print(f"neurosim: error: {e}", file=sys.stderr)
        return 2
    finally:
        logger.setLevel(level)              # main() called from Python leaves it as it was


if __name__ == "__main__":
    sys.exit(main())
