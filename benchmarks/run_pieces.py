"""Cost of running in pieces (pysnn.run_chunks: Ctrl-C and progress): the scaling network's runs
in pieces against the same runs as one piece, side by side in one process, best of N.

    python benchmarks/run_pieces.py [N]
"""

import sys
import time

import pysnn.run_chunks as run_chunks
from pysnn.experiments.scaling import input_rates, scaling_network

ONE_PIECE = 10**12


def best(sim, rates, steps: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        sim.reset()
        start = time.perf_counter()
        sim.run(steps, {"x": rates})
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print("| batch | steps | one piece (ms) | in pieces (ms) | ratio |\n|---:|---:|---:|---:|---:|")
    for batch, steps in ((1, 1000), (64, 1000), (1, 100_000)):
        sim = scaling_network(1000).compile(backend="numba-cpu")
        rates = input_rates(batch)
        sim.run(10, {"x": rates})
        pieces = run_chunks.FIRST_PIECE_STEPS
        timings = {}
        for _ in range(2):  # interleaved, twice
            for label, first in (("one", ONE_PIECE), ("pieces", pieces)):
                run_chunks.FIRST_PIECE_STEPS = first
                timings[label] = min(timings.get(label, float("inf")), best(sim, rates, steps, repeats // 2))
        run_chunks.FIRST_PIECE_STEPS = pieces
        one, split = timings["one"] * 1e3, timings["pieces"] * 1e3
        print(f"| {batch} | {steps} | {one:.3f} | {split:.3f} | {split / one:.3f} |", flush=True)


if __name__ == "__main__":
    main()
