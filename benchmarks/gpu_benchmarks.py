"""The GPU backends (numba-cuda, cupy) on a real GPU: the paper's experiment 1 for both side by
side, bit-identity with NumPy on the same runs, per-step analog inputs given on the host or
already on the GPU, numba-cuda's launch bound and block size against alternatives, what a run
costs besides its steps, and the time to the first step (benchmarks/gpu_checks.sh runs it).

    python benchmarks/gpu_benchmarks.py OUT_DIR [--smoke] [--backends numba-cuda,cupy]

Writes OUT_DIR/gpu-benchmarks.md (a table, with the issue's targets) and .json. Each timing is
the best wall-clock of ``Simulation.run`` over a few runs (``pysnn.experiments.scaling``);
numba-cpu runs beside them on the same machine's cores, for a ratio measured in one run.
``--backends`` (default: both, those that can run here) chooses the GPU backends.
``--smoke`` runs every part at tiny sizes (10 neurons, 5 steps), to check the script itself, e.g.
on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pysnn import Dense, Network, cuda_support, registry
from pysnn.experiments.scaling import TABLE_HEADER, input_rates, scaling, scaling_network, table_row, time_runs

TARGETS = {  # (backend, learning, n_out, batch) -> seconds per 1000 steps (issue 9)
    ("numba-cuda", False, 1000, 1): 0.002,
    ("numba-cuda", False, 1000, 1024): 0.010,
    ("numba-cuda", True, 1000, 1024): 0.050,
    ("numba-cuda", False, 10000, 1024): 0.2,
}
CUPY_RATIO = 2.0
"""Target: cupy within this factor of numba-cuda's time at batch >= 256 (issue 9)."""
FIRST_STEP = """
import time; start = time.perf_counter()
import numpy as np, pysnn
from pysnn.experiments.scaling import scaling_network, input_rates
sim = scaling_network(1000).compile(backend="numba-cuda")
sim.run(1, {"x": input_rates(1)})
print(time.perf_counter() - start)
"""


parser = argparse.ArgumentParser(description="GPU backends: experiment 1, bit-identity, analog inputs, first step")
parser.add_argument("out", nargs="?", default=".", type=Path, help="folder of gpu-benchmarks.md and .json")
parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script (e.g. on the simulator)")
parser.add_argument("--backends", default="numba-cuda,cupy", help="GPU backends, comma-separated (those that run here)")
ARGS = parser.parse_args()
SMOKE = ARGS.smoke
if cuda_support.simulated():
    sys.setswitchinterval(cuda_support.SIMULATOR_SWITCH_INTERVAL)
SIZE, STEPS = (10, 5) if SMOKE else (1000, 1000)
GPU_BACKENDS = [b for b in ARGS.backends.split(",") if registry.load("backend", b).unavailable() is None]


def timings() -> list[dict]:
    rows = []
    gpu_points = [(False, [1000], [1, 16, 64, 256, 1024]), (True, [1000], [1, 64, 1024]), (False, [10000], [1, 1024])]
    points = [(backend, *point) for point in gpu_points for backend in GPU_BACKENDS] + [
        ("numba-cpu", False, [1000], [1, 1024]),
        ("numba-cpu", True, [1000], [1, 64]),
    ]
    for backend, stdp, n_outs, batches in points:
        if SMOKE:
            n_outs, batches = [SIZE], [b for b in batches if b <= 64][:2]  # the simulator is slow
        for timing in scaling(backend, n_outs, batches, steps=STEPS, stdp=stdp, repeats=3):
            target = TARGETS.get((backend, stdp, timing.n_out, timing.batch))
            rows.append(timing.as_dict() | {"target_seconds": target, "row": table_row(timing)})
            print(rows[-1]["row"] + (f" target {target} s" if target else ""), flush=True)
    return rows


def cupy_ratios(rows: list[dict]) -> list[dict]:
    """cupy's time over numba-cuda's at each point of batch >= 256 that both ran."""
    seconds_at = {(r["backend"], r["stdp"], r["n_out"], r["batch"]): r["seconds"] for r in rows}
    ratios = []
    for (backend, stdp, n_out, batch), seconds in seconds_at.items():
        if backend == "cupy" and batch >= 256 and ("numba-cuda", stdp, n_out, batch) in seconds_at:
            ratio = seconds / seconds_at[("numba-cuda", stdp, n_out, batch)]
            ratios.append({"learning": stdp, "n_out": n_out, "batch": batch, "ratio": ratio, "met": ratio <= CUPY_RATIO})
            print(f"cupy / numba-cuda, learning={stdp}, n_out {n_out}, batch {batch}: {ratio:.2f} "
                  f"(target <= {CUPY_RATIO})", flush=True)
    return ratios


def launch_shapes() -> list[dict]:
    """numba-cuda's experiment 1 without learning, side by side: as it runs (kernels bound to
    1024 threads per block, so 64 registers, and the block size ``block_size`` chooses per
    batch), without the bound (the compiler's registers), and with 128 threads per block always."""
    from pysnn_cuda.backend import BLOCK_SIZES, NumbaCUDABackend

    rows = []
    sim = scaling_network(SIZE).compile(backend="numba-cuda")
    shapes = [(NumbaCUDABackend.launch_bound, BLOCK_SIZES), (None, BLOCK_SIZES), (NumbaCUDABackend.launch_bound, (128,))]
    for batch in (1, 4) if SMOKE else (1, 64, 1024):
        for bound, sizes in shapes:
            sim._engine.launch_bound, sim._engine.block_sizes = bound, sizes  # the backend's own choices
            seconds, _ = time_runs(sim, input_rates(batch), STEPS, repeats=3)
            rows.append({"batch": batch, "launch_bound": bound, "block_sizes": sizes, "seconds": seconds})
            print(f"numba-cuda, batch {batch}, launch bound {bound}, blocks of {'/'.join(map(str, sizes))} threads: "
                  f"{seconds * 1000:.2f} ms", flush=True)
    return rows


def fixed_cost() -> list[dict]:
    """What a run costs besides its steps (checks, copies, allocations, the launch), and what a
    step costs: a run of one step of experiment 1 against one of ``STEPS``, per GPU backend."""
    rows = []
    for backend in GPU_BACKENDS:
        sim = scaling_network(SIZE).compile(backend=backend)
        for batch in (1, 4) if SMOKE else (1, 1024):
            one, _ = time_runs(sim, input_rates(batch), 1, repeats=5)
            full, _ = time_runs(sim, input_rates(batch), STEPS, repeats=3)
            step = (full - one) / (STEPS - 1)
            rows.append({"backend": backend, "batch": batch, "run_seconds": one, "step_seconds": step})
            print(f"{backend}, batch {batch}: a run costs {one * 1e3:.3f} ms besides its steps, a step {step * 1e6:.2f} us",
                  flush=True)
    return rows


def identical_to_numpy() -> list[dict]:
    """Spike counts, final state and learned weights of each GPU backend and numpy, bit for bit."""
    checks = []
    for stdp, batch, steps in ((False, 64, STEPS), (True, 16, STEPS // 3)):
        rates = input_rates(batch)
        arrays = {}
        for backend in ("numpy", *GPU_BACKENDS):
            sim = scaling_network(SIZE, stdp=stdp).compile(backend=backend)
            out = sim.run(steps, {"x": rates})
            arrays[backend] = [out.spike_counts("y"), sim.state("y", "v"), sim.weights("x->y")]
        for backend in GPU_BACKENDS:
            same = all(a.tobytes() == b.tobytes() for a, b in zip(arrays["numpy"], arrays[backend]))
            checks.append({"backend": backend, "learning": stdp, "batch": batch, "steps": steps, "identical": same,
                           "spikes": int(arrays["numpy"][0].sum())})
            print(f"{backend} == numpy, learning={stdp}, batch {batch}, {steps} steps: {same}", flush=True)
    return checks


def analog_inputs() -> list[dict]:
    """Per-step analog input (a current per input, step and sample, as in the paper's experiment
    2), 784 -> 1000 LIF, 100 steps at batch 256: numba-cuda copies the input from the host every
    run; cupy reads it where it is, on the host (copied) or on the GPU (a CuPy array)."""
    steps, batch, n_in, n_out = (5, 4, 10, 10) if SMOKE else (100, 256, 784, 1000)
    rng = np.random.default_rng(0)
    net = Network()
    net.add_input("x", n_in, encoder="current")
    net.add_population("y", n_out, model="lif")
    net.connect("x", "y", Dense(rng.uniform(0.0, 0.05, (n_in, n_out))))
    net.monitor("y", "spike_counts")
    data = rng.uniform(0.0, 1.0, (steps, batch, n_in)).astype(np.float32)
    rows = []
    for backend in GPU_BACKENDS:
        sim = net.compile(backend=backend)
        for where in ("host", "gpu") if backend == "cupy" else ("host",):
            inputs = {"x": cuda_support.cupy_module().asarray(data) if where == "gpu" else data}
            sim.reset()
            sim.run(inputs=inputs)  # compile (or load from cache) outside the timed runs
            best = np.inf
            for _ in range(3):
                sim.reset()
                start = time.perf_counter()
                sim.run(inputs=inputs)
                best = min(best, time.perf_counter() - start)
            rows.append({"backend": backend, "input_on": where, "steps": steps, "batch": batch, "seconds": best})
            print(f"analog input on the {where}, {backend}: {steps} steps of batch {batch}, {n_in} -> {n_out}: "
                  f"{best * 1000:.2f} ms", flush=True)
    return rows


def first_step() -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYSNN_CACHE_DIR": cache}
        runs = [float(subprocess.run([sys.executable, "-c", FIRST_STEP], env=env, capture_output=True, text=True,
                                     check=True).stdout.split()[-1]) for _ in range(2)]
    print(f"time to first step (numba-cuda, scaling network): cold {runs[0]:.2f} s, cached {runs[1]:.2f} s", flush=True)
    return {"cold_seconds": runs[0], "cached_seconds": runs[1]}


def main() -> int:
    out = ARGS.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = {"first_step": first_step(), "identical": identical_to_numpy(), "timings": timings()}
    results["cupy_ratios"] = cupy_ratios(results["timings"])
    results["analog_inputs"] = analog_inputs()
    results["launch_shapes"] = launch_shapes() if "numba-cuda" in GPU_BACKENDS else []
    results["fixed_cost"] = fixed_cost()
    title = f"## {', '.join(GPU_BACKENDS)}, experiment 1 (best of 3 runs of {STEPS} steps)"
    lines = [title, "", TABLE_HEADER, *(r["row"] for r in results["timings"])]
    lines += ["", "Targets (s per 1000 steps): " + ", ".join(f"{k}: {v}" for k, v in TARGETS.items()), ""]
    lines += [f"- cupy / numba-cuda (target <= {CUPY_RATIO}): {r}" for r in results["cupy_ratios"]]
    lines += [f"- per-step analog input: {r}" for r in results["analog_inputs"]]
    lines += [f"- launch shape: {r}" for r in results["launch_shapes"]]
    lines += [f"- a run besides its steps, and a step: {r}" for r in results["fixed_cost"]]
    lines += [f"- identical to numpy: {c}" for c in results["identical"]]
    lines += [f"- time to first step: {results['first_step']}", f"- benchmark wall-clock {time.perf_counter() - started:.0f} s"]
    (out / "gpu-benchmarks.md").write_text("\n".join(lines) + "\n")
    (out / "gpu-benchmarks.json").write_text(json.dumps(results, indent=1))
    return 0 if all(c["identical"] for c in results["identical"]) else 1


if __name__ == "__main__":
    sys.exit(main())
