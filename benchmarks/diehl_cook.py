"""Benchmark driver for experiment 3 (Diehl & Cook 2015 STDP on MNIST, batch reductions); prints
markdown for benchmarks/RESULTS.md.

The network and training are pysnn.experiments.diehl_cook's (100 neurons, 100 ms per image, the
paper's script's settings). Every timed training runs after a warm-up trainer of the same
structure and batch form has compiled (or loaded) the run loop, so times exclude compilation.

    python benchmarks/diehl_cook.py epoch [--profile]  # (a) one epoch: 60 000 images, batch 64, sum
    python benchmarks/diehl_cook.py speedup            # (b) batch 64 against batch 1, same images
    python benchmarks/diehl_cook.py accuracy           # (c) test accuracy per reduction and batch

(a) wall-clock of one epoch, and with --profile where it goes (the simulation's runs, the weight
normalisation, the per-sample reset, and the rest: input rates, spike counts, label assignment),
and the same images presented again with learning off, which isolates the learning phase's cost.
(b) images/s at each --batch-sizes (default 1,64) on the same --n-train images (default 2000),
side by side: --repeats rounds, each training every batch size from fresh weights; the best per
batch size is reported. (c) for each --reductions (sum, mean, max) and --batch-sizes (1, 16, 64,
256), one epoch then the test set; batch 1 runs once (every reduction of one sample is the same).
Writes each run's results and learning curves as a line of JSON to --out (default
benchmarks/results/diehl_cook.jsonl) and the curves as one PNG per reduction beside it.

Common options: --n-train, --n-test (10 000; 0: no test), --n-neurons, --time, --seed,
--backend (numba-cpu), --data (MNIST folder), --threads (Numba threads; default all cores).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numba
import numpy as np

from pysnn.datasets import load_mnist
from pysnn.experiments.diehl_cook import Trainer

RESULTS = Path(__file__).parent / "results" / "diehl_cook.jsonl"
PAPER_ACCURACY = 82.9
"""Diehl & Cook (2015), 100 excitatory neurons (their Table 1)."""


def trainer(args: argparse.Namespace, reduction: str, batch_size: int) -> Trainer:
    return Trainer(args.n_neurons, reduction, batch_size, args.time, seed=args.seed, backend=args.backend)


def warm_up(args: argparse.Namespace, images: np.ndarray, labels: np.ndarray, reduction: str, batch_size: int) -> None:
    """Compile (or load) the learning and inference loops of this structure and batch form."""
    warm = trainer(args, reduction, batch_size)
    warm.train(images[:batch_size], labels[:batch_size], quiet=True)
    if args.n_test:
        warm.evaluate(images[:batch_size], labels[:batch_size], batch_size=args.test_batch_size, quiet=True)


def timed_methods(sim, names: tuple[str, ...]) -> dict[str, float]:
    """Wrap ``sim``'s methods ``names`` so that each call adds its wall-clock to the returned dict."""
    totals = dict.fromkeys(names, 0.0)
    for name in names:
        method = getattr(sim, name)

        def timed(*a, _method=method, _name=name, **k):
            begin = time.perf_counter()
            try:
                return _method(*a, **k)
            finally:
                totals[_name] += time.perf_counter() - begin

        setattr(sim, name, timed)
    return totals


def test_accuracy(args: argparse.Namespace, model: Trainer, test: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    if not args.n_test:
        return {}
    evaluation = model.evaluate(test[0][: args.n_test], test[1][: args.n_test], batch_size=args.test_batch_size, quiet=True)
    return evaluation.accuracy


def percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}"


def epoch(args: argparse.Namespace, train: tuple, test: tuple) -> None:
    batch = args.batch_sizes[-1]
    warm_up(args, *train, "sum", batch)
    model = trainer(args, "sum", batch)
    totals = timed_methods(model.sim, ("run", "normalize_weights", "reset")) if args.profile else None
    result = model.train(*train, n_train=args.n_train, quiet=True)
    totals = None if totals is None else dict(totals)  # the training's share only
    accuracy = test_accuracy(args, model, test)
    print("| images | batch | reduction | seconds | images / s | test, all activity (%) | test, proportion weighting (%) |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    print(
        f"| {result.images} | {batch} | sum | {result.seconds:.1f} | {result.images_per_second:,.0f} | "
        f"{percent(accuracy.get('all_activity'))} | {percent(accuracy.get('proportion_weighting'))} |"
    )
    if totals is not None:
        rest = result.seconds - sum(totals.values())
        parts = {"Simulation.run": totals["run"], "normalize_weights": totals["normalize_weights"],
                 "reset": totals["reset"], "rest (rates, counts, labels)": rest}
        print("\n| part | seconds | share |\n|---|---:|---:|")
        for name, seconds in parts.items():
            print(f"| {name} | {seconds:.2f} | {100 * seconds / result.seconds:.0f} % |")
        batches = -(-result.images // batch)
        seen = (train[0][: result.images], train[1][: result.images])  # the images trained on (n_train)
        model.evaluate(seen[0][:batch], seen[1][:batch], batch_size=batch, quiet=True)  # compiles the inference loop
        frozen = model.evaluate(*seen, batch_size=batch, quiet=True).seconds
        print(f"\n{batches} presentations: {1e3 * result.seconds / batches:.2f} ms each, "
              f"{1e3 * totals['run'] / batches:.2f} ms of it in Simulation.run; the same images with learning off "
              f"(weights frozen, same batches): {frozen:.1f} s, {1e3 * frozen / batches:.2f} ms each")


def speedup(args: argparse.Namespace, train: tuple, test: tuple) -> None:
    for batch in args.batch_sizes:
        warm_up(args, *train, "sum", batch)
    best = dict.fromkeys(args.batch_sizes, 0.0)
    for _ in range(args.repeats):
        for batch in args.batch_sizes:
            result = trainer(args, "sum", batch).train(*train, n_train=args.n_train, quiet=True)
            best[batch] = max(best[batch], result.images_per_second)
    base = best[args.batch_sizes[0]]
    print(f"| batch | images | images / s (best of {args.repeats}) | speed-up over batch {args.batch_sizes[0]} |")
    print("|---:|---:|---:|---:|")
    for batch, rate in best.items():
        print(f"| {batch} | {args.n_train} | {rate:,.0f} | {rate / base:.1f}x |")


def accuracy(args: argparse.Namespace, train: tuple, test: tuple) -> None:
    runs = [("sum" if batch == 1 else reduction, batch) for reduction in args.reductions for batch in args.batch_sizes]
    runs = list(dict.fromkeys(runs))  # batch 1 once
    print("| reduction | batch | images | train s | images / s | last interval, all activity (%) | "
          "test, all activity (%) | test, proportion weighting (%) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    records = []
    for reduction, batch in runs:
        warm_up(args, *train, reduction, batch)
        model = trainer(args, reduction, batch)
        result = model.train(*train, n_train=args.n_train, epochs=args.epochs, quiet=True)
        test_result = test_accuracy(args, model, test)
        last = result.curves["all_activity"][-1] if len(result.curve_images) else None
        name = "any" if batch == 1 else reduction
        print(
            f"| {name} | {batch} | {result.images} | {result.seconds:.1f} | {result.images_per_second:,.0f} | "
            f"{percent(last)} | {percent(test_result.get('all_activity'))} | "
            f"{percent(test_result.get('proportion_weighting'))} |",
            flush=True,
        )
        records.append({
            "reduction": name, "batch_size": batch, "n_train": args.n_train, "epochs": args.epochs,
            "n_neurons": args.n_neurons, "time": args.time, "seed": args.seed, "backend": model.sim.backend,
            "machine": machine(),
            "seconds": result.seconds, "images_per_second": result.images_per_second,
            "test_accuracy": test_result, "curve_images": result.curve_images.tolist(),
            "curves": {k: v.tolist() for k, v in result.curves.items()},
        })
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(record) + "\n" for record in records))
    print(f"\nresults and learning curves written to {args.out}")
    plot_curves(args, records)


def plot_curves(args: argparse.Namespace, records: list[dict]) -> None:
    """One PNG per reduction: the all-activity learning curve of each batch size (batch 1 in each)."""
    from pysnn import plots

    for reduction in args.reductions:
        chosen = [r for r in records if r["reduction"] in (reduction, "any") and r["curve_images"]]
        if not chosen:
            continue
        curves = {f"batch {r['batch_size']}": (r["curve_images"], 100 * np.array(r["curves"]["all_activity"])) for r in chosen}
        path = args.out.with_name(f"{args.out.stem}-{reduction}.png")
        title = f"Diehl & Cook, {args.n_neurons} neurons, {reduction}: accuracy per interval, all activity"
        plots.learning_curves(path, curves, x_label="training images", y_label="accuracy (%)", title=title)
        print(f"learning curves written to {path}")


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {numba.get_num_threads()} Numba threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["epoch", "speedup", "accuracy"])
    parser.add_argument("--n-train", type=int, default=None, help="training images (epoch, accuracy: 60000; speedup: 2000)")
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--batch-sizes", default=None, help="comma-separated (epoch: 64; speedup: 1,64; accuracy: 1,16,64,256)")
    parser.add_argument("--reductions", default="sum,mean,max")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--test-batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--n-neurons", type=int, default=100)
    parser.add_argument("--time", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="numba-cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    defaults = {"epoch": (60_000, "64"), "speedup": (2000, "1,64"), "accuracy": (60_000, "1,16,64,256")}[args.part]
    args.n_train = args.n_train or defaults[0]
    args.batch_sizes = [int(b) for b in (args.batch_sizes or defaults[1]).split(",")]
    args.reductions = args.reductions.split(",")
    if args.threads:
        numba.set_num_threads(args.threads)
    train, test = load_mnist("train", args.data), load_mnist("test", args.data)
    print(f"Diehl & Cook, {args.n_neurons} neurons, {args.time} ms per image, {args.backend}, {machine()}\n")
    {"epoch": epoch, "speedup": speedup, "accuracy": accuracy}[args.part](args, train, test)


if __name__ == "__main__":
    main()
