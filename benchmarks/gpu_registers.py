"""Registers per thread of numba-cuda's run kernels, and how many blocks of each size an H200
holds at once, without a GPU: each kernel compiled to PTX for compute capability 9.0
(tests/scripts/cuda_ptx.py) and assembled by the CUDA toolkit's ``ptxas -v``, as generated and
with a launch bound of 1024 threads (``NumbaCUDABackend.launch_bound``).

    python benchmarks/gpu_registers.py     (ptxas on PATH; not under NUMBA_ENABLE_CUDASIM)

Resident blocks follow the CUDA occupancy rules for compute capability 9.0 (per multiprocessor:
65 536 registers, allocated per warp in units of 256; 2048 threads; 32 blocks; 132
multiprocessors); shared memory (4 KB per block for the spike lists) does not limit them. On a
GPU the backend asks the driver instead (``max_cooperative_grid_blocks``). The last columns are
the block size ``block_size`` would choose at batch 1, 64 and 1024 (n: samples take turns).
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0":
    sys.exit("gpu_registers.py compiles for a real GPU: run it without NUMBA_ENABLE_CUDASIM")
sys.path.insert(0, str(Path(__file__).parent.parent / "tests" / "scripts"))

import cuda_ptx  # noqa: E402  (numba-cuda, with a stand-in device of compute capability 9.0)

import numpy as np  # noqa: E402

from pysnn import kernel_math_jit  # noqa: E402
from pysnn.experiments.diehl_cook import INPUT, diehl_cook_network  # noqa: E402
from pysnn.experiments.scaling import input_rates, scaling_network  # noqa: E402
from pysnn_cuda.backend import BLOCK_SIZES, block_size  # noqa: E402

MULTIPROCESSORS, REGISTERS, THREADS, BLOCKS = 132, 65536, 2048, 32
"""An H200's multiprocessors, and each one's registers, threads and blocks."""


def resident(registers: int, threads: int) -> int:
    """Blocks of ``threads`` threads the GPU holds at once, at ``registers`` per thread."""
    per_warp = -(-registers * 32 // 256) * 256
    by_registers = REGISTERS // (per_warp * (threads // 32))
    return MULTIPROCESSORS * min(BLOCKS, THREADS // threads, by_registers)


def assemble(ptx: str) -> tuple[int, int, int]:
    """Registers, spill stores and spill loads (bytes) of a kernel, from ``ptxas -v``. PTX of a
    newer ISA than this ptxas reads is relabelled to the ISA it reads (ptxas fails on anything
    it does not know)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kernel.ptx"
        for _ in range(2):
            path.write_text(ptx)
            done = subprocess.run(["ptxas", "-arch=sm_90", "-c", "-v", str(path), "-o", os.devnull],
                                  capture_output=True, text=True)
            newer = re.search(r"Unsupported \.version (\S+); current version is '(\S+)'", done.stderr)
            if newer is None:
                break
            ptx = ptx.replace(f".version {newer[1]}", f".version {newer[2]}")
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    registers = int(re.search(r"Used (\d+) registers", done.stderr)[1])
    stores, loads = map(int, re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", done.stderr).groups())
    return registers, stores, loads


def networks():
    """(label, network, run, the largest population of the real experiment): small networks
    with the experiments' structure, whose kernels are the experiments' (sizes are arguments)."""
    rates = {"x": input_rates(2)}
    yield "experiment 1", scaling_network(10), {"steps": 3, "inputs": rates}, 1000
    yield "experiment 1, PostPre", scaling_network(10, stdp=True), {"steps": 3, "inputs": rates}, 1000
    yield "Diehl & Cook", diehl_cook_network(10), {"steps": 3, "inputs": {INPUT: np.zeros((2, 784), np.float32)}}, 784


def main() -> int:
    kernel_math_jit.register_cuda()
    print("| network | kernel | launch bound | registers | spills (stores / loads, B) | "
          + " | ".join(f"blocks of {t}" for t in BLOCK_SIZES) + " | size at batch 1 / 64 / 1024 |")
    print("|---|---|---|---:|---:|" + "---:|" * len(BLOCK_SIZES) + "---|")
    for label, net, run, neurons in networks():
        sim = net.compile(backend="numpy")
        for bound in (None, 1024):
            for kernel, ptx in cuda_ptx.run_kernel_ptx(sim, run, launch_bound=bound):
                registers, stores, loads = assemble(ptx)
                blocks = [resident(registers, t) for t in BLOCK_SIZES]
                chosen = []
                for batch in (1, 64, 1024):
                    size = block_size(lambda t: resident(registers, t), batch, neurons)
                    chosen.append(f"{size}{'' if batch <= resident(registers, size) else ' (n)'}")
                print(f"| {label} | {kernel} | {bound or 'none'} | {registers} | {stores} / {loads} | "
                      + " | ".join(map(str, blocks)) + f" | {' / '.join(chosen)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
