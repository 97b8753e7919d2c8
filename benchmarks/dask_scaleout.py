"""Scale-out on Dask (pysnn.distributed): one process against a LocalCluster; prints markdown.

(Not named ``distributed.py``: run as a script, its folder comes first on sys.path and the file
would shadow Dask's ``distributed`` package.)

1. Conversion (experiment 2): the 10 000 MNIST test images, T = 10, batches of --batch:
   ``conversion.simulate`` in this process (its compile from the disk cache included), then with
   a client of a LocalCluster of --workers processes, twice (the second reuses the workers'
   simulations). Predictions are checked equal.
2. A sweep of 16 points (``pysnn.distributed.points.diehl_cook_point``: reduction sum, max x
   batch 16, 64 x seed 0..3, --n-train training and --n-test test images, --neurons neurons):
   ``sweep(client=None)`` here, then on the cluster.
3. Per-task overhead on the cluster: a no-op task's round trip (one at a time), the cost per task
   of 200 no-op tasks submitted at once, scattering the conversion's model to every worker and
   one batch of inputs, and a compile of the converted network from the warm disk cache on a
   worker.
4. A model of the time on N workers, from the numbers above: T(N) = S + k * o + ceil(k / N) * t,
   with S the serial part (what the measured cluster time leaves: client-side slicing, scatter,
   gathering), k tasks, o the scheduler's cost per task (pipelined no-op tasks; serial, it
   does not fall with N) and t a task's compute (measured on the workers).

One process runs with Numba on one thread and on every core; workers run one thread each.

Usage:

    python benchmarks/dask_scaleout.py [--data DIR] [--weights DIR] [--workers 2] [--batch 1024]
        [--n-train 256] [--n-test 256] [--neurons 100] [--backend numba-cpu] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np


def noop(x):
    return x


def compile_seconds(model) -> float:
    begin = time.perf_counter()
    model.compile()
    return time.perf_counter() - begin


def timed(func, *args, **kwargs):
    begin = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - begin


def one_thread_and_all(func, *args, **kwargs):
    """(result, seconds) of ``func`` with Numba on one thread, then on all cores (the default)."""
    import numba

    default = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        first = timed(func, *args, **kwargs)
    finally:
        numba.set_num_threads(default)
    return first, timed(func, *args, **kwargs)


def conversion(args, client) -> dict:
    from pysnn.distributed import Model
    from pysnn.experiments.conversion import mnist_setup, simulate

    setup = mnist_setup(args.data, args.weights, n_test=10_000)
    x = setup.test_features
    model = Model.of(setup.converted.network, args.backend)
    compile_s = max(client.run(compile_seconds, model).values())  # fresh workers: load from the disk cache
    (here1, here1_s), (here, here_s) = one_thread_and_all(simulate, setup.converted, x, (10,), args.batch, args.backend)
    cold, cold_s = timed(simulate, setup.converted, x, (10,), args.batch, args.backend, client=client)
    warm, warm_s = timed(simulate, setup.converted, x, (10,), args.batch, args.backend, client=client)
    assert all(np.array_equal(r.predictions(), here.predictions()) for r in (here1, cold, warm)), "predictions differ"
    _, scatter_model_s = timed(lambda: client.scatter(model, broadcast=True, hash=False).result())
    chunk = setup.converted.inputs(x[: args.batch])
    _, scatter_chunk_s = timed(lambda: client.scatter([chunk], hash=False)[0].result())
    accuracy = float(np.mean(here.predictions()[0] == setup.test_labels))
    return {
        "images": len(x), "tasks": math.ceil(len(x) / args.batch), "accuracy": accuracy,
        "one_process_1_thread_s": here1_s, "one_process_s": here_s, "one_process_simulation_s": float(here.seconds[0]),
        "cluster_first_s": cold_s, "cluster_again_s": warm_s, "cluster_task_s_summed": float(warm.seconds[0]),
        "scatter_model_s": scatter_model_s, "scatter_chunk_s": scatter_chunk_s, "compile_from_cache_s": compile_s,
    }


def sweep_points(args, client) -> dict:
    from functools import partial

    from pysnn.distributed import grid_points, sweep
    from pysnn.distributed.points import diehl_cook_point, full_point

    grid = {"reduction": ["sum", "max"], "batch_size": [16, 64], "seed": [0, 1, 2, 3],
            "n_train": [args.n_train], "n_test": [args.n_test], "n_neurons": [args.neurons]}
    points = [full_point(diehl_cook_point, p) for p in grid_points(grid)]
    run = partial(diehl_cook_point, data=args.data, backend=args.backend)
    (here1, here1_s), (here, here_s) = one_thread_and_all(sweep, points, run, None)
    there, there_s = timed(sweep, points, run, client)

    def accuracies(records):
        return [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in records]

    assert accuracies(here1) == accuracies(here) == accuracies(there), "a point's accuracy differs"
    return {"points": len(points), "one_process_1_thread_s": here1_s, "one_process_s": here_s, "cluster_s": there_s,
            "mean_point_s_on_worker": float(np.mean([r["seconds"] for r in there])), "results": there}


def overhead(client) -> dict:
    client.submit(noop, -1, pure=False).result()
    begin = time.perf_counter()
    for i in range(50):
        client.submit(noop, i, pure=False).result()
    round_trip = (time.perf_counter() - begin) / 50
    begin = time.perf_counter()
    client.gather([client.submit(noop, i, pure=False) for i in range(200)])
    per_task = (time.perf_counter() - begin) / 200
    return {"round_trip_s": round_trip, "pipelined_per_task_s": per_task}


def environment(args, **more) -> dict:
    """The machine, the versions and the run's settings (``more``), as a benchmark records them."""
    import dask
    import numba

    return {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__, "dask": dask.__version__,
            "workers": args.workers, "backend": args.backend, **more}


def model_line(name: str, serial: float, tasks: int, overhead: float, compute: float) -> str:
    """T(N) = S + k * o + ceil(k / N) * t for N = 1, 2, 10, 100."""
    times = {n: serial + tasks * overhead + math.ceil(tasks / n) * compute for n in (1, 2, 10, 100)}
    shown = ", ".join(f"N={n}: {t:.2f} s" for n, t in times.items())
    return f"- {name}: S = {serial:.2f} s, k = {tasks}, o = {1e3 * overhead:.1f} ms, t = {compute:.3f} s: {shown}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("PYSNN_DATA"))
    parser.add_argument("--weights", default=str(Path.home() / ".cache" / "pysnn" / "conversion"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--n-train", type=int, default=256)
    parser.add_argument("--n-test", type=int, default=256)
    parser.add_argument("--neurons", type=int, default=100)
    parser.add_argument("--backend", default="numba-cpu")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from pysnn.distributed import cluster

    with cluster(args.workers) as client:
        costs = overhead(client)
        conv = conversion(args, client)
        swept = sweep_points(args, client)
    env = environment(args)
    print(f"{env}\n")
    print(f"| | one process, 1 thread s | one process, {os.cpu_count()} threads s | cluster of {args.workers} s |")
    print("|---|---:|---:|---:|")
    print(f"| conversion, {conv['images']} images, T = 10, batch {args.batch} ({conv['tasks']} tasks) | "
          f"{conv['one_process_1_thread_s']:.2f} | {conv['one_process_s']:.2f} | "
          f"{conv['cluster_first_s']:.2f} (again: {conv['cluster_again_s']:.2f}) |")
    print(f"| sweep, {swept['points']} Diehl & Cook points | {swept['one_process_1_thread_s']:.2f} | "
          f"{swept['one_process_s']:.2f} | {swept['cluster_s']:.2f} |")
    print()
    print(f"- conversion: accuracy {100 * conv['accuracy']:.2f} %, the same predictions every way; simulation alone "
          f"{conv['one_process_simulation_s']:.3f} s in one process, the tasks' times summed {conv['cluster_task_s_summed']:.3f} s")
    print(f"- per task: round trip {1e3 * costs['round_trip_s']:.1f} ms, pipelined {1e3 * costs['pipelined_per_task_s']:.2f} ms; "
          f"scatter of the model to every worker {1e3 * conv['scatter_model_s']:.0f} ms, of a batch of inputs "
          f"{1e3 * conv['scatter_chunk_s']:.0f} ms; compile from the disk cache on a fresh worker "
          f"{conv['compile_from_cache_s']:.2f} s")
    overhead_s = costs["pipelined_per_task_s"]
    tasks = conv["tasks"]
    compute = conv["cluster_task_s_summed"] / tasks
    serial = conv["cluster_again_s"] - tasks * overhead_s - math.ceil(tasks / args.workers) * compute
    print(model_line("conversion", max(serial, 0.0), tasks, overhead_s, compute))
    points, compute = swept["points"], swept["mean_point_s_on_worker"]
    serial = swept["cluster_s"] - points * overhead_s - math.ceil(points / args.workers) * compute
    print(model_line("sweep", max(serial, 0.0), points, overhead_s, compute))
    if args.out is not None:
        args.out.write_text(json.dumps({"env": env, "overhead": costs, "conversion": conv, "sweep": swept}, indent=1) + "\n")


if __name__ == "__main__":
    main()
