#!/usr/bin/env bash
# Checks for a machine with an NVIDIA GPU and no network (the image brings numba, numba-cuda,
# numpy, pytest, pytest-xdist, hypothesis and setuptools): run from the repository root.
#
#   bash benchmarks/gpu_checks.sh [--no-suite] [OUT_DIR]
#
# 1. the card, driver and package versions;
# 2. every installed plugin kernel compiled for the real device and compared with NumPy, bit for
#    bit, in float32 and float64 (tests/scripts/cuda_kernels.py; CI runs it under the simulator),
#    bound for the CPU (multiply-adds fused) and for CUDA (explicitly rounded arithmetic), and how
#    a * b + c rounds there (benchmarks/gpu_fma_probe.py);
# 3. the whole test suite against that machine's numpy/numba (8 workers), unless --no-suite.
# Each step's output is also written to OUT_DIR (default $OUT, else /tmp/pysnn-gpu-checks).
set -u
export PYTHONUNBUFFERED=1 PYSNN_CACHE_DIR=/tmp/pysnn-cache
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
if not hasattr(numpy, "row_stack"):  # as in tests/scripts/cuda_kernels.py
    numpy.row_stack = numpy.vstack
from numba import cuda
device = cuda.get_current_device()
print(f"python {platform.python_version()}, numpy {numpy.__version__}, numba {numba.__version__}, "
      f"numba-cuda {version('numba-cuda')}, {device.name.decode() if isinstance(device.name, bytes) else device.name}, "
      f"compute capability {device.compute_capability}")
EOF

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

if [ $suite -eq 1 ]; then
    echo "## test suite"
    python3 -m pytest -q -n 8 -p no:cacheprovider 2>&1 | tee "$out/tests.txt" | tail -n 15
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
exit $status
