"""The Potjans & Diesmann microcircuit's figure: a raster and the population rates beside
NEST's published full-scale rates (PNG), with time and memory.

    python scripts/fig_microcircuit.py [--scale 0.1] [--tstop 1000] [--out fig_microcircuit]
"""

import argparse
import json

from neurosim.models.library import run_microcircuit


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--tstop", type=float, default=1000.0)
    ap.add_argument("--background", choices=("poisson", "dc"), default="poisson")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="fig_microcircuit")
    args = ap.parse_args()
    got = run_microcircuit(args.out, scale=args.scale, background=args.background,
                           tstop=args.tstop, threads=args.threads)
    print(f"{'population':>10s} {'neurosim Hz':>12s} {'NEST Hz':>8s}")
    for name, rate in got["rates"].items():
        print(f"{name:>10s} {rate:12.3f} {got['published'][name]:8.3f}")
    print(json.dumps({k: v for k, v in got.items() if k not in ("rates", "published")},
                     indent=1))


if __name__ == "__main__":
    main()
