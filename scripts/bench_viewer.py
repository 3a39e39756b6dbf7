"""Benchmark: the viewer's frame update and render time, headless (Mesa's software OpenGL
here), for 10^4, 10^5 and 10^6 compartments.

Each compartment is a cone of --sides quads (default: the viewer's level of detail, 8 / 6 /
4 sides up to 2e4 / 2e5 / beyond), random cones in a 1 mm column. Prints the
set-up time (mesh build and upload), the per-frame time of uploading new values (one
float per compartment) and of drawing plus reading the image back, the bytes uploaded per
frame, and frames per second.  Medians of --frames frames.

    python scripts/bench_viewer.py [--sizes 10000 100000 1000000] [--sides 8]
"""

import argparse
import statistics
import time

import numpy as np


def random_scene(n, rng):
    from neurosim.viz.scene import Scene
    p0 = rng.uniform(-500.0, 500.0, (n, 3))
    p1 = p0 + rng.normal(0.0, 10.0, (n, 3))
    r = rng.uniform(0.3, 2.0, n)
    return Scene(p0, p1, r, r, np.arange(n) // 100, np.zeros(n), np.full(n, 0.5))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--sides", type=int, default=None, help="default: by size, as the viewer")
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--size", type=int, nargs=2, default=(800, 600))
    args = ap.parse_args()
    from neurosim.viz.render import Renderer
    rng = np.random.default_rng(0)
    print(f"{'compartments':>12s} {'set-up s':>9s} {'upload ms':>10s} {'draw ms':>9s} "
          f"{'bytes/frame':>12s} {'fps':>6s}")
    for n in args.sizes:
        scene = random_scene(n, rng)
        t0 = time.perf_counter()
        renderer = Renderer(scene, size=tuple(args.size), sides=args.sides)
        renderer.draw(np.zeros(n))                    # first frame: compiles shaders
        setup = time.perf_counter() - t0
        uploads, draws = [], []
        for _ in range(args.frames):
            values = rng.uniform(-80.0, 40.0, n).astype(np.float32)
            t0 = time.perf_counter()
            renderer.set_values(values)
            t1 = time.perf_counter()
            renderer.draw()
            t2 = time.perf_counter()
            uploads.append(t1 - t0)
            draws.append(t2 - t1)
        up, dr = statistics.median(uploads), statistics.median(draws)
        print(f"{n:12d} {setup:9.2f} {1e3 * up:10.2f} {1e3 * dr:9.1f} "
              f"{renderer.uploaded:12d} {1.0 / (up + dr):6.1f}", flush=True)
        renderer.close()
    print("\nthe whole window (3D view, raster, trace, timeline, labels) at 1280 x 760, "
          "a new frame's values each time:")
    print(f"{'compartments':>12s} {'set-up s':>9s} {'frame ms':>9s} {'fps':>6s}")
    from neurosim.viz.sources import LiveSource
    from neurosim.viz.viewer import Viewer
    for n in args.sizes:
        scene = random_scene(n, rng)
        source = LiveSource(scene)
        for t in range(args.frames + 1):
            source.push(float(t), rng.uniform(-80.0, 40.0, n),
                        (rng.integers(0, n // 100, 50), t + rng.uniform(0, 1, 50)))
        t0 = time.perf_counter()
        viewer = Viewer(source, size=(1280, 760))
        viewer.pick(0)
        viewer.render()
        setup = time.perf_counter() - t0
        frames = []
        for t in range(1, args.frames + 1):
            t0 = time.perf_counter()
            viewer.set_time(float(t))
            viewer.render()
            frames.append(time.perf_counter() - t0)
        f = statistics.median(frames)
        print(f"{n:12d} {setup:9.2f} {1e3 * f:9.1f} {1.0 / f:6.1f}", flush=True)
        viewer.close()


if __name__ == "__main__":
    main()
