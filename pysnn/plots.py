"""Figures of spikes, weights and the experiments' results, written as PNG files.

Needs matplotlib (``pip install 'pysnn-minibatch[plot]'``). Every function checks its input
first (a ConfigError naming the argument; nothing is written), draws on its own
``matplotlib.figure.Figure`` with the Agg canvas, so no global matplotlib state (pyplot, the
backend a user chose) is touched, writes ``path`` (a ``.png``; missing folders are made) and
returns the Figure.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from pysnn.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL = "pip install 'pysnn-minibatch[plot]'"
DPI = 150
SEPARATOR_COLOUR = "#4d7ea8"
"""Colour of the lines between receptive-field tiles and of unused tiles."""


def require_matplotlib() -> None:
    """Raise a ConfigError that names the install command if matplotlib cannot be imported."""
    _canvas_classes()


def raster(
    path: str | os.PathLike,
    steps: np.ndarray,
    neurons: np.ndarray,
    *,
    n_neurons: int,
    n_steps: int,
    dt: float = 1.0,
    title: str = "",
) -> Figure:
    """Spike raster of one sample: a mark at (time ``step * dt`` in ms, neuron) for each spike.

    ``steps`` and ``neurons`` are integer arrays of equal length, one entry per spike: what
    ``SpikeEvents.raster(sample)`` returns, or ``np.nonzero(spikes[:, b])`` of a dense ``spikes``
    record (steps, batch, n) for batch row ``b``. ``n_neurons`` and ``n_steps`` set the axes.
    """
    path = _png_path(path)
    n_neurons = _positive_int(n_neurons, "n_neurons")
    n_steps = _positive_int(n_steps, "n_steps")
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real) or not 0 < dt < math.inf:
        raise ConfigError(f"dt must be a positive time step in ms, got {dt!r}")
    steps = _index_array(steps, "steps", n_steps, "n_steps")
    neurons = _index_array(neurons, "neurons", n_neurons, "n_neurons")
    if steps.shape != neurons.shape:
        raise ConfigError(
            f"steps and neurons must have the same length (one entry per spike), got {len(steps)} and {len(neurons)}"
        )
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    # marks about as tall as a neuron's row and as wide as a step, within readable limits
    ax.plot(
        steps * dt, neurons, linestyle="none", marker="|", color="black",
        markersize=float(np.clip(400 / n_neurons, 4, 10)), markeredgewidth=float(np.clip(450 / n_steps, 0.8, 2.5)),
    )
    ax.set_xlim(0, n_steps * dt)
    ax.set_ylim(-0.5, n_neurons - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron index")
    ax.set_title(title or "spike raster")
    ax.text(1.0, 1.01, f"{len(steps)} spikes", transform=ax.transAxes, ha="right", va="bottom", fontsize="small")
    return _save(fig, path)


def field_grid(weights: np.ndarray, image_shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """The image ``receptive_fields`` draws: the weights into each neuron as a tile.

    ``weights`` (h * w, n): column j, reshaped to ``image_shape`` (h, w), is tile j, at tile row
    j // side and tile column j % side, with side = ceil(sqrt(n)) columns and ceil(n / side) rows.
    Tiles are separated by one pixel of NaN; tiles without a neuron are NaN. Returns float64
    (rows * (h + 1) - 1, side * (w + 1) - 1).
    """
    image_shape = _image_shape(image_shape)
    weights = _finite_array(weights, "weights")
    h, w = image_shape
    if weights.ndim != 2 or weights.shape[0] != h * w or weights.shape[1] == 0:
        raise ConfigError(
            f"weights must have shape ({h * w}, n >= 1), one column per neuron, for image_shape {image_shape}; "
            f"got {weights.shape} (transpose (n, {h * w}) weights)"
        )
    n = weights.shape[1]
    rows, side = _tiles(n)
    grid = np.full((rows * (h + 1) - 1, side * (w + 1) - 1), np.nan)
    for j in range(n):
        top, left = (j // side) * (h + 1), (j % side) * (w + 1)
        grid[top : top + h, left : left + w] = weights[:, j].reshape(h, w)
    return grid


def _tiles(n: int) -> tuple[int, int]:
    """Rows and columns of the grid of ``n`` receptive fields: ceil(n / side) and side = ceil(sqrt(n))."""
    side = math.isqrt(n - 1) + 1
    return -(-n // side), side


def receptive_fields(
    path: str | os.PathLike, weights: np.ndarray, *, image_shape: tuple[int, int] = (28, 28), title: str = ""
) -> Figure:
    """The weights of an input -> neuron projection (e.g. Diehl & Cook's input -> excitatory),
    (h * w, n), as a grid of h x w images, one per neuron (layout: ``field_grid``), on one colour
    scale from the smallest to the largest weight, with a colour bar."""
    path = _png_path(path)
    grid = field_grid(weights, image_shape)
    h, w = _image_shape(image_shape)
    n = np.shape(weights)[1]
    rows, side = _tiles(n)
    fig = _figure(7.5, 6.6)
    ax = fig.add_subplot()
    from matplotlib import colormaps

    image = ax.imshow(
        grid, cmap=colormaps["hot_r"].with_extremes(bad=SEPARATOR_COLOUR), interpolation="nearest",
        vmin=np.nanmin(grid), vmax=np.nanmax(grid),
    )
    fig.colorbar(image, ax=ax, shrink=0.85, label="weight")
    # a tick at every k-th tile: its column, and the first neuron of its row
    every = max(1, side // 10)
    ax.set_xticks([c * (w + 1) + (w - 1) / 2 for c in range(0, side, every)], [str(c) for c in range(0, side, every)])
    ticked = range(0, rows, every)
    ax.set_yticks([r * (h + 1) + (h - 1) / 2 for r in ticked], [str(r * side) for r in ticked])
    ax.tick_params(length=0)
    ax.set_xlabel(f"tile column (neuron index mod {side})")
    ax.set_ylabel("first neuron of the tile row")
    ax.set_title(title or f"receptive fields of {n} neurons")
    return _save(fig, path)


def learning_curves(
    path: str | os.PathLike,
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    x_label: str = "training images",
    y_label: str = "accuracy (%)",
    title: str = "",
) -> Figure:
    """One line per entry of ``curves`` (label -> (x, y), e.g. per reduction or batch size),
    with a legend."""
    path = _png_path(path)
    if not isinstance(curves, Mapping) or not curves:
        raise ConfigError(f"curves must be a non-empty mapping label -> (x, y), got {type(curves).__name__}")
    checked = {}
    for label, curve in curves.items():
        name = f"curves[{label!r}]"
        if not isinstance(curve, (tuple, list)) or len(curve) != 2:
            raise ConfigError(f"{name} must be a pair (x, y) of 1-D arrays")
        x, y = _finite_array(curve[0], f"{name} x"), _finite_array(curve[1], f"{name} y")
        if x.ndim != 1 or x.shape != y.shape or len(x) == 0:
            raise ConfigError(f"{name} must be 1-D x and y of the same length >= 1, got shapes {x.shape} and {y.shape}")
        checked[str(label)] = (x, y)
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    for label, (x, y) in checked.items():
        ax.plot(x, y, marker="o" if len(x) <= 30 else None, markersize=4, label=label)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    _grid(ax)
    ax.legend()
    ax.set_title(title or "learning curves")
    return _save(fig, path)


def conversion(path: str | os.PathLike, rows: Iterable[Any]) -> Figure:
    """Experiment 2 (``pysnn.experiments.conversion``): its ``Evaluation`` rows (one per T and
    batch size, as ``ConversionReport.evaluations``) as two panels: test accuracy (%) against T,
    one line per group of batch sizes with identical accuracies (a sample's result does not
    depend on its batch, so usually one line), and wall-clock (s) against batch size, log-log,
    one line per T."""
    path = _png_path(path)
    rows = _records(rows, "rows", ("steps", "batch_size", "accuracy", "seconds", "n_images", "backend"), "Evaluation")
    _unique(rows, "rows", ("steps", "batch_size"))
    _positive_values(rows, "rows", ("steps", "batch_size", "seconds"))
    _finite_array([r["accuracy"] for r in rows], "rows' accuracy")
    fig = _figure(11.0, 4.4)
    accuracy, clock = fig.subplots(1, 2)
    groups: dict[tuple, list[int]] = {}
    for batch in sorted({r["batch_size"] for r in rows}):
        curve = tuple(sorted((r["steps"], r["accuracy"]) for r in rows if r["batch_size"] == batch))
        groups.setdefault(curve, []).append(batch)
    for curve, batches in groups.items():
        t, acc = np.array(curve).T
        accuracy.plot(t, 100 * acc, marker="o", label="batch " + ", ".join(map(str, batches)))
    _log_axis(accuracy, "x", [r["steps"] for r in rows])
    accuracy.set_xlabel("simulated time steps T (1 ms each)")
    accuracy.set_ylabel("test accuracy (%)")
    accuracy.set_title("accuracy against T")
    for t in sorted({r["steps"] for r in rows}):
        points = sorted((r["batch_size"], r["seconds"]) for r in rows if r["steps"] == t)
        clock.plot(*np.array(points).T, marker="o", label=f"T = {t}")
    _log_axis(clock, "x", [r["batch_size"] for r in rows])
    clock.set_yscale("log")
    clock.set_xlabel("batch size (samples)")
    clock.set_ylabel("wall-clock (s)")
    clock.set_title("wall-clock against batch size")
    for ax in (accuracy, clock):
        _grid(ax)
    accuracy.legend(fontsize="small")
    clock.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside: one line per T
    images = ", ".join(f"{n:,}" for n in sorted({r["n_images"] for r in rows}))
    fig.suptitle(f"ANN-to-SNN conversion: {images} test images, backend {_joined(rows, 'backend')}")
    return _save(fig, path)


def scaling(path: str | os.PathLike, timings: Iterable[Any]) -> Figure:
    """Experiment 1 (``pysnn.experiments.scaling``): its ``Timing`` rows as seconds per 1000
    steps against batch size, log-log, one line per (n_out, learning)."""
    path = _png_path(path)
    fields = ("n_out", "stdp", "batch", "seconds_per_1000_steps", "backend")
    rows = _records(timings, "timings", fields, "Timing")
    _unique(rows, "timings", ("n_out", "stdp", "batch"))
    _positive_values(rows, "timings", ("batch", "seconds_per_1000_steps"))
    fig = _figure(6.4, 4.6)
    ax = fig.add_subplot()
    sizes = sorted({r["n_out"] for r in rows})
    for n_out, stdp in sorted({(r["n_out"], r["stdp"]) for r in rows}):
        points = sorted((r["batch"], r["seconds_per_1000_steps"]) for r in rows if (r["n_out"], r["stdp"]) == (n_out, stdp))
        ax.plot(
            *np.array(points).T, marker="o", color=f"C{sizes.index(n_out)}", linestyle="--" if stdp else "-",
            label=f"{n_out} LIF neurons" + (", PostPre STDP" if stdp else ""),
        )
    _log_axis(ax, "x", [r["batch"] for r in rows])
    ax.set_yscale("log")
    ax.set_xlabel("batch size (samples)")
    ax.set_ylabel("wall-clock per 1000 steps (s)")
    _grid(ax)
    ax.legend()
    ax.set_title(f"batch scaling: Poisson inputs -> LIF, backend {_joined(rows, 'backend')}")
    return _save(fig, path)


# -- figures ---------------------------------------------------------------------------------------


def _canvas_classes():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ConfigError(f"plots need matplotlib, which is not installed: {INSTALL}") from exc
    return Figure, FigureCanvasAgg


def _figure(width: float, height: float) -> Figure:
    """A Figure of ``width`` x ``height`` inches on its own Agg canvas."""
    figure_class, canvas_class = _canvas_classes()
    fig = figure_class(figsize=(width, height), layout="constrained")
    canvas_class(fig)
    return fig


def _save(fig: Figure, path: Path) -> Figure:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png", facecolor="white")
    return fig


def _grid(ax: Axes) -> None:
    """Light grid lines at the labelled ticks, and at the minor ticks of a log-scaled y axis."""
    ax.grid(alpha=0.3)
    if ax.get_yscale() == "log":
        ax.grid(alpha=0.15, which="minor", axis="y")


def _log_axis(ax: Axes, axis: str, values: Iterable[float]) -> None:
    """A log-scaled axis with a plainly written tick at each of ``values``."""
    from matplotlib.ticker import NullFormatter

    getattr(ax, f"set_{axis}scale")("log")
    scale = getattr(ax, f"{axis}axis")
    ticks = sorted(set(values))
    scale.set_ticks(ticks, [f"{v:g}" for v in ticks])
    scale.set_minor_formatter(NullFormatter())


# -- argument checks -------------------------------------------------------------------------------


def _png_path(path: str | os.PathLike) -> Path:
    if not isinstance(path, (str, os.PathLike)) or Path(path).suffix.lower() != ".png":
        raise ConfigError(f"path must name a .png file, got {path!r}")
    return Path(path)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _image_shape(image_shape: Any) -> tuple[int, int]:
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) != 2:
        raise ConfigError(f"image_shape must be a pair (height, width), got {image_shape!r}")
    return _positive_int(image_shape[0], "image_shape height"), _positive_int(image_shape[1], "image_shape width")


def _finite_array(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "biuf" or not np.isfinite(array).all():
        raise ConfigError(f"{name} must hold finite real numbers, got {array.dtype} {array.shape}")
    return array.astype(np.float64)


def _index_array(values: Any, name: str, limit: int, limit_name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ConfigError(f"{name} must be a 1-D integer array (one entry per spike), got {array.dtype} {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= limit):
        raise ConfigError(
            f"{name} must lie in 0 .. {limit_name} - 1 = {limit - 1}, got values in {array.min()} .. {array.max()}"
        )
    return array.astype(np.int64)


def _records(rows: Iterable[Any], name: str, fields: Sequence[str], kind: str) -> list[dict]:
    """``fields`` of each row (attributes), as dicts."""
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Iterable):
        raise ConfigError(f"{name} must be a list of {kind} rows, got {type(rows).__name__}")
    records = []
    for index, row in enumerate(rows):
        missing = [field for field in fields if not hasattr(row, field)]
        if missing:
            raise ConfigError(
                f"{name}[{index}] has no {', '.join(missing)}: {name} must be {kind} rows, got {type(row).__name__}"
            )
        records.append({field: getattr(row, field) for field in fields})
    if not records:
        raise ConfigError(f"{name} must hold at least one {kind} row, got none")
    return records


def _unique(rows: list[dict], name: str, key: Sequence[str]) -> None:
    seen = set()
    for row in rows:
        value = tuple(row[k] for k in key)
        if value in seen:
            raise ConfigError(f"{name} holds {', '.join(f'{k} = {v}' for k, v in zip(key, value))} more than once")
        seen.add(value)


def _positive_values(rows: list[dict], name: str, fields: Sequence[str]) -> None:
    """Log axes need finite positive values."""
    for index, row in enumerate(rows):
        for field in fields:
            value = row[field]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 < value < math.inf:
                raise ConfigError(f"{name}[{index}].{field} must be a finite positive number, got {value!r}")


def _joined(rows: list[dict], field: str) -> str:
    return ", ".join(sorted({str(r[field]) for r in rows}))
