"""``pysnn convert``: its options reach the experiment (pysnn.experiments.conversion, tested in
tests/test_conversion.py) and its results are written as CSV or JSON."""

import csv
import json

import pytest

import pysnn.experiments.conversion as conversion
from pysnn.cli import main
from test_plots import assert_png


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake_run_conversion(**kwargs):
        seen.append(kwargs)
        rows = [conversion.Evaluation(t, b, 100, 0.5 + t / 100, 0.01 * t, "numpy") for b in kwargs["batch_sizes"] for t in kwargs["steps"]]
        for row in rows:
            kwargs["report"] and kwargs["report"](row)
        return conversion.ConversionReport(0.97, (1.0, 2.0, 3.0), 99.9, None, rows)

    monkeypatch.setattr(conversion, "run_conversion", fake_run_conversion)
    return seen


def test_convert_passes_its_options_and_writes_csv(calls, tmp_path, capsys):
    out = tmp_path / "results.csv"
    argv = ["convert", "--backend", "numpy", "--batch-size", "4,8", "--steps", "5,10", "--seed", "3", "--n-test", "100",
            "--data", str(tmp_path), "--weights", str(tmp_path / "w"), "--readout", "spikes", "--out", str(out)]
    assert main(argv) == 0
    [kwargs] = calls
    assert kwargs["backend"] == "numpy" and kwargs["batch_sizes"] == [4, 8] and kwargs["steps"] == [5, 10]
    assert kwargs["seed"] == 3 and kwargs["n_test"] == 100 and kwargs["data_root"] == tmp_path
    assert kwargs["cache_dir"] == tmp_path / "w" and kwargs["quiet"] is False and kwargs["readout"] == "spikes"
    with out.open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["steps"], r["batch_size"]) for r in rows] == [("5", "4"), ("10", "4"), ("5", "8"), ("10", "8")]
    printed = capsys.readouterr().out
    assert "ANN accuracy 97.00 %" in printed and "| 10 | 8 | 100 |" in printed


def test_convert_quiet_writes_json(calls, tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["convert", "--quiet", "--batch-size", "2", "--steps", "1", "--out", str(out)]) == 0
    assert calls[0]["quiet"] is True and calls[0]["report"] is None and calls[0]["readout"] == "input"
    [row] = json.loads(out.read_text())
    assert row["steps"] == 1 and row["batch_size"] == 2 and row["images_per_second"] == pytest.approx(10_000)
    assert "|" not in capsys.readouterr().out.splitlines()[0]


def test_convert_plots_its_results(calls, tmp_path, capsys):
    plot = tmp_path / "conversion.png"
    assert main(["convert", "--quiet", "--batch-size", "1,16", "--steps", "5,10,20", "--plot", str(plot)]) == 0
    assert_png(plot)
    assert f"plot written to {plot}" in capsys.readouterr().out
