"""Run under ``mpiexec -n N``: the Potjans & Diesmann microcircuit at scale 0.03 (Poisson
background) for 300 ms; rank 0 writes every spike to the .npz named on the command line
(tests/run/test_mpi.py compares rank counts with the serial run).

    run_microcircuit.py OUT
"""

import sys

import numpy as np

import neurosim as ns
from neurosim.models import microcircuit as mc


def build():
    return mc.microcircuit(scale=0.03, seed=2)


def main(out):
    net, pops = build()
    sim = ns.Simulation(net, dt=0.1)
    spikes = sim.record_spikes(np.concatenate([pops[p] for p in mc.POPULATIONS]))
    sim.run(300.0)
    sim.close()
    if sim.comm.rank == 0:
        np.savez(out, gids=spikes.gids, times=spikes.times, size=sim.comm.size)


if __name__ == "__main__":
    main(sys.argv[1])
