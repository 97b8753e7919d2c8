"""``pysnn scaling`` and the flags every experiment command shares (``add_common_flags``): results
as JSON or CSV, the plot, the seed, --quiet, and help texts that show defaults and examples."""

import argparse
import csv
import json
import sys

import pytest

from pysnn.cli import HelpFormatter, add_common_flags, main
from test_plots import assert_png

SMALL = ["scaling", "--backend", "numpy", "--n-out", "10", "--steps", "100", "--repeats", "1"]


def test_scaling_writes_results_and_plot(tmp_path, capsys):
    out, plot = tmp_path / "x.json", tmp_path / "x.png"
    assert main([*SMALL, "--batch-size", "1,2", "--out", str(out), "--plot", str(plot)]) == 0
    rows = json.loads(out.read_text())
    assert [(r["backend"], r["n_out"], r["batch"], r["steps"], r["stdp"]) for r in rows] == [
        ("numpy", 10, 1, 100, False), ("numpy", 10, 2, 100, False)
    ]
    assert all(r["seconds"] > 0 and r["output_rate"] > 0 for r in rows)
    assert_png(plot)
    printed = capsys.readouterr().out
    assert printed.startswith("scaling experiment") and "| numpy | none | 10 | 2 |" in printed
    assert f"results written to {out}" in printed and f"plot written to {plot}" in printed


def test_scaling_seed_batch_alias_and_quiet(tmp_path, capsys):
    def output_rates(seed: int) -> list[tuple[str, str]]:
        out = tmp_path / f"seed{seed}.csv"
        assert main([*SMALL, "--batch", "3", "--seed", str(seed), "--quiet", "--out", str(out)]) == 0
        with out.open() as f:
            return [(row["batch"], row["output_rate"]) for row in csv.DictReader(f)]

    assert output_rates(0) == output_rates(0) != output_rates(5)  # weights and rates come from the seed
    assert output_rates(5)[0][0] == "3"
    printed = capsys.readouterr().out
    assert "scaling experiment" not in printed and "| numpy | none | 10 | 3 |" in printed  # only the results


def test_common_flags_parse_and_check(capsys):
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    add_common_flags(parser, batch_size=32, seed_help="seed", plot_help="a plot")
    args = parser.parse_args([])
    assert (args.backend, args.batch_size, args.seed, args.out, args.plot, args.quiet) == (None, 32, 0, None, None, False)
    args = parser.parse_args(["--batch-size", "8", "--seed", "3", "--out", "r.csv", "--plot", "p.png", "--quiet"])
    assert (args.batch_size, args.seed, str(args.out), str(args.plot), args.quiet) == (8, 3, "r.csv", "p.png", True)
    for bad in (["--batch-size", "0"], ["--batch-size", "1,2"], ["--plot", "p.pdf"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
        assert f"argument {bad[0]}" in capsys.readouterr().err
    assert "samples simulated together (default: 32)" in " ".join(parser.format_help().split())


def test_plot_flag_needs_matplotlib_before_the_experiment_runs(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if not installed
    with pytest.raises(SystemExit):
        main([*SMALL, "--plot", "x.png"])
    captured = capsys.readouterr()
    assert "pip install 'pysnn-minibatch[plot]'" in captured.err and "scaling experiment" not in captured.out


@pytest.mark.parametrize(
    "command, default", [("scaling", "(default: 1,4,16,64,256,1024)"), ("convert", "(default: 1,2,3,4,5,10,20,50)")]
)
def test_help_shows_defaults_and_examples(command, default, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"examples: pysnn {command} " in text and "--plot FILE.png" in text and "--seed SEED" in text
    assert default in text


def test_top_level_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "scaling Experiment 1: seconds per 1000 steps as the batch grows." in text
    assert "convert Experiment 2:" in text and "share --backend, --batch-size, --seed, --out" in text
