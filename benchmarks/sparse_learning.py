"""PostPre learning on sparse (CSR) against dense connectivity: the STDP scaling network (100
Poisson inputs -> 1000 LIF neurons, traces, nu = (1e-4, 1e-2), sum), 1000 steps, best of 3.

    python benchmarks/sparse_learning.py [--density 1.0] [--batch 1,64] [--threads 1]

With ``--density`` < 1 a random mask removes synapses: the CSR matrix holds only the kept ones,
the dense matrix holds zeros there (which still learn), so the two runs' dynamics differ; the
output rate is printed beside each time.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from pysnn import Dense, Learning, Network, Sparse, Trace
from pysnn.experiments.scaling import input_rates


def network(kind: str, density: float) -> Network:
    rng = np.random.default_rng(0)
    weights = 0.1 + 0.1 * rng.standard_normal((100, 1000))
    keep = rng.random(weights.shape) < density
    net = Network(dt=1.0)
    net.add_input("x", 100, encoder="poisson", trace=Trace(20.0))
    net.add_population("y", 1000, model="lif", trace=Trace(20.0))
    connectivity = Dense(weights * keep) if kind == "dense" else Sparse.from_dense(weights, keep)
    net.connect("x", "y", connectivity, learning=Learning("postpre", {"nu_pre": 1e-4, "nu_post": 1e-2}))
    net.monitor("y", "spike_counts")
    return net


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--density", type=float, default=1.0)
    parser.add_argument("--batch", type=lambda s: [int(b) for b in s.split(",")], default=[1, 64])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    print(f"density {args.density}, {args.threads} thread(s), seconds per 1000 steps\n")
    print("| batch | connectivity | s | output rate (Hz) |\n|---:|---|---:|---:|")
    for batch in args.batch:
        rates = input_rates(batch)
        for kind in ("dense", "sparse"):
            sim = network(kind, args.density).compile(backend="numba-cpu", batch_size=batch)
            initial = {p.name: p.arrays["weights"] for p in sim.plan.projections}
            sim.run(1, {"x": rates})  # compile
            best, result = np.inf, None
            for _ in range(3):
                sim.reset()
                for name, weights in initial.items():
                    sim.set_weights(name, weights)
                start = time.perf_counter()
                result = sim.run(1000, {"x": rates})
                best = min(best, time.perf_counter() - start)
            rate = result.spike_counts("y").mean()
            print(f"| {batch} | {kind} | {best:.4f} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
