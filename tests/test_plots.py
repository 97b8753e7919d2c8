"""pysnn.plots: each figure is a readable PNG of the data it was given; bad input is refused,
naming the argument, before anything is written."""

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from pysnn import plots
from pysnn.errors import ConfigError
from pysnn.experiments.conversion import Evaluation
from pysnn.experiments.scaling import Timing

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path, figure=None) -> None:
    """``path`` is a PNG with more than one colour (and, given its figure, of the figure's size)."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image[..., :3].var() > 1e-3
    if figure is not None:
        width, height = figure.get_size_inches() * plots.DPI
        assert image.shape[:2] == (round(height), round(width))


def evaluations(accuracy_of_batch=lambda batch: 0.9) -> list[Evaluation]:
    return [
        Evaluation(t, b, 1000, accuracy_of_batch(b) * t / 20, 0.01 * t / b**0.5, "numpy")
        for b in (1, 8, 64) for t in (5, 10, 20)
    ]


def timings() -> list[Timing]:
    return [
        Timing("numpy", stdp, n_out, batch, 100, 0.001 * batch * (2 if stdp else 1), 30.0)
        for n_out in (100, 1000) for stdp in (False, True) for batch in (1, 4, 16)
    ]


SPIKES = np.random.default_rng(0).random((50, 20)) < 0.1  # (steps, neurons) of one sample
FIGURES = {
    "raster": lambda path: plots.raster(path, *np.nonzero(SPIKES), n_neurons=20, n_steps=50, dt=0.5),
    "receptive_fields": lambda path: plots.receptive_fields(path, np.random.default_rng(1).random((784, 10))),
    "learning_curves": lambda path: plots.learning_curves(
        path, {"sum": ([100, 200, 300], [20.0, 40.0, 55.0]), "max": ([100, 200, 300], [15.0, 30.0, 35.0])}
    ),
    "conversion": lambda path: plots.conversion(path, evaluations()),
    "scaling": lambda path: plots.scaling(path, timings()),
}


@pytest.mark.parametrize("name", FIGURES)
def test_each_figure_is_a_png_of_its_size(name, tmp_path):
    path = tmp_path / "new folder" / f"{name}.png"
    figure = FIGURES[name](path)
    assert_png(path, figure)
    assert figure.axes[0].get_title()  # every figure has a title


def test_raster_marks_each_spike_at_its_time_in_ms(tmp_path):
    figure = FIGURES["raster"](tmp_path / "r.png")
    [line] = figure.axes[0].get_lines()
    steps, neurons = np.nonzero(SPIKES)
    np.testing.assert_array_equal(line.get_xdata(), steps * 0.5)
    np.testing.assert_array_equal(line.get_ydata(), neurons)
    assert figure.axes[0].get_xlim() == (0.0, 25.0) and figure.axes[0].get_xlabel() == "time (ms)"


def test_field_grid_puts_neuron_j_at_tile_row_j_div_side_and_column_j_mod_side():
    h, w, n = 2, 3, 7  # side 3: rows of 3, 3 and 1 neurons
    weights = np.repeat(np.arange(1.0, n + 1)[None, :], h * w, axis=0)
    weights[:, 4] = np.arange(h * w)  # neuron 4's column, as an image, in row-major order
    grid = plots.field_grid(weights, (h, w))
    assert grid.shape == (3 * (h + 1) - 1, 3 * (w + 1) - 1)
    for j in range(9):
        tile = grid[(j // 3) * (h + 1) : (j // 3) * (h + 1) + h, (j % 3) * (w + 1) : (j % 3) * (w + 1) + w]
        if j == 4:
            np.testing.assert_array_equal(tile, np.arange(h * w).reshape(h, w))
        elif j < n:
            assert (tile == j + 1).all()
        else:
            assert np.isnan(tile).all()  # no neuron
    assert np.isnan(grid[h, :]).all() and np.isnan(grid[:, w]).all()  # separators
    assert np.count_nonzero(~np.isnan(grid)) == n * h * w


def test_conversion_draws_accuracy_per_group_of_equal_batches_and_seconds_per_t(tmp_path):
    rows = evaluations(lambda batch: 0.8 if batch == 8 else 0.9)
    accuracy, clock = plots.conversion(tmp_path / "c.png", rows).axes
    lines = {line.get_label(): line for line in accuracy.get_lines()}
    assert sorted(lines) == ["batch 1, 64", "batch 8"]
    np.testing.assert_allclose(lines["batch 8"].get_ydata(), [100 * 0.8 * t / 20 for t in (5, 10, 20)])
    assert [line.get_label() for line in clock.get_lines()] == ["T = 5", "T = 10", "T = 20"]
    t20 = clock.get_lines()[2]
    np.testing.assert_array_equal(t20.get_xdata(), [1, 8, 64])
    np.testing.assert_allclose(t20.get_ydata(), [0.01 * 20 / b**0.5 for b in (1, 8, 64)])
    assert clock.get_xscale() == clock.get_yscale() == "log"


def test_scaling_draws_one_line_per_size_and_learning(tmp_path):
    [ax] = plots.scaling(tmp_path / "s.png", timings()[::-1]).axes  # rows in any order
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [
        "100 LIF neurons", "100 LIF neurons, PostPre STDP", "1000 LIF neurons", "1000 LIF neurons, PostPre STDP"
    ]
    stdp = ax.get_lines()[1]
    np.testing.assert_array_equal(stdp.get_xdata(), [1, 4, 16])
    np.testing.assert_allclose(stdp.get_ydata(), [0.02 * b for b in (1, 4, 16)])  # seconds per 1000 of 100 steps
    assert stdp.get_linestyle() == "--" and ax.get_xscale() == ax.get_yscale() == "log"


def test_learning_curves_one_line_per_label(tmp_path):
    [ax] = FIGURES["learning_curves"](tmp_path / "l.png").axes
    assert [line.get_label() for line in ax.get_lines()] == ["sum", "max"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), [15.0, 30.0, 35.0])
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["sum", "max"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("training images", "accuracy (%)")


class Row:
    steps = 1


BAD = {
    "path not png": (lambda p: plots.scaling(p.with_suffix(".svg"), timings()), "path must name a .png"),
    "raster lengths": (lambda p: plots.raster(p, [1, 2], [3], n_neurons=5, n_steps=5), "steps and neurons"),
    "raster neuron out of range": (lambda p: plots.raster(p, [1], [5], n_neurons=5, n_steps=5), "neurons must lie in"),
    "raster float steps": (lambda p: plots.raster(p, [1.5], [0], n_neurons=5, n_steps=5), "steps must be a 1-D integer"),
    "raster dt": (lambda p: plots.raster(p, [1], [0], n_neurons=5, n_steps=5, dt=0), "dt must be"),
    "fields transposed": (lambda p: plots.receptive_fields(p, np.zeros((10, 784))), "weights must have shape (784"),
    "fields nan": (lambda p: plots.receptive_fields(p, np.full((784, 2), np.nan)), "weights must hold finite"),
    "fields image_shape": (lambda p: plots.receptive_fields(p, np.zeros((4, 1)), image_shape=(4,)), "image_shape"),
    "curves empty": (lambda p: plots.learning_curves(p, {}), "curves must be a non-empty mapping"),
    "curves lengths": (lambda p: plots.learning_curves(p, {"sum": ([1, 2], [3])}), "curves['sum']"),
    "conversion empty": (lambda p: plots.conversion(p, []), "rows must hold at least one"),
    "conversion not rows": (lambda p: plots.conversion(p, [Row()]), "rows[0] has no batch_size"),
    "conversion twice": (lambda p: plots.conversion(p, evaluations() * 2), "steps = 5, batch_size = 1 more than once"),
    "scaling zero time": (
        lambda p: plots.scaling(p, [Timing("numpy", False, 10, 1, 100, 0.0, 1.0)]),
        "timings[0].seconds_per_1000_steps must be a finite positive",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_refused_naming_it_and_writes_nothing(case, tmp_path):
    draw, message = BAD[case]
    path = tmp_path / "figure.png"
    with pytest.raises(ConfigError, match=re.escape(message)):
        draw(path)
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_the_error_names_the_install_command(monkeypatch, tmp_path):
    for module in ("matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'pysnn-minibatch\[plot\]'"):
        plots.scaling(tmp_path / "s.png", timings())
    assert list(tmp_path.iterdir()) == []
