"""Data-parallel deferred learning (pysnn.distributed.ShardedLearning) against one process; prints
markdown.

Diehl & Cook's network (``diehl_cook_network``: 784 Poisson inputs -> --neurons adaptive LIF, one
spike per step, lateral inhibition, PostPre on the dense input weights, theta summed), deferred
learning of --batch MNIST training images (rates pixel / 255 x 128 Hz) for --steps steps per
presentation, --presentations presentations of new images, for the reductions sum and max:

1. one process, Numba on 1 thread: ``sim.reset(); sim.run(..., deferred=True)``;
2. ``ShardedLearning`` on a LocalCluster of --workers processes of 1 Numba thread each (one part
   per worker), from the same state: its records and state are checked against 1.;
3. the overhead parts: scattering the shared state to every worker, a no-op task's round trip, a
   part's compute (``run_terms`` of batch / workers samples, here on 1 thread), fetching every
   part's terms from the workers at once (``gather``), combining and applying them on the client
   (``apply_terms``), and the size of the terms a part ships (pickled, per-step rows packed as
   the workers pack them).

Presentation 0 of each way compiles (here, and the workers load the code from the disk cache) and
is not timed; both ways run every presentation, so their weights should stay equal (exactly for
max). Weights are not normalised between presentations (the trainer's step, not learning's).
Each presentation starts both ways from the one process's state, so the differences do not add up.

Usage:

    python benchmarks/data_parallel.py [--data DIR] [--workers 2] [--batch 64] [--steps 350]
        [--presentations 3] [--neurons 100] [--backend numba-cpu] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
from pathlib import Path

import numpy as np

from dask_scaleout import environment, overhead, timed  # the Dask benchmark beside this one


def best(func, repeats: int = 5) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``func``."""
    return min(timed(func)[1] for _ in range(repeats))


def presentations(args) -> list[tuple[dict, np.ndarray]]:
    """(inputs, sample ids) of every presentation: consecutive batches of training images."""
    from pysnn.datasets import load_mnist
    from pysnn.experiments.diehl_cook import INPUT, input_rates

    images, _ = load_mnist("train", root=args.data)
    out = []
    for p in range(args.presentations + 1):
        ids = np.arange(p * args.batch, (p + 1) * args.batch, dtype=np.uint64)
        out.append(({INPUT: input_rates(images[ids], 128.0)}, ids))
    return out


def one_reduction(args, client, reduction: str, batches) -> dict:
    from pysnn.distributed import Model, ShardedLearning
    from pysnn.distributed.data_parallel import _shared_state
    from pysnn.experiments.diehl_cook import INPUT, OUTPUT, diehl_cook_network

    net = diehl_cook_network(args.neurons, reduction)
    projection = f"{INPUT}->{OUTPUT}"
    here, there = net.compile(args.backend), net.compile(args.backend)
    learning = ShardedLearning(client, Model.of(net, args.backend))
    here_s, there_s, weights, theta, change = [], [], 0.0, 0.0, 0.0
    for inputs, ids in batches:  # the first compiles
        there.set_weights(projection, here.weights(projection))  # both from the same state
        there.set_state(OUTPUT, "theta", here.state(OUTPUT, "theta"))
        here.reset()
        w_before = here.weights(projection)
        expected, seconds = timed(here.run, args.steps, inputs, sample_ids=ids, deferred=True)
        here_s.append(seconds)
        change = max(change, float(np.abs(here.weights(projection) - w_before).max()))
        if len(here_s) == 1:  # compile run_terms here, so that the workers load it from the disk cache
            here.reset()
            here.run_terms(args.steps, inputs, sample_ids=ids)
        got, seconds = timed(learning.run, there, args.steps, inputs, sample_ids=ids)
        there_s.append(seconds)
        assert np.array_equal(got.spike_counts(OUTPUT), expected.spike_counts(OUTPUT)), "spike counts differ"
        weights = max(weights, float(np.abs(here.weights(projection) - there.weights(projection)).max()))
        theta = max(theta, float(np.abs(here.state(OUTPUT, "theta") - there.state(OUTPUT, "theta")).max()))

    inputs, ids = batches[0]
    size = -(-args.batch // args.workers)
    part = {name: array[:size] for name, array in inputs.items()}
    here.reset()
    part_s = best(lambda: here.run_terms(args.steps, part, sample_ids=ids[:size], count=args.batch), 3)
    terms = []
    for start in range(0, args.batch, size):
        here.reset()
        chunk = {name: array[start : start + size] for name, array in inputs.items()}
        terms.append(here.run_terms(args.steps, chunk, sample_ids=ids[start : start + size], count=args.batch)[1].packed())
    apply_s = best(lambda: there.apply_terms(terms), 3)  # the state it leaves does not matter any more
    nbytes = len(pickle.dumps(terms[0]))
    shared = _shared_state(here)
    scatter_s = best(lambda: client.cancel([client.scatter(shared, broadcast=True, hash=False)]))
    held = client.scatter(terms, hash=False)  # the parts' terms, spread over the workers
    fetch_s = best(lambda: client.gather(held), 3)
    client.cancel(held)
    return {
        "reduction": reduction, "one_process_s": here_s[1:], "sharded_s": there_s[1:],
        "first_one_process_s": here_s[0], "first_sharded_s": there_s[0],
        "max_weight_difference": weights, "max_theta_difference": theta, "max_weight_change": change,
        "max_theta": float(np.abs(here.state(OUTPUT, "theta")).max()),
        "part_s": part_s, "apply_s": apply_s, "terms_mb_per_part": nbytes / 1e6,
        "scatter_s": scatter_s, "fetch_terms_s": fetch_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("PYSNN_DATA"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=350)
    parser.add_argument("--presentations", type=int, default=3)
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--backend", default="numba-cpu")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import numba

    from pysnn.distributed import cluster

    numba.set_num_threads(1)
    batches = presentations(args)
    with cluster(args.workers, say=lambda message: None) as client:
        round_trip_s = overhead(client)["round_trip_s"]
        rows = [one_reduction(args, client, reduction, batches) for reduction in ("sum", "max")]
    env = environment(args, batch=args.batch, steps=args.steps)
    print(f"{env}\n")
    print(f"| reduction | one process s / presentation | {args.workers} workers s / presentation | a part's compute s | "
          "scatter state ms | task round trip ms | terms per part MB | gather terms ms | combine + apply ms | "
          "max weight diff (largest change) | max theta diff (largest theta) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['reduction']} | {np.mean(row['one_process_s']):.3f} | {np.mean(row['sharded_s']):.3f} | "
              f"{row['part_s']:.3f} | {1e3 * row['scatter_s']:.1f} | {1e3 * round_trip_s:.1f} | "
              f"{row['terms_mb_per_part']:.1f} | {1e3 * row['fetch_terms_s']:.0f} | {1e3 * row['apply_s']:.0f} | "
              f"{row['max_weight_difference']:.3g} ({row['max_weight_change']:.3g}) | "
              f"{row['max_theta_difference']:.3g} ({row['max_theta']:.3g}) |")
    if args.out is not None:
        args.out.write_text(json.dumps({"env": env, "round_trip_s": round_trip_s, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
