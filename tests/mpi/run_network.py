"""Run under ``mpiexec -n N``: a ring with a gap junction and Poisson inputs driving cells
with STDP synapses through random connections; rank 0 writes every spike to the .npz named
on the command line (tests/test_mpi.py compares rank counts)."""

import sys

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


if __name__ == "__main__":
    out, threads = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
    net, gids = build_failing() if out == "fail" else build()
    sim = ns.Simulation(net, threads=threads)
    spikes = sim.record_spikes()
    v = sim.record("v", (0, 0.5), cell=int(gids[-1]))
    sim.run(80.0)
    if sim.comm.rank == 0:
        np.savez(out, gids=spikes.gids, times=spikes.times, size=sim.comm.size)
    if len(v):                                   # the rank that owns the last gid
        np.save(out.replace(".npz", f"_v_rank{sim.comm.rank}.npy"), v.values)
