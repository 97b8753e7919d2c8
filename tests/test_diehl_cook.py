"""Diehl & Cook training (pysnn.experiments.diehl_cook, readout, ``pysnn train`` / ``evaluate``):
the readouts on hand-made counts, and the workflow end to end on a few hundred MNIST images on
numba-cpu: accuracy above chance, the learning curve's points, the same weights for the same seed
on any thread count, a resumed checkpoint bit-identical to an uninterrupted run, the CLI.

Every training run here has one network structure (100 neurons, sum) at batch 32, so Numba
compiles one learning and one inference loop for the whole file."""

import json
from contextlib import contextmanager
from pathlib import Path

import numba
import numpy as np
import pytest

from pysnn import ConfigError
from pysnn.cli import main
from pysnn.datasets import load_mnist
from pysnn.experiments.diehl_cook import NORM, OUTPUT, PROJECTION, TEST_ID_OFFSET, Trainer
from pysnn.experiments.readout import UNASSIGNED, all_activity, assign_labels, class_rates, proportion_weighting

SHARED = Path(__file__).parents[2] / "shared/data/mnist"
N_TRAIN, N_TEST, BATCH, INTERVAL = 300, 200, 32, 128
SETTINGS = dict(n_neurons=100, reduction="sum", batch_size=BATCH, update_interval=INTERVAL, seed=0, backend="numba-cpu")

needs_mnist = pytest.mark.skipif(not SHARED.is_dir(), reason=f"the MNIST files are not in {SHARED}")


# -- readouts on hand-made counts --------------------------------------------------------------------

# 4 samples x 4 neurons; neuron 3 never fires. Labels 0, 0, 1, 2.
COUNTS = np.array([[2, 0, 0, 0], [4, 0, 1, 0], [0, 3, 1, 0], [0, 0, 0, 0]])
LABELS = np.array([0, 0, 1, 2])


def test_class_rates_are_mean_counts_per_presentation_of_each_class():
    rates = class_rates(COUNTS, LABELS, 4)
    # neuron 2: class 0 (1 spike over 2 images) 0.5, class 1 1.0; class 3 has no image: 0
    expected = [[3, 0, 0, 0], [0, 3, 0, 0], [0.5, 1, 0, 0], [0, 0, 0, 0]]
    np.testing.assert_array_equal(rates, expected)


def test_assign_labels_takes_the_highest_rate_and_leaves_silent_neurons_unassigned():
    assignments, proportions = assign_labels(COUNTS, LABELS, 3)
    np.testing.assert_array_equal(assignments, [0, 1, 1, UNASSIGNED])
    np.testing.assert_allclose(proportions, [[1, 0, 0], [0, 1, 0], [1 / 3, 2 / 3, 0], [0, 0, 0]])


def test_assign_labels_breaks_ties_towards_the_lower_class():
    assignments, _ = assign_labels(np.array([[1], [1]]), np.array([2, 1]), 3)
    np.testing.assert_array_equal(assignments, [1])


def test_all_activity_votes_by_the_mean_count_of_each_class_neurons():
    assignments = np.array([0, 1, 1, UNASSIGNED])
    counts = np.array([[0, 1, 1, 9], [1, 2, 0, 5], [1, 0, 0, 0]])
    # class 0: 0, 1, 1; class 1: 1, 1 (tie -> 0), 0; class 2 has no neuron; neuron 3 has no vote
    np.testing.assert_array_equal(all_activity(counts, assignments, 3), [1, 0, 0])


def test_proportion_weighting_sums_counts_times_proportions():
    proportions = np.array([[1, 0, 0], [0, 1, 0], [1 / 3, 2 / 3, 0]])
    counts = np.array([[0, 0, 3], [2, 0, 1], [0, 1, 0]])
    # scores: [1, 2, 0], [2 + 1/3, 2/3, 0], [0, 1, 0]
    np.testing.assert_array_equal(proportion_weighting(counts, proportions), [1, 0, 1])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: assign_labels(COUNTS, LABELS[:3], 3), "labels"),
        (lambda: assign_labels(COUNTS, LABELS + 1, 3), "labels"),
        (lambda: assign_labels(COUNTS[0], LABELS, 3), "counts"),
        (lambda: all_activity(COUNTS, np.zeros(3, int), 3), "assignments"),
        (lambda: proportion_weighting(COUNTS, np.zeros((3, 3))), "proportions"),
    ],
)
def test_readouts_refuse_mismatched_arrays(call, name):
    with pytest.raises(ConfigError, match=name):
        call()


# -- training on MNIST ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist():
    train_images, train_labels = load_mnist("train", SHARED, download=False)
    test_images, test_labels = load_mnist("test", SHARED, download=False)
    return train_images[:N_TRAIN], train_labels[:N_TRAIN], test_images[:N_TEST], test_labels[:N_TEST]


@pytest.fixture(scope="module")
def reference(mnist):
    """An uninterrupted run on two threads (if the machine has them): the trainer, its result and
    its initial weights."""
    images, labels = mnist[:2]
    trainer = Trainer(**SETTINGS)
    initial = trainer.sim.weights(PROJECTION)
    with threads(min(2, numba.config.NUMBA_NUM_THREADS)):
        result = trainer.train(images, labels, quiet=True)
    return trainer, result, initial


@contextmanager
def threads(n: int):
    """Numba runs on ``n`` threads inside."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def assert_same_training(trainer, result, reference):
    ref_trainer, ref_result, _ = reference
    np.testing.assert_array_equal(trainer.sim.weights(PROJECTION), ref_trainer.sim.weights(PROJECTION))
    np.testing.assert_array_equal(trainer.sim.state(OUTPUT, "theta"), ref_trainer.sim.state(OUTPUT, "theta"))
    np.testing.assert_array_equal(result.assignments, ref_result.assignments)
    np.testing.assert_array_equal(result.proportions, ref_result.proportions)
    np.testing.assert_array_equal(result.curve_images, ref_result.curve_images)
    for name, curve in ref_result.curves.items():
        np.testing.assert_array_equal(result.curves[name], curve)


@needs_mnist
def test_training_learns_digits_above_chance(mnist, reference):
    trainer, result, initial = reference
    # 300 images at batch 32: 9 full batches and one of 12; an interval closes every 128 images
    assert result.images == N_TRAIN
    np.testing.assert_array_equal(result.curve_images, [128, 256])
    assert all(len(curve) == 2 for curve in result.curves.values())
    weights = trainer.sim.weights(PROJECTION)
    assert not np.array_equal(weights, initial)
    np.testing.assert_allclose(weights.sum(axis=0), NORM, rtol=1e-4)  # normalised after every batch
    assert (trainer.sim.state(OUTPUT, "theta") > 0).any()
    assert np.isin(result.assignments, np.arange(-1, 10)).all() and (result.assignments >= 0).sum() >= 10
    evaluation = trainer.evaluate(*mnist[2:], batch_size=100, quiet=True)
    assert evaluation.n_images == N_TEST
    assert all(accuracy > 0.2 for accuracy in evaluation.accuracy.values()), evaluation.accuracy


@needs_mnist
def test_spike_events_are_the_spikes_that_evaluate_counts(mnist, reference):
    """The twin simulation with event monitors sees what ``evaluate`` counts: same ids, same spikes."""
    trainer = reference[0]
    images = mnist[2][:5]
    inputs, layer = trainer.spike_events(images)
    counts = trainer._present(images, TEST_ID_OFFSET + np.arange(5), learning=False)
    np.testing.assert_array_equal(layer.counts(), counts)
    assert counts.sum() > 0 and len(inputs) > 50 * len(layer)  # 784 Poisson inputs, ~10 output spikes per image
    assert layer.steps == trainer.time and inputs.n == 784


@needs_mnist
def test_same_seed_gives_the_same_training_on_one_thread(mnist, reference):
    with threads(1):
        trainer = Trainer(**SETTINGS)
        result = trainer.train(*mnist[:2], quiet=True)
    assert_same_training(trainer, result, reference)


@needs_mnist
def test_resumed_checkpoint_ends_like_an_uninterrupted_run(mnist, reference, tmp_path, monkeypatch):
    images, labels = mnist[:2]
    path = tmp_path / "dac.npz"
    interrupted = Trainer(**SETTINGS)
    run, calls = interrupted.sim.run, []

    def run_then_ctrl_c(*args, **kwargs):  # Ctrl-C during the 8th batch
        calls.append(1)
        if len(calls) == 8:
            raise KeyboardInterrupt
        return run(*args, **kwargs)

    monkeypatch.setattr(interrupted.sim, "run", run_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        interrupted.train(images, labels, checkpoint=path, checkpoint_every=6, quiet=True)
    # the checkpoint holds 6 batches (192 images), half an interval
    resumed = Trainer(**SETTINGS)
    result = resumed.train(images, labels, checkpoint=path, resume=True, quiet=True)
    assert result.images == N_TRAIN - 6 * BATCH
    assert_same_training(resumed, result, reference)


@needs_mnist
def test_resume_refuses_another_trainers_checkpoint_and_changes_nothing(mnist, reference, tmp_path):
    path = tmp_path / "dac.npz"
    reference[0]._save(path)
    other = Trainer(**SETTINGS | {"batch_size": 16})
    before = other.sim.weights(PROJECTION)
    with pytest.raises(ConfigError, match="batch_size=32"):
        other.train(*mnist[:2], checkpoint=path, resume=True, quiet=True)
    with pytest.raises(ConfigError, match="n_train=300"):
        Trainer(**SETTINGS).train(*mnist[:2], n_train=100, checkpoint=path, resume=True, quiet=True)
    np.testing.assert_array_equal(other.sim.weights(PROJECTION), before)
    assert other.images_seen == 0


@pytest.mark.parametrize(
    "change, name",
    [
        (lambda images, labels: (images.astype(np.float32), labels), "images"),
        (lambda images, labels: (images, labels[:-1]), "labels"),
        (lambda images, labels: (images, labels + 10), "labels"),
    ],
)
def test_train_refuses_bad_data(change, name):
    images, labels = np.zeros((4, 28, 28), np.uint8), np.arange(4)
    trainer = Trainer(**SETTINGS)
    with pytest.raises(ConfigError, match=name):
        trainer.train(*change(images, labels), quiet=True)
    with pytest.raises(ConfigError, match="checkpoint"):
        trainer.train(images, labels, resume=True, quiet=True)
    assert trainer.images_seen == 0


@needs_mnist
def test_cli_train_then_evaluate(tmp_path, capsys):
    data = ["--data", str(SHARED), "--quiet"]
    checkpoint, out, plot = tmp_path / "dac.npz", tmp_path / "train.json", tmp_path / "dac.png"
    argv = ["train", "--n-train", "256", "--batch-size", "32", "--n-test", "64", "--checkpoint", str(checkpoint)]
    assert main([*argv, "--out", str(out), "--plot", str(plot), *data]) == 0
    rows = json.loads(out.read_text())
    assert [row["phase"] for row in rows] == ["training", "interval", "test"]
    assert rows[0]["images"] == 256 and rows[1]["images"] == 224 and rows[2]["images"] == 64
    assert plot.exists() and (tmp_path / "dac-curves.png").exists()
    # learning off: the batch size changes nothing, so evaluate reproduces train's test
    test = tmp_path / "test.csv"
    fields = tmp_path / "fields.png"
    argv = ["evaluate", str(checkpoint), "--n-test", "64", "--batch-size", "64", "--out", str(test), "--plot", str(fields)]
    assert main([*argv, *data]) == 0
    assert fields.exists() and (tmp_path / "fields-raster.png").exists()
    header, values = test.read_text().splitlines()
    row = dict(zip(header.split(","), values.split(",")))
    assert float(row["all_activity"]) == rows[2]["all_activity"]
    assert float(row["proportion_weighting"]) == rows[2]["proportion_weighting"]
    assert main(["train", "--resume", *data]) == 2
    assert "--resume needs --checkpoint" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.npz"), *data]) == 1  # a pysnn error: its message, no traceback
    assert capsys.readouterr().err == f"error: checkpoint {tmp_path / 'missing.npz'} does not exist\n"


def test_checkpoints_of_earlier_versions_train_per_step():
    """A checkpoint written before ``deferred`` existed resumes with per-step learning, as it was
    trained; one that lacks another setting is refused as damaged."""
    from pysnn.experiments.diehl_cook import CHECKPOINT_KIND, CONFIG_KEYS, NU, _trainer_config

    saved = {"kind": CHECKPOINT_KIND} | {f"config.{key}": 1 for key in CONFIG_KEYS if key not in ("deferred", "nu_pre", "nu_post")}
    saved |= {"config.reduction": "max", "config.intensity": 64.0}
    config = _trainer_config(saved, "old.npz")
    assert config["deferred"] is False and config["reduction"] == "max" and config["one_spike"] is True
    assert (config["nu_pre"], config["nu_post"]) == NU
    del saved["config.time"]
    with pytest.raises(ConfigError, match=r"checkpoint old.npz lacks the trainer's settings \['time'\]: it is damaged"):
        _trainer_config(saved, "old.npz")


@needs_mnist
def test_learning_rates_are_the_trainers(mnist, tmp_path):
    """With both rates 0, training only normalises the weights after each batch; other rates are
    saved in checkpoints, which resume only with them."""
    images, labels = mnist[:2]
    small = dict(n_neurons=10, batch_size=8, time=20, backend="numpy")
    frozen = Trainer(**small, nu_pre=0.0, nu_post=0.0)
    expected = Trainer(**small)
    for _ in range(2):  # after each of the 2 batches
        expected.sim.normalize_weights(PROJECTION, NORM)
    frozen.train(images[:16], labels[:16], quiet=True)
    np.testing.assert_array_equal(frozen.sim.weights(PROJECTION), expected.sim.weights(PROJECTION))
    fast = Trainer(**small, nu_post=0.05)
    fast.train(images[:16], labels[:16], quiet=True, checkpoint=tmp_path / "fast.npz")
    assert not np.array_equal(fast.sim.weights(PROJECTION), expected.sim.weights(PROJECTION))
    assert Trainer.from_checkpoint(tmp_path / "fast.npz").nu_post == 0.05
    with pytest.raises(ConfigError, match="saved by a trainer with nu_post=0.05, this one has 0.01"):
        Trainer(**small).train(images[:16], labels[:16], quiet=True, checkpoint=tmp_path / "fast.npz", resume=True)
    with pytest.raises(ConfigError, match="nu_pre must be a finite number, got 'fast'"):
        Trainer(**small, nu_pre="fast")
