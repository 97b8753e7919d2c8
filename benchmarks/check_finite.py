"""The cost of checking that state stays finite (``compile(check_finite=True)``, the default).

The scaling network (``pysnn.experiments.scaling``, n_out = 1000, 1000 steps) on numba-cpu with
the check on and off, side by side: the two simulations' runs alternate (in alternating order),
each from a reset state and the initial weights. Reported: each one's best time, and the median
over the pairs of runs of their ratio. Cases: no learning at batch 1 and 64, PostPre learning at
batch 16.

    python benchmarks/check_finite.py [--repeats 31] [--steps 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pysnn.experiments.scaling import input_rates, scaling_network

CASES = ((False, 1), (False, 64), (True, 16))
"""(learning, batch)."""


def timings(stdp: bool, batch: int, steps: int, repeats: int) -> tuple[dict[bool, float], float]:
    """check_finite -> best seconds of a run of ``steps`` steps, and the median over repeats of
    the ratio of the two runs made side by side (robust to the machine's drift)."""
    rates = input_rates(batch)
    sims = {check: scaling_network(1000, stdp=stdp).compile(check_finite=check) for check in (True, False)}
    for sim in sims.values():
        sim.run(1, {"x": rates})  # compile, or load from the cache
    best, ratios = {check: np.inf for check in sims}, []
    for repeat in range(repeats):
        seconds = {}
        for check in (True, False) if repeat % 2 else (False, True):
            sim = sims[check]
            sim.reset()
            for projection in sim.plan.projections:
                sim.set_weights(projection.name, projection.arrays["weights"])
            start = time.perf_counter()
            sim.run(steps, {"x": rates})
            seconds[check] = time.perf_counter() - start
            best[check] = min(best[check], seconds[check])
        ratios.append(seconds[True] / seconds[False])
    return best, float(np.median(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=31)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    print("| learning | batch | check on: best (s) | check off: best (s) | cost: best | cost: median pair |")
    print("|---|---:|---:|---:|---:|---:|")
    for stdp, batch in CASES:
        best, ratio = timings(stdp, batch, args.steps, args.repeats)
        cost = best[True] / best[False] - 1
        print(
            f"| {'PostPre' if stdp else 'none'} | {batch} | {best[True]:.4f} | {best[False]:.4f} | {cost:+.1%} | {ratio - 1:+.1%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
