#!/usr/bin/env bash
# The GPU measurements of docs/gpu.md, for a session lent a GPU machine (the device tool:
# no network there; its image has CuPy, numba-cuda, h5py and pytest, not neurosim's other
# needs).  Here, first, once: fetch the missing wheels (Python 3.12, x86-64) into .whl/:
#
#     bash scripts/gpu_session.sh wheels
#
# Then one device call per step, each naming .whl in `carry` (each ends well inside 10 min):
#
#     bash scripts/gpu_session.sh tests        # the GPU backend's tests on the GPU
#     bash scripts/gpu_session.sh bench-small  # bench_gpu.py: up to 3e6 compartments
#     bash scripts/gpu_session.sh bench-large  # bench_gpu.py: 10^5 x 300, 10^4 x 3000
#
# Logs go to $OUT (the device tool brings them back).
set -uo pipefail
cd "$(dirname "$0")/.."
step=${1:?"wheels | tests | bench-small | bench-large"}
OUT=${OUT:-/tmp/neurosim_gpu}
mkdir -p "$OUT"

if [ "$step" = wheels ]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl morphio lark bmtk
    exit
fi

# on the GPU machine: the carried wheels, then neurosim itself (no index, no build deps)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import numba, numba_cuda, cupy; print('numba', numba.__version__, 'numba-cuda',
numba_cuda.__version__, 'cupy', cupy.__version__)" | tee -a "$OUT/gpu.txt"

case "$step" in
    tests)
        NEUROSIM_TEST_GPU=1 python3 -m pytest -q -x tests/test_cuda_backend.py \
            tests/test_dhs.py tests/test_cuda_kernels.py 2>&1 | tee "$OUT/tests.log" ;;
    bench-small)
        python3 scripts/bench_gpu.py --cells 1000 10000 --compartments 300 \
            2>&1 | tee "$OUT/bench_small.txt"
        python3 scripts/bench_gpu.py --cells 1000 --compartments 3000 \
            2>&1 | tee -a "$OUT/bench_small.txt" ;;
    bench-large)
        python3 scripts/bench_gpu.py --cells 100000 --compartments 300 --cpu-max 0 \
            2>&1 | tee "$OUT/bench_large.txt"
        python3 scripts/bench_gpu.py --cells 10000 --compartments 3000 --cpu-max 0 \
            2>&1 | tee -a "$OUT/bench_large.txt" ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
esac
