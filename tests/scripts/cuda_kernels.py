"""Run every installed plugin kernel as a CUDA device function and compare with NumPy, bit for bit.

tests/test_compile_targets.py starts it with NUMBA_ENABLE_CUDASIM=1 (Numba's CUDA simulator, which
must be chosen before numba.cuda is imported); on a machine with an NVIDIA GPU, run it without
that variable to compile every kernel for the real device (benchmarks/gpu_checks.sh does).
Prints one line per kernel and exits non-zero on a mismatch with the NumPy reference.

    python tests/scripts/cuda_kernels.py [float32|float64] [cpu|cuda]

The second argument is the target the kernels are bound for (``kernel_source.bind_kernel``; default
cpu). On a device, cpu-bound kernels that compute ``a * b + c`` differ from NumPy where the compiler
fuses the two into one multiply-add (benchmarks/gpu_fma_probe.py; benchmarks/RESULTS.md has the
numbers); cuda-bound kernels compute with explicitly rounded operations, which it cannot fuse.
"""

import sys

import numpy as np

from pysnn import registry
from pysnn.cuda_support import numba_cuda, simulated
from pysnn.kernel_source import bind_kernel

cuda = numba_cuda()
SIMULATED = simulated()
N = 37 if SIMULATED else 1 << 18  # the simulator is slow; on a device, many inputs for rare rounding differences
BLOCKS, THREADS = (1, 32) if SIMULATED else (256, 256)  # fewer threads than N: exercises the grid-stride loop
DTYPE = np.dtype(sys.argv[1] if len(sys.argv) > 1 else "float32").type
TARGET = sys.argv[2] if len(sys.argv) > 2 else "cpu"


def sample_args(kernel, rng):
    arrays = []
    for arg, kind in zip(kernel.args, kernel.arg_types):
        if kind == "uint64":
            arrays.append(rng.integers(0, 2**63, N, dtype=np.uint64))
        elif kind == "bool":
            arrays.append(rng.random(N) < 0.5)
        else:
            arrays.append(rng.uniform(-70, 40, N).astype(DTYPE))
    return arrays


def elementwise(device, n_in: int, n_out: int):
    """A grid-stride kernel ``apply(out0, ..., in0, ...)`` calling ``device`` on each element
    (written out per arity: a CUDA kernel cannot take a list of arrays)."""
    outs = [f"out{k}" for k in range(n_out)]
    ins = [f"in{k}" for k in range(n_in)]
    call = f"device({', '.join(f'{a}[e]' for a in ins)})"
    stores = [f"        {outs[0]}[e] = result"] if n_out == 1 else [f"        {o}[e] = result[{k}]" for k, o in enumerate(outs)]
    source = "\n".join([
        f"def apply({', '.join(outs + ins)}):",
        "    start, stride = cuda.grid(1), cuda.gridsize(1)",
        f"    for e in range(start, {N}, stride):",
        f"        result = {call}",
        *stores,
    ])
    namespace = {"cuda": cuda, "device": device}
    exec(source, namespace)
    return cuda.jit(namespace["apply"])


def run_on_device(device, arrays, output_types):
    outputs = [np.zeros(N, bool if t == "bool" else DTYPE) for t in output_types]
    elementwise(device, len(arrays), len(outputs))[BLOCKS, THREADS](*outputs, *arrays)
    return outputs


def differing(expected, got: np.ndarray) -> int:
    """How many elements differ (NaN equals NaN)."""
    expected = np.broadcast_to(np.asarray(expected, got.dtype), got.shape)
    same = expected == got
    if got.dtype.kind == "f":
        same |= np.isnan(expected) & np.isnan(got)
    return int(np.count_nonzero(~same))


def main() -> int:
    if not cuda.is_available():
        print("no CUDA device: run with NUMBA_ENABLE_CUDASIM=1 for Numba's CUDA simulator", file=sys.stderr)
        return 2
    if not SIMULATED:
        from pysnn.kernel_math_jit import register_cuda

        register_cuda()
    rng = np.random.default_rng(0)
    failures = 0
    for kind in ("neuron", "synapse", "encoder", "reduction", "learning_rule"):
        for name in registry.names(kind):
            spec = registry.load(kind, name)
            for kernel in spec.kernels.values():
                bound = bind_kernel(kernel.function, DTYPE, TARGET)
                arrays = sample_args(kernel, rng)
                expected = bound(*arrays)
                expected = expected if isinstance(expected, tuple) else (expected,)
                got = run_on_device(cuda.jit(device=True)(bound), arrays, kernel.output_types)
                differ = sum(differing(e, g) for e, g in zip(expected, got))
                failures += differ > 0
                print(f"{kind} {name} {kernel.name}: " + (f"MISMATCH ({differ} of {N} elements)" if differ else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
