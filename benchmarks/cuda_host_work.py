"""What a numba-cuda run does on the host besides its launch: device allocations and copies (with
their bytes), counted on Numba's CUDA simulator, which runs the same backend code as a GPU.

    python benchmarks/cuda_host_work.py BATCH STEPS N_OUT [--stdp] [--v]

Experiment 1's network (100 Poisson inputs -> N_OUT LIF, spike counts monitored; ``--stdp``:
PostPre learning; ``--v``: the voltage monitored too). Counts the third run of the same shapes
(the first two make the arrays a backend may keep). Keep STEPS <= 8, so that the run is one
piece (``pysnn.run_chunks``) however slow the simulator is.
"""

import argparse
import collections
import os
import sys

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"  # before numba.cuda is imported

import numpy as np  # noqa: E402

from pysnn import cuda_support  # noqa: E402
from pysnn.experiments.scaling import input_rates, scaling_network  # noqa: E402

cuda = cuda_support.numba_cuda()
from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray  # noqa: E402

sys.setswitchinterval(cuda_support.SIMULATOR_SWITCH_INTERVAL)

parser = argparse.ArgumentParser(description="device allocations and copies of a numba-cuda run (simulator)")
parser.add_argument("batch", type=int)
parser.add_argument("steps", type=int)
parser.add_argument("n_out", type=int)
parser.add_argument("--stdp", action="store_true", help="PostPre learning on the projection")
parser.add_argument("--v", action="store_true", help="monitor the voltage too")
ARGS = parser.parse_args()

counts: collections.Counter = collections.Counter()
counting = False


def count(kind: str, nbytes: int) -> None:
    if counting:
        counts[kind] += 1
        counts[f"{kind} bytes"] += int(nbytes)


def counted(owner, name: str, note) -> None:
    """Make ``owner.name`` call ``note`` with its arguments first."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        note(*args, **kwargs)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


counted(cuda, "device_array", lambda shape, dtype=np.float64, **_: count("allocations", np.prod(shape) * np.dtype(dtype).itemsize))
counted(cuda, "device_array_like", lambda array, **_: count("allocations", array.nbytes))
counted(cuda, "to_device", lambda array, **_: (count("allocations", array.nbytes), count("from the host", array.nbytes)))
counted(
    FakeCUDAArray,
    "copy_to_device",
    lambda self, source, **_: count("on the device" if isinstance(source, FakeCUDAArray) else "from the host", source.nbytes),
)
counted(FakeCUDAArray, "copy_to_host", lambda self, *_, **__: count("to the host", self.nbytes))

net = scaling_network(ARGS.n_out, stdp=ARGS.stdp)
if ARGS.v:
    net.monitor("y", "v")
sim = net.compile(backend="numba-cuda")
rates = input_rates(ARGS.batch)
for run in range(3):
    counting = run == 2
    sim.run(ARGS.steps, {"x": rates})
for kind in ("allocations", "from the host", "on the device", "to the host"):
    print(f"{kind}: {counts[kind]} ({counts[f'{kind} bytes']} bytes)")
