#!/usr/bin/env bash
# Checks for a machine with an NVIDIA GPU and no network (the image brings numba, numba-cuda,
# cupy, numpy, pytest, pytest-xdist, hypothesis and setuptools): run from the repository root.
#
#   bash benchmarks/gpu_checks.sh [--no-suite] [OUT_DIR]
#
# 1. the card, driver and package versions;
# 2. every installed plugin kernel compiled for the real device and compared with NumPy, bit for
#    bit, in float32 and float64 (tests/scripts/cuda_kernels.py; CI runs it under the simulator),
#    bound for the CPU (multiply-adds fused) and for CUDA (explicitly rounded arithmetic), and how
#    a * b + c rounds there (benchmarks/gpu_fma_probe.py);
# 3. benchmarks/gpu_benchmarks.py: experiment 1 on both GPU backends side by side, bit-identity,
#    analog inputs on the host or the GPU, the block size, a run's fixed cost, the time to the
#    first step (a table in OUT_DIR/gpu-benchmarks.md);
# 4. the GPU backends' tests and the shared properties against NumPy on the device
#    (tests/test_cuda_backend.py, tests/test_cupy_backend.py etc., NUMBA_ENABLE_CUDASIM=0);
# 5. the whole test suite against that machine's numpy/numba (8 workers), unless --no-suite.
# A device is lent for minutes, so the script keeps to a budget (GPU_CHECKS_SECONDS, default 480):
# each step has a cap, and no step outlives the budget; what comes first is what only a GPU can
# tell. Each step's output is written to OUT_DIR (default $OUT, else /tmp/pysnn-gpu-checks), and its
# last lines to the terminal.
set -u
export PYTHONUNBUFFERED=1 PYSNN_CACHE_DIR=/tmp/pysnn-cache NUMBA_ENABLE_CUDASIM=0
suite=1
if [ "${1:-}" = "--no-suite" ]; then suite=0; shift; fi
out=${1:-${OUT:-/tmp/pysnn-gpu-checks}}
mkdir -p "$out"
deadline=$((SECONDS + ${GPU_CHECKS_SECONDS:-480}))
status=0

step() {  # step NAME CAP LINES COMMAND...: COMMAND for at most CAP seconds (less if the budget ends sooner)
    local name=$1 cap=$2 lines=$3 left code
    shift 3
    left=$((deadline - SECONDS))
    if [ "$left" -lt "$cap" ]; then cap=$left; fi
    if [ "$cap" -lt 10 ]; then
        echo "## $name: not run, the budget is spent"
        status=1
        return
    fi
    echo "## $name (at most $cap s)"
    timeout "$cap" "$@" >"$out/$name.txt" 2>&1
    code=$?
    grep -v "^pysnn: compiling" "$out/$name.txt" | tail -n "$lines"
    if [ "$code" -ne 0 ]; then
        echo "## $name: exit status $code$([ "$code" -eq 124 ] && echo ", out of time")"
        status=1
    fi
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/device.txt"
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . -e plugins/qif_example || exit 1
python3 - <<'EOF' | tee -a "$out/device.txt"
import platform, numba, numpy
from importlib.metadata import version
from pysnn.cuda_support import numba_cuda
cuda = numba_cuda()
device = cuda.get_current_device()
print(f"python {platform.python_version()}, numpy {numpy.__version__}, numba {numba.__version__}, "
      f"numba-cuda {version('numba-cuda')}, {device.name.decode() if isinstance(device.name, bytes) else device.name}, "
      f"compute capability {device.compute_capability}")
EOF
python3 -c "from pysnn.cli import main; main(['backends'])" 2>&1 | tee -a "$out/device.txt"

for dtype in float32 float64; do
    step "kernels-$dtype" 60 40 python3 -W ignore tests/scripts/cuda_kernels.py "$dtype"
    step "kernels-cuda-$dtype" 60 40 python3 -W ignore tests/scripts/cuda_kernels.py "$dtype" cuda
done
step fma-probe 30 10 python3 -W ignore benchmarks/gpu_fma_probe.py
step benchmarks 240 60 python3 -W ignore benchmarks/gpu_benchmarks.py "$out"
step cuda-tests 200 15 python3 -m pytest -q -x -rs -n 4 -p no:cacheprovider tests/test_cuda_backend.py \
    tests/test_cupy_backend.py tests/test_backend_equality.py tests/test_batch_independence.py tests/test_learning.py \
    tests/test_learning_terms.py -k "cuda or cupy or compiled or batch or sample_ids"
if [ $suite -eq 1 ]; then
    step tests 600 15 python3 -m pytest -q -n 8 -p no:cacheprovider
fi
exit $status
