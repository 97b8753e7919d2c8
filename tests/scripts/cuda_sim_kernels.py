"""Run every installed plugin kernel as a CUDA device function under Numba's CUDA simulator.

Started by tests/test_cuda_simulator.py with NUMBA_ENABLE_CUDASIM=1 (the simulator must be
chosen before numba.cuda is imported). Prints one line per kernel and exits non-zero on a
mismatch with the NumPy reference.
"""

import sys

import numpy as np
from numba import cuda

from pysnn import registry
from pysnn.kernel_source import bind_kernel

N = 37  # elements, more than the 32 threads of the launch: exercises the grid-stride loop
DTYPE = np.float32


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


def run_on_simulator(device, arrays, n_outputs, output_types):
    outputs = [np.zeros(N, bool if t == "bool" else DTYPE) for t in output_types]

    @cuda.jit
    def apply(outs, ins):
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for e in range(start, N, stride):
            result = device(*[a[e] for a in ins])
            result = result if isinstance(result, tuple) else (result,)
            for o in range(n_outputs):
                outs[o][e] = result[o]

    apply[1, 32](outputs, arrays)
    return outputs


def main() -> int:
    assert cuda.is_available(), "run with NUMBA_ENABLE_CUDASIM=1"
    rng = np.random.default_rng(0)
    failures = 0
    for kind in ("neuron", "synapse", "encoder", "reduction"):
        for name in registry.names(kind):
            spec = registry.load(kind, name)
            for kernel in spec.kernels.values():
                bound = bind_kernel(kernel.function, DTYPE)
                arrays = sample_args(kernel, rng)
                expected = bound(*arrays)
                expected = expected if isinstance(expected, tuple) else (expected,)
                got = run_on_simulator(cuda.jit(device=True)(bound), arrays, len(kernel.outputs), kernel.output_types)
                same = all(
                    np.array_equal(np.broadcast_to(np.asarray(e, g.dtype), g.shape), g, equal_nan=True)
                    for e, g in zip(expected, got)
                )
                failures += not same
                print(f"{kind} {name} {kernel.name}: {'ok' if same else 'MISMATCH'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
