"""How ``a * b + c`` rounds in a numba-cuda kernel, against NumPy's separately rounded product and
sum (needs an NVIDIA GPU; benchmarks/gpu_checks.sh runs it).

    python benchmarks/gpu_fma_probe.py

Prints, for 2**18 float32 triples, how many results differ from NumPy with: the default
compilation; NVVM's ``fma`` option off and link-time optimisation off (a patch of numba-cuda's
NVVM entry point, for the experiment only); and libdevice's explicitly rounded ``fmul_rn`` /
``fadd_rn``. Also lists the float instructions of each kernel's PTX.
"""

import numpy as np

if not hasattr(np, "row_stack"):  # numba-cuda 0.2x registers np.row_stack, which NumPy 2.5 removed
    np.row_stack = np.vstack

from numba import cuda  # noqa: E402
from numba.cuda import libdevice  # noqa: E402
from numba.cuda.cudadrv import nvvm  # noqa: E402

N = 1 << 18


def elementwise(device, **jit_options):
    def kernel(out, a, b, c):
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for i in range(start, N, stride):
            out[i] = device(a[i], b[i], c[i])

    return cuda.jit(**jit_options)(kernel)


def report(label: str, kernel, inputs, expected) -> None:
    out = np.zeros(N, np.float32)
    kernel[256, 256](out, *inputs)
    ptx = "\n".join(kernel.inspect_asm().values())
    ops = sorted({line.split()[0] for line in ptx.splitlines() if line.strip().startswith(("fma.", "mul.rn", "add.rn"))})
    print(f"{label}: {np.count_nonzero(out != expected)} of {N} differ; PTX float ops {ops}")


def main() -> None:
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(-70, 40, N).astype(np.float32) for _ in range(3)]
    expected = inputs[0] * inputs[1] + inputs[2]

    report("default", elementwise(cuda.jit(device=True)(lambda a, b, c: a * b + c)), inputs, expected)

    compile_ir = nvvm.compile_ir
    nvvm.compile_ir = lambda ir, **options: compile_ir(ir, **{**options, "fma": False})
    try:
        kernel = elementwise(cuda.jit(device=True)(lambda a, b, c: a * b + c), lto=False)
        report("NVVM fma off, no LTO", kernel, inputs, expected)
    finally:
        nvvm.compile_ir = compile_ir

    rounded = cuda.jit(device=True)(lambda a, b, c: libdevice.fadd_rn(libdevice.fmul_rn(a, b), c))
    report("libdevice fmul_rn / fadd_rn", elementwise(rounded), inputs, expected)


if __name__ == "__main__":
    main()
