"""The ``pysnn`` command: list plugins and backends, run the paper's experiments, fetch and verify
data sets."""

from __future__ import annotations

import argparse
import contextlib
import csv
import inspect
import json
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Sequence

from pysnn import registry
from pysnn.backend import BACKEND_ENV, DEFAULT_BACKEND, backend_name
from pysnn.errors import PySNNError
from pysnn.progress import progress_bar


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _png_path(text: str) -> Path:
    """A --plot file: a .png, and matplotlib installed to draw it (checked before the experiment)."""
    from pysnn import plots
    from pysnn.errors import ConfigError

    if Path(text).suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"expected a file name ending in .png, got {text!r}")
    try:
        plots.require_matplotlib()
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return Path(text)


class HelpFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description or epilog to the terminal, keeping a paragraph with an
    indented line (examples) as written; appends each option's default (a list as a,b,c), except
    None and False."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.split("\n\n"):
            if "\n " not in f"\n{paragraph}":
                paragraph = textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent, subsequent_indent=indent)
            paragraphs.append(paragraph)
        return "\n\n".join(paragraphs)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if (
            not action.help or not action.option_strings or "%(default)" in action.help
            or default is None or default is False or default is argparse.SUPPRESS
        ):
            return action.help
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{action.help} (default: {shown.replace('%', '%%')})"


def add_command(
    commands: argparse._SubParsersAction, name: str, func: Callable[[argparse.Namespace], int], *examples: str
) -> argparse.ArgumentParser:
    """A subcommand ``name`` that runs ``func``: the first line of its docstring is its summary in
    ``pysnn --help``, the whole docstring its description, ``examples`` (command lines) its epilog;
    each option's help shows its default."""
    doc = inspect.getdoc(func)
    parser = commands.add_parser(
        name, help=doc.splitlines()[0], description=doc, formatter_class=HelpFormatter,
        epilog="examples:\n" + "\n".join(f"  {example}" for example in examples),
    )
    parser.set_defaults(func=func)
    return parser


def add_common_flags(
    parser: argparse.ArgumentParser,
    *,
    batch_size: int | Sequence[int],
    seed_help: str | None,
    plot_help: str,
    batch_aliases: Sequence[str] = (),
) -> None:
    """The options every experiment command takes: ``--backend`` (None: the default backend),
    ``--batch-size`` (one integer if ``batch_size`` is an int, else a comma-separated list;
    ``batch_aliases`` are other names for it), ``--seed`` (default 0; not added if ``seed_help``
    is None: a command whose seed is given otherwise), ``--out`` (a Path: write
    the results with ``_write_results``), ``--plot`` (a .png Path, None if not given; parsing
    fails at once without matplotlib) and ``--quiet``."""
    parser.add_argument(
        "--backend", default=None,
        help=f"backend name (default: ${BACKEND_ENV} or {DEFAULT_BACKEND}); installed: {', '.join(registry.names('backend'))}",
    )
    several = not isinstance(batch_size, int)
    parser.add_argument(
        "--batch-size", *batch_aliases, dest="batch_size", default=list(batch_size) if several else batch_size,
        type=_int_list if several else _positive_int, metavar="B[,B...]" if several else "B",
        help="batch sizes (samples simulated together), comma-separated" if several else "samples simulated together",
    )
    if seed_help is not None:
        parser.add_argument("--seed", type=int, default=0, help=seed_help)
    parser.add_argument(
        "--out", type=Path, default=None, metavar="FILE", help="write the results to FILE: CSV if it ends in .csv, else JSON"
    )
    parser.add_argument("--plot", type=_png_path, default=None, metavar="FILE.png", help=plot_help)
    parser.add_argument("--quiet", action="store_true", help="only the results: no progress bars or messages")


def _write_results(args: argparse.Namespace, rows: list[dict], draw: Callable[[Path], Any]) -> None:
    """What the common flags ask for: ``rows`` to ``--out``, ``draw(path)`` to ``--plot``."""
    if args.out is not None:
        _write_rows(args.out, rows)
    if args.plot is not None:
        draw(args.plot)
        print(f"plot written to {args.plot}")


def add_dask_flags(parser: argparse.ArgumentParser) -> None:
    """``--dask N`` (a LocalCluster of N worker processes) or ``--scheduler ADDRESS`` (an existing
    Dask cluster): the command's simulations run as Dask tasks (``pysnn.distributed``)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--dask", type=_positive_int, default=None, metavar="N",
                       help="run the simulations on a local Dask cluster of N worker processes (needs the dask extra)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run the simulations on the Dask cluster of this scheduler, e.g. tcp://10.0.0.5:8786")


def _dask_client(args: argparse.Namespace):
    """The Dask client that ``--dask`` or ``--scheduler`` ask for (a context), else None."""
    if args.dask is None and args.scheduler is None:
        return contextlib.nullcontext()
    from pysnn.distributed import cluster

    return cluster(args.dask, args.scheduler, say=lambda message: print(message, file=sys.stderr, flush=True))


def plugins(args: argparse.Namespace) -> int:
    """List installed plugins, their packages, and whether they load (--check: and compile)."""
    if args.check:
        return _check_plugins()
    broken = 0
    for entry, error in registry.report():
        status = "ok" if error is None else f"ERROR: {error}"
        broken += error is not None
        print(f"{entry.kind:<13} {entry.name:<24} {entry.package:<20} {entry.version:<8} {status}")
    return 1 if broken else 0


def backends(args: argparse.Namespace) -> int:
    """List the installed backends and whether each can run on this machine (if not, why)."""
    default = backend_name(None)
    for entry, error in registry.report("backend"):
        reason = error if error is not None else registry.load("backend", entry.name).unavailable()
        status = "usable" if reason is None else f"not usable: {reason}"
        mark = " (default)" if entry.name == default else ""
        print(f"{entry.name + mark:<22} {entry.package:<20} {status}")
    return 0


def _check_plugins() -> int:
    from pysnn.plugin_check import check_installed

    backends, reports = check_installed()
    print(f"compiling every model plugin's kernels for {', '.join(backends)} in float32 and float64")
    for report in reports:
        entry = report.entry
        if report.load_error is not None:
            status = f"ERROR: {report.load_error}"
        elif report.ok:
            status = "ok"
        else:
            status = "; ".join(f"ERROR on {name}: {error}" for name, error in report.backends.items() if error)
        print(f"{entry.kind:<13} {entry.name:<24} {entry.package:<20} {entry.version:<8} {status}")
    return 0 if all(report.ok for report in reports) else 1


def convert(args: argparse.Namespace) -> int:
    """Experiment 2: ANN-to-SNN conversion on MNIST, accuracy against T and wall-clock against batch.

    Trains the paper's 784-256-128-10 ReLU MLP with scikit-learn (or loads it from --weights),
    converts it to integrate-and-fire neurons with subtractive reset and data-based weight
    normalisation, and simulates the test images, each as a constant current, in batches of each
    --batch-size: the accuracy after each T in --steps and the wall-clock of each (T, batch size),
    compilation excluded. Needs scikit-learn: pip install 'pysnn-minibatch[apps]'. With --dask or
    --scheduler the batches run as Dask tasks, with the same predictions bit for bit; the seconds
    then sum the tasks' times."""
    from pysnn import plots
    from pysnn.experiments.conversion import TABLE_HEADER, run_conversion, table_row

    if not args.quiet:
        print(TABLE_HEADER, flush=True)
    with _dask_client(args) as client:
        report = run_conversion(
            backend=args.backend,
            batch_sizes=args.batch_size,
            steps=args.steps,
            seed=args.seed,
            data_root=args.data,
            n_test=args.n_test,
            cache_dir=args.weights,
            quiet=args.quiet,
            readout=args.readout,
            report=None if args.quiet else lambda row: print(table_row(row), flush=True),
            client=client,
        )
    print(f"ANN accuracy {100 * report.ann_accuracy:.2f} %; layer scales {', '.join(f'{s:.3g}' for s in report.scales)}")
    rows = report.evaluations
    _write_results(args, [row.as_dict() for row in rows], lambda path: plots.conversion(path, rows))
    return 0


def sweep(args: argparse.Namespace) -> int:
    """Run a built-in experiment at every point of a parameter grid, as Dask tasks: a table of results.

    EXPERIMENT is dac (Diehl & Cook: train on the first n_train images, test on the first n_test)
    or convert (ANN-to-SNN conversion); their parameters and defaults are listed under EXPERIMENT.
    --grid NAME=V1,V2 gives a parameter's values (repeat it for more parameters: every
    combination runs; one value fixes it); --points FILE gives them as JSON instead, a grid
    {"name": [values]} or a list of points. Other parameters keep their defaults (every value is
    in the table). Each finished point is appended to OUT.jsonl as it comes: the same command run
    again finishes an interrupted sweep without redoing those points. Each point runs in one
    worker process, single-threaded; without --dask or --scheduler the points run one after
    another in this process."""
    from functools import partial

    from pysnn.distributed import grid_points, sweep as run_sweep
    from pysnn.distributed.points import EXPERIMENTS, conversion_point, full_point

    func = EXPERIMENTS[args.experiment]
    try:
        spec = json.loads(args.points.read_text()) if args.points is not None else dict(args.grid or [])
        points = [full_point(func, point) for point in grid_points(spec or {"seed": [0]})]
        options = {"data": args.data, "backend": args.backend}
        if func is conversion_point:
            options["weights"] = args.weights
            _train_mlps(points, args)
        with _dask_client(args) as client:
            bar = progress_bar(len(points), f"sweep {args.experiment}", "points", args.quiet)
            records = run_sweep(points, partial(func, **options), client, args.out, progress=None if bar is None else bar.update)
            if bar is not None:
                bar.close()
    except (OSError, json.JSONDecodeError) as error:  # --points or --out unreadable
        print(f"error: {error}", file=sys.stderr)
        return 1
    for record in records:
        print(", ".join(f"{name}={value}" for name, value in record.items()))
    if args.out is not None:
        print(f"results written to {args.out}")
    return 0


def _train_mlps(points: list[dict], args: argparse.Namespace) -> None:
    """The conversion's MLPs of the points' seeds, trained now if not in --weights (not by every
    task at once)."""
    from pysnn.experiments.conversion import mnist_setup

    say = None if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    for seed in sorted({point["seed"] for point in points}):
        mnist_setup(args.data, args.weights, seed, n_test=1, say=say)


def _grid_option(text: str) -> tuple[str, list]:
    """A --grid NAME=V1,V2 option: (name, values), each value a JSON number, true/false or null if
    it reads as one, else a string."""
    name, equals, values = text.partition("=")
    if not equals or not name.isidentifier() or not values:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,VALUE...], got {text!r}")
    return name, [_json_or_text(value) for value in values.split(",")]


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _write_rows(path: Path, rows: list[dict]) -> None:
    """``rows`` as CSV (a ``.csv`` path) or else JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"results written to {path}")


def scaling(args: argparse.Namespace) -> int:
    """Experiment 1: seconds per 1000 steps as the batch grows.

    100 Poisson inputs (rates uniform in 0-120 Hz) drive n_out LIF neurons through dense random
    weights for --steps steps of 1 ms. Each (n_out, batch size) is the best of --repeats runs,
    compilation excluded; --stdp adds spike traces and PostPre learning, as in the paper."""
    from pysnn import plots
    from pysnn.experiments.scaling import TABLE_HEADER, scaling as run_scaling, table_row

    args.backend = backend_name(args.backend)
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    if not args.quiet:
        learning = " with PostPre STDP" if args.stdp else ""
        print(f"scaling experiment: 100 Poisson inputs -> n_out LIF{learning}, {args.steps} steps, backend {args.backend}")
    print(TABLE_HEADER, flush=True)
    bar = progress_bar(len(args.n_out) * len(args.batch_size), "scaling", "points", args.quiet)

    def report(timing) -> None:
        if bar is None:
            print(table_row(timing), flush=True)
            return
        bar.write(table_row(timing), file=sys.stdout)
        bar.set_postfix_str(f"last: {timing.sample_steps_per_second:,.0f} sample-steps/s", refresh=False)
        bar.update()

    timings = run_scaling(
        args.backend, args.n_out, args.batch_size, args.steps, args.repeats, args.dtype, args.stdp, report, args.seed
    )
    if bar is not None:
        bar.close()
    _write_results(args, [t.as_dict() for t in timings], lambda path: plots.scaling(path, timings))
    return 0


def train(args: argparse.Namespace) -> int:
    """Experiment 3: Diehl & Cook (2015) unsupervised STDP on MNIST, in mini-batches.

    Trains --n-neurons adaptive-threshold neurons with lateral inhibition on the first --n-train
    training images for --epochs epochs: each image is shown for --time ms as Poisson spikes (rate
    = pixel / 255 * --intensity Hz), PostPre STDP combines the batch's weight changes with
    --reduction, and each neuron's weights are normalised after every batch. Every 250 images
    (rounded to whole batches) the neurons are labelled by the class they fired most for; the
    learning curve is the accuracy on each such interval with the labels of the one before. Then
    the readouts (all activity, proportion weighting) are tested on --n-test test images with
    learning off. --checkpoint saves the training, --resume continues it, `pysnn evaluate` tests it.
    --deferred learns once per batch (the presentation's summed changes, applied at its end)
    instead of after every step; with it, --dask or --scheduler split each batch over Dask
    workers (the same results as one process: exactly for --reduction max or min, within
    round-off for sum and mean)."""
    from pysnn.datasets import load_mnist
    from pysnn.experiments.diehl_cook import Trainer

    if args.resume and args.checkpoint is None:
        print("error: --resume needs --checkpoint FILE, the checkpoint to continue", file=sys.stderr)
        return 2
    images, labels = load_mnist("train", root=args.data)
    if args.resume:
        trainer = Trainer.from_checkpoint(args.checkpoint, backend=args.backend)
    else:
        trainer = Trainer(
            args.n_neurons, args.reduction, args.batch_size, args.time, args.intensity, args.seed, backend=args.backend,
            deferred=args.deferred, nu_pre=args.nu_pre, nu_post=args.nu_post,
        )
    if (args.dask or args.scheduler) and not trainer.deferred:
        print("error: --dask and --scheduler split each batch's learning over workers, which needs --deferred",
              file=sys.stderr)
        return 2
    with _dask_client(args) as client:
        result = trainer.train(
            images, labels, epochs=args.epochs, n_train=args.n_train, checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every, quiet=args.quiet, client=client,
        )
        evaluation = _evaluate_on_test(trainer, args, client) if args.n_test else None
    print(
        f"Diehl & Cook, {trainer.n_neurons} neurons, reduction {trainer.reduction}, batch {trainer.batch_size}, "
        f"{trainer.sim.backend}: {result.images} images in {result.seconds:.1f} s ({result.images_per_second:,.0f} images/s)"
    )
    rows = [_accuracy_row("training", result.images, result.seconds, None)]
    for index, images_seen in enumerate(result.curve_images):
        rows.append(_accuracy_row("interval", int(images_seen), None, {k: float(v[index]) for k, v in result.curves.items()}))
    if len(result.curve_images):
        print(f"last interval: {_accuracies(rows[-1])}")
    if evaluation is not None:
        rows.append(_accuracy_row("test", evaluation.n_images, evaluation.seconds, evaluation.accuracy))
        print(f"test, {evaluation.n_images} images: {_accuracies(rows[-1])}")
    _write_results(args, rows, lambda path: _draw_training(path, trainer, result))
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """Test a Diehl & Cook network saved by `pysnn train --checkpoint FILE` on MNIST's test images.

    Shows the first --n-test test images with learning off (weights and thresholds frozen, so the
    batch size changes nothing but the speed) and prints the accuracy of both readouts with the
    neurons' labels from the training's last interval. With --dask or --scheduler the batches run
    as Dask tasks, with the same spike counts bit for bit."""
    from pysnn.experiments.diehl_cook import Trainer

    trainer = Trainer.from_checkpoint(args.checkpoint, backend=args.backend)
    with _dask_client(args) as client:
        evaluation = _evaluate_on_test(trainer, args, client)
    row = _accuracy_row("test", evaluation.n_images, evaluation.seconds, evaluation.accuracy)
    print(f"test, {evaluation.n_images} images: {_accuracies(row)} ({evaluation.seconds:.1f} s, {trainer.sim.backend})")
    _write_results(args, [row], lambda path: _draw_evaluation(path, trainer, args))
    return 0


def _draw_evaluation(path: Path, trainer, args: argparse.Namespace) -> None:
    """The receptive fields to ``path``, the spike raster of the layer for the first test image
    to ``<stem>-raster.png``."""
    from pysnn import plots
    from pysnn.datasets import load_mnist

    _draw_fields(path, trainer)
    images, labels = load_mnist("test", root=args.data)
    events = trainer.spike_events(images[:1])[1]
    steps, neurons = events.raster(0)
    raster_path = path.with_name(f"{path.stem}-raster.png")
    title = f"Diehl & Cook: spikes of the {trainer.n_neurons} neurons for test image 0 (a {labels[0]})"
    plots.raster(raster_path, steps, neurons, n_neurons=trainer.n_neurons, n_steps=trainer.time, title=title)
    print(f"plot written to {raster_path}")


def _evaluate_on_test(trainer, args: argparse.Namespace, client=None):
    """``trainer.evaluate`` on the first ``args.n_test`` MNIST test images (``client``: as Dask tasks)."""
    from pysnn.datasets import load_mnist

    images, labels = load_mnist("test", root=args.data)
    return trainer.evaluate(
        images[: args.n_test], labels[: args.n_test], batch_size=args.batch_size, quiet=args.quiet, client=client
    )


def _accuracy_row(phase: str, images: int, seconds: float | None, accuracy: dict[str, float] | None) -> dict:
    """A row of the results file: the phase (training, interval, test), its images, its seconds
    (None for intervals), the readouts' accuracy in % (None for training)."""
    from pysnn.experiments.diehl_cook import READOUTS

    accuracy = accuracy or {}
    percent = {name: None if name not in accuracy else round(100 * accuracy[name], 4) for name in READOUTS}
    return {"phase": phase, "images": images, "seconds": seconds, **percent}


def _accuracies(row: dict) -> str:
    return f"all activity {row['all_activity']:.2f} %, proportion weighting {row['proportion_weighting']:.2f} %"


def _draw_fields(path: Path, trainer) -> None:
    from pysnn import plots
    from pysnn.experiments.diehl_cook import PROJECTION

    title = f"Diehl & Cook receptive fields: {trainer.n_neurons} neurons, {trainer.reduction}, batch {trainer.batch_size}"
    plots.receptive_fields(path, trainer.sim.weights(PROJECTION), image_shape=(28, 28), title=title)


def _draw_training(path: Path, trainer, result) -> None:
    """The receptive fields to ``path``, the learning curves (if any point) to ``<stem>-curves.png``."""
    from pysnn import plots

    _draw_fields(path, trainer)
    if len(result.curve_images):
        curves_path = path.with_name(f"{path.stem}-curves.png")
        curves = {name.replace("_", " "): (result.curve_images, 100 * y) for name, y in result.curves.items()}
        title = f"Diehl & Cook learning curves: {trainer.reduction}, batch {trainer.batch_size}"
        plots.learning_curves(curves_path, curves, x_label="training images", y_label="accuracy (%)", title=title)
        print(f"plot written to {curves_path}")


def _count(text: str) -> int:
    """A non-negative integer option."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _add_diehl_cook_commands(commands: argparse._SubParsersAction) -> None:
    """``pysnn train`` and ``pysnn evaluate``."""
    from pysnn.experiments.diehl_cook import NU

    data_help = "MNIST folder (default: $PYSNN_DATA or ~/.cache/pysnn/data)"
    learn = add_command(
        commands, "train", train,
        "pysnn train --batch-size 64 --reduction sum --checkpoint dac.npz --out dac.json --plot dac.png",
        "pysnn train --n-train 2000 --batch-size 16 --reduction max --n-test 1000",
        "pysnn train --checkpoint dac.npz --resume --epochs 2",
        "pysnn train --deferred --reduction max --dask 2 --n-train 6000",
    )
    add_common_flags(
        learn, batch_size=64,
        seed_help="seed of the initial weights, the data order and the Poisson spikes",
        plot_help="draw the receptive fields to FILE.png and the learning curves to FILE-curves.png",
    )
    learn.add_argument("--n-neurons", type=_positive_int, default=100, metavar="N", help="excitatory neurons")
    learn.add_argument("--reduction", default="sum", metavar="NAME",
                       help="how the batch's weight changes combine: sum, mean, max or any reduction plugin "
                       "(the adaptive thresholds always sum)")
    learn.add_argument("--epochs", type=_positive_int, default=1, metavar="N",
                       help="passes over the training images, in all (--resume: those done included)")
    learn.add_argument("--n-train", type=_positive_int, default=None, metavar="N",
                       help="training images, from the first (default: all 60000; --resume: the checkpoint's)")
    learn.add_argument("--n-test", type=_count, default=10_000, metavar="N", help="test images after training; 0: no test")
    learn.add_argument("--time", type=_positive_int, default=100, metavar="MS", help="presentation time per image (steps of 1 ms)")
    learn.add_argument("--intensity", type=float, default=128.0, metavar="HZ", help="input rate of a white pixel")
    learn.add_argument("--data", type=Path, default=None, metavar="DIR", help=data_help)
    learn.add_argument("--checkpoint", type=Path, default=None, metavar="FILE",
                       help="save the training to FILE (.npz) at the end and every --checkpoint-every batches")
    learn.add_argument("--checkpoint-every", type=_count, default=0, metavar="N", help="batches between checkpoints; 0: only at the end")
    learn.add_argument("--resume", action="store_true",
                       help="continue the training saved in --checkpoint, with its settings (neurons, reduction, "
                       "batch size, time, intensity, seed, learning rates, deferred)")
    learn.add_argument("--nu-pre", type=float, default=NU[0], metavar="RATE",
                       help="PostPre's depression rate (times the target's trace at a source spike)")
    learn.add_argument("--nu-post", type=float, default=NU[1], metavar="RATE",
                       help="PostPre's potentiation rate (times the source's trace at a target spike)")
    learn.add_argument("--deferred", action="store_true",
                       help="learn once per batch, at the end of its presentation, instead of after every step "
                       "(needed by --dask and --scheduler)")
    add_dask_flags(learn)
    test = add_command(
        commands, "evaluate", evaluate,
        "pysnn evaluate dac.npz",
        "pysnn evaluate dac.npz --n-test 1000 --batch-size 1000 --out test.csv --plot fields.png",
    )
    test.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="a checkpoint written by pysnn train --checkpoint")
    add_common_flags(
        test, batch_size=256, seed_help=None,
        plot_help="draw the receptive fields to FILE.png and the spike raster of test image 0 to FILE-raster.png",
    )
    test.add_argument("--n-test", type=_positive_int, default=10_000, metavar="N", help="test images, from the first")
    test.add_argument("--data", type=Path, default=None, metavar="DIR", help=data_help)
    add_dask_flags(test)


def _add_sweep_command(commands: argparse._SubParsersAction) -> None:
    """``pysnn sweep``."""
    from pysnn.distributed.points import DEFAULT_WEIGHTS, EXPERIMENTS, parameters

    experiments = "; ".join(
        f"{name}: " + ", ".join(f"{p}={value}" for p, value in parameters(func).items())
        for name, func in sorted(EXPERIMENTS.items())
    )
    parser = add_command(
        commands, "sweep", sweep,
        "pysnn sweep dac --grid reduction=sum,max --grid batch_size=16,64 --grid n_train=1000 --dask 2 --out sweep.csv",
        "pysnn sweep dac --grid nu_post=0.005,0.01,0.02 --grid deferred=true,false --out rates.json",
        "pysnn sweep convert --grid percentile=80,90,99.9 --grid steps=5,10 --scheduler tcp://10.0.0.5:8786 --out conv.json",
    )
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS), metavar="EXPERIMENT", help=experiments)
    spec = parser.add_mutually_exclusive_group()
    spec.add_argument("--grid", type=_grid_option, action="append", metavar="NAME=V1[,V2...]",
                      help="a parameter's values; repeat for several parameters")
    spec.add_argument("--points", type=Path, default=None, metavar="FILE.json",
                      help="the points as JSON: a grid {name: [values]} or a list of {name: value}")
    parser.add_argument("--backend", default=None, help=f"backend name (default: ${BACKEND_ENV} or {DEFAULT_BACKEND})")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="the table: CSV if it ends in .csv, else JSON; finished points go to FILE.jsonl")
    parser.add_argument("--data", type=Path, default=None, metavar="DIR",
                        help="MNIST folder (default: $PYSNN_DATA or ~/.cache/pysnn/data)")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, metavar="DIR",
                        help="convert: folder of the trained MLPs' weights")
    parser.add_argument("--quiet", action="store_true", help="only the results: no progress bar or messages")
    add_dask_flags(parser)


def data_fetch(args: argparse.Namespace) -> int:
    """Download the MNIST files missing from the data folder."""
    from pysnn.datasets import fetch_mnist

    fetch_mnist(args.root, report=lambda path, status: print(f"{path}  {status}", flush=True))
    return 0


def data_verify(args: argparse.Namespace) -> int:
    """Check the MNIST files in the data folder against their checksums."""
    from pysnn.datasets import mnist_dir, verify_mnist

    print(f"MNIST in {mnist_dir(args.root)}")
    report = verify_mnist(args.root)
    for name, status in report.items():
        print(f"{name:<24} {status}")
    bad = sum(status != "ok" for status in report.values())
    if bad:
        root = "" if args.root is None else f" --root {args.root}"
        print(
            f"error: {bad} of {len(report)} MNIST files missing or damaged: delete the damaged ones, then run "
            f"`pysnn data fetch{root}`",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pysnn",
        description="Mini-batch simulation of spiking neural networks: the paper's experiments, data sets, plugins.",
        epilog="`pysnn COMMAND --help` shows a command's options. The experiment commands share --backend,\n"
        "--batch-size, --seed, --out (results as CSV or JSON), --plot (a PNG) and --quiet.",
        formatter_class=HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    listing = commands.add_parser("plugins", help=plugins.__doc__)
    listing.add_argument("--check", action="store_true", help="also compile each plugin's kernels for every backend")
    listing.set_defaults(func=plugins)
    commands.add_parser("backends", help=backends.__doc__).set_defaults(func=backends)
    exp = add_command(
        commands, "scaling", scaling,
        "pysnn scaling --n-out 1000 --batch-size 1,16,256 --out scaling.csv --plot scaling.png",
        "pysnn scaling --stdp --backend numpy --n-out 100 --batch-size 1,8 --steps 200",
    )
    add_common_flags(
        exp, batch_size=[1, 4, 16, 64, 256, 1024], batch_aliases=["--batch"],
        seed_help="seed of the weights; the input rates use seed + 1",
        plot_help="draw seconds per 1000 steps against batch size (log-log) to FILE.png",
    )
    exp.add_argument("--n-out", type=_int_list, default=[100, 1000], metavar="N[,N...]", help="LIF layer sizes")
    exp.add_argument("--steps", type=_positive_int, default=1000, metavar="N", help="time steps of 1 ms per run")
    exp.add_argument("--repeats", type=_positive_int, default=3, metavar="N", help="runs per point; the fastest is reported")
    exp.add_argument("--dtype", choices=["float32", "float64"], default="float32", help="simulation dtype")
    exp.add_argument("--threads", type=int, default=0, metavar="N", help="Numba threads; 0: all cores")
    exp.add_argument("--stdp", action="store_true", help="the paper's STDP variant (traces, PostPre learning)")
    conv = add_command(
        commands, "convert", convert,
        "pysnn convert --batch-size 1,1024 --steps 5,10,20 --out conversion.json --plot conversion.png",
        "pysnn convert --n-test 1000 --backend numpy --quiet",
    )
    add_common_flags(
        conv, batch_size=[1, 64, 256, 1024],
        seed_help="seed of the MLP's training",
        plot_help="draw accuracy against T and wall-clock against batch size to FILE.png",
    )
    conv.add_argument("--steps", type=_int_list, default=[1, 2, 3, 4, 5, 10, 20, 50], metavar="T[,T...]",
                      help="simulated steps T at which to read the output")
    conv.add_argument("--n-test", type=_positive_int, default=10_000, metavar="N", help="test images, from the first")
    conv.add_argument("--data", type=Path, default=None, metavar="DIR",
                      help="MNIST folder (default: $PYSNN_DATA or ~/.cache/pysnn/data)")
    conv.add_argument("--weights", type=Path, default=Path.home() / ".cache" / "pysnn" / "conversion", metavar="DIR",
                      help="folder of the trained MLP's weights, reused by later runs")
    from pysnn.experiments.conversion import DEFAULT_READOUT, READOUTS

    conv.add_argument("--readout", choices=READOUTS, default=DEFAULT_READOUT,
                      help="class of a sample: the output neuron with the most summed input (the paper's) or spikes")
    add_dask_flags(conv)
    _add_diehl_cook_commands(commands)
    _add_sweep_command(commands)
    data = commands.add_parser("data", help="Download (fetch) or check (verify) the MNIST files.")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    for name, func in (("fetch", data_fetch), ("verify", data_verify)):
        sub = data_commands.add_parser(name, help=func.__doc__)
        sub.add_argument(
            "--root",
            default=None,
            help="data folder (default: $PYSNN_DATA or ~/.cache/pysnn/data); MNIST is read from it or its mnist/",
        )
        sub.set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PySNNError as error:  # a bad argument, file or setting: its message, without a traceback
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
