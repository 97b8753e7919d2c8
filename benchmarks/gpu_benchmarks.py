"""The numba-cuda backend on a real GPU: the paper's experiment 1, bit-identity with NumPy on the
same runs, and the time to the first step (benchmarks/gpu_checks.sh runs it).

    python benchmarks/gpu_benchmarks.py OUT_DIR [--smoke]

Writes OUT_DIR/gpu-benchmarks.md (a table, with the issue's targets) and .json. Each timing is
the best wall-clock of ``Simulation.run`` over a few runs (``pysnn.experiments.scaling``);
numba-cpu runs beside it on the same machine's cores, for a ratio measured in one run.
``--smoke`` runs every part at tiny sizes (10 neurons, 5 steps), to check the script itself, e.g.
on Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pysnn.experiments.scaling import TABLE_HEADER, input_rates, scaling, scaling_network, table_row

TARGETS = {  # (backend, learning, n_out, batch) -> seconds per 1000 steps (issue 9)
    ("numba-cuda", False, 1000, 1): 0.002,
    ("numba-cuda", False, 1000, 1024): 0.010,
    ("numba-cuda", True, 1000, 1024): 0.050,
    ("numba-cuda", False, 10000, 1024): 0.2,
}
FIRST_STEP = """
import time; start = time.perf_counter()
import numpy as np, pysnn
from pysnn.experiments.scaling import scaling_network, input_rates
sim = scaling_network(1000).compile(backend="numba-cuda")
sim.run(1, {"x": input_rates(1)})
print(time.perf_counter() - start)
"""


SMOKE = "--smoke" in sys.argv
SIZE, STEPS = (10, 5) if SMOKE else (1000, 1000)


def timings() -> list[dict]:
    rows = []
    points = [
        ("numba-cuda", False, [1000], [1, 16, 64, 256, 1024]),
        ("numba-cuda", True, [1000], [1, 64, 1024]),
        ("numba-cuda", False, [10000], [1, 1024]),
        ("numba-cpu", False, [1000], [1, 1024]),
        ("numba-cpu", True, [1000], [1, 64]),
    ]
    for backend, stdp, n_outs, batches in points:
        if SMOKE:
            n_outs, batches = [SIZE], batches[:2]
        for timing in scaling(backend, n_outs, batches, steps=STEPS, stdp=stdp, repeats=3):
            target = TARGETS.get((backend, stdp, timing.n_out, timing.batch))
            rows.append(timing.as_dict() | {"target_seconds": target, "row": table_row(timing)})
            print(rows[-1]["row"] + (f" target {target} s" if target else ""), flush=True)
    return rows


def identical_to_numpy() -> list[dict]:
    """Spike counts, final state and learned weights of numba-cuda and numpy, bit for bit."""
    checks = []
    for stdp, batch, steps in ((False, 64, STEPS), (True, 16, STEPS // 3)):
        rates = input_rates(batch)
        arrays = []
        for backend in ("numpy", "numba-cuda"):
            sim = scaling_network(SIZE, stdp=stdp).compile(backend=backend)
            out = sim.run(steps, {"x": rates})
            arrays.append([out.spike_counts("y"), sim.state("y", "v"), sim.weights("x->y")])
        same = all(a.tobytes() == b.tobytes() for a, b in zip(*arrays))
        checks.append({"learning": stdp, "batch": batch, "steps": steps, "identical": same,
                       "spikes": int(arrays[0][0].sum())})
        print(f"numba-cuda == numpy, learning={stdp}, batch {batch}, {steps} steps: {same}", flush=True)
    return checks


def first_step() -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYSNN_CACHE_DIR": cache}
        runs = [float(subprocess.run([sys.executable, "-c", FIRST_STEP], env=env, capture_output=True, text=True,
                                     check=True).stdout.split()[-1]) for _ in range(2)]
    print(f"time to first step (numba-cuda, scaling network): cold {runs[0]:.2f} s, cached {runs[1]:.2f} s", flush=True)
    return {"cold_seconds": runs[0], "cached_seconds": runs[1]}


def main() -> int:
    out = Path(next((a for a in sys.argv[1:] if a != "--smoke"), "."))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = {"first_step": first_step(), "identical": identical_to_numpy(), "timings": timings()}
    lines = [f"## numba-cuda, experiment 1 (best of 3 runs of {STEPS} steps)", "", TABLE_HEADER, *(r["row"] for r in results["timings"])]
    lines += ["", "Targets (s per 1000 steps): " + ", ".join(f"{k}: {v}" for k, v in TARGETS.items()), ""]
    lines += [f"- identical to numpy: {c}" for c in results["identical"]]
    lines += [f"- time to first step: {results['first_step']}", f"- benchmark wall-clock {time.perf_counter() - started:.0f} s"]
    (out / "gpu-benchmarks.md").write_text("\n".join(lines) + "\n")
    (out / "gpu-benchmarks.json").write_text(json.dumps(results, indent=1))
    return 0 if all(c["identical"] for c in results["identical"]) else 1


if __name__ == "__main__":
    sys.exit(main())
