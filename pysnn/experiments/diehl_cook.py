"""Experiment 3 of the paper: Diehl & Cook (2015) unsupervised STDP on MNIST, in mini-batches.

The network (``diehl_cook_network``): 784 Poisson inputs ``X`` (rate = pixel / 255 * intensity,
Hz) -> ``n_neurons`` adaptive-threshold LIF neurons ``Y`` (``adaptive_lif``, at most one spike
per sample and step), X -> Y dense with PostPre STDP and the batch reduction of one's choice,
weights clipped to [0, 1]; Y -> Y lateral inhibition (-120 off the diagonal, fixed). The
adaptive threshold ``theta`` always combines the batch's spikes by ``sum`` (BindsNET's
``theta += theta_plus * sum over the batch of the spikes``), whatever the weights' reduction.

Training (``Trainer.train``) presents each batch of images for ``time`` steps of 1 ms, then
normalises each neuron's incoming weights to sum 78.4 and resets the per-sample state (no rest
period, as the paper's script). The data order is a permutation of the first ``n_train`` images
drawn from the seed and the epoch; each presentation's sample id (which keys its Poisson draws)
is ``epoch * n_train + its position in the epoch``. So training is deterministic given the seed,
and independent of the thread count. ``Trainer(deferred=True)`` learns once per batch instead of
after every step, which lets ``train(client=...)`` split each batch over Dask workers.

Labels (``pysnn.experiments.readout``): the spike counts of the last ``update_interval`` samples
(``max(250 // batch, 1) * batch`` by default) are kept with their labels; when an interval is
full, both readouts' accuracy on it with the current assignments is a point of the learning
curve, then the neurons are assigned from that interval. Neurons start ``UNASSIGNED``.
``Trainer.evaluate`` runs test images with learning off and the final assignments.
"""

from __future__ import annotations

import copy
import os
import time as clock
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from pysnn import Dense, Learning, Network, SpikeEvents, Trace
from pysnn.errors import ConfigError, flag, positive_int, real_number, shown
from pysnn.experiments.readout import UNASSIGNED, all_activity, assign_labels, proportion_weighting
from pysnn.progress import progress_bar

INPUT, OUTPUT = "X", "Y"
PROJECTION = f"{INPUT}->{OUTPUT}"
"""The learning projection."""
N_CLASSES = 10
NORM = 78.4
"""Each neuron's incoming weights sum to this after every presentation (0.1 per input)."""
NEURON_PARAMS = {
    "rest": -65.0,
    "reset": -60.0,
    "thresh": -52.0,
    "refrac": 5.0,
    "tc_decay": 100.0,
    "theta_plus": 0.05,
    "tc_theta_decay": 1e7,
}
"""``adaptive_lif`` parameters of Diehl & Cook's excitatory neurons (mV, ms)."""
READOUTS = ("all_activity", "proportion_weighting")
TEST_ID_OFFSET = 1 << 40
"""Test image k runs with sample id ``TEST_ID_OFFSET + k``: Poisson draws apart from training's."""
CHECKPOINT_KIND = "diehl_cook"
NU = (1e-4, 1e-2)
"""PostPre's learning rates (nu_pre, nu_post) of Diehl & Cook's network."""
CONFIG_KEYS = (
    "n_neurons", "reduction", "batch_size", "time", "intensity", "seed", "update_interval", "one_spike", "deferred",
    "nu_pre", "nu_post",
)
ADDED_CONFIG = {"deferred": 0, "nu_pre": NU[0], "nu_post": NU[1]}
"""Settings that checkpoints of earlier versions lack, with the value those were trained with."""
"""``Trainer`` arguments a checkpoint records (all but the backend)."""


def diehl_cook_network(
    n_neurons: int = 100,
    reduction: str = "sum",
    seed: int = 0,
    *,
    n_inputs: int = 784,
    inhibition: float = 120.0,
    nu: tuple[float, float] = NU,
    w_init: float = 0.3,
    neuron_params: Mapping[str, Any] | None = None,
    trace_tau: float = 20.0,
    one_spike: bool = True,
) -> Network:
    """Diehl & Cook's network: ``n_inputs`` Poisson inputs ``X`` -> ``n_neurons`` ``adaptive_lif``
    neurons ``Y`` (``NEURON_PARAMS`` updated by ``neuron_params``; ``one_spike``: at most one spike
    per sample and step), with spike traces of ``trace_tau`` ms on both.

    X -> Y: dense, weights ``w_init * U(0, 1)`` drawn from ``seed``, PostPre with
    ``nu = (nu_pre, nu_post)``, ``reduction`` over the batch (a reduction plugin's name), clipped
    to [0, 1]. Y -> Y: ``-inhibition`` everywhere but the diagonal (0), no learning. ``theta``
    reduces by ``sum`` whatever ``reduction`` is. Spike counts of ``Y`` are monitored.
    """
    n_neurons = positive_int(n_neurons, "n_neurons")
    n_inputs = positive_int(n_inputs, "n_inputs")
    if not isinstance(reduction, str):
        raise ConfigError(
            f"reduction must be a reduction plugin's name (e.g. 'sum', 'mean', 'max'), got {shown(reduction)}"
        )
    weights = w_init * np.random.default_rng(_seed(seed)).random((n_inputs, n_neurons))
    net = Network(dt=1.0)
    net.add_input(INPUT, n_inputs, encoder="poisson", trace=Trace(trace_tau))
    net.add_population(
        OUTPUT,
        n_neurons,
        model="adaptive_lif",
        params={**NEURON_PARAMS, **(neuron_params or {})},
        trace=Trace(trace_tau),
        reductions={"theta": "sum"},
        one_spike=one_spike,
    )
    rule = Learning("postpre", {"nu_pre": nu[0], "nu_post": nu[1]}, reduction=reduction, wmin=0.0, wmax=1.0)
    net.connect(INPUT, OUTPUT, Dense(weights), learning=rule)
    inhibit = np.full((n_neurons, n_neurons), -float(inhibition))
    np.fill_diagonal(inhibit, 0.0)
    net.connect(OUTPUT, OUTPUT, Dense(inhibit))
    net.monitor(OUTPUT, "spike_counts")
    return net


def input_rates(images: np.ndarray, intensity: float) -> np.ndarray:
    """Poisson rates in Hz, float32 (n, pixels): pixel / 255 * ``intensity``."""
    flat = images.reshape(len(images), -1)
    return (flat * (intensity / 255.0)).astype(np.float32)


@dataclass(frozen=True)
class TrainResult:
    """What one ``Trainer.train`` call did, and the learning curve so far."""

    curve_images: np.ndarray
    """Images trained when each point of the learning curve was taken (int64)."""
    curves: dict[str, np.ndarray]
    """Readout name (``READOUTS``) -> accuracy (0..1) of each interval with the assignments made
    before it."""
    assignments: np.ndarray
    """Each neuron's class from the last interval (``UNASSIGNED``, -1: it did not fire there,
    or no interval has ended yet)."""
    proportions: np.ndarray
    """(n_neurons, 10): each neuron's class rates, normalised per neuron."""
    images: int
    """Images trained in this call (resumed training: since the checkpoint)."""
    seconds: float
    """Wall-clock of this call's training loop (the first batch includes loading or compiling
    the run loop)."""

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of both readouts on test images, with learning off."""

    accuracy: dict[str, float]
    """Readout name (``READOUTS``) -> fraction classified correctly."""
    n_images: int
    seconds: float


class Trainer:
    """Diehl & Cook training of one network at one batch size (see the module's docstring).

    ``Trainer(n_neurons=100, reduction="sum", batch_size=64)`` builds the network
    (``diehl_cook_network(n_neurons, reduction, seed, nu=(nu_pre, nu_post))``) and compiles it
    for ``backend``.
    ``deferred=True`` learns once per batch (``run(deferred=True)``: the changes of the whole
    presentation, applied at its end) instead of after every step (the paper's way); then
    ``train(client=...)`` can split each batch over Dask workers.
    ``train`` learns, ``evaluate`` tests; ``sim`` holds the weights (``sim.weights(PROJECTION)``)
    and thresholds (``sim.state(OUTPUT, "theta")``).
    """

    def __init__(
        self,
        n_neurons: int = 100,
        reduction: str = "sum",
        batch_size: int = 64,
        time: int = 100,
        intensity: float = 128.0,
        seed: int = 0,
        update_interval: int | None = None,
        backend: str | None = None,
        one_spike: bool = True,
        deferred: bool = False,
        nu_pre: float = NU[0],
        nu_post: float = NU[1],
    ) -> None:
        self.batch_size = positive_int(batch_size, "batch_size")
        self.time = positive_int(time, "time")
        self.intensity = real_number(intensity, "intensity", "a rate in Hz >= 0", valid=lambda x: x >= 0)
        default_interval = max(250 // self.batch_size, 1) * self.batch_size
        self.update_interval = (
            default_interval if update_interval is None else positive_int(update_interval, "update_interval")
        )
        self.seed = _seed(seed)
        self.reduction = reduction
        self.nu_pre = real_number(nu_pre, "nu_pre", "a finite number")
        self.nu_post = real_number(nu_post, "nu_post", "a finite number")
        self.network = diehl_cook_network(n_neurons, reduction, self.seed, one_spike=one_spike, nu=(self.nu_pre, self.nu_post))
        self.one_spike = bool(one_spike)
        self.deferred = flag(deferred, "deferred")
        self.n_neurons = int(n_neurons)
        self.sim = self.network.compile(backend=backend, seed=self.seed)
        self.assignments = np.full(self.n_neurons, UNASSIGNED, dtype=np.int64)
        self.proportions = np.zeros((self.n_neurons, N_CLASSES))
        self.epoch = 0
        self.position = 0
        """Next image of ``epoch``'s order to train."""
        self.n_train: int | None = None
        self._interval_counts: list[np.ndarray] = []
        self._interval_labels: list[np.ndarray] = []
        self._curve_images: list[int] = []
        self._curves: dict[str, list[float]] = {name: [] for name in READOUTS}

    @property
    def images_seen(self) -> int:
        return 0 if self.n_train is None else self.epoch * self.n_train + self.position

    def train(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        epochs: int = 1,
        n_train: int | None = None,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 0,
        resume: bool = False,
        quiet: bool = False,
        client: Any = None,
    ) -> TrainResult:
        """Train on the first ``n_train`` of ``images`` (uint8 (N, 28, 28)) and ``labels`` until
        ``epochs`` epochs are done in all, from where this trainer stands (a new one: the start).
        ``n_train`` defaults to the number this trainer trained on so far (a new one: all).

        ``checkpoint``: a file written every ``checkpoint_every`` batches (0: never) and at the
        end (``pysnn.checkpoint``: the simulation's state, the position in the data, the current
        interval's counts, the assignments and the curve). ``resume=True`` first loads it and
        continues from there, ending bit-identical to an uninterrupted run. Ctrl-C stops training
        during a batch (``pysnn.RunInterrupted``); the last checkpoint written is its last
        consistent state. Unless ``quiet``, a progress bar (images/s) shows on a terminal.

        ``client`` (a ``distributed.Client``; needs ``deferred=True``): each batch's learning run
        is split over the client's workers (``pysnn.distributed.ShardedLearning``), which gives
        the same spike counts and weights as one process, exactly for max and min, within
        round-off for sum and mean (theta always sums).
        """
        images, labels = _check_data(images, labels, self.network.populations[INPUT].n)
        learner = None if client is None else self._sharded_learning(client)
        epochs = positive_int(epochs, "epochs")
        checkpoint_every = _count(checkpoint_every, "checkpoint_every")
        if (resume or checkpoint_every) and checkpoint is None:
            raise ConfigError("resume and checkpoint_every need checkpoint=PATH, the checkpoint file")
        if n_train is not None:
            n_train = positive_int(n_train, "n_train")
        if resume:
            self._load(checkpoint, n_train, len(images))
        n_train = n_train or self.n_train or len(images)
        if n_train > len(images):
            raise ConfigError(f"n_train={n_train} exceeds the {len(images)} images given; pass n_train <= {len(images)}")
        if self.n_train not in (None, n_train):
            raise ConfigError(f"n_train={n_train} differs from the {self.n_train} this trainer was trained on so far")
        self.n_train = n_train
        start_seen = self.images_seen
        bar = progress_bar(epochs * n_train - start_seen, f"{self.reduction}, batch {self.batch_size}", "img", quiet)
        begin = clock.perf_counter()
        batches = 0
        try:
            while self.epoch < epochs:
                order = np.random.default_rng([self.seed, self.epoch]).permutation(n_train)
                while self.position < n_train:
                    chosen = order[self.position : self.position + self.batch_size]
                    self._train_batch(images[chosen], labels[chosen], learner)
                    batches += 1
                    if checkpoint_every and batches % checkpoint_every == 0:
                        self._save(checkpoint)
                    if bar is not None:
                        bar.update(len(chosen))
                self.epoch, self.position = self.epoch + 1, 0
        finally:
            if bar is not None:
                bar.close()
        seconds = clock.perf_counter() - begin
        if checkpoint is not None:
            self._save(checkpoint)
        return TrainResult(
            np.array(self._curve_images, dtype=np.int64),
            {name: np.array(values) for name, values in self._curves.items()},
            self.assignments.copy(),
            self.proportions.copy(),
            self.images_seen - start_seen,
            seconds,
        )

    def evaluate(
        self, images: np.ndarray, labels: np.ndarray, batch_size: int | None = None, quiet: bool = False, client: Any = None
    ) -> Evaluation:
        """Both readouts' accuracy on ``images`` (uint8 (N, 28, 28)) and ``labels``, presented for
        ``time`` steps in batches of ``batch_size`` (default the training's) with learning off
        (weights and thresholds frozen) and the current assignments. ``client`` (a
        ``distributed.Client``): the batches run as Dask tasks (``pysnn.distributed.run_sharded``)
        with this trainer's weights and thresholds, with the same spike counts bit for bit."""
        images, labels = _check_data(images, labels, self.network.populations[INPUT].n)
        batch_size = self.batch_size if batch_size is None else positive_int(batch_size, "batch_size")
        bar = progress_bar(len(images), f"test, batch {batch_size}", "img", quiet)
        begin = clock.perf_counter()
        if client is not None:
            counts = self._sharded_counts(images, batch_size, client, None if bar is None else bar.update)
        else:
            counts = np.zeros((len(images), self.n_neurons), dtype=np.int32)
            for start in range(0, len(images), batch_size):
                ids = np.arange(start, min(start + batch_size, len(images)))
                counts[ids] = self._present(images[ids], TEST_ID_OFFSET + ids, learning=False)
                if bar is not None:
                    bar.update(len(ids))
        seconds = clock.perf_counter() - begin
        if bar is not None:
            bar.close()
        return Evaluation(self._accuracy(counts, labels), len(images), seconds)

    def _sharded_learning(self, client: Any) -> Any:
        """The ``ShardedLearning`` of ``train(client=...)``, checked."""
        from pysnn.distributed import Model, ShardedLearning
        from pysnn.learning_terms import split_layout

        if not self.deferred:
            raise ConfigError(
                "client= splits each batch's learning over Dask workers, which needs deferred learning (learning "
                "after every step couples the batch's samples at every step): use Trainer(..., deferred=True)"
            )
        split_layout(self.sim.plan)  # refuses reductions that cannot be split
        return ShardedLearning(client, Model.of(self.network, self.sim.backend, seed=self.seed))

    def _sharded_counts(self, images: np.ndarray, batch_size: int, client: Any, progress: Any) -> np.ndarray:
        """``evaluate``'s spike counts of ``Y`` from Dask tasks."""
        from pysnn.distributed import run_sharded

        out = run_sharded(
            self.network, {INPUT: input_rates(images, self.intensity)}, self.time, batch_size=batch_size, client=client,
            backend=self.sim.backend, seed=self.seed, sample_ids=TEST_ID_OFFSET + np.arange(len(images)),
            weights={PROJECTION: self.sim.weights(PROJECTION)}, state={(OUTPUT, "theta"): self.sim.state(OUTPUT, "theta")},
            progress=progress,
        )
        return out.spike_counts(OUTPUT)

    def spike_events(self, images: np.ndarray) -> tuple[SpikeEvents, SpikeEvents]:
        """The spikes of ``X`` and ``Y`` while ``images`` (uint8 (N, 28, 28)) are presented as
        ``evaluate`` presents the first N test images (learning off, the same sample ids, so the
        same spikes), from a twin simulation: the network with ``spike_events`` monitors, holding
        this trainer's weights and thresholds (``evaluate`` keeps spike counts only)."""
        images, _ = _check_data(images, np.zeros(len(images), np.int64), self.network.populations[INPUT].n)
        network = copy.deepcopy(self.network)
        network.monitor(INPUT, "spike_events")
        network.monitor(OUTPUT, "spike_events")
        twin = network.compile(backend=self.sim.backend, seed=self.seed)
        twin.set_weights(PROJECTION, self.sim.weights(PROJECTION))
        twin.set_state(OUTPUT, "theta", self.sim.state(OUTPUT, "theta"))
        ids = TEST_ID_OFFSET + np.arange(len(images))
        out = twin.run(self.time, {INPUT: input_rates(images, self.intensity)}, sample_ids=ids, learning=False)
        return out.spike_events(INPUT), out.spike_events(OUTPUT)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, backend: str | None = None) -> Trainer:
        """The trainer saved in ``path`` (by ``train(checkpoint=path)``), e.g. to evaluate it."""
        from pysnn.checkpoint import read_progress

        config = _trainer_config(read_progress(path), path)
        trainer = cls(**config, backend=backend)
        trainer._load(path)
        return trainer

    # -- one batch ---------------------------------------------------------------------------------

    def _present(self, images: np.ndarray, ids: np.ndarray, learning: bool, learner: Any = None) -> np.ndarray:
        """Spike counts of ``Y`` (batch, n_neurons) for one presentation (learning: split by
        ``learner``, a ``ShardedLearning``, if given); per-sample state reset after."""
        inputs = {INPUT: input_rates(images, self.intensity)}
        if learning and learner is not None:
            out = learner.run(self.sim, self.time, inputs, sample_ids=ids)
        else:
            out = self.sim.run(self.time, inputs, sample_ids=ids, learning=learning, deferred=learning and self.deferred)
        if learning:
            self.sim.normalize_weights(PROJECTION, NORM)
        self.sim.reset()
        return out.spike_counts(OUTPUT)

    def _train_batch(self, images: np.ndarray, labels: np.ndarray, learner: Any) -> None:
        ids = self.images_seen + np.arange(len(images))
        self._interval_counts.append(self._present(images, ids, True, learner))
        self._interval_labels.append(labels)
        self.position += len(images)
        if sum(len(c) for c in self._interval_labels) >= self.update_interval:
            counts, labels = np.concatenate(self._interval_counts), np.concatenate(self._interval_labels)
            self._curve_images.append(self.images_seen)
            for name, accuracy in self._accuracy(counts, labels).items():
                self._curves[name].append(accuracy)
            self.assignments, self.proportions = assign_labels(counts, labels, N_CLASSES)
            self._interval_counts, self._interval_labels = [], []

    def _accuracy(self, counts: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        predictions = {
            "all_activity": all_activity(counts, self.assignments, N_CLASSES),
            "proportion_weighting": proportion_weighting(counts, self.proportions),
        }
        return {name: float(np.mean(predictions[name] == labels)) for name in READOUTS}

    # -- checkpoints -------------------------------------------------------------------------------

    def _config(self) -> dict[str, Any]:
        """The constructor's arguments that a checkpoint records (all but the backend)."""
        return {key: getattr(self, key) for key in CONFIG_KEYS}

    def _save(self, path: str | os.PathLike) -> None:
        from pysnn.checkpoint import save_checkpoint

        n = self.n_neurons
        config = self._config() | {"one_spike": int(self.one_spike), "deferred": int(self.deferred)}  # int, float, str
        progress = {f"config.{key}": value for key, value in config.items()}
        progress |= {
            "kind": CHECKPOINT_KIND,
            "n_train": self.n_train,
            "epoch": self.epoch,
            "position": self.position,
            "interval_counts": np.concatenate(self._interval_counts) if self._interval_counts else np.zeros((0, n), np.int32),
            "interval_labels": np.concatenate(self._interval_labels) if self._interval_labels else np.zeros(0, np.int64),
            "assignments": self.assignments,
            "proportions": self.proportions,
            "curve_images": np.array(self._curve_images, dtype=np.int64),
        }
        progress |= {f"curve.{name}": np.array(values) for name, values in self._curves.items()}
        save_checkpoint(Path(path), self.sim, progress)

    def _load(self, path: str | os.PathLike, n_train: int | None = None, n_images: int | None = None) -> None:
        """Restore the simulation and the training position from ``path``, after checking that it
        was saved by a trainer like this one (and, if given, on ``n_train`` of at most ``n_images``
        images); on error nothing changes."""
        from pysnn.checkpoint import load_checkpoint, read_progress

        saved = read_progress(path)
        config = _trainer_config(saved, path) | {"n_train": int(saved["n_train"])}
        expected = self._config() | ({} if n_train is None else {"n_train": n_train})
        for key, value in expected.items():
            if config[key] != value:
                raise ConfigError(
                    f"checkpoint {path} was saved by a trainer with {key}={config[key]!r}, this one has {value!r}; "
                    f"use {key}={config[key]!r} to resume it"
                )
        if n_images is not None and config["n_train"] > n_images:
            raise ConfigError(f"checkpoint {path} trains on {config['n_train']} images, only {n_images} are given")
        progress = load_checkpoint(Path(path), self.sim)
        self.n_train, self.epoch, self.position = (int(progress[key]) for key in ("n_train", "epoch", "position"))
        counts, labels = progress["interval_counts"], progress["interval_labels"]
        self._interval_counts, self._interval_labels = ([counts], [labels]) if len(labels) else ([], [])
        self.assignments, self.proportions = progress["assignments"], progress["proportions"]
        self._curve_images = [int(x) for x in progress["curve_images"]]
        self._curves = {name: [float(y) for y in progress[f"curve.{name}"]] for name in READOUTS}


def _trainer_config(progress: Mapping[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """The ``Trainer`` arguments saved in a checkpoint's progress."""
    if progress.get("kind") != CHECKPOINT_KIND:
        raise ConfigError(
            f"checkpoint {path} was not written by the Diehl & Cook trainer (Trainer.train(checkpoint=...))"
        )
    types = {"reduction": str, "intensity": float, "one_spike": bool, "deferred": bool, "nu_pre": float, "nu_post": float}
    saved = {key: progress.get(f"config.{key}", ADDED_CONFIG.get(key)) for key in CONFIG_KEYS}
    missing = [key for key, value in saved.items() if value is None]
    if missing:
        raise ConfigError(f"checkpoint {path} lacks the trainer's settings {missing}: it is damaged")
    return {key: types.get(key, int)(value) for key, value in saved.items()}


def _seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed must be an integer in 0 .. 2**63 - 1, got {shown(seed)}")
    return int(seed)


def _count(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{name} must be an integer >= 0, got {shown(value)}")
    return int(value)


def _check_data(images: Any, labels: Any, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1] * images.shape[2] != n_inputs or not len(images):
        raise ConfigError(
            f"images must be uint8 of shape (n >= 1, height, width) with height * width = {n_inputs} (MNIST: 28 x 28), "
            f"got {images.dtype} {images.shape}"
        )
    if labels.shape != (len(images),) or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= N_CLASSES:
        raise ConfigError(
            f"labels must be integers in 0 .. {N_CLASSES - 1} of shape ({len(images)},), one per image, "
            f"got {labels.dtype} {labels.shape}"
        )
    return images, labels
