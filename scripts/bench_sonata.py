"""neurosim against the peer that wrote each SONATA reference example, on the same files.

    python scripts/bench_sonata.py [--repeat 3] [--examples 5_cells_iclamp 300_intfire ...]

Each example is copied from ../shared/data/sonata-examples into a temporary folder; BioNet
(bmtk + NEURON) or PointNet (bmtk + NEST) and neurosim each run its ``config.json`` in a
fresh process (one thread), ``--repeat`` times after one warm-up run (neurosim's kernels
and NEURON's compiled mechanisms are then cached, as for a user's second run).  Wall time
is split into set-up (reading the circuit, building cells and connections) and simulation
(the run to tstop, with its reports); medians, and the ratio peer / neurosim.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data",
                                         "sonata-examples"))
PEER = {"5_cells_iclamp": "bionet", "300_intfire": "bionet",
        "300_pointneurons": "pointnet"}

BIONET = textwrap.dedent("""
    import json, time, sys
    t0 = time.perf_counter()
    from bmtk.simulator import bionet
    conf = bionet.Config.from_json(sys.argv[1])
    conf.build_env()
    net = bionet.BioNetwork.from_config(conf)
    sim = bionet.BioSimulator.from_config(conf, network=net)
    t1 = time.perf_counter()
    sim.run()
    t2 = time.perf_counter()
    print(json.dumps({"setup": t1 - t0, "simulation": t2 - t1}))
""")

POINTNET = textwrap.dedent("""
    import json, time, sys
    t0 = time.perf_counter()
    from bmtk.simulator import pointnet
    conf = pointnet.Config.from_json(sys.argv[1])
    conf.build_env()
    net = pointnet.PointNetwork.from_config(conf)
    sim = pointnet.PointSimulator.from_config(conf, net)
    t1 = time.perf_counter()
    sim.run()
    t2 = time.perf_counter()
    print(json.dumps({"setup": t1 - t0, "simulation": t2 - t1}))
""")

NEUROSIM = textwrap.dedent("""
    import json, time, sys
    t0 = time.perf_counter()
    from neurosim.io.sonata import SonataRun
    run = SonataRun(sys.argv[1], output_dir=sys.argv[2])
    t1 = time.perf_counter()
    run.run()
    run.write()
    t2 = time.perf_counter()
    print(json.dumps({"setup": t1 - t0, "simulation": t2 - t1}))
""")


def prepare(folder, name):
    """A copy of the example (and its shared components) with compiled NEURON mechanisms."""
    for part in (name, "shared_components"):
        if not os.path.exists(os.path.join(folder, part)):
            shutil.copytree(os.path.join(EXAMPLES, part), os.path.join(folder, part))
    if name == "5_cells_iclamp":
        # bmtk 1.2 matches no node with the example's {"model_type": "biophysical"} node
        # set (it would run the cells without their clamps and reports): both simulators
        # read the population instead
        with open(os.path.join(folder, name, "node_sets.json"), "w") as f:
            json.dump({"biophys_cells": {"population": "biophysical"}}, f)
    mechanisms = os.path.join(folder, "shared_components", "mechanisms")
    if PEER[name] == "bionet" and not os.path.exists(os.path.join(mechanisms, "x86_64")):
        subprocess.run(["nrnivmodl", "modfiles"], cwd=mechanisms, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return os.path.join(folder, name, "config.json")


def timed(script, *args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", script, *args], cwd=cwd, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{args[0]}: failed\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--examples", nargs="+", default=list(PEER))
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'example':<18} {'peer':<9} {'set-up peer':>12} {'neurosim':>9} "
          f"{'simulation peer':>16} {'neurosim':>9} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.examples:
            config = prepare(folder, name)
            cwd = os.path.dirname(config)
            peer_script = BIONET if PEER[name] == "bionet" else POINTNET
            out = os.path.join(folder, f"neurosim_{name}")
            runs = {"peer": [], "neurosim": []}
            for k in range(args.repeat + 1):            # the first: warm-up
                peer = timed(peer_script, config, cwd=cwd)
                ours = timed(NEUROSIM, config, out, cwd=cwd)
                if k:
                    runs["peer"].append(peer)
                    runs["neurosim"].append(ours)
            med = {who: {part: statistics.median(r[part] for r in rs)
                         for part in ("setup", "simulation")} for who, rs in runs.items()}
            ratio = med["peer"]["simulation"] / med["neurosim"]["simulation"]
            print(f"{name:<18} {PEER[name]:<9} {med['peer']['setup']:>11.2f}s "
                  f"{med['neurosim']['setup']:>8.2f}s {med['peer']['simulation']:>15.2f}s "
                  f"{med['neurosim']['simulation']:>8.2f}s {ratio:>6.1f}x", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
