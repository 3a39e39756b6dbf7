"""The ``neurosim`` command.  ``neurosim demo`` runs the bundled single-cell demo."""

import argparse
import os
import sys
import time


def _demo(args):
    from neurosim.io.traces import write_traces
    from neurosim.models.demo import run_demo
    from neurosim.viz.plots import plot_traces

    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    sim, traces = run_demo(tstop=args.tstop)
    wall = time.perf_counter() - t0
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
    print(f"simulated {sim.t:g} ms of a {sim.n_compartments}-compartment cell in {wall:.2f} s "
          f"(including set-up and compilation); {spikes} somatic spikes")
    print(f"wrote {h5}")
    print(f"wrote {png}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="neurosim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="simulate a reconstructed neuron; write HDF5 + PNG")
    demo.add_argument("--out", default="neurosim_output", help="output folder")
    demo.add_argument("--tstop", type=float, default=320.0, help="simulated time (ms)")
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    from neurosim.errors import NeurosimError
    try:
        return args.func(args)
    except NeurosimError as e:
        print(f"neurosim: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
