"""Where the time of the scaling experiment goes: the same run with parts of the work removed.

    python benchmarks/breakdown.py [--n-out 1000] [--batch 64] [--threads 1]

- full: the experiment (Poisson draws, propagation of ~6 spiking inputs per step, LIF update);
- no input spikes: rates 0, so propagation adds nothing (draws and LIF update remain);
- n_out = 1: Poisson draws and loop overhead only.
Differences give the cost of each part per sample and step.
"""

import argparse

import numba
import numpy as np

from pysnn.experiments.scaling import input_rates, scaling_network, time_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-out", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    variants = [
        ("full", args.n_out, input_rates(args.batch)),
        ("no input spikes", args.n_out, np.zeros((args.batch, 100))),
        ("n_out = 1 (draws only)", 1, input_rates(args.batch)),
    ]
    per_step = {}
    for label, n_out, rates in variants:
        seconds, _ = time_runs(scaling_network(n_out).compile(backend="numba-cpu"), rates, args.steps, repeats=5)
        per_step[label] = seconds / (args.batch * args.steps) * 1e9
        print(f"{label:24s} {seconds * 1e3:8.2f} ms  {per_step[label]:7.1f} ns per sample-step")
    draws = per_step["n_out = 1 (draws only)"]
    print(f"Poisson draws + overhead: {draws:.0f} ns; LIF update: {per_step['no input spikes'] - draws:.0f} ns; "
          f"propagation: {per_step['full'] - per_step['no input spikes']:.0f} ns per sample-step")


if __name__ == "__main__":
    main()
