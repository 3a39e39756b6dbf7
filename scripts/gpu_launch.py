"""What a kernel launch costs the host with numba-cuda, and what the device's memory moves:
the ceilings against which scripts/bench_gpu.py's figures are read.  Needs a GPU.

* host microseconds per launch of a one-thread-per-element kernel given 1, 4 or 16
  arrays, as numba-cuda device arrays and as CuPy arrays (numba-cuda imports those through
  ``__cuda_array_interface__`` at each launch and synchronises the stream they name);
* whether a launch waits for the kernels before it: 20 launches queued behind a kernel that
  keeps the GPU busy for ~20 ms return at once, or only after it;
* the device's copy bandwidth (bytes read + written per second), CuPy and a numba kernel.

    python scripts/gpu_launch.py
"""

import time

import numpy as np
from numba import cuda


@cuda.jit
def touch1(a0):
    i = cuda.grid(1)
    if i < a0.shape[0]:
        a0[i] += 1.0


@cuda.jit
def touch4(a0, a1, a2, a3):
    i = cuda.grid(1)
    if i < a0.shape[0]:
        a0[i] += a1[i] + a2[i] + a3[i]


@cuda.jit
def touch16(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15):
    i = cuda.grid(1)
    if i < a0.shape[0]:
        a0[i] += a1[i] + a2[i] + a3[i] + a4[i] + a5[i] + a6[i] + a7[i] + a8[i] + \
            a9[i] + a10[i] + a11[i] + a12[i] + a13[i] + a14[i] + a15[i]


@cuda.jit
def spin(a, n):
    """Keeps one thread busy for n dependent iterations."""
    if cuda.grid(1) == 0:
        x = a[0]
        for k in range(n):
            x = x * 0.999999 + 1e-6
        a[0] = x


@cuda.jit
def copy(src, dst):
    i = cuda.grid(1)
    if i < src.shape[0]:
        dst[i] = src[i]


def per_launch(kernel, arrays, launches=2000):
    """Host microseconds per launch (after a warm-up launch), the device drained after."""
    n = arrays[0].shape[0]
    kernel[(n + 127) // 128, 128](*arrays)
    cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(launches):
        kernel[(n + 127) // 128, 128](*arrays)
    host = time.perf_counter() - t0
    cuda.synchronize()
    return host / launches * 1e6


def waits(kernel, arrays, busy):
    """Seconds the host spends queuing 20 launches behind a long kernel."""
    spin[1, 1](busy, 1)
    cuda.synchronize()
    n = arrays[0].shape[0]
    spin[1, 1](busy, 2_000_000)
    t0 = time.perf_counter()
    for _ in range(20):
        kernel[(n + 127) // 128, 128](*arrays)
    host = time.perf_counter() - t0
    cuda.synchronize()
    return host


def bandwidth(n=1 << 28):
    """Device copy bandwidth, bytes read + written per second: (CuPy, numba kernel)."""
    import cupy
    src, dst = cupy.ones(n), cupy.empty(n)
    rates = []
    for do in (lambda: cupy.copyto(dst, src),
               lambda: copy[(n + 255) // 256, 256](cuda.as_cuda_array(src, sync=False),
                                                   cuda.as_cuda_array(dst, sync=False))):
        do()
        cupy.cuda.Device().synchronize()
        t0 = time.perf_counter()
        for _ in range(10):
            do()
        cupy.cuda.Device().synchronize()
        rates.append(2 * 8 * n * 10 / (time.perf_counter() - t0))
    return rates


def main():
    import cupy
    n = 4096
    host = [np.ones(n) for _ in range(16)]
    kinds = {"numba": [cuda.to_device(a) for a in host],
             "cupy": [cupy.asarray(a) for a in host]}
    print(f"{'arrays':>6s} {'numba us':>9s} {'cupy us':>8s}   (host time per launch, "
          f"{n} threads)")
    for kernel, k in ((touch1, 1), (touch4, 4), (touch16, 16)):
        print(f"{k:6d} {per_launch(kernel, kinds['numba'][:k]):9.1f} "
              f"{per_launch(kernel, kinds['cupy'][:k]):8.1f}", flush=True)
    busy = cuda.to_device(np.ones(1))
    for name, arrays in kinds.items():
        print(f"20 launches behind a busy GPU, {name} arrays: host "
              f"{waits(touch4, arrays[:4], busy) * 1e3:.2f} ms", flush=True)
    a, b = bandwidth()
    print(f"device copy, bytes read + written: CuPy {a / 1e12:.2f} TB/s, numba kernel "
          f"{b / 1e12:.2f} TB/s", flush=True)


if __name__ == "__main__":
    main()
