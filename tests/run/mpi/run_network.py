"""Run under ``mpiexec -n N``: a ring with a gap junction and Poisson inputs driving cells
with STDP synapses through random connections; rank 0 writes every spike and a trace to the
.npz named on the command line (tests/run/test_mpi.py compares rank counts).

    run_network.py OUT [--threads 2] [--exchange alltoall] [--recipe] [--overlap]
                       [--stream run.h5] [--until 40 --checkpoint ck.h5] [--restore ck.h5]
                       [--backend cuda]   (the GPU backend; NUMBA_ENABLE_CUDASIM=1 here)
    run_network.py fail | missing | badprobe | forever --stream run.h5 | userraise
"""

import argparse
import os
import sys
import time

import numpy as np

import neurosim as ns
from neurosim.models.ring import ring_cell, ring_network


def build():
    net, gids = ring_network(12, extra=3, depth=2, branch_nseg=3, seed=3)
    net.add_gap_junction((int(gids[2]), (0, 0.5)), (int(gids[7]), (0, 0.5)), g=0.002)
    net.add_poisson(rate=40.0, n=6, stop=80.0,
                    targets=[(int(g), "syn") for g in gids[::2]], weight=0.004, delay=1.5)
    plastic = ring_cell(depth=2, branch_nseg=3)
    plastic.add_synapse((1, 0.5), "ExpSynSTDP", label="stdp", multiplicative=1, wmax=0.1)
    learners = net.add_cells(plastic, n=5)
    net.connect_rule(gids, learners, ns.FixedProbability(0.5), synapse="stdp",
                     weight=ns.Uniform(0.02, 0.06), delay=ns.Uniform(1.0, 3.0))
    for g in learners:                            # its own spikes reach its STDP synapse
        net.connect(int(g), (int(g), "stdp"), weight=-1.0, delay=0.5)
    return net, np.concatenate([gids, learners])


class Described(ns.Recipe):
    """A network handed out gid by gid; it notes which gids it was asked to build."""

    def __init__(self, net, missing=None):
        self.net, self.missing = net, missing
        src, tgt, labels, weights, delays = net.connections()
        self.incoming = {}
        for c in range(len(src)):                 # connection order kept per target
            self.incoming.setdefault(int(tgt[c]), []).append(
                ns.Connection(int(src[c]), labels[c], weights[c], float(delays[c])))
        self.asked = []

    def num_cells(self):
        return self.net.n_gids

    def cell_description(self, gid):
        if gid == self.missing:                   # this gid's morphology file is missing
            ns.Morphology.from_swc(os.path.join(os.path.dirname(__file__), "missing.swc"))
        if gid in self.net.spike_sources:
            return ns.SpikeSource(self.net.spike_sources[gid])
        return self.net.cells[gid]

    def connections_on(self, gid):
        self.asked.append(gid)
        return self.incoming.get(gid, [])

    def gap_junctions_on(self, gid):
        return [ns.GapJunction(la, b, lb, g) for a, la, b, lb, g in self.net.gap_junctions
                if a == gid]


def build_failing():
    """Quiet cells and one whose voltage runs away: only its rank raises."""
    runaway = ns.Mechanism(name="runaway", parameters={"gneg": 0.05},
                           current="i = -gneg * (v + 65.0)\ng = 0.0")
    quiet = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-65.0)
    quiet.insert("pas", g=1e-4, e=-65.0)
    quiet.add_detector((0, 0.5))
    bad = ns.Cell(ns.Morphology.ball_and_stick(), v_init=-64.0)
    bad.insert(runaway, region="soma")
    net = ns.Network()
    gids = list(net.add_cells(quiet, n=5)) + list(net.add_cells(bad))
    return net, gids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--exchange", default="auto")
    ap.add_argument("--recipe", action="store_true")
    ap.add_argument("--overlap", action="store_true")
    ap.add_argument("--stream")
    ap.add_argument("--until", type=float, default=80.0, help="ms")
    ap.add_argument("--checkpoint", help="save the state at --until")
    ap.add_argument("--restore", help="go on from this checkpoint")
    ap.add_argument("--backend", default="cpu")
    args = ap.parse_args()
    if args.out == "fail":
        net, gids = build_failing()
    else:
        net, gids = build()
    model = net
    if args.recipe or args.out == "missing":
        model = Described(net, missing=int(gids[-2]) if args.out == "missing" else None)
    if args.restore:
        sim = ns.Simulation.restore(args.restore, threads=args.threads)
    else:
        sim = ns.Simulation(model, threads=args.threads, exchange=args.exchange,
                            overlap=args.overlap, backend=args.backend)
    if args.backend == "cuda":                    # the GPU this rank would take
        from neurosim.backends.cuda.backend import local_rank
        print(f"LOCAL RANK {sim.comm.rank} {local_rank()}", flush=True)
    spikes = sim.record_spikes()
    v = sim.record("v", (0, 0.5), cell=int(gids[-1]))
    sim.record("v", (1, 0.5), cell=[int(g) for g in gids[:4]], interval=0.1)
    if args.out != "fail":
        sim.record("i", "stdp", cell=int(gids[-2]))
    if args.out == "badprobe":                    # raises on the rank owning the gid only
        sim.record("i", "no_such_synapse", cell=int(gids[-1]))
    if args.stream:
        sim.stream_to(args.stream)
    if args.out == "fail":      # the kernel compiled (a cold cache) before the clock starts
        sim.run(sim.dt)
    print(f"RUN {time.time()}", flush=True)
    if args.out == "forever":
        print("RUNNING", flush=True)
        sim.run(1e9)
    if args.out == "userraise":                   # a user's script fails on rank 1 alone,
        sim.run(10.0)                             # between two runs: the others would wait
        if sim.comm.rank == 1:
            raise ValueError("a user's own error on rank 1")
    sim.run(args.until)
    if args.checkpoint:
        sim.checkpoint(args.checkpoint)
    sim.close()
    asked = sorted(set(getattr(model, "asked", [])))
    built = sorted(int(g) for g in sim.local)
    if asked and asked != built:
        sys.exit(f"rank {sim.comm.rank} described gids {asked}, runs {built}")
    weights = sim.weights()                       # a collective: every rank asks
    if sim.comm.rank == 0:
        np.savez(args.out, gids=spikes.gids, times=spikes.times, size=sim.comm.size,
                 v=v.values, exchange=sim.exchange, overlap=sim.overlap,
                 weights=weights)


if __name__ == "__main__":
    main()
