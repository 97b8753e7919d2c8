"""Time from a fresh process to the first result of a network, cold (empty cache) and warm.

    python benchmarks/time_to_first_step.py NETWORK     # one measurement in this process, JSON
    python benchmarks/time_to_first_step.py --all       # every network, cold then warm, a table

NETWORK is one of ``NETWORKS``: the plain scaling network (100 Poisson -> 1000 LIF), the
README's quick start and Learning examples, the paper's STDP network (100 Poisson -> 1000 LIF
with traces and PostPre), and COBA (4000 ``lif_cond`` neurons, sparse). A measurement counts
everything a new user waits for: imports, building the network, compiling (or loading the
cache) and one step. ``--all`` runs each in a fresh process, first with an empty
``PYSNN_CACHE_DIR``, then again on the filled one, and splits the cold time into imports,
``Network.compile`` (building the plan and compiling each kernel on its own) and the first run
(compiling the run loop, and one step). tests/test_compile_targets.py runs the
scaling network to check that the cache works across processes.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

start = time.perf_counter()

import numpy as np  # noqa: E402

import pysnn  # noqa: E402


def scaling() -> tuple[pysnn.Network, dict]:
    net = pysnn.Network()
    net.add_input("x", 100, encoder="poisson")
    net.add_population("y", 1000, model="lif")
    net.connect("x", "y", pysnn.Dense(np.full((100, 1000), 0.1)))
    net.monitor("y", "spike_counts")
    return net, {"x": np.full((1, 100), 50.0)}


def readme_quick_start() -> tuple[pysnn.Network, dict]:
    net, inputs = scaling()
    net.monitor("y", "spikes")
    net.monitor("y", "v", every=10)
    return net, inputs


def readme_learning() -> tuple[pysnn.Network, dict]:
    net = pysnn.Network()
    net.add_input("x", 784, encoder="poisson", trace=pysnn.Trace(20.0))
    net.add_population("y", 100, model="adaptive_lif", trace=pysnn.Trace(20.0), reductions={"theta": "sum"})
    learning = pysnn.Learning("postpre", {"nu_pre": 1e-4, "nu_post": 1e-2}, reduction="sum", wmin=0.0, wmax=1.0)
    net.connect("x", "y", pysnn.Dense(np.full((784, 100), 0.3)), learning=learning)
    return net, {"x": np.full((1, 784), 20.0)}


def paper_stdp() -> tuple[pysnn.Network, dict]:
    net = pysnn.Network()
    net.add_input("x", 100, encoder="poisson", trace=pysnn.Trace(20.0))
    net.add_population("y", 1000, model="lif", trace=pysnn.Trace(20.0))
    net.connect("x", "y", pysnn.Dense(np.full((100, 1000), 0.1)), learning=pysnn.Learning("postpre", wmin=0.0, wmax=1.0))
    net.monitor("y", "spike_counts")
    return net, {"x": np.full((1, 100), 50.0)}


def coba() -> tuple[pysnn.Network, dict]:
    from coba import coba_network  # benchmarks/coba.py, beside this script

    return coba_network(seed=0), {}


NETWORKS = {f.__name__: f for f in (scaling, readme_quick_start, readme_learning, paper_stdp, coba)}


def measure(name: str) -> dict:
    """Build, compile and run one step of network ``name`` in this process."""
    imported = time.perf_counter()
    net, inputs = NETWORKS[name]()
    sim = net.compile(backend="numba-cpu", batch_size=None if inputs else 1)
    compiled = time.perf_counter()
    sim.run(1, inputs)
    seconds = time.perf_counter() - start
    engine = sim._engine
    module, _ = engine.compiled(frozenset(), 0, engine.parallel(sim.plan.learns, sim.batch_size))
    function = module.run_coupled if sim.plan.learns else module.run_independent
    stats = function.stats
    return {
        "network": name,
        "seconds": seconds,
        "imports": imported - start,
        "network_compile": compiled - imported,
        "first_run": start + seconds - compiled,
        "cache_hits": sum(stats.cache_hits.values()),
        "cache_misses": sum(stats.cache_misses.values()),
    }


def measure_all() -> None:
    print(f"{'network':<20} {'cold s':>8} {'warm s':>8}   cold: {'imports':>7} {'compile':>7} {'run':>7}")
    for name in NETWORKS:
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "PYSNN_CACHE_DIR": cache}
            runs = [subprocess.run([sys.executable, __file__, name], env=env, capture_output=True, text=True, check=True) for _ in range(2)]
        cold, warm = (json.loads(run.stdout) for run in runs)
        parts = " ".join(f"{cold[part]:7.2f}" for part in ("imports", "network_compile", "first_run"))
        print(f"{name:<20} {cold['seconds']:8.2f} {warm['seconds']:8.2f}         {parts}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--all"]:
        measure_all()
    else:
        print(json.dumps(measure(sys.argv[1] if len(sys.argv) > 1 else "scaling")))
