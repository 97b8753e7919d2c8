"""The built-in experiments a sweep runs (``pysnn sweep``): one point each, a function of its
parameters that returns its results. Module-level, so Dask can send them to workers; each runs in
its worker's process, single-threaded by default (``cluster``)."""

from __future__ import annotations

import inspect
import os
import time as clock
from pathlib import Path
from typing import Any, Callable, Mapping

from pysnn.errors import ConfigError, shown
from pysnn.experiments.diehl_cook import Trainer

DEFAULT_WEIGHTS = Path.home() / ".cache" / "pysnn" / "conversion"
"""The conversion's folder of trained MLPs, as ``pysnn convert --weights``."""


_TRAINER = {name: p.default for name, p in inspect.signature(Trainer).parameters.items()}
"""The Diehl & Cook trainer's defaults, which a sweep point's take."""


def diehl_cook_point(
    n_neurons: int = _TRAINER["n_neurons"],
    reduction: str = _TRAINER["reduction"],
    batch_size: int = _TRAINER["batch_size"],
    time: int = _TRAINER["time"],
    intensity: float = _TRAINER["intensity"],
    seed: int = _TRAINER["seed"],
    n_train: int = 1000,
    n_test: int = 1000,
    nu_pre: float = _TRAINER["nu_pre"],
    nu_post: float = _TRAINER["nu_post"],
    deferred: bool = _TRAINER["deferred"],
    *,
    data: str | os.PathLike | None = None,
    backend: str | None = None,
) -> dict[str, Any]:
    """Diehl & Cook: train on the first ``n_train`` MNIST training images (one epoch) with the
    learning rates ``nu_pre``, ``nu_post`` (``deferred``: once per batch), test on the first
    ``n_test`` test images; both readouts' accuracy (%), the seconds of each phase and of the
    whole point (loading the data and compiling included)."""
    from pysnn.datasets import load_mnist

    start = clock.perf_counter()
    trainer = Trainer(
        n_neurons, reduction, batch_size, time, intensity, seed,
        backend=backend, deferred=deferred, nu_pre=nu_pre, nu_post=nu_post,
    )
    images, labels = load_mnist("train", root=data)
    trained = trainer.train(images, labels, n_train=n_train, quiet=True)
    images, labels = load_mnist("test", root=data)
    tested = trainer.evaluate(images[:n_test], labels[:n_test], quiet=True)
    accuracy = {name: round(100 * value, 4) for name, value in tested.accuracy.items()}
    seconds = {"train_seconds": trained.seconds, "test_seconds": tested.seconds, "seconds": clock.perf_counter() - start}
    return accuracy | {name: round(value, 3) for name, value in seconds.items()}


def conversion_point(
    percentile: float = 90.0,
    steps: int = 10,
    readout: str = "input",
    seed: int = 0,
    n_test: int = 10_000,
    batch_size: int = 1024,
    *,
    data: str | os.PathLike | None = None,
    weights: str | os.PathLike = DEFAULT_WEIGHTS,
    backend: str | None = None,
) -> dict[str, Any]:
    """ANN-to-SNN conversion: the MLP of ``seed`` (loaded from ``weights``, else trained and saved
    there) normalised at ``percentile``, ``steps`` steps on the first ``n_test`` test images;
    the accuracy (%) and the simulation's seconds."""
    from pysnn.experiments.conversion import evaluate, mnist_setup

    start = clock.perf_counter()
    setup = mnist_setup(data, weights, seed, percentile=percentile, n_test=n_test)
    setup_seconds = clock.perf_counter() - start
    (row,) = evaluate(setup.converted, setup.test_features, setup.test_labels, [steps], batch_size, backend, readout=readout)
    return {"accuracy": round(100 * row.accuracy, 4), "seconds": round(row.seconds, 3), "setup_seconds": round(setup_seconds, 3)}


EXPERIMENTS: dict[str, Callable[..., dict[str, Any]]] = {"dac": diehl_cook_point, "convert": conversion_point}
"""``pysnn sweep`` experiment name -> its point function."""


def parameters(func: Callable[..., Any]) -> dict[str, Any]:
    """A point function's parameters (those before ``*``) and their defaults."""
    return {
        name: p.default for name, p in inspect.signature(func).parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD
    }


def full_point(func: Callable[..., Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` with ``func``'s other parameters at their defaults, in ``func``'s order: every
    value that makes a result is in its point (and its key on disk)."""
    defaults = parameters(func)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}; the experiment takes {shown(list(defaults))}")
    return {name: given.get(name, default) for name, default in defaults.items()}
