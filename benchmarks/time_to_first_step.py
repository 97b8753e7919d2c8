"""Compile and run one step of a small network; print what Numba's cache did, as JSON.

Used by benchmarks/scaling.py and tests/test_compile_targets.py in fresh processes, so each run
measures a cold or a warm start for real.
"""

import json
import sys
import time

start = time.perf_counter()

import numpy as np  # noqa: E402

import pysnn  # noqa: E402


def main() -> None:
    n_out = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    net = pysnn.Network()
    net.add_input("x", 100, encoder="poisson")
    net.add_population("y", n_out, model="lif")
    net.connect("x", "y", pysnn.Dense(np.full((100, n_out), 0.1)))
    net.monitor("y", "spike_counts")
    sim = net.compile(backend="numba-cpu")
    sim.run(1, {"x": np.full((1, 100), 50.0)})
    seconds = time.perf_counter() - start
    module, _ = sim._engine.compiled(frozenset())
    stats = module.run_independent.stats
    print(json.dumps({
        "seconds": seconds,
        "cache_hits": sum(stats.cache_hits.values()),
        "cache_misses": sum(stats.cache_misses.values()),
    }))


if __name__ == "__main__":
    main()
