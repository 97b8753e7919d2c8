"""Runs of numba-cpu in two checkouts of pysnn, side by side: best of --repeats, the checkouts'
runs alternating over --rounds so that machine noise hits both.

    git worktree add /tmp/before <commit>
    python benchmarks/checkout_ab.py /tmp/before . [--n-out 1000,10000] [--batch 1,64,1024]
    python benchmarks/checkout_ab.py /tmp/before . --diehl-cook [--n-out 1600,6400] [--batch 16]

Default: experiment 1 (scaling network, n_out LIF), seconds per 1000 steps. ``--diehl-cook``:
one presentation (350 steps) of MNIST's first test images (``pysnn data fetch``; intensity
128 Hz, the trainer's) to Diehl & Cook's network of n_out neurons, learning and not (every run
starts from the initial weights).

Each checkout runs in its own process (its ``pysnn`` and backends first on ``PYTHONPATH``) with
its own empty ``PYSNN_CACHE_DIR``; compiling is not timed. Prints a markdown table, and checks
that both give the same spike counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TIMED = """
import json, sys, time
n_out, batches, repeats, experiment = int(sys.argv[1]), [int(b) for b in sys.argv[2].split(",")], int(sys.argv[3]), sys.argv[4]
if experiment == "scaling":
    from pysnn.experiments.scaling import input_rates, scaling_network
    net, steps, forms = scaling_network(n_out), 1000, {"": True}
    inputs = lambda batch: {"x": input_rates(batch)}
else:
    from pysnn.datasets import load_mnist
    from pysnn.experiments.diehl_cook import INPUT, diehl_cook_network, input_rates
    net, steps, forms = diehl_cook_network(n_out), 350, {" learning": True, " inference": False}
    images = load_mnist("test")[0]
    inputs = lambda batch: {INPUT: input_rates(images[:batch], 128.0)}
sim = net.compile(backend="numba-cpu")
initial = {name: sim.weights(name) for name in (p.name for p in sim.plan.projections)}
times = {}
for batch in batches:
    for form, learning in forms.items():
        best = float("inf")
        for _ in range(repeats + 1):  # the first run compiles
            sim.reset()
            for name, weights in initial.items():
                sim.set_weights(name, weights)
            start = time.perf_counter()
            out = sim.run(steps, inputs(batch), learning=learning)
            best = min(best, time.perf_counter() - start)
        times[f"{batch}{form}"] = (best, int(out.spike_counts(sim.plan.monitors[0].population).sum()))
print(json.dumps(times))
"""


def timed(checkout: Path, cache: str, n_out: int, batches: str, repeats: int, experiment: str) -> dict[str, tuple[float, int]]:
    """``{"batch[ form]": (best seconds, spike count)}`` of one process of ``checkout``."""
    path = os.pathsep.join([str(checkout), str(checkout / "backends"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "PYSNN_CACHE_DIR": cache}
    result = subprocess.run(
        [sys.executable, "-c", TIMED, str(n_out), batches, str(repeats), experiment],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {run: tuple(value) for run, value in json.loads(result.stdout).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--n-out", default="1000,10000")
    parser.add_argument("--batch", default="1,64,1024")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--diehl-cook", action="store_true")
    args = parser.parse_args()
    experiment = "diehl-cook" if args.diehl_cook else "scaling"
    best: dict[tuple[str, int, str], float] = {}
    counts: dict[tuple[str, int, str], int] = {}
    with tempfile.TemporaryDirectory() as caches:
        for _ in range(args.rounds):
            for label, checkout in (("before", args.before), ("after", args.after)):
                for n_out in map(int, args.n_out.split(",")):
                    cache = str(Path(caches) / label)
                    runs = timed(checkout.resolve(), cache, n_out, args.batch, args.repeats, experiment)
                    for run, (seconds, count) in runs.items():
                        key = (label, n_out, run)
                        best[key] = min(best.get(key, float("inf")), seconds)
                        counts[key] = count
    print("| n_out | batch | before (s) | after (s) | before / after | same spikes |")
    print("|---:|---:|---:|---:|---:|---|")
    for _, n_out, run in [key for key in best if key[0] == "before"]:
        before, after = best[("before", n_out, run)], best[("after", n_out, run)]
        same = counts[("before", n_out, run)] == counts[("after", n_out, run)]
        print(f"| {n_out} | {run} | {before:.4g} | {after:.4g} | {before / after:.2f} | {same} |")


if __name__ == "__main__":
    main()
