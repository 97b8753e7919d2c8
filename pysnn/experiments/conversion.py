"""Experiment 2 of the paper: a ReLU MLP converted to integrate-and-fire neurons, inference only.

A 784-256-128-10 ReLU MLP (scikit-learn's ``MLPClassifier``, with biases) is trained on MNIST
normalised with mean 0.1307 and std 0.3081, or given as NumPy weights. ``convert`` turns it into a
network of ``if_subtractive`` neurons (threshold 1, subtractive reset) with data-based weight
normalisation (Diehl et al. 2015; Rueckauer et al. 2017): layer l's weights are multiplied by
``scale[l-1] / scale[l]`` and its biases divided by ``scale[l]``, where ``scale[l]`` is a
percentile of layer l's positive activations over calibration data (the input's scale is 1; the
output layer's are its positive pre-activations), so that a neuron's firing rate per step
approximates its ReLU activation divided by its layer's scale, clipped at one spike per step. A
lower percentile clips more activations but makes neurons fire sooner. The default, 90, is
within 0.1 % of the best of 80 ... 99.9 at T = 5 and at T = 10 on 10 000 training images outside
the calibration set (MNIST test set: 97.8 % at T = 5 and 98.0 % at T = 10, against 92.4 % and
97.8 % with the usual 99.9; the paper's script reaches its 97.7 % and 97.9 % by calibrating on
pixel / 255 while it feeds normalised pixels, about the 80th percentile; ``benchmarks/RESULTS.md``).

Each image is a constant current (the ``current`` encoder) for T steps. Every projection has delay
0 (``Network.connect(delay=0)``, BindsNET's ``one_step``): the signal passes all layers within a
step, so the output layer integrates all T steps. The biases are constant currents from one input
neuron (value 1) connected to each layer by its bias row. Both inputs are the same at every step,
so the backends multiply them by their weights once per run (``lowering.constant_input``).

Two readouts (``READOUTS``): ``"input"``, the paper's (its script's prediction is the argmax over
classes of the output layer's input summed over the run, BindsNET's ``summed``), and ``"spikes"``,
the output neuron with the most spikes, ties to the higher membrane potential at the end of the
run, then to the lowest index. An IF neuron with subtractive reset and no refractory period ends
a run from v = 0 with v = summed input - threshold * spikes, so the summed input is read as
v + spikes (threshold 1). The input is the default, as the paper's and for needing no tie rule:
on MNIST both give the same accuracy at every T measured (``benchmarks/RESULTS.md``), since the
spike readout breaks its ties, frequent at small T, by the potential. (A sum over the run of
the output layer's *potential* is no readout: with a subtractive reset it measures the residues
below threshold: 68 % at T = 10 with the 99.9th percentile.) All T values are read from one
simulation per batch: the run is split at each T (state persists between runs) and counts are
accumulated.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from pysnn import Dense, Network
from pysnn.backend import backend_name
from pysnn.errors import ConfigError
from pysnn.progress import progress_bar

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
DEFAULT_STEPS = (1, 2, 3, 4, 5, 10, 20, 50)
DEFAULT_BATCH_SIZES = (1, 64, 256, 1024)
DEFAULT_PERCENTILE = 90.0
DEFAULT_HIDDEN = (256, 128)
DEFAULT_EPOCHS = 20
OUTPUT = "out"
"""Name of the output population."""
READOUTS = ("input", "spikes")
"""How a class is read from the output layer: the most input summed over the run, or the most
spikes (see the module docstring)."""
DEFAULT_READOUT = "input"
BIAS = "bias"
"""Name of the input neuron of the biases."""

Layer = tuple[np.ndarray, np.ndarray | None]
"""A dense layer: weights (n_in, n_out) and biases (n_out,) or None."""


# -- the ANN ---------------------------------------------------------------------------------------


def mnist_features(images: np.ndarray) -> np.ndarray:
    """uint8 images (n, 28, 28) -> float32 (n, 784): pixel / 255, normalised by mean 0.1307 and
    std 0.3081."""
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ConfigError(f"images must be uint8 of shape (n, height, width), got {images.dtype} {images.shape}")
    flat = images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    return (flat - np.float32(MNIST_MEAN)) / np.float32(MNIST_STD)


def train_mlp(
    features: np.ndarray,
    labels: np.ndarray,
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
) -> list[Layer]:
    """Train a ReLU MLP with scikit-learn (Adam, L2 1e-4, ``random_state=seed``, at most
    ``epochs`` passes); return its layers as (weights (n_in, n_out), biases (n_out,)), float32."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError as exc:
        raise ConfigError("train_mlp needs scikit-learn: pip install 'pysnn-minibatch[apps]'") from exc
    features, labels = _check_data(features, labels)
    hidden = tuple(hidden)
    if not hidden or any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
        raise ConfigError(f"hidden must be a non-empty sequence of positive layer sizes, got {hidden!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    mlp = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", max_iter=int(epochs), random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed epoch budget is intended
        mlp.fit(features, labels)
    if not np.array_equal(mlp.classes_, np.arange(len(mlp.classes_))):
        raise ConfigError(f"labels must be 0 .. n_classes - 1, got classes {mlp.classes_.tolist()}")
    return [(w.astype(np.float32), b.astype(np.float32)) for w, b in zip(mlp.coefs_, mlp.intercepts_)]


def ann_activations(layers: Sequence[Layer], features: np.ndarray) -> list[np.ndarray]:
    """Each layer's output for ``features`` (n, n_in): ReLU for hidden layers, the raw
    pre-activation for the last."""
    layers = _check_layers(layers)
    x = np.asarray(features, dtype=np.float64)
    outputs = []
    for index, (w, b) in enumerate(layers):
        x = x @ w + (0.0 if b is None else b)
        if index < len(layers) - 1:
            x = np.maximum(x, 0.0)
        outputs.append(x)
    return outputs


def ann_accuracy(layers: Sequence[Layer], features: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``features`` the ANN classifies as ``labels``."""
    features, labels = _check_data(features, labels, layers)
    return float(np.mean(ann_activations(layers, features)[-1].argmax(axis=1) == labels))


def save_layers(path: str | os.PathLike, layers: Sequence[Layer]) -> None:
    """Write layers to an .npz file (``w0``, ``b0``, ``w1``, ...), atomically."""
    layers = _check_layers(layers)
    arrays = {}
    for index, (w, b) in enumerate(layers):
        arrays[f"w{index}"] = w
        if b is not None:
            arrays[f"b{index}"] = b
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.partial.npz")
    np.savez(partial, **arrays)
    os.replace(partial, path)


def load_layers(path: str | os.PathLike) -> list[Layer]:
    """Read layers written by ``save_layers``."""
    with np.load(path) as data:
        count = sum(1 for key in data.files if key.startswith("w"))
        return [(data[f"w{i}"], data[f"b{i}"] if f"b{i}" in data.files else None) for i in range(count)]


# -- conversion ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Converted:
    """A converted network and what it took to make it."""

    network: Network
    """Input ``x`` (current) -> ``h1`` ... -> ``out`` (if_subtractive), zero-delay projections;
    ``bias``, an input of one neuron into the layers with biases; spike counts of ``out``
    monitored."""
    layers: tuple[Layer, ...]
    """The normalised weights and biases the network holds."""
    scales: tuple[float, ...]
    """Each layer's normalisation scale (the percentile of its positive activations)."""
    percentile: float

    @property
    def n_inputs(self) -> int:
        return self.layers[0][0].shape[0]

    def inputs(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Run inputs of a presentation of ``features`` (batch, n_inputs): the image and the bias
        neuron's 1, constant currents."""
        inputs = {"x": features}
        if BIAS in self.network.populations:
            inputs[BIAS] = np.ones((len(features), 1), features.dtype)
        return inputs


def convert(
    layers: Sequence[Layer], calibration: np.ndarray, percentile: float = DEFAULT_PERCENTILE
) -> Converted:
    """Convert ReLU layers to ``if_subtractive`` neurons with data-based weight normalisation.

    ``calibration`` (n, n_inputs) are inputs whose activations set each layer's scale: the
    ``percentile`` (in (0, 100]; 100 is the maximum) of the layer's positive activations.
    """
    layers = _check_layers(layers)
    calibration = np.asarray(calibration)
    if calibration.ndim != 2 or calibration.shape[1] != layers[0][0].shape[0] or len(calibration) == 0:
        raise ConfigError(
            f"calibration must have shape (n >= 1, {layers[0][0].shape[0]}) to match the first layer, "
            f"got {calibration.shape}"
        )
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or not 0 < percentile <= 100:
        raise ConfigError(
            f"percentile must be a number in (0, 100], got {percentile!r}; 90 to 99.9 is usual, 100 takes the maximum"
        )
    scales, scaled = [], []
    previous = 1.0
    for index, ((w, b), activation) in enumerate(zip(layers, ann_activations(layers, calibration))):
        positive = activation[activation > 0]
        if positive.size == 0:
            raise ConfigError(
                f"layer {index + 1} has no positive activation on the {len(calibration)} calibration samples; "
                "its scale is undefined: check the weights or give more calibration data"
            )
        scale = float(np.percentile(positive, percentile))
        scaled.append((w * (previous / scale), None if b is None else b / scale))
        scales.append(scale)
        previous = scale
    return Converted(_network(scaled), tuple(scaled), tuple(scales), float(percentile))


def _network(layers: Sequence[Layer]) -> Network:
    net = Network(dt=1.0)
    net.add_input("x", layers[0][0].shape[0], encoder="current")
    if any(b is not None for _, b in layers):
        net.add_input(BIAS, 1, encoder="current")
    source = "x"
    for index, (w, b) in enumerate(layers, start=1):
        target = OUTPUT if index == len(layers) else f"h{index}"
        net.add_population(target, w.shape[1], model="if_subtractive")
        net.connect(source, target, Dense(w), delay=0)
        if b is not None:
            net.connect(BIAS, target, Dense(b[None, :]), delay=0)
        source = target
    net.monitor(OUTPUT, "spike_counts")
    return net


# -- simulation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Readout:
    """The output layer after each T of one presentation of every sample."""

    steps: tuple[int, ...]
    counts: np.ndarray
    """Spike counts since the start, int32 (len(steps), n, n_out)."""
    potentials: np.ndarray
    """Membrane potentials at the end of step T, (len(steps), n, n_out)."""
    seconds: np.ndarray
    """Wall-clock from each batch's reset to its step T, summed over batches (compilation
    excluded), (len(steps),)."""

    def predictions(self, readout: str = DEFAULT_READOUT) -> np.ndarray:
        """(len(steps), n): the class of each sample at each T, by ``readout`` (``READOUTS``):
        the most input summed over steps 0 .. T - 1 (v + spikes), or the most spikes, ties by
        higher membrane potential, then lowest index."""
        if _check_readout(readout) == "input":
            return (self.potentials + self.counts).argmax(axis=-1)
        tied = self.counts == self.counts.max(axis=-1, keepdims=True)
        return np.where(tied, self.potentials, -np.inf).argmax(axis=-1)


def simulate(
    converted: Converted,
    features: np.ndarray,
    steps: Iterable[int] = DEFAULT_STEPS,
    batch_size: int = 1024,
    backend: str | None = None,
    dtype: str = "float32",
    progress: Callable[[int], None] | None = None,
    client: Any = None,
) -> Readout:
    """Present each row of ``features`` for max(steps) steps, in batches of ``batch_size``, and read
    the output layer at every T in ``steps``. ``progress`` is called with the number of samples
    each finished batch adds. ``client`` (a ``distributed.Client``): the batches run as Dask tasks
    (``pysnn.distributed.map_batches``), with the same results bit for bit; ``seconds`` then sum
    the tasks' times, each worker's first load of the compiled code included."""
    steps = _check_steps(steps)
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] != converted.n_inputs or len(features) == 0:
        raise ConfigError(f"features must have shape (n >= 1, {converted.n_inputs}), got {features.shape}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    ids = np.arange(len(features))
    if client is not None:
        from pysnn.distributed import Model, map_batches

        model = Model.of(converted.network, backend, dtype)
        inputs = converted.inputs(np.ascontiguousarray(features, dtype=np.dtype(dtype)))
        parts = map_batches(client, model, read_batch, inputs, ids, batch_size, (steps,), progress)
    else:
        sim = converted.network.compile(backend=backend, dtype=dtype)
        features = np.ascontiguousarray(features, dtype=sim.dtype)
        sim.run(1, converted.inputs(features[:batch_size]))  # compile outside the timed runs
        parts = []
        for start in range(0, len(features), batch_size):
            chunk = ids[start : start + batch_size]
            parts.append(read_batch(sim, converted.inputs(features[chunk]), chunk, steps))
            if progress is not None:
                progress(len(chunk))
    counts, potentials, seconds = zip(*parts)
    return Readout(steps, np.concatenate(counts, axis=1), np.concatenate(potentials, axis=1), np.sum(seconds, axis=0))


def read_batch(
    sim: Any, inputs: dict[str, np.ndarray], ids: np.ndarray, steps: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One batch of ``simulate``, from a reset: the output layer's spike counts and potentials
    after each T in ``steps`` ((len(steps), batch, n_out)) and the seconds from the reset to each T."""
    begin = time.perf_counter()
    sim.reset()
    counts, potentials, seconds = [], [], []
    total, previous = 0, 0
    for t in steps:
        out = sim.run(t - previous, inputs, sample_ids=ids)
        total = total + out.spike_counts(OUTPUT)
        counts.append(total)
        potentials.append(sim.state(OUTPUT, "v"))
        seconds.append(time.perf_counter() - begin)
        previous = t
    return np.stack(counts), np.stack(potentials), np.array(seconds)


@dataclass(frozen=True)
class Evaluation:
    """Accuracy and wall-clock of T steps for ``n_images`` at one batch size."""

    steps: int
    batch_size: int
    n_images: int
    accuracy: float
    seconds: float
    """Wall-clock of the simulation from step 0 to T, all batches (compilation excluded)."""
    backend: str
    readout: str = DEFAULT_READOUT
    """How the class was read (``READOUTS``)."""

    @property
    def images_per_second(self) -> float:
        return self.n_images / self.seconds

    def as_dict(self) -> dict:
        return asdict(self) | {"images_per_second": self.images_per_second}


def evaluate(
    converted: Converted,
    features: np.ndarray,
    labels: np.ndarray,
    steps: Iterable[int] = DEFAULT_STEPS,
    batch_size: int = 1024,
    backend: str | None = None,
    dtype: str = "float32",
    progress: Callable[[int], None] | None = None,
    readout: str = DEFAULT_READOUT,
    client: Any = None,
) -> list[Evaluation]:
    """Accuracy (by ``readout``, one of ``READOUTS``) and wall-clock at every T in ``steps``,
    from one simulation (see ``simulate``; ``client``: on a Dask cluster)."""
    features, labels = _check_data(features, labels)
    _check_readout(readout)
    result = simulate(converted, features, steps, batch_size, backend, dtype, progress, client)
    correct = result.predictions(readout) == labels[None, :]
    return [
        Evaluation(t, int(batch_size), len(labels), float(ok.mean()), float(s), backend_name(backend), readout)
        for t, ok, s in zip(result.steps, correct, result.seconds)
    ]


# -- the whole experiment --------------------------------------------------------------------------


@dataclass(frozen=True)
class MnistSetup:
    """The trained MLP, its conversion and the test data of the MNIST experiment."""

    layers: list[Layer]
    converted: Converted
    test_features: np.ndarray
    test_labels: np.ndarray
    weights: Path | None
    """The .npz the MLP was loaded from or saved to (None without a cache folder)."""

    @property
    def ann_accuracy(self) -> float:
        return ann_accuracy(self.layers, self.test_features, self.test_labels)


def mnist_setup(
    data_root: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 0,
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    epochs: int = DEFAULT_EPOCHS,
    percentile: float = DEFAULT_PERCENTILE,
    n_calibration: int = 10_000,
    n_test: int = 10_000,
    say: Callable[[str], None] | None = None,
) -> MnistSetup:
    """Train the MLP on MNIST's training set (``hidden`` layers, ``seed``, ``epochs``), or load it
    from ``cache_dir`` (an .npz named by the architecture, seed and epochs, saved there after
    training); convert it with the first ``n_calibration`` training images; keep the first
    ``n_test`` test images. ``say`` hears what it does."""
    from pysnn.datasets import load_mnist

    for name, value, limit in (("n_test", n_test, 10_000), ("n_calibration", n_calibration, 60_000)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= limit:
            raise ConfigError(f"{name} must be an integer in 1 .. {limit}, got {value!r}")
    say = say or (lambda message: None)
    train_images, train_labels = load_mnist("train", root=data_root)
    test_images, test_labels = load_mnist("test", root=data_root)
    train_x = mnist_features(train_images)
    sizes = "-".join(str(s) for s in (train_x.shape[1], *hidden, 10))
    path = None if cache_dir is None else Path(cache_dir) / f"mlp-{sizes}-seed{seed}-epochs{epochs}.npz"
    if path is not None and path.exists():
        say(f"loading the MLP from {path}")
        layers = load_layers(path)
    else:
        say(f"training the {sizes} MLP on {len(train_x)} images (scikit-learn, seed {seed}, {epochs} epochs)")
        layers = train_mlp(train_x, train_labels, hidden, seed, epochs)
        if path is not None:
            save_layers(path, layers)
    converted = convert(layers, train_x[:n_calibration], percentile)
    return MnistSetup(layers, converted, mnist_features(test_images[:n_test]), test_labels[:n_test], path)


@dataclass(frozen=True)
class ConversionReport:
    ann_accuracy: float
    """The ANN's accuracy on the same test images."""
    scales: tuple[float, ...]
    percentile: float
    weights: Path | None
    """The .npz the MLP was loaded from or saved to (None without a cache folder)."""
    evaluations: list[Evaluation]


def run_conversion(
    backend: str | None = None,
    batch_sizes: Iterable[int] = DEFAULT_BATCH_SIZES,
    steps: Iterable[int] = DEFAULT_STEPS,
    seed: int = 0,
    data_root: str | os.PathLike | None = None,
    n_test: int = 10_000,
    cache_dir: str | os.PathLike | None = None,
    percentile: float = DEFAULT_PERCENTILE,
    n_calibration: int = 10_000,
    hidden: Sequence[int] = DEFAULT_HIDDEN,
    epochs: int = DEFAULT_EPOCHS,
    dtype: str = "float32",
    quiet: bool = False,
    report: Callable[[Evaluation], None] | None = None,
    readout: str = DEFAULT_READOUT,
    client: Any = None,
) -> ConversionReport:
    """The paper's experiment 2 on MNIST, for the CLI: ``mnist_setup``, then ``evaluate`` (by
    ``readout``) at every T in ``steps`` for each batch size. Unless ``quiet``, says what it
    does and shows a progress bar (images/s) on stderr; ``report`` sees each result as it comes.
    ``client`` (a ``distributed.Client``): the simulations run as Dask tasks (``simulate``)."""
    batch_sizes = _positive_ints(batch_sizes, "batch_sizes")
    steps = _check_steps(steps)
    _check_readout(readout)
    say = None if quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    setup = mnist_setup(data_root, cache_dir, seed, hidden, epochs, percentile, n_calibration, n_test, say)
    x, y = setup.test_features, setup.test_labels
    evaluations = []
    for batch_size in batch_sizes:
        bar = progress_bar(len(x), f"batch {batch_size}", "img", quiet)
        update = None if bar is None else bar.update
        rows = evaluate(setup.converted, x, y, steps, batch_size, backend, dtype, update, readout, client)
        if bar is not None:
            bar.close()
        for row in rows:
            evaluations.append(row)
            if report is not None:
                report(row)
    converted = setup.converted
    return ConversionReport(setup.ann_accuracy, converted.scales, converted.percentile, setup.weights, evaluations)


TABLE_HEADER = "| T | batch | images | accuracy (%) | seconds | images / s |\n|---:|---:|---:|---:|---:|---:|"


def table_row(e: Evaluation) -> str:
    return (
        f"| {e.steps} | {e.batch_size} | {e.n_images} | {100 * e.accuracy:.2f} | {e.seconds:.3f} | "
        f"{e.images_per_second:,.0f} |"
    )


# -- argument checks -------------------------------------------------------------------------------


def _check_layers(layers: Sequence[Layer]) -> list[Layer]:
    if isinstance(layers, np.ndarray) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise ConfigError(f"layers must be a non-empty list of (weights, biases), got {type(layers).__name__}")
    checked = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise ConfigError(f"layers[{index}] must be a pair (weights (n_in, n_out), biases (n_out,) or None)")
        w = np.asarray(layer[0], dtype=np.float64)
        if w.ndim != 2 or 0 in w.shape:
            raise ConfigError(f"layers[{index}] weights must have shape (n_in, n_out), got {w.shape}")
        if checked and w.shape[0] != checked[-1][0].shape[1]:
            raise ConfigError(
                f"layers[{index}] weights have {w.shape[0]} inputs, but layers[{index - 1}] has "
                f"{checked[-1][0].shape[1]} outputs; weights are (n_in, n_out)"
            )
        b = None if layer[1] is None else np.asarray(layer[1], dtype=np.float64)
        if b is not None and b.shape != (w.shape[1],):
            raise ConfigError(f"layers[{index}] biases must have shape ({w.shape[1]},), got {b.shape}")
        if not np.isfinite(w).all() or (b is not None and not np.isfinite(b).all()):
            raise ConfigError(f"layers[{index}] weights and biases must be finite")
        checked.append((w, b))
    return checked


def _check_data(
    features: np.ndarray, labels: np.ndarray, layers: Sequence[Layer] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 2 or len(features) == 0 or features.dtype.kind not in "biuf":
        raise ConfigError(
            f"features must be a numeric array of shape (n >= 1, n_inputs), got {features.dtype} {features.shape}"
        )
    if layers is not None and features.shape[1] != np.shape(layers[0][0])[0]:
        raise ConfigError(
            f"features have {features.shape[1]} columns, but the first layer has {np.shape(layers[0][0])[0]} inputs"
        )
    if labels.shape != (len(features),) or labels.dtype.kind not in "iu":
        raise ConfigError(
            f"labels must be integers of shape ({len(features)},) to match features, got {labels.dtype} {labels.shape}"
        )
    return features, labels


def _positive_ints(values: Iterable[int], name: str) -> tuple[int, ...]:
    values = tuple(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in values):
        raise ConfigError(f"{name} must be a non-empty list of positive integers, got {values!r}")
    return tuple(int(v) for v in values)


def _check_readout(readout: str) -> str:
    if not isinstance(readout, str) or readout not in READOUTS:
        raise ConfigError(f"readout must be one of {', '.join(map(repr, READOUTS))}, got {readout!r}")
    return readout


def _check_steps(steps: Iterable[int]) -> tuple[int, ...]:
    """Distinct positive step counts, ascending."""
    return tuple(sorted(set(_positive_ints(steps, "steps"))))
