"""Data-parallel deferred learning on Dask (pysnn.distributed.ShardedLearning): a batch split over
the workers ends as one process's deferred run of the whole batch: the records bit for bit, the
shared state exactly for max and min and within round-off for sum and mean. Reductions that cannot
be split and bad arguments are refused before anything is submitted; a killed worker costs a retry.

Runs on the session's LocalCluster (the ``client`` fixture of tests/conftest.py).
"""

import functools
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

pytest.importorskip("distributed")
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use")

from pysnn import ConfigError, Dense, Learning, Network, Sparse, Trace
from pysnn.cli import main
from pysnn.datasets import load_mnist
from pysnn.distributed import Model, ShardedLearning, data_parallel
from pysnn.experiments.diehl_cook import OUTPUT, PROJECTION, Trainer
from test_distributed import assert_same_records

STEPS = 12
RULES = {"postpre": {"nu_pre": 1e-2, "nu_post": 1e-1}, "mstdp": {"nu": 0.05}}


def network(dense: str, sparse: str, theta: str, rule: str = "postpre") -> Network:
    """Poisson inputs -> LIF (dense) and adaptive LIF with one spike per step (sparse), both
    learning with ``rule`` and the given reductions, theta reduced by ``theta``; recording counts,
    events, spikes, a per-sample and a shared state variable."""
    rng = np.random.default_rng(1)
    net = Network()
    net.add_input("x", 8, encoder="poisson", trace=Trace(5.0))
    net.add_population("y", 5, model="lif", trace=Trace(5.0))
    net.add_population("z", 4, model="adaptive_lif", trace=Trace(5.0), reductions={"theta": theta}, one_spike=True)
    net.connect("x", "y", Dense(8.0 * rng.random((8, 5))), learning=Learning(rule, RULES[rule], reduction=dense))
    mask = rng.random((8, 4)) < 0.6
    sparse_weights = Sparse.from_dense(8.0 * rng.random((8, 4)) * mask, mask)
    net.connect("x", "z", sparse_weights, learning=Learning(rule, RULES[rule], reduction=sparse))
    net.monitor("y", "spike_counts", "spike_events")
    net.monitor("y", "v", every=4)
    net.monitor("z", "spikes")
    net.monitor("z", "theta", every=3)
    return net


def learned(sim) -> dict:
    """The shared state that learns, by the name of what reduces it: dense, sparse, theta."""
    return {"dense": sim.weights("x->y"), "sparse": sim.weights("x->z"), "theta": sim.state("z", "theta")}


def tolerance(before: np.ndarray, after: np.ndarray, parts: int) -> float:
    """How far a sum or mean learned in ``parts`` parts may end from one process's ``after``. The
    parts' totals hold the same same-sign terms added in another order: a few roundings of the
    largest change per part. Adding the change to the state rounds at the state's scale (PostPre's
    ``(w - nu_pre * pre) + nu_post * post``: twice), and a slightly different change may land on
    the neighbouring float there: an ulp of the largest value, per rounding."""
    eps = np.finfo(after.dtype).eps
    return 4 * parts * eps * float(np.abs(after - before).max()) + 2 * float(np.spacing(np.abs(after).max()))


def assert_learned_alike(before: dict, expected: dict, got: dict, reductions: dict, parts: int) -> None:
    for name, reduction in reductions.items():
        if reduction in ("max", "min"):
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
        else:
            tol = tolerance(before[name], expected[name], parts)
            assert np.abs(got[name] - expected[name]).max() <= tol, (name, got[name] - expected[name], tol)


def split_and_once(client, net, backend, parts, inputs, ids, reward=None):
    """(initial, one process's, split) learned state and (one process's, split) records."""
    once = net.compile(backend)
    before = learned(once)
    expected = once.run(STEPS, inputs, sample_ids=ids, reward=reward, deferred=True)
    sim = net.compile(backend)
    got = ShardedLearning(client, Model.of(net, backend), parts).run(sim, STEPS, inputs, sample_ids=ids, reward=reward)
    assert sim.step == 0 and sim.batch_size is None  # reset
    return before, learned(once), learned(sim), expected, got


CASES = [
    ("numpy", {"dense": "max", "sparse": "sum", "theta": "sum"}, True),
    ("numpy", {"dense": "mean", "sparse": "max", "theta": "max"}, False),
    ("numba-cpu", {"dense": "max", "sparse": "sum", "theta": "sum"}, False),
]
"""Backend, reductions, and whether inputs are given per step (on numba-cpu another compile)."""


@pytest.mark.parametrize("backend, reductions, timed", CASES)
@settings(max_examples=4)
@given(n=st.integers(1, 9), parts=st.integers(1, 5), offset=st.integers(0, 2**40))
def test_split_learning_ends_as_one_process_deferred_run(client, backend, reductions, timed, n, parts, offset):
    net = network(**reductions)
    rates = np.random.default_rng(n).uniform(100, 400, (STEPS, n, 8) if timed else (n, 8))
    ids = offset + np.arange(n, dtype=np.uint64)
    before, expected, got, expected_records, got_records = split_and_once(client, net, backend, parts, {"x": rates}, ids)
    assert_same_records(expected_records, got_records)
    assert not np.array_equal(expected["dense"], before["dense"])  # it learned
    assert_learned_alike(before, expected, got, reductions, min(parts, n))


def test_a_reward_per_step_and_sample_goes_with_its_samples(client):
    reductions = {"dense": "min", "sparse": "max", "theta": "sum"}
    net = network(**reductions, rule="mstdp")
    rng = np.random.default_rng(3)
    rates, reward = rng.uniform(100, 400, (7, 8)), rng.uniform(-1, 1, (STEPS, 7))
    before, expected, got, expected_records, got_records = split_and_once(client, net, "numpy", 3, {"x": rates}, None, reward)
    assert_same_records(expected_records, got_records)
    assert (expected["dense"] < before["dense"]).any() and (expected["sparse"] > before["sparse"]).any()
    assert_learned_alike(before, expected, got, reductions, 3)


@pytest.fixture
def nothing_submitted(client, monkeypatch):
    """The client, on which scattering or submitting anything fails the test."""

    def submitted(*args, **kwargs):
        raise AssertionError("something was submitted")

    monkeypatch.setattr(client, "scatter", submitted)
    monkeypatch.setattr(client, "submit", submitted)
    return client


def test_a_reduction_that_cannot_be_split_is_refused_before_submitting(nothing_submitted):
    net = network("median", "sum", "sum")
    sim = net.compile("numpy")
    rates = np.full((4, 8), 200.0)
    sim.run(3, {"x": rates}, learning=False)
    weights = sim.weights("x->y")
    with pytest.raises(ConfigError, match=r"'median' .* of projection 'x->y' cannot be split over parts of a batch"):
        ShardedLearning(nothing_submitted, Model.of(net, "numpy")).run(sim, STEPS, {"x": rates})
    np.testing.assert_array_equal(sim.weights("x->y"), weights)
    assert sim.step == 3 and sim.batch_size == 4


LEARN_PART = data_parallel.learn_part


def _dying_part(calls, deaths, sim, inputs, ids, *args, **kwargs):
    """``learn_part``, leaving a file in ``calls`` named by its first sample id, but the first
    ``deaths`` parts in the cluster to get here kill their worker processes."""
    with open(os.path.join(calls, f"{ids[0]}-{os.urandom(4).hex()}"), "w"):
        pass
    for death in range(deaths):
        try:
            os.close(os.open(os.path.join(calls, f"died{death}"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        os._exit(1)
    return LEARN_PART(sim, inputs, ids, *args, **kwargs)


def _patch_learn_part(calls, deaths=0):
    """On a worker: its tasks run ``_dying_part`` (``calls``, a folder), or ``learn_part`` (None)."""
    data_parallel.learn_part = LEARN_PART if calls is None else functools.partial(_dying_part, calls, deaths)


@pytest.mark.parametrize("deaths, recorded", [(1, 3), (2, 2)])
def test_workers_killed_during_their_parts_cost_retries_not_the_run(client, tmp_path, deaths, recorded):
    """One worker dies, with the chunk of its part, which runs again on the other; or both die,
    with the model and the shared state they held, which are scattered again to the restarted
    workers (not patched: they record no calls)."""
    net = network("max", "sum", "sum")
    rates = np.random.default_rng(4).uniform(100, 400, (6, 8))
    once = net.compile("numpy")
    expected = once.run(STEPS, {"x": rates}, deferred=True)
    client.wait_for_workers(2)  # a worker killed by an earlier test may still be restarting
    client.run(_patch_learn_part, str(tmp_path), deaths)
    try:
        sim = net.compile("numpy")
        got = ShardedLearning(client, Model.of(net, "numpy")).run(sim, STEPS, {"x": rates})  # a part per worker: 2
    finally:
        client.run(_patch_learn_part, None)
    calls = sorted(name.split("-")[0] for name in os.listdir(tmp_path) if not name.startswith("died"))
    assert all((tmp_path / f"died{death}").exists() for death in range(deaths))
    assert len(calls) == recorded and set(calls) == {"0", "3"}
    assert_same_records(expected, got)
    np.testing.assert_array_equal(sim.weights("x->y"), once.weights("x->y"))


MSTDP = network("max", "max", "sum", rule="mstdp")
POSTPRE = network("max", "sum", "sum")
RATES = {"x": np.full((4, 8), 200.0)}


@pytest.mark.parametrize(
    "make, net, run, match",
    [
        (lambda c: ShardedLearning(c, Model.of(POSTPRE), parts=0), None, None, "parts must be a positive integer, got 0"),
        (lambda c: ShardedLearning(c, Model.of(POSTPRE), parts=2.0), None, None, "parts must be a positive integer, got 2.0"),
        (lambda c: ShardedLearning(c, POSTPRE), None, None, "model must be a pysnn.distributed.Model"),
        (lambda c: ShardedLearning(None, Model.of(POSTPRE)), None, None, "client must be a distributed.Client"),
        (lambda c: ShardedLearning(c, Model.of(POSTPRE)), "a network", {}, "sim must be a Simulation.*got 'a network'"),
        (lambda c: ShardedLearning(c, Model.of(MSTDP)), POSTPRE, {}, "sim is not a simulation of the model: sim has structure hash"),
        (lambda c: ShardedLearning(c, Model.of(POSTPRE, seed=1)), POSTPRE, {}, "sim has seed 0 \\(the model's: 1\\)"),
        (lambda c: ShardedLearning(c, Model.of(POSTPRE)), POSTPRE, {"inputs": {"x": np.ones(8)}}, r"inputs\['x'\] must have shape"),
        (lambda c: ShardedLearning(c, Model.of(POSTPRE)), POSTPRE, {"inputs": {"w": np.ones((4, 8))}}, r"inputs \['w'\] are not input"),
        (
            lambda c: ShardedLearning(c, Model.of(POSTPRE)), POSTPRE, {"inputs": {"x": np.ones((5, 4, 8))}},
            r"inputs\['x'\] has 5 steps along axis 0, but steps=12",
        ),
        (lambda c: ShardedLearning(c, Model.of(POSTPRE)), POSTPRE, {"inputs": {"x": -RATES["x"]}}, r"element \(0, 0\) is -200.0"),
        (lambda c: ShardedLearning(c, Model.of(POSTPRE)), POSTPRE, {"sample_ids": [0, 1]}, "sample_ids must be 4 non-negative"),
        (lambda c: ShardedLearning(c, Model.of(POSTPRE)), POSTPRE, {"reward": np.ones(4)}, "reward was given, but no learning rule"),
        (lambda c: ShardedLearning(c, Model.of(MSTDP)), MSTDP, {}, "reward is required while learning"),
        (
            lambda c: ShardedLearning(c, Model.of(MSTDP)), MSTDP, {"reward": np.ones((STEPS, 3))},
            r"reward must have shape \(batch,\) = \(4,\) or \(steps, batch\) = \(12, 4\), got \(12, 3\)",
        ),
    ],
)
def test_bad_arguments_are_config_errors_and_submit_nothing(nothing_submitted, make, net, run, match):
    with pytest.raises(ConfigError, match=match):
        learning = make(nothing_submitted)
        learning.run(net.compile("numpy") if isinstance(net, Network) else net, STEPS, **{"inputs": RATES, **run})


# -- Diehl & Cook training split over the workers ----------------------------------------------------

MNIST = Path(__file__).parents[2] / "shared/data/mnist"
DAC = dict(n_neurons=10, batch_size=8, time=20, update_interval=16, backend="numpy", deferred=True)


@pytest.mark.skipif(not MNIST.is_dir(), reason=f"the MNIST files are not in {MNIST}")
def test_diehl_cook_training_split_over_workers_learns_as_one_process(client):
    """Deferred training of 24 images in batches of 8 (max over the batch; theta sums): the
    split run's counts, labels and learning curve equal one process's, its weights and theta
    within round-off (theta's sum is added in another order), and so does the test after it."""
    images, labels = load_mnist("train", MNIST, download=False)
    images, labels = images[:24], labels[:24]
    once, split = Trainer(reduction="max", **DAC), Trainer(reduction="max", **DAC)
    expected = once.train(images, labels, quiet=True)
    got = split.train(images, labels, quiet=True, client=client)
    np.testing.assert_array_equal(got.assignments, expected.assignments)
    assert got.curves == expected.curves and len(got.curve_images) == 1
    np.testing.assert_allclose(split.sim.weights(PROJECTION), once.sim.weights(PROJECTION), rtol=0, atol=1e-6)
    np.testing.assert_allclose(split.sim.state(OUTPUT, "theta"), once.sim.state(OUTPUT, "theta"), rtol=1e-6)
    assert not np.allclose(once.sim.state(OUTPUT, "theta"), 0)  # the neurons fired: theta grew
    test_images, test_labels = load_mnist("test", MNIST, download=False)
    assert split.evaluate(test_images[:16], test_labels[:16], quiet=True, client=client).accuracy == (
        once.evaluate(test_images[:16], test_labels[:16], quiet=True).accuracy
    )


def test_diehl_cook_training_split_needs_deferred_learning_and_a_splittable_reduction(nothing_submitted):
    images, labels = np.zeros((8, 28, 28), np.uint8), np.zeros(8, np.int64)
    per_step = Trainer(**(DAC | {"deferred": False}))
    with pytest.raises(ConfigError, match="needs deferred learning .* use Trainer\\(..., deferred=True\\)"):
        per_step.train(images, labels, quiet=True, client=nothing_submitted)
    with pytest.raises(ConfigError, match="'median' .* of projection 'X->Y' cannot be split"):
        Trainer(reduction="median", **DAC).train(images, labels, quiet=True, client=nothing_submitted)
    assert per_step.images_seen == 0
    with pytest.raises(ConfigError, match="deferred must be True or False, got 'yes'"):
        Trainer(**(DAC | {"deferred": "yes"}))


def test_cli_train_split_over_workers_needs_deferred(capsys):
    """Refused before a cluster starts."""
    assert main(["train", "--dask", "2", "--n-train", "8", "--data", str(MNIST), "--quiet"]) == 2
    assert "--dask and --scheduler split each batch's learning over workers, which needs --deferred" in capsys.readouterr().err
