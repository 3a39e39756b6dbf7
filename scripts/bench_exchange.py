"""Benchmark and cost model of neurosim's spike exchange (docs/mpi.md).

Measure (under MPI, 2 or more ranks):

    mpiexec -n 2 python scripts/bench_exchange.py [--repeats 5] [--max-bytes 10000000]

times ``comm.Allgatherv`` (mpi4py, byte buffers) for per-rank contributions of 0 B to
--max-bytes and fits the alpha-beta model t = ceil(log2 P) alpha + R beta, where R =
(P - 1) x contribution is the bytes each rank receives: alpha from the 0-byte time, beta
from a least-squares slope over contributions >= 64 kB.  It also times one epoch's exchange
as neurosim makes it with 0 and 1000 spikes per rank (17 bytes each):

* ``3x(allgather+Allgatherv)``: a pickled allgather of the count and an Allgatherv, once for
  gids (int64), times (float64) and flags (bool): neurosim.run.parallel at commit bf42485;
* ``Allgather+Allgatherv``: one Allgather of a 16-byte header (count, stop flag) and one
  Allgatherv of packed 17-byte records (the layout neurosim.run.parallel is moving to);

and, on rank 0, the receive-side filter: the cost per received spike of finding its
connections on this rank (as neurosim.run.events does: two np.searchsorted in the sorted sources
of the rank's incoming connections), and two cheaper ways (sorted spikes; a byte map).

Model (no MPI needed):

    python scripts/bench_exchange.py --model [--alpha 1.5e-6] [--bandwidth 22e9] ...

prints the per-epoch table of docs/mpi.md (every column's formula is in that file and in
``model_rows`` below) for 1e3, 1e4, 1e5 ranks and 1e6, 1e7, 1e8 cells.
"""

import argparse
import math
import time

import numpy as np

SPIKE_BYTES = 17            # int64 gid + float64 time + 1 flag byte
_MAX = None                 # MPI.MAX, set by measure()


# ---------------------------------------------------------------------- measurement
def _time(fn, comm, repeats, target=0.02):
    """Median over ``repeats`` batches of the mean time of one call (s); a batch lasts about
    ``target`` s; every rank uses rank 0's iteration count."""
    comm.Barrier()
    t0 = time.perf_counter()
    fn()
    fn()
    once = max((time.perf_counter() - t0) / 2, 1e-7)
    iters = comm.bcast(int(min(max(target / once, 3), 20000)), root=0)
    out = []
    for _ in range(repeats):
        comm.Barrier()
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        dt = (time.perf_counter() - t0) / iters
        out.append(comm.allreduce(dt, op=_MAX))           # the slowest rank
    return float(np.median(out))


def measure(args):
    global _MAX
    from mpi4py import MPI
    _MAX = MPI.MAX
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    steps = math.ceil(math.log2(size)) if size > 1 else 1
    sizes = [0, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]
    sizes = [s for s in sizes if s < args.max_bytes] + [args.max_bytes]
    if rank == 0:
        print(f"# {size} ranks, {MPI.Get_library_version().splitlines()[0].strip()}")
        print(f"# {'bytes/rank':>12s} {'recv/rank':>12s} {'time us':>10s} {'GB/s recv':>10s}")
    rows = []
    for m in sizes:
        send = np.full(m, rank, dtype=np.uint8)
        recv = np.empty(m * size, dtype=np.uint8)
        counts = [m] * size

        def call():
            comm.Allgatherv([send, MPI.BYTE], [recv, counts, MPI.BYTE])
        t = _time(call, comm, args.repeats)
        received = (size - 1) * m
        rows.append((m, received, t))
        if rank == 0:
            bw = received / t / 1e9 if m else float("nan")
            print(f"  {m:12d} {received:12d} {t * 1e6:10.2f} {bw:10.2f}", flush=True)
    # alpha: median time over 16 B..1 kB (a 0-byte Allgatherv may skip the network; the
    # bytes add < 1 % there); beta: slope over contributions >= 64 kB
    small = [t for m, r, t in rows if 0 < m <= 1024]
    alpha = float(np.median(small)) / steps if small else rows[0][2] / steps
    big = [(r, t) for m, r, t in rows if m >= 65536]
    if len(big) >= 2:
        beta = float(np.polyfit([r for r, _ in big], [t for _, t in big], 1)[0])
    else:
        beta = (rows[-1][2] - rows[0][2]) / max(rows[-1][1], 1)
    if rank == 0:
        print(f"alpha = {alpha * 1e6:.2f} us per step (median over 16 B..1 kB; t(0 B) = "
              f"{rows[0][2] * 1e6:.2f} us; {steps} step(s) of recursive doubling)")
        print(f"beta  = {beta * 1e9:.4f} ns/B  (1/beta = {1 / beta / 1e9:.2f} GB/s), "
              f"fit over contributions >= 64 kB")

    # one epoch's exchange as neurosim makes it
    for nspk in (0, 1000):
        gids = np.arange(nspk, dtype=np.int64) + rank * nspk
        times = np.linspace(0.0, 1.0, nspk)
        exact = np.zeros(nspk, dtype=np.bool_)

        def three():
            for a, dt in ((gids, np.int64), (times, np.float64), (exact, np.bool_)):
                counts = np.array(comm.allgather(len(a)), dtype=np.int64)
                out = np.empty(int(counts.sum()), dtype=dt)
                comm.Allgatherv(a, [out, counts])

        rec = np.dtype([("gid", "<i8"), ("time", "<f8"), ("exact", "u1")])
        packed = np.empty(nspk, dtype=rec)
        packed["gid"], packed["time"], packed["exact"] = gids, times, exact

        def one():
            head = np.array([len(packed), 0], dtype=np.int64)
            heads = np.empty((size, 2), dtype=np.int64)
            comm.Allgather(head, heads)
            counts = heads[:, 0] * rec.itemsize
            out = np.empty(int(heads[:, 0].sum()), dtype=rec)
            comm.Allgatherv([packed.view(np.uint8), MPI.BYTE],
                            [out.view(np.uint8), counts, MPI.BYTE])

        t3, t1 = _time(three, comm, args.repeats), _time(one, comm, args.repeats)
        if rank == 0:
            print(f"neurosim epoch, {nspk:4d} spikes/rank: 3x(allgather+Allgatherv) "
                  f"{t3 * 1e6:7.2f} us   Allgather+Allgatherv {t1 * 1e6:7.2f} us")

    if rank == 0:
        filter_cost()


def filter_cost(n_conn=1_000_000, n_spikes=100_000, n_gids=10_000_000, repeats=5):
    """ns per received spike of finding its connections on this rank, three ways: as
    neurosim.run.events.Connections.fan_out does (searchsorted left and right in the sorted
    sources of the rank's incoming connections; spikes in arrival order), the same with the
    spikes sorted first (sort included), and a byte map gid -> has a target here."""
    rng = np.random.default_rng(1)
    sources = np.sort(rng.integers(0, n_gids, n_conn))
    spikes = rng.integers(0, n_gids, n_spikes)
    here = np.zeros(n_gids, dtype=np.bool_)
    here[sources] = True

    def fan_out(g):
        return np.searchsorted(sources, g, "left"), np.searchsorted(sources, g, "right")

    for name, fn in (("searchsorted x2, arrival order", lambda: fan_out(spikes)),
                     ("sort + searchsorted x2", lambda: fan_out(np.sort(spikes))),
                     ("byte map gid -> has target", lambda: here[spikes])):
        fn()
        best = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best.append(time.perf_counter() - t0)
        print(f"receive filter, {name:31s}: {np.median(best) / n_spikes * 1e9:6.1f} ns/spike "
              f"({n_spikes:.0e} spikes, {n_conn:.0e} incoming connections)")


# ---------------------------------------------------------------------- model
def model_rows(a):
    """One dict per (ranks P, cells N): the per-epoch quantities of docs/mpi.md."""
    tau = a.epoch                              # ms
    rows = []
    for P in (1_000, 10_000, 100_000):
        for N in (1_000_000, 10_000_000, 100_000_000):
            r = {"P": P, "N": N}
            r["cells_per_rank"] = N / P                                    # n = N / P
            r["spikes"] = N * a.rate * tau / 1000.0                         # S = N nu tau
            r["recv_bytes"] = (P - 1) / P * r["spikes"] * a.bytes           # B = (P-1)/P S b
            r["t_lat"] = math.ceil(math.log2(P)) * a.alpha                  # ceil(log2 P) alpha
            r["t_bw"] = r["recv_bytes"] / a.bandwidth                       # B beta
            r["t_ag"] = r["t_lat"] + r["t_bw"]
            r["t_filter"] = r["spikes"] * a.gamma                           # S gamma
            r["t_comp"] = (r["cells_per_rank"] * a.compartments * (tau / a.dt)
                           / a.throughput)                                  # n C (tau/dt) / R
            r["ratio"] = r["t_ag"] / r["t_comp"]
            r["ratio_node"] = (r["t_lat"] + a.ranks_per_node * r["t_bw"]) / r["t_comp"]
            # sparse exchange, random targets: ranks holding a spike's targets, and the
            # ranks a rank exchanges with (all of them once n k >~ P)
            k = P * (1 - (1 - 1 / P) ** a.fanout)                           # k = P(1-(1-1/P)^F)
            r["k"] = k
            r["partners"] = min(P - 1, P * (1 - (1 - k / P) ** r["cells_per_rank"]))
            r["sparse_bytes"] = r["spikes"] * k / P * a.bytes               # S (k/P) b
            r["t_sparse"] = r["partners"] * a.alpha + r["sparse_bytes"] / a.bandwidth
            rows.append(r)
    return rows


def _si(x):
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= f:
            return f"{x / f:.3g}{unit}"
    return f"{x:.3g}"


def _t(s):
    if s >= 1.0:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


def print_model(a):
    print(f"assumptions: nu = {a.rate} Hz, epoch tau = {a.epoch} ms, b = {a.bytes} B/spike, "
          f"alpha = {a.alpha * 1e6:.3g} us, 1/beta = {a.bandwidth / 1e9:.3g} GB/s, "
          f"C = {a.compartments} compartments/cell, dt = {a.dt} ms, "
          f"R = {a.throughput:.3g} compartment-steps/s/rank, F = {a.fanout:.0f} synapses/cell, "
          f"q = {a.ranks_per_node} ranks/node, gamma = {a.gamma * 1e9:.3g} ns/spike")
    print()
    print("| P | N | n = N/P | S = N nu tau | B = (P-1)/P S b | ceil(log2 P) alpha | B beta "
          "| T_comp = n C (tau/dt) / R | (lat + bw) / T_comp | (lat + q bw) / T_comp "
          "| S gamma / T_comp |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in model_rows(a):
        print(f"| {_si(r['P'])} | {_si(r['N'])} | {_si(r['cells_per_rank'])} "
              f"| {_si(r['spikes'])} | {_si(r['recv_bytes'])}B | {_t(r['t_lat'])} "
              f"| {_t(r['t_bw'])} | {_t(r['t_comp'])} | {r['ratio']:.2g} "
              f"| {r['ratio_node']:.2g} | {r['t_filter'] / r['t_comp']:.2g} |")
    print()
    print("sparse (Alltoallv / point-to-point) with random targets: k = P(1-(1-1/P)^F), "
          "partners = min(P-1, P(1-(1-k/P)^n)), T = partners alpha + S (k/P) b beta")
    print()
    print("| P | N | k | partners | S (k/P) b | T_sparse | T_Allgatherv |")
    print("|---|---|---|---|---|---|---|")
    for r in model_rows(a):
        print(f"| {_si(r['P'])} | {_si(r['N'])} | {_si(r['k'])} | {_si(r['partners'])} "
              f"| {_si(r['sparse_bytes'])}B | {_t(r['t_sparse'])} | {_t(r['t_ag'])} |")
    # where the bytes term equals the compute: P ν dt b β R / C = 1 (N and τ cancel)
    per_p = a.rate / 1000.0 * a.dt * a.bytes / a.bandwidth * a.throughput / a.compartments
    print()
    print(f"bandwidth term / compute = P nu dt b beta R / C = {per_p:.3g} x P "
          f"(= 1 at P = {1 / per_p:.3g} ranks; x q = {a.ranks_per_node} without node-aware "
          f"collectives: P = {1 / per_p / a.ranks_per_node:.3g})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="store_true", help="print the cost-model table")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-bytes", type=int, default=10_000_000, help="per-rank contribution")
    ap.add_argument("--alpha", type=float, default=1.5e-6, help="s per message step")
    ap.add_argument("--bandwidth", type=float, default=22e9, help="1/beta, bytes/s per rank")
    ap.add_argument("--rate", type=float, default=5.0, help="mean firing rate nu, Hz")
    ap.add_argument("--epoch", type=float, default=1.0, help="tau = minimum delay, ms")
    ap.add_argument("--dt", type=float, default=0.025, help="ms")
    ap.add_argument("--bytes", type=float, default=SPIKE_BYTES, help="b, bytes per spike")
    ap.add_argument("--compartments", type=float, default=1000.0, help="C per cell")
    ap.add_argument("--throughput", type=float, default=6.0e7,
                    help="R, compartment-steps/s per rank (core)")
    ap.add_argument("--fanout", type=float, default=1e4, help="F, synapses per cell")
    ap.add_argument("--ranks-per-node", type=int, default=64, help="q, ranks sharing a NIC")
    ap.add_argument("--gamma", type=float, default=7e-7,
                    help="s per received spike: finding its connections (measured, neurosim)")
    args = ap.parse_args()
    if args.model:
        print_model(args)
    else:
        measure(args)


if __name__ == "__main__":
    main()
