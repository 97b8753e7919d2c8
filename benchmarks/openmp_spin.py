"""How long OpenMP threads spin before sleeping (``GOMP_SPINCOUNT``), on a learning run with
several parallel regions per step: Diehl & Cook at batch 64 on numba-cpu, 2 threads, in fresh
processes, libgomp's default (300 000) against pysnn's (``pysnn_numba.backend.OPENMP_SPIN_COUNT``),
alternated: one such process alone, then ``--together`` of them at once (several experiments, or
Dask workers, on one machine), with ``--busy``: beside a plain busy loop.

    python benchmarks/openmp_spin.py [--together 2] [--busy] [--rounds 3]
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
    parser.add_argument("--together", type=int, default=1, help="processes measured at once")
    args = parser.parse_args()
    from pysnn_numba.backend import OPENMP_SPIN_COUNT

    spins = {"libgomp default (300000)": "300000", f"pysnn ({OPENMP_SPIN_COUNT})": OPENMP_SPIN_COUNT}
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        times = {label: [] for label in spins}
        for _ in range(args.rounds):
            for label, spin in spins.items():
                times[label] += presentation_ms(spin, args.together)
    finally:
        if busy is not None:
            busy.kill()
    print(f"ms per batch-64 presentation (100 steps), 2 threads, {args.together} process(es) at once{', one core busy' if args.busy else ''}:")
    for label, values in times.items():
        print(f"  {label}: {', '.join(f'{v:.1f}' for v in values)} (median {sorted(values)[len(values) // 2]:.1f})")


if __name__ == "__main__":
    main()
