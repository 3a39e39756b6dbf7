"""Poisson drives on ring cells and point neurons (mpiexec -n N python drive.py out.npz):
rank 0 saves every spike and a trace; the same on any number of ranks and threads."""

import sys

import numpy as np

import neurosim as ns
from neurosim.models.ring import ring_network


def run(threads=1, comm=None):
    net, gids = ring_network(6, extra=2, depth=2, branch_nseg=3, seed=5)
    lif = net.add_cells(ns.models.LIF(V_th=-60.0, E_L=-70.0, V_reset=-70.0), n=4)
    net.add_poisson_drive([(int(g), "syn") for g in gids], rate=300.0, weight=0.01)
    net.add_poisson_drive([int(g) for g in lif], rate=4000.0, weight=60.0, start=5.0,
                          stop=40.0)
    net.connect(int(lif[0]), (int(gids[3]), "syn"), weight=0.02, delay=1.0)
    sim = ns.Simulation(net, threads=threads, comm=comm)
    spikes = sim.record_spikes()
    v = sim.record("v", (0, 0.5), cell=int(gids[4]))
    sim.run(50.0)
    order = np.lexsort((spikes.gids, spikes.times))
    return dict(gids=spikes.gids[order], times=spikes.times[order], v=v.values,
                lif=np.asarray(lif))


if __name__ == "__main__":
    got = run()
    from neurosim.run.parallel import default_comm
    if default_comm().rank == 0:
        np.savez(sys.argv[1], **got)
