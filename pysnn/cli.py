"""The ``pysnn`` command: list plugins, run the scaling experiment, fetch and verify data sets."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from pysnn import registry
from pysnn.backend import BACKEND_ENV, DEFAULT_BACKEND, backend_name


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


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
    """Experiment 2: train the paper's MLP on MNIST, convert it to IF neurons, and measure
    accuracy against T and wall-clock against batch size on the test set."""
    from pysnn.experiments.conversion import TABLE_HEADER, run_conversion, table_row

    if not args.quiet:
        print(TABLE_HEADER, flush=True)
    report = run_conversion(
        backend=args.backend,
        batch_sizes=args.batch_size,
        steps=args.steps,
        seed=args.seed,
        data_root=args.data,
        n_test=args.n_test,
        cache_dir=args.weights,
        quiet=args.quiet,
        report=None if args.quiet else lambda row: print(table_row(row), flush=True),
    )
    print(f"ANN accuracy {100 * report.ann_accuracy:.2f} %; layer scales {', '.join(f'{s:.3g}' for s in report.scales)}")
    if args.out is not None:
        _write_rows(args.out, [row.as_dict() for row in report.evaluations])
    return 0


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
    """Experiment 1: seconds per 1000 steps as the batch grows."""
    from pysnn.experiments.scaling import TABLE_HEADER, scaling as run_scaling, table_row

    args.backend = backend_name(args.backend)
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    learning = " with PostPre STDP" if args.stdp else ""
    print(f"scaling experiment: 100 Poisson inputs -> n_out LIF{learning}, {args.steps} steps, backend {args.backend}")
    print(TABLE_HEADER)
    run_scaling(
        args.backend,
        args.n_out,
        args.batch,
        args.steps,
        args.repeats,
        args.dtype,
        args.stdp,
        report=lambda t: print(table_row(t), flush=True),
    )
    return 0


def data_fetch(args: argparse.Namespace) -> int:
    """Download the MNIST files missing from the data folder."""
    from pysnn.datasets import fetch_mnist
    from pysnn.errors import ConfigError

    try:
        fetch_mnist(args.root, report=lambda path, status: print(f"{path}  {status}", flush=True))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
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
    parser = argparse.ArgumentParser(prog="pysnn", description="Mini-batch spiking neural network simulation.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("plugins", help=plugins.__doc__)
    listing.add_argument("--check", action="store_true", help="also compile each plugin's kernels for every backend")
    listing.set_defaults(func=plugins)
    commands.add_parser("backends", help=backends.__doc__).set_defaults(func=backends)
    exp = commands.add_parser("scaling", help=scaling.__doc__)
    exp.add_argument(
        "--backend",
        default=None,
        help=f"backend name (default: ${BACKEND_ENV} or {DEFAULT_BACKEND}); installed: {', '.join(registry.names('backend'))}",
    )
    exp.add_argument("--n-out", type=_int_list, default=[100, 1000], help="output layer sizes (default 100,1000)")
    exp.add_argument("--batch", type=_int_list, default=[1, 4, 16, 64, 256, 1024], help="batch sizes")
    exp.add_argument("--steps", type=int, default=1000, help="time steps of 1 ms per run (default 1000)")
    exp.add_argument("--repeats", type=int, default=3, help="runs per point; the best is reported")
    exp.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    exp.add_argument("--threads", type=int, default=0, help="Numba threads (default: all cores)")
    exp.add_argument("--stdp", action="store_true", help="the paper's STDP variant (traces, PostPre learning)")
    exp.set_defaults(func=scaling)
    conv = commands.add_parser("convert", help=convert.__doc__, description=convert.__doc__)
    conv.add_argument("--backend", default=None, help=f"backend name (default: ${BACKEND_ENV} or {DEFAULT_BACKEND})")
    conv.add_argument("--batch-size", type=_int_list, default=[1, 64, 256, 1024], help="batch sizes (default 1,64,256,1024)")
    conv.add_argument("--steps", type=_int_list, default=[1, 2, 3, 4, 5, 10, 20, 50], help="simulated steps T to report")
    conv.add_argument("--seed", type=int, default=0, help="seed of the MLP's training (default 0)")
    conv.add_argument("--n-test", type=int, default=10_000, help="test images (default all 10 000)")
    conv.add_argument("--data", type=Path, default=None, help="MNIST folder (default: $PYSNN_DATA or the user cache)")
    conv.add_argument("--weights", type=Path, default=Path.home() / ".cache" / "pysnn" / "conversion",
                      help="folder of the trained MLP's weights, reused by later runs (default ~/.cache/pysnn/conversion)")
    conv.add_argument("--out", type=Path, default=None, help="write the results to this file (.csv, else JSON)")
    conv.add_argument("--quiet", action="store_true", help="no progress bars or messages, only the summary")
    conv.set_defaults(func=convert)
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
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
