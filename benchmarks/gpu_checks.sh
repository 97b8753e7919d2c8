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
# 3. the GPU backends (numba-cuda, cupy) on the device: their tests and the shared properties
#    against NumPy (tests/test_cuda_backend.py, tests/test_cupy_backend.py etc.,
#    NUMBA_ENABLE_CUDASIM=0), then benchmarks/gpu_benchmarks.py (experiment 1 on both side by side,
#    bit-identity, analog inputs on the host or the GPU, time to the first step; a table in
#    OUT_DIR/gpu-benchmarks.md);
# 4. the whole test suite against that machine's numpy/numba (8 workers), unless --no-suite.
# Each step's output is also written to OUT_DIR (default $OUT, else /tmp/pysnn-gpu-checks).
set -u
export PYTHONUNBUFFERED=1 PYSNN_CACHE_DIR=/tmp/pysnn-cache NUMBA_ENABLE_CUDASIM=0
suite=1
if [ "${1:-}" = "--no-suite" ]; then suite=0; shift; fi
out=${1:-${OUT:-/tmp/pysnn-gpu-checks}}
mkdir -p "$out"
status=0

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
    echo "## plugin kernels on the device, $dtype"
    python3 -W ignore tests/scripts/cuda_kernels.py "$dtype" 2>&1 | tee "$out/kernels-$dtype.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    echo "## plugin kernels bound for CUDA on the device, $dtype"
    python3 -W ignore tests/scripts/cuda_kernels.py "$dtype" cuda 2>&1 | tee "$out/kernels-cuda-$dtype.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done

echo "## rounding of a * b + c on the device"
python3 -W ignore benchmarks/gpu_fma_probe.py 2>&1 | tee "$out/fma-probe.txt"

echo "## GPU backend tests on the device (numba-cuda, cupy)"
python3 -m pytest -q -x -rs -p no:cacheprovider tests/test_cuda_backend.py tests/test_cupy_backend.py \
    tests/test_backend_equality.py tests/test_batch_independence.py tests/test_learning.py tests/test_learning_terms.py \
    -k "cuda or cupy or compiled or batch or sample_ids" 2>&1 | tee "$out/cuda-tests.txt" | tail -n 15
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "## GPU backend benchmarks"
timeout 420 python3 -W ignore benchmarks/gpu_benchmarks.py "$out" 2>&1 | grep -v "^pysnn: compiling" | tee "$out/benchmarks.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

if [ $suite -eq 1 ]; then
    echo "## test suite"
    python3 -m pytest -q -n 8 -p no:cacheprovider 2>&1 | tee "$out/tests.txt" | tail -n 15
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
exit $status
