"""A ring shown live on every rank's share (mpiexec -n N python live_view.py out.npz):
rank 0 saves the frames its viewer received."""

import sys

import numpy as np

import neurosim as ns
from neurosim.models.ring import ring_network
from neurosim.viz.live import LiveView


def frames(comm=None):
    net, gids = ring_network(6, extra=2, depth=2, branch_nseg=3)
    sim = ns.Simulation(net, comm=comm)
    view = LiveView(sim, interval=2.0, show=False, size=(400, 300))
    sim.run(30.0, viewer=view)
    if view.viewer is None:
        return None
    src = view.source
    return {"times": src.times, "values": np.array([src.values(t) for t in src.times]),
            "gid": view.scene.gid, "section": view.scene.section, "x": view.scene.x,
            "spike_gids": src.spikes[0], "spike_times": src.spikes[1]}


if __name__ == "__main__":
    got = frames()
    if got is not None:
        np.savez(sys.argv[1], **got)
