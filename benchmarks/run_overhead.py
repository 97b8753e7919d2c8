"""What a ``Simulation.run`` call costs besides its steps: the scaling network (n_out 1000) on
numba-cpu, a closed loop of one-step runs (as an agent that acts on each step's output would
run it) against the same steps as one run, and a call's fixed cost (run(1) less a step's share).

    python benchmarks/run_overhead.py [--steps 1000] [--repeats 5] [--batch 1,64] [--n-out 1000,10000]

Runs alternate between the two forms, so machine noise hits both; best of --repeats.
"""

from __future__ import annotations

import argparse
import itertools
import time

from pysnn.experiments.scaling import input_rates, scaling_network


def closed_loop(sim, rates, steps: int) -> float:
    """Seconds for ``steps`` runs of one step each."""
    sim.reset()
    start = time.perf_counter()
    for _ in range(steps):
        sim.run(1, {"x": rates})
    return time.perf_counter() - start


def one_run(sim, rates, steps: int) -> float:
    """Seconds for one run of ``steps`` steps."""
    sim.reset()
    start = time.perf_counter()
    sim.run(steps, {"x": rates})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", default="1,64")
    parser.add_argument("--n-out", default="1000,10000")
    args = parser.parse_args()
    print(f"N = {args.steps}\n")
    print("| n_out | batch | one run of N steps (ms) | N runs of 1 step (ms) | fixed cost per run (us) |")
    print("|---:|---:|---:|---:|---:|")
    for n_out, batch in itertools.product(map(int, args.n_out.split(",")), map(int, args.batch.split(","))):
        sim = scaling_network(n_out).compile(backend="numba-cpu")
        rates = input_rates(batch, seed=0)
        closed_loop(sim, rates, 10)  # compile both forms' loops, fill caches
        one_run(sim, rates, 10)
        loops, runs = [], []
        for _ in range(args.repeats):
            loops.append(closed_loop(sim, rates, args.steps))
            runs.append(one_run(sim, rates, args.steps))
        loop, run = min(loops), min(runs)
        print(f"| {n_out} | {batch} | {run * 1e3:.2f} | {loop * 1e3:.2f} | {(loop - run) / args.steps * 1e6:.0f} |")


if __name__ == "__main__":
    main()
