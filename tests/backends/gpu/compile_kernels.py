"""Run without the simulator: one of compare.py's models on the recording GPU backend, then
every kernel it launched compiled for an H100 (sm_90) by NVVM and ptxas; prints JSON.

    compile_kernels.py network | allen | points [float32]
"""

import dataclasses
import json
import sys

import compare

import neurosim as ns
from neurosim.backends.cuda.compile import build_kernels, recording


def main():
    net, gids, tstop, dt, celsius, probes = getattr(compare, sys.argv[1])()
    precision = sys.argv[2] if len(sys.argv) > 2 else "float64"
    with recording() as made:
        sim = ns.Simulation(net, dt=dt, celsius=celsius, backend="cuda", precision=precision)
        sim.record_spikes()
        for var, loc, g in probes:
            sim.record(var, loc, cell=g)
        sim.run(tstop / 4)
        sim.run(tstop)
    backend = made[0]
    json.dump({"calls": backend.calls, "host_arguments": backend.host_arguments,
               "kernels": [dataclasses.asdict(b) for b in build_kernels(backend)]},
              sys.stdout)


if __name__ == "__main__":
    main()
