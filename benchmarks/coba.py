"""COBA benchmark (Brette et al. 2007, benchmark 1): pysnn at batch 1 and 64, Brian2 beside it.

The network of shared/design/coba.md: 3200 excitatory and 800 inhibitory ``lif_cond`` neurons
(the model's default parameters are the benchmark's constants), four sparse projections
(exc -> exc, exc -> inh into port ``exc``, weight 0.6; inh -> exc, inh -> inh into port ``inh``,
weight 6.7), each pair connected with probability 0.02; forward Euler, dt = 0.1 ms; spike
counts monitored. Synapses and initial states come from benchmarks/coba_network.py, so Brian2
simulates the same instance as pysnn's copy 0.

pysnn: for each dtype, ``--backend`` (default numba-cpu, on ``--threads`` Numba threads); each
batch size B runs B copies of the network sharing its synapses, copy k starting from
``coba_network.initial_state(seed, k)`` (set with ``Simulation.set_state``). Only
``Simulation.run`` is timed, best of ``--repeats``; the first run of a compiled simulation (one
step: Numba compilation or a load from pysnn's disk cache) is timed apart as ``first_run_seconds``.
Reported: wall-clock per simulated second, per copy, and each copy's mean firing rate.

Brian2 (``--brian2-python``, the python of a venv with Brian2; skipped, and said so, if not given
or absent): benchmarks/coba_brian2.py in its runtime mode (Cython) and its C++ standalone mode
(single-threaded by default; ``--brian2-threads`` > 1 compiles it with OpenMP), run right after
pysnn on the same machine; float64. See that script for how its build and run times are measured.
(Brian2's OpenMP code synchronises its threads several times per step: on a loaded 2-core machine
2 threads ran 300x slower than 1.)

Usage:

    python benchmarks/coba.py [--seconds 1.0] [--batch 1,64] [--backend numba-cpu]
        [--dtype float32,float64] [--threads 2] [--repeats 1] [--seed 0]
        [--brian2-python /work/brian2-venv/bin/python] [--brian2-threads 1]
        [--out benchmarks/results/coba.json]

With Brian2, a second table compares copy 0's per-neuron spike counts with Brian2's (same
instance; the network is chaotic, so they agree only while both do the same float operations).

Prints markdown tables and writes every measurement to ``--out`` as JSON: ``{"header": {...},
"records": [...]}``, each record with ``"simulator"`` pysnn, brian2 or comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numba
import numpy as np

import pysnn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import coba_network as cn  # noqa: E402

POPULATIONS = {"exc": slice(0, cn.N_EXC), "inh": slice(cn.N_EXC, cn.N)}
"""pysnn population -> its neurons in coba_network's numbering."""
SIZES = {pop: neurons.stop - neurons.start for pop, neurons in POPULATIONS.items()}
INIT_VARIABLES = ("v", "ge", "gi")
BRIAN2_MODES = ("runtime", "cpp_standalone")


def csr(i: np.ndarray, j: np.ndarray, n_source: int, n_target: int, weight: float) -> pysnn.Sparse:
    """``pysnn.Sparse`` of the synapses ``i[k] -> j[k]`` (sorted by (i, j)), all of weight ``weight``."""
    indptr = np.concatenate([[0], np.cumsum(np.bincount(i, minlength=n_source))])
    return pysnn.Sparse(indptr, j, np.full(j.size, weight), n_target)


def coba_network(seed: int) -> pysnn.Network:
    """The COBA network with coba_network's instance ``seed``; its initial state is copy 0's."""
    state = cn.initial_state(seed, 0)
    net = pysnn.Network(dt=cn.DT)
    for pop, neurons in POPULATIONS.items():
        net.add_population(pop, SIZES[pop], model="lif_cond",
                           init={var: state[var][neurons] for var in INIT_VARIABLES})
        net.monitor(pop, "spike_counts")
    synapses = cn.synapses(seed)
    for source, weight in (("exc", cn.W_EXC), ("inh", cn.W_INH)):
        i, j = synapses[source]
        for target, neurons in POPULATIONS.items():
            into = (j >= neurons.start) & (j < neurons.stop)
            connectivity = csr(i[into], j[into] - neurons.start, SIZES[source], SIZES[target], weight)
            net.connect(source, target, connectivity, port=source, name=f"{source}->{target}")
    return net


def set_initial_state(sim: pysnn.Simulation, seed: int, batch: int) -> None:
    """Reset ``sim`` to ``batch`` copies, copy k starting from ``initial_state(seed, k)``."""
    states = [cn.initial_state(seed, copy) for copy in range(batch)]
    sim.reset(batch_size=batch)
    for pop, neurons in POPULATIONS.items():
        for var in INIT_VARIABLES:
            sim.set_state(pop, var, np.stack([state[var][neurons] for state in states]))


def time_pysnn(sim: pysnn.Simulation, seed: int, batch: int, steps: int, repeats: int) -> tuple[float, np.ndarray]:
    """Best wall-clock of ``repeats`` runs of ``steps`` steps from the initial states, and the
    spike counts of the last run, (batch, N) in coba_network's numbering."""
    best = np.inf
    for _ in range(repeats):
        set_initial_state(sim, seed, batch)
        start = time.perf_counter()
        out = sim.run(steps)
        best = min(best, time.perf_counter() - start)
    return best, np.concatenate([out.spike_counts(pop) for pop in POPULATIONS], axis=1)


def pysnn_part(args, records: list[dict]) -> dict[str, np.ndarray]:
    """Every (dtype, batch) of pysnn on ``args.backend``; appends one record per point and
    returns, per dtype, copy 0's spike counts (the same in every batch)."""
    steps = round(args.seconds * 1000.0 / cn.DT)
    net = coba_network(args.seed)
    copy0 = {}
    for dtype in args.dtype:
        sim = net.compile(backend=args.backend, dtype=dtype)
        sim.reset(batch_size=1)
        start = time.perf_counter()
        sim.run(1)
        first_run = time.perf_counter() - start
        for batch in args.batch:
            seconds, counts = time_pysnn(sim, args.seed, batch, steps, args.repeats)
            rates = counts.sum(axis=1) / cn.N / args.seconds
            copy0[dtype] = counts[0]
            record = {
                "simulator": "pysnn", "backend": sim.backend, "dtype": dtype,
                "threads": args.threads if sim.backend == "numba-cpu" else 1,
                "batch": batch, "steps": steps, "seconds": args.seconds, "repeats": args.repeats,
                "first_run_seconds": first_run, "run_seconds": seconds,
                "seconds_per_simulated_second": seconds / args.seconds,
                "seconds_per_copy_per_simulated_second": seconds / args.seconds / batch,
                "rate_hz": float(rates.mean()), "rate_hz_per_copy": rates.tolist(),
            }
            records.append(record)
            print(table_row(record), flush=True)
    return copy0


def brian2_part(args, records: list[dict]) -> dict[str, np.ndarray]:
    """benchmarks/coba_brian2.py in each mode, with the Brian2 venv's python; appends one record
    per mode and returns, per mode that ran, the neurons' spike counts."""
    counts = {}
    for mode in BRIAN2_MODES:
        command = [args.brian2_python, str(HERE / "coba_brian2.py"), "--mode", mode, "--seconds", str(args.seconds),
                   "--seed", str(args.seed), "--threads", str(args.brian2_threads)]
        done = subprocess.run(command, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode or not lines:
            print(f"\n(Brian2 {mode} failed with status {done.returncode}:\n{done.stderr[-2000:]})", flush=True)
            records.append({"simulator": "brian2", "mode": mode, "failed": True, "stderr": done.stderr[-2000:]})
            continue
        record = json.loads(lines[-1])
        counts[mode] = np.array(record.pop("counts"))
        records.append(record)
        print(table_row(record), flush=True)
    return counts


def compare_counts(pysnn_counts: dict[str, np.ndarray], brian2_counts: dict[str, np.ndarray], records: list[dict]) -> None:
    """Per-neuron spike counts of pysnn's copy 0 against Brian2 on the same instance."""
    print("\n## pysnn copy 0 vs Brian2 (same synapses and initial state): per-neuron spike counts\n")
    print("| pysnn dtype | Brian2 mode | neurons whose counts differ | spikes pysnn | spikes Brian2 |\n|---|---|---:|---:|---:|")
    for dtype, p in pysnn_counts.items():
        for mode, b in brian2_counts.items():
            record = {"simulator": "comparison", "dtype": dtype, "mode": mode, "neurons_differing": int((p != b).sum()),
                      "spikes_pysnn": int(p.sum()), "spikes_brian2": int(b.sum())}
            records.append(record)
            print(f"| {dtype} | {mode} | {record['neurons_differing']} | {record['spikes_pysnn']} | {record['spikes_brian2']} |")


TABLE_HEADER = (
    "| simulator | backend / mode | dtype | threads | batch | first run / build s | s per simulated s "
    "| per copy | rate Hz (mean) | rate Hz (copy 0) | rate Hz (min-max over copies) |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
)


def table_row(r: dict) -> str:
    """One markdown table row of a pysnn or brian2 record."""
    if r["simulator"] == "pysnn":
        rates = r["rate_hz_per_copy"]
        return (f"| pysnn | {r['backend']} | {r['dtype']} | {r['threads']} | {r['batch']} | {r['first_run_seconds']:.2f} "
                f"| {r['seconds_per_simulated_second']:.3f} | {r['seconds_per_copy_per_simulated_second']:.4f} "
                f"| {r['rate_hz']:.2f} | {rates[0]:.2f} | {min(rates):.2f}-{max(rates):.2f} |")
    return (f"| Brian2 {r['brian2']} | {r['mode']} | {r['dtype']} | {r['threads']} | 1 | {r['build_seconds']:.2f} "
            f"| {r['seconds_per_simulated_second']:.3f} | {r['seconds_per_simulated_second']:.4f} "
            f"| {r['rate_hz']:.2f} | {r['rate_hz']:.2f} | |")


def header(args) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {
        "cpu": cpu, "cores": os.cpu_count(), "numba_threads": args.threads, "python": platform.python_version(),
        "numpy": np.__version__, "numba": numba.__version__, "pysnn": pysnn.__version__,
        "command": " ".join([sys.executable, *sys.argv]), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def main() -> None:
    def ints(text):
        return [int(x) for x in text.split(",") if x]

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="biological time per run, s (default 1.0)")
    parser.add_argument("--batch", type=ints, default=[1, 64], help="batch sizes (default 1,64)")
    parser.add_argument("--backend", default="numba-cpu", help="pysnn backend (default numba-cpu)")
    parser.add_argument("--dtype", type=lambda s: s.split(","), default=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS,
                        help="pysnn's Numba threads (default: all)")
    parser.add_argument("--repeats", type=int, default=1, help="pysnn runs per point, the best is reported")
    parser.add_argument("--seed", type=int, default=0, help="the network instance (coba_network.py)")
    parser.add_argument("--brian2-python", help="python of a venv with Brian2 (default: Brian2 skipped)")
    parser.add_argument("--brian2-threads", type=int, default=1, help="OpenMP threads of Brian2's C++ standalone mode")
    parser.add_argument("--out", default=str(HERE / "results" / "coba.json"), help="JSON output file")
    args = parser.parse_args()
    numba.set_num_threads(args.threads)

    info = header(args)
    print("# COBA benchmark\n\n" + "\n".join(f"- {key}: {value}" for key, value in info.items()) + "\n")
    print(TABLE_HEADER, flush=True)
    records: list[dict] = []
    pysnn_counts = pysnn_part(args, records)
    if args.brian2_python and Path(args.brian2_python).exists():
        compare_counts(pysnn_counts, brian2_part(args, records), records)
    else:
        print(f"\n(Brian2 skipped: --brian2-python {'not given' if not args.brian2_python else args.brian2_python + ' not found'})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"header": info, "records": records}, indent=1) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
