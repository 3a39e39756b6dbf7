"""The first ten minutes, in seconds: what a new user waits for (a benchmark, not a test).

    python scripts/bench_startup.py [--repeat 3]

Each measurement runs in a fresh process; "cold" uses an empty kernel cache
(``NEUROSIM_CACHE_DIR`` a new folder), "warm" the cache the cold run filled:

- ``neurosim demo`` cold: until its first progress line, and to the end;
- ``neurosim demo`` warm, to the end (median of ``--repeat``);
- ``python -c "import neurosim"`` (median of ``--repeat``);
- ``neurosim run`` of the bundled circuit with ``--threads 2`` after a warm ``--threads 1``
  run: its time, and how many kernels it added to the cache (the target: none);
- a model with one new .mod mechanism beside built-in ones (hh, pas, ExpSyn): the time of
  its first run (kernel compilation included) and that of a second process (cached).

The targets of the issue on the first ten minutes (on this 2-core machine, nothing else
running): first progress line <= 20 s and the cold demo <= 35 s; warm demo <= 12 s; import
<= 1 s; no compilation for a second thread count; one new mechanism compiled in <= 10 s.
The load average is printed before and after: numbers from a busy machine say so.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CIRCUIT = os.path.join(HERE, "..", "models", "circuits", "layer4", "simulation_config.json")

NEW_MECHANISM = textwrap.dedent("""
    import sys, time
    t0 = time.perf_counter()
    import neurosim as ns
    mod = sys.argv[1]
    leak = ns.Mechanism.from_nmodl(mod)
    cell = ns.Cell(ns.Morphology.ball_and_stick(), discretization=ns.NSeg(5))
    cell.insert("hh", region="soma")
    cell.insert("pas", region="dend")
    cell.insert(leak, region="dend", g=1e-5)
    cell.add_synapse((1, 0.5), "ExpSyn")
    sim = ns.Simulation(cell)
    sim.run(5.0)
    print(time.perf_counter() - t0)
""")
LEAK_MOD = """NEURON { SUFFIX benchleak NONSPECIFIC_CURRENT i RANGE g, e }
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER { g = 1e-5 (S/cm2) e = -70 (mV) }
ASSIGNED { v (mV) i (mA/cm2) }
BREAKPOINT { i = g * (v - e) }
"""


def load():
    return os.getloadavg()[0]


def neurosim(*args, env, cwd, until=None):
    """Run ``neurosim ARGS``; (seconds to the end, seconds to the first stderr line starting
    with ``until`` or None)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "neurosim", *args], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    for line in proc.stderr:
        if first is None and until is not None and line.lstrip("\r").startswith(until):
            first = time.perf_counter() - t0
    if proc.wait() != 0:
        raise SystemExit(f"neurosim {' '.join(args)} failed")
    return time.perf_counter() - t0, first


def cache_entries(folder):
    return sum(len(files) for _, _, files in os.walk(folder))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"load average before: {load():.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        env = dict(os.environ, NEUROSIM_CACHE_DIR=cache)
        cold, first = neurosim("demo", "--out", os.path.join(tmp, "demo0"), env=env, cwd=tmp,
                               until="[")
        print(f"demo, cold cache:   first progress line {first:.1f} s, finished {cold:.1f} s"
              "   (targets 20 s, 35 s)")
        warm = [neurosim("demo", "--out", os.path.join(tmp, f"demo{k + 1}"), env=env,
                         cwd=tmp)[0] for k in range(args.repeat)]
        print(f"demo, warm cache:   {statistics.median(warm):.1f} s (median of {len(warm)})"
              "   (target 12 s)")
        imports = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import neurosim"], env=env, check=True)
            imports.append(time.perf_counter() - t0)
        print(f"import neurosim:    {statistics.median(imports):.2f} s   (target 1 s)")
        one, _ = neurosim("run", CIRCUIT, "--quiet", "--threads", "1", env=env, cwd=tmp)
        before = cache_entries(cache)
        two, _ = neurosim("run", CIRCUIT, "--quiet", "--threads", "2", env=env, cwd=tmp)
        added = cache_entries(cache) - before
        print(f"run --threads 1:    {one:.1f} s; then --threads 2: {two:.1f} s, "
              f"{added} new cache files   (target: none)")
        mod = os.path.join(tmp, "benchleak.mod")
        with open(mod, "w") as f:
            f.write(LEAK_MOD)
        runs = []
        for _ in range(2):
            done = subprocess.run([sys.executable, "-c", NEW_MECHANISM, mod], env=env,
                                  check=True, capture_output=True, text=True)
            runs.append(float(done.stdout.split()[-1]))
        print(f"one new mechanism:  first run {runs[0]:.1f} s (compiling), cached "
              f"{runs[1]:.1f} s   (target: compiled in 10 s)")
    print(f"load average after: {load():.2f}")


if __name__ == "__main__":
    main()
