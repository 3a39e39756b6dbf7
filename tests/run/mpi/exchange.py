"""Run under ``mpiexec -n N``: the spike exchanges of neurosim.run.parallel on known spikes.
Rank r sends r + 3 spikes (gid 100 r + k); every rank checks what it receives and rank 0
prints OK."""

import numpy as np

from neurosim.run.parallel import MpiComm, SpikeRoute


def spikes_of(rank):
    n = rank + 3
    gids = 100 * rank + np.arange(n, dtype=np.int64)
    return gids, gids * 0.5, gids % 2 == 0


def received(spikes):
    order = np.argsort(spikes[0])
    return tuple(np.asarray(a)[order] for a in spikes)


def main():
    comm = MpiComm()
    everyone = tuple(np.concatenate(a) for a in zip(*(spikes_of(r) for r in range(comm.size))))
    mine = spikes_of(comm.rank)
    # Allgatherv: every spike everywhere; a stop flag on the last rank reaches all
    got, stop = comm.exchange_spikes(mine, comm.rank == comm.size - 1)
    assert stop
    for a, b in zip(received(got), everyone):
        np.testing.assert_array_equal(a, b)
    # Iallgather of blocks of 2 spikes, the rest in a second message
    got, stop, largest = comm.start_exchange(mine, False, 2).finish()
    assert not stop and largest == comm.size + 2
    for a, b in zip(received(got), everyone):
        np.testing.assert_array_equal(a, b)
    # Alltoallv: rank r needs the even gids of every rank (and nothing of rank 0's gid 0)
    owner = np.full(100 * comm.size, -1, dtype=np.int64)
    for r in range(comm.size):
        owner[100 * r:100 * r + r + 3] = r
    needed = np.flatnonzero((owner >= 0) & (np.arange(len(owner)) % 2 == 0))
    needed = needed[needed != 0]
    route = SpikeRoute(comm, owner, needed)
    got, stop = comm.exchange_spikes(mine, False, route)
    keep = (everyone[0] % 2 == 0) & (everyone[0] != 0)
    for a, b in zip(received(got), (x[keep] for x in everyone)):
        np.testing.assert_array_equal(a, b)
    assert route.mean_destinations(comm) == comm.size
    if comm.rank == 0:
        print("OK", flush=True)


if __name__ == "__main__":
    main()
