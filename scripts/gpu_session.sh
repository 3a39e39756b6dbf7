#!/usr/bin/env bash
# The GPU measurements of docs/gpu.md, for a session lent a GPU machine (the device tool:
# 15 minutes of device time in all, a start included; no network there; its image has
# numba-cuda, CuPy, h5py and pytest, not neurosim's other needs).  Here, first, once:
# fetch the missing wheels (Python 3.12, x86-64) into .whl/ (ignored by git):
#
#     bash scripts/gpu_session.sh wheels
#
# Then ONE device call, naming .whl in `carry`, with timeout_s 560 (it plans for ~7 min):
#
#     bash scripts/gpu_session.sh all      # tests, launch costs, benchmarks, CPU on all cores
#     SECTIONS="tests ring5" bash scripts/gpu_session.sh all    # some of them
#     bash scripts/gpu_session.sh tests    # the GPU tests alone (a re-check after a fix)
#
# `all` runs side by side what can share the machine: the GPU tests (8 workers) and the
# CPU benchmark's compile, while the GPU benchmark sets up; each timed section waits until
# the machine is otherwise idle (flag files).  Logs go to $OUT as they are written (the
# device tool brings back what is there, even after a timeout).  The first call of a
# session took 371 s (a fresh machine started in ~30 s more).
set -uo pipefail
cd "$(dirname "$0")/.."
step=${1:?"wheels | all | tests"}
OUT=${OUT:-/tmp/neurosim_gpu}
mkdir -p "$OUT"

if [ "$step" = wheels ]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl morphio lark bmtk 'numpy<2.5'
    exit
fi

# on the GPU machine: the carried wheels, then neurosim itself (no index, no build deps).
# numba-cuda (0.30.4, in maintenance mode) cannot load its CUDA target under NumPy 2.5
# (np.row_stack is gone: NVIDIA/numba-cuda#907): where the image's NumPy is 2.5 or newer,
# the carried NumPy 2.4 takes its place for these processes.
start=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site $(ls .whl/*.whl | grep -v /numpy-) || exit
python3 -c "import numpy, sys; sys.exit(not hasattr(numpy, 'row_stack'))" || \
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/numpy-*.whl || exit
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 NEUROSIM_CACHE_DIR=/tmp/neurosim_cache
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit
{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem \
        --format=csv
    nvidia-smi | head -4 | tail -1
    python3 -c "import sys, numba, numba_cuda, cupy, numpy
from numba import cuda
print('python', sys.version.split()[0], 'numpy', numpy.__version__, 'numba', numba.__version__,
      'numba-cuda', numba_cuda.__version__, 'cupy', cupy.__version__)
print('CUDA runtime', cuda.runtime.get_version(), 'driver', cuda.cudadrv.driver.driver.get_version())
print(cuda.get_current_device().name, 'cc', cuda.get_current_device().compute_capability)"
    nproc; lscpu | grep -i "model name"
} 2>&1 | tee "$OUT/gpu.txt"

tests() {
    NEUROSIM_TEST_GPU=1 timeout "$1" python3 -m pytest -q -n 8 -p no:cacheprovider \
        tests/backends/test_cuda_backend.py tests/backends/test_dhs.py tests/backends/test_cuda_kernels.py \
        > "$OUT/tests.log" 2>&1
    echo "pytest exit $? after $(( $(date +%s) - start )) s" >> "$OUT/tests.log"
}

if [ "$step" = tests ]; then
    tests 400
    tail -5 "$OUT/tests.log"
    exit
fi
[ "$step" = all ] || { echo "unknown step $step" >&2; exit 2; }

flags=/tmp/neurosim_flags
rm -rf "$flags" && mkdir -p "$flags"
log() { echo "[$(( $(date +%s) - start )) s] $*" | tee -a "$OUT/session.log"; }
# the parts to run (all by default): launch tests cpu ring5 ring34 allen
SECTIONS=" ${SECTIONS:-launch tests cpu ring5 ring34 allen} "
want() { [[ "$SECTIONS" == *" $1 "* ]]; }
left() { [ $(( $(date +%s) - start )) -lt "$1" ]; }     # before second $1 of the call?

if want launch; then
    log "launch costs and copy bandwidth"
    (cd scripts && timeout 60 python3 gpu_launch.py) > "$OUT/launch.txt" 2>&1
fi
if want tests; then
    log "tests (background, 8 workers)"
    (tests 240; touch "$flags/tests") &
else
    touch "$flags/tests"
fi
if want cpu; then
    log "CPU benchmark compiling (background; timed after the GPU's)"
    (cd scripts && timeout 500 python3 bench_gpu.py --backends cpu --threads "$(nproc)" \
        --cells 1000 10000 --cpu-max 10000 --compartments 300 --tstop 2 \
        --wait-for "$flags/gpu" > "$OUT/cpu.txt" 2>&1; touch "$flags/cpu") &
fi

bench() {        # one bench_gpu.py run: a time limit, then the arguments
    local limit=$1; shift
    (cd scripts && timeout "$limit" python3 bench_gpu.py --backends cuda --tstop 2 \
        --stages 8 --wait-for "$flags/tests" "$@") >> "$OUT/bench.txt" 2>&1
    echo "exit $?" >> "$OUT/bench.txt"
}
if want ring5; then
    log "10^5 ring cells, float64 (set-up while the tests run)"
    bench 330 --cells 100000 --compartments 300 --precisions float64 --solve dhs16 dhs32
fi
if want ring34 && left 300; then
    log "10^3, 10^4 ring cells: float64, float32; DHS lanes 32; one thread per cell"
    bench 120 --cells 1000 10000 --compartments 300 --solve dhs16 dhs32 hines
    log "10^4 ring cells without CUDA graphs (kernel by kernel)"
    echo "# NEUROSIM_CUDA_GRAPHS=0" >> "$OUT/bench.txt"
    NEUROSIM_CUDA_GRAPHS=0 bench 60 --cells 10000 --compartments 300 --precisions float64
fi
if want allen && left 330; then
    log "3000 Allen cells (DeepDendrite's benchmark): DHS 16, one thread per cell"
    bench 100 --model allen --cells 3000 --solve dhs16 hines
fi
touch "$flags/gpu"
want cpu && log "CPU benchmark timing on all cores"
wait
log "done"
