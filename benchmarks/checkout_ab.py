"""Experiment 1 on numba-cpu in two checkouts of pysnn, side by side: seconds per 1000 steps,
best of --repeats, the checkouts' runs alternating over --rounds so that machine noise hits both.

    git worktree add /tmp/before <commit>
    python benchmarks/checkout_ab.py /tmp/before . [--n-out 1000,10000] [--batch 1,64,1024]

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
from pysnn.experiments.scaling import input_rates, scaling_network
n_out, batches, repeats = int(sys.argv[1]), [int(b) for b in sys.argv[2].split(",")], int(sys.argv[3])
sim = scaling_network(n_out).compile(backend="numba-cpu")
times = {}
for batch in batches:
    rates = input_rates(batch)
    best = float("inf")
    for _ in range(repeats + 1):  # the first run compiles
        sim.reset()
        start = time.perf_counter()
        out = sim.run(1000, {"x": rates})
        best = min(best, time.perf_counter() - start)
    times[batch] = (best, int(out.spike_counts("y").sum()))
print(json.dumps(times))
"""


def timed(checkout: Path, cache: str, n_out: int, batches: str, repeats: int) -> dict[int, tuple[float, int]]:
    """``{batch: (best seconds, spike count)}`` of one process of ``checkout``."""
    path = os.pathsep.join([str(checkout), str(checkout / "backends"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "PYSNN_CACHE_DIR": cache}
    result = subprocess.run(
        [sys.executable, "-c", TIMED, str(n_out), batches, str(repeats)], env=env, capture_output=True, text=True, check=True
    )
    return {int(batch): tuple(value) for batch, value in json.loads(result.stdout).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--n-out", default="1000,10000")
    parser.add_argument("--batch", default="1,64,1024")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    best: dict[tuple[str, int, int], float] = {}
    counts: dict[tuple[str, int, int], int] = {}
    with tempfile.TemporaryDirectory() as caches:
        for _ in range(args.rounds):
            for label, checkout in (("before", args.before), ("after", args.after)):
                for n_out in map(int, args.n_out.split(",")):
                    cache = str(Path(caches) / label)
                    for batch, (seconds, count) in timed(checkout.resolve(), cache, n_out, args.batch, args.repeats).items():
                        key = (label, n_out, batch)
                        best[key] = min(best.get(key, float("inf")), seconds)
                        counts[key] = count
    print("| n_out | batch | before (s) | after (s) | before / after | same spikes |")
    print("|---:|---:|---:|---:|---:|---|")
    for _, n_out, batch in sorted(key for key in best if key[0] == "before"):
        before, after = best[("before", n_out, batch)], best[("after", n_out, batch)]
        same = counts[("before", n_out, batch)] == counts[("after", n_out, batch)]
        print(f"| {n_out} | {batch} | {before:.4g} | {after:.4g} | {before / after:.2f} | {same} |")


if __name__ == "__main__":
    main()
