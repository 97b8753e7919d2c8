"""Brian2 reference for the COBA benchmark (benchmarks/coba.py): one mode, one JSON line on stdout.

The network of shared/design/coba.md, with the synapses and initial state of
benchmarks/coba_network.py (the instance pysnn simulates as its copy 0): 4000 neurons,
``dv/dt = (El - v + ge (Ee - v) + gi (Ei - v)) / taum`` with v clamped while refractory (5 ms),
``ge`` and ``gi`` decaying throughout, spike when ``v > Vt``, reset to ``Vr``; ``ge += 0.6`` /
``gi += 6.7`` per excitatory / inhibitory spike, no delay; forward Euler, dt = 0.1 ms; float64
(Brian2's default). Spike counts only (``SpikeMonitor(record=False)``); the JSON line carries
each neuron's count (``counts``) for the comparison with pysnn's copy 0.

Modes:

- ``runtime``: Brian2's runtime device, code generation target ``cython``. ``build_seconds`` is
  everything but the simulation loop (network construction, synapse creation, code generation and
  Cython compilation, which Brian2 caches on disk across processes, so a second process builds
  faster); ``run_seconds`` the simulation loop (``device._last_run_time``).
- ``cpp_standalone``: a C++ project in a fresh temporary directory, compiled with Brian2's
  default flags, OpenMP with ``--threads`` threads when above 1. ``build_seconds``: network
  construction, code generation and compilation (always cold); ``run_seconds`` the simulation loop
  as timed inside the binary; ``binary_seconds`` the whole binary (loading arrays included).

This script is standalone and does not import pysnn. Environment (outside the repo):

    python3 -m venv /work/brian2-venv
    /work/brian2-venv/bin/pip install brian2 "numpy<2.4"   # Brian2 2.9.0, Cython 3.3.1; needs g++

(Brian2 2.9.0 calls ``np.ndarray.ptp``, which NumPy 2.4 removed: with NumPy 2.4 ``import brian2``
fails, hence the pin; measured with NumPy 2.3.5.)

Example:

    /work/brian2-venv/bin/python benchmarks/coba_brian2.py --mode cpp_standalone --seconds 1
"""

import argparse
import json
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import brian2 as b2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import coba_network as cn  # noqa: E402

EQUATIONS = """
dv/dt = (El - v + ge * (Ee - v) + gi * (Ei - v)) / taum : volt (unless refractory)
dge/dt = -ge / taue : 1
dgi/dt = -gi / taui : 1
"""
CONSTANTS = {
    "taum": 20 * b2.ms, "taue": 5 * b2.ms, "taui": 10 * b2.ms,
    "El": cn.EL * b2.mV, "Vt": -50 * b2.mV, "Vr": -60 * b2.mV, "Ee": 0 * b2.mV, "Ei": -80 * b2.mV,
    "we": cn.W_EXC, "wi": cn.W_INH,
}


def build_network(seed: int) -> tuple[b2.Network, b2.SpikeMonitor]:
    """The COBA network with coba_network's synapses and copy-0 initial state, and its monitor."""
    neurons = b2.NeuronGroup(cn.N, EQUATIONS, threshold="v > Vt", reset="v = Vr", refractory=5 * b2.ms,
                             method="euler", namespace=CONSTANTS)
    state = cn.initial_state(seed, 0)
    neurons.v = state["v"] * b2.mV
    neurons.ge = state["ge"]
    neurons.gi = state["gi"]
    syn = cn.synapses(seed)
    exc = b2.Synapses(neurons[:cn.N_EXC], neurons, on_pre="ge += we", namespace=CONSTANTS)
    exc.connect(i=syn["exc"][0], j=syn["exc"][1])
    inh = b2.Synapses(neurons[cn.N_EXC:], neurons, on_pre="gi += wi", namespace=CONSTANTS)
    inh.connect(i=syn["inh"][0], j=syn["inh"][1])
    monitor = b2.SpikeMonitor(neurons, record=False)
    return b2.Network(neurons, exc, inh, monitor), monitor


def run_runtime(seed: int, seconds: float) -> dict:
    """Runtime device with the Cython target; timings as in the module docstring."""
    b2.prefs.codegen.target = "cython"
    start = time.perf_counter()
    net, monitor = build_network(seed)
    net.run(seconds * b2.second)
    total = time.perf_counter() - start
    run_seconds = b2.get_device()._last_run_time
    return {"build_seconds": total - run_seconds, "run_seconds": run_seconds, "threads": 1,
            "counts": np.asarray(monitor.count[:])}


def run_standalone(seed: int, seconds: float, threads: int) -> dict:
    """C++ standalone device in a temporary directory; timings as in the module docstring."""
    with tempfile.TemporaryDirectory(prefix="coba-brian2-") as directory:
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
        start = time.perf_counter()
        net, monitor = build_network(seed)
        net.run(seconds * b2.second)
        device = b2.get_device()
        device.build(directory=directory, compile=True, run=False)
        build_seconds = time.perf_counter() - start
        device.run(directory=directory, with_output=False)
        return {"build_seconds": build_seconds, "run_seconds": device._last_run_time,
                "binary_seconds": device.timers["run_binary"], "threads": threads,
                "counts": np.asarray(monitor.count[:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["runtime", "cpp_standalone"], required=True)
    parser.add_argument("--seconds", type=float, default=1.0, help="biological time, s")
    parser.add_argument("--seed", type=int, default=0, help="seed of coba_network's instance")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads of cpp_standalone")
    args = parser.parse_args()

    b2.defaultclock.dt = cn.DT * b2.ms
    if args.mode == "runtime":
        result = run_runtime(args.seed, args.seconds)
    else:
        result = run_standalone(args.seed, args.seconds, args.threads)
    counts = result.pop("counts")
    record = {
        "simulator": "brian2", "brian2": version("brian2"), "cython": version("cython"), "numpy": np.__version__,
        "python": sys.version.split()[0], "mode": args.mode, "seconds": args.seconds,
        "seed": args.seed, "dtype": "float64", **result,
        "seconds_per_simulated_second": result["run_seconds"] / args.seconds,
        "rate_hz": float(counts.sum() / cn.N / args.seconds),
        "rate_exc_hz": float(counts[:cn.N_EXC].sum() / cn.N_EXC / args.seconds),
        "rate_inh_hz": float(counts[cn.N_EXC:].sum() / cn.N_INH / args.seconds),
        "counts": counts.tolist(),
    }
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
