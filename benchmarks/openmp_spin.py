"""How long OpenMP threads spin before sleeping (``GOMP_SPINCOUNT``), on a learning run with
several parallel regions per step: Diehl & Cook at batch 64 on numba-cpu, 2 threads, in fresh
processes, for each spin count given (libgomp's default is 300 000; 0 sleeps at once),
alternated: one such process alone, then ``--together`` of them at once (several experiments on
one machine); ``--busy``: beside a plain busy loop.

    python benchmarks/openmp_spin.py [--spins 300000,10000,0] [--together 2] [--busy] [--rounds 3]
"""

import argparse
import os
import subprocess
import sys

PRESENTATION = r"""
import time, numpy as np
from pysnn.datasets import load_mnist
from pysnn.experiments.diehl_cook import NORM, PROJECTION, diehl_cook_network, input_rates
images = load_mnist("train")[0]
sim = diehl_cook_network().compile(backend="numba-cpu")
def present(k):
    batch = slice(64 * k, 64 * (k + 1))
    sim.run(100, {"X": input_rates(images[batch], 128.0)}, sample_ids=np.arange(60000)[batch])
    sim.normalize_weights(PROJECTION, NORM)
    sim.reset()
present(0)  # compile or load
begin = time.perf_counter()
for k in range(1, 21):
    present(k)
print((time.perf_counter() - begin) / 20 * 1e3)
"""


def presentation_ms(spin: str, together: int) -> list[float]:
    """ms per presentation of each of ``together`` processes run at once."""
    env = dict(os.environ, GOMP_SPINCOUNT=spin, NUMBA_NUM_THREADS="2")
    runs = [subprocess.Popen([sys.executable, "-c", PRESENTATION], env=env, stdout=subprocess.PIPE, text=True) for _ in range(together)]
    return [float(run.communicate()[0].split()[-1]) for run in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", action="store_true", help="keep one core busy with another process meanwhile")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--together", type=int, default=2, help="processes measured at once")
    parser.add_argument("--spins", default="300000,10000,0", help="GOMP_SPINCOUNT values, comma-separated")
    args = parser.parse_args()
    spins = args.spins.split(",")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        alone = {spin: [] for spin in spins}
        times = {spin: [] for spin in spins}
        for _ in range(args.rounds):
            for spin in spins:
                alone[spin] += presentation_ms(spin, 1)
                times[spin] += presentation_ms(spin, args.together)
    finally:
        if busy is not None:
            busy.kill()
    print(f"ms per batch-64 presentation (100 steps), 2 threads{', one core busy' if args.busy else ''}")
    print(f"| GOMP_SPINCOUNT | one process | {args.together} processes at once |\n|---:|---|---|")
    for spin in spins:
        cells = [", ".join(f"{v:.1f}" for v in values) for values in (alone[spin], times[spin])]
        print(f"| {spin} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
