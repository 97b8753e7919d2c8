"""The run API: batch size, continuation and reset, state and weight access, monitors' shapes,
sample ids as random keys, backend selection."""

import numpy as np
import pytest

import pysnn
from pysnn import ConfigError, Dense, Network

BACKENDS = ["numpy", "numba-cpu"]


def poisson_net(n_in=20, n_out=10, seed=0):
    rng = np.random.default_rng(seed)
    net = Network()
    net.add_input("x", n_in, encoder="poisson")
    net.add_population("y", n_out, model="lif")
    net.connect("x", "y", Dense(rng.uniform(0, 6, (n_in, n_out))))
    net.monitor("y", "spike_counts", "spikes")
    net.monitor("y", "v", every=4)
    net.monitor("x", "spike_counts")
    return net


@pytest.mark.parametrize("backend", BACKENDS)
def test_monitor_shapes_and_consistency(backend):
    out = poisson_net().compile(backend=backend).run(10, {"x": np.full((3, 20), 100.0)})
    assert out.spike_counts("y").shape == (3, 10) and out.spike_counts("y").dtype == np.int32
    assert out.spikes("y").shape == (10, 3, 10) and out.spikes("y").dtype == bool
    assert out.state("y", "v").shape == (2, 3, 10) and out.state("y", "v").dtype == np.float32
    np.testing.assert_array_equal(out.spikes("y").sum(axis=0), out.spike_counts("y"))
    assert out.steps == 10 and out.sample_ids.tolist() == [0, 1, 2]
    with pytest.raises(ConfigError, match="'u' of 'y' was not monitored"):
        out.state("y", "u")


@pytest.mark.parametrize("backend", BACKENDS)
def test_continuing_a_run_equals_one_long_run(backend):
    net = poisson_net()
    rates = {"x": np.full((2, 20), 150.0)}
    long = net.compile(backend=backend).run(30, rates).spikes("y")
    sim = net.compile(backend=backend)
    parts = [sim.run(steps, rates).spikes("y") for steps in (10, 5, 15)]
    np.testing.assert_array_equal(np.concatenate(parts), long)
    assert sim.step == 30


@pytest.mark.parametrize("backend", BACKENDS)
def test_reset_restores_initial_state_and_allows_a_new_batch_size(backend):
    sim = poisson_net().compile(backend=backend)
    first = sim.run(20, {"x": np.full((2, 20), 150.0)})
    assert first.spike_counts("y").sum() > 0 and (sim.state("y", "refrac_count") != 0).all()
    with pytest.raises(ConfigError, match="holds state for batch size 2"):
        sim.run(20, {"x": np.full((3, 20), 150.0)})
    sim.reset()
    assert sim.step == 0 and sim.batch_size is None
    again = sim.run(20, {"x": np.full((2, 20), 150.0)})
    np.testing.assert_array_equal(first.spikes("y"), again.spikes("y"))
    sim.reset(batch_size=5)
    np.testing.assert_array_equal(sim.state("y", "v"), np.full((5, 10), -65.0, np.float32))
    np.testing.assert_array_equal(sim.state("y", "refrac_count"), 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_state_and_weights_take_effect(backend):
    sim = poisson_net().compile(backend=backend, batch_size=2)
    sim.set_state("y", "v", -40.0)  # above threshold: everybody spikes at the first step
    sim.set_weights("x->y", np.zeros((20, 10)))
    out = sim.run(3, {"x": np.full((2, 20), 100.0)})
    np.testing.assert_array_equal(out.spikes("y")[0], True)
    assert out.spikes("y")[1:].sum() == 0
    np.testing.assert_array_equal(sim.weights("x->y"), 0.0)


def test_sample_ids_key_the_random_numbers():
    sim = poisson_net(n_in=100).compile(backend="numpy")
    rates = np.full((3, 100), 500.0)
    out = sim.run(50, {"x": rates}, sample_ids=[5, 6, 5])
    counts = out.spike_counts("x")
    assert (counts[0] == counts[2]).all() and (counts[0] != counts[1]).any()
    sim.reset()
    assert (sim.run(50, {"x": rates[:1]}, sample_ids=[6]).spike_counts("x")[0] == counts[1]).all()


def test_poisson_rates_are_honoured():
    sim = poisson_net(n_in=200).compile()
    rates = np.linspace(0, 200, 200)[None, :].repeat(4, axis=0)
    counts = sim.run(2000, {"x": rates}).spike_counts("x").mean(axis=0)  # 2 s
    expected = rates[0] * 2.0
    assert np.all(np.abs(counts - expected) <= 4 * np.sqrt(expected) + 1)
    assert counts[0] == 0


def test_seed_changes_the_random_numbers():
    net = poisson_net(n_in=100)
    rates = {"x": np.full((1, 100), 300.0)}
    a = net.compile(seed=1).run(20, rates).spike_counts("x")
    b = net.compile(seed=1).run(20, rates).spike_counts("x")
    c = net.compile(seed=2).run(20, rates).spike_counts("x")
    assert (a == b).all() and (a != c).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_timed_inputs_set_the_number_of_steps(backend):
    net = Network()
    net.add_input("x", 2, encoder="spikes")
    net.add_population("y", 2, model="if_subtractive")
    net.connect("x", "y", pysnn.OneToOne([1.0, 0.5]))
    net.monitor("y", "spikes")
    train = np.zeros((6, 1, 2), bool)
    train[[0, 2, 3], 0, :] = True
    out = net.compile(backend=backend).run(inputs={"x": train})
    assert out.steps == 6
    np.testing.assert_array_equal(out.spikes("y")[:, 0, 0], [0, 1, 0, 1, 1, 0])
    np.testing.assert_array_equal(out.spikes("y")[:, 0, 1], [0, 0, 0, 1, 0, 0])  # 0.5 + 0.5 at step 3


def test_backend_is_chosen_by_name_environment_or_default(monkeypatch):
    net = poisson_net()
    monkeypatch.delenv("PYSNN_BACKEND", raising=False)
    assert net.compile().backend == "numba-cpu"
    monkeypatch.setenv("PYSNN_BACKEND", "numpy")
    assert net.compile().backend == "numpy"
    assert net.compile(backend="numba-cpu").backend == "numba-cpu"


def test_network_without_inputs_takes_batch_size_from_compile_or_sample_ids():
    net = Network()
    net.add_population("y", 3, model="lif", init={"v": -40.0})
    net.monitor("y", "spike_counts")
    out = net.compile(batch_size=2).run(5)
    np.testing.assert_array_equal(out.spike_counts("y"), 1)
    assert net.compile().run(5, sample_ids=[0, 1, 2, 3]).spike_counts("y").shape == (4, 3)


def test_check_run_checks_without_running():
    """``check_run`` raises what ``run`` raises, for any batch size (as after ``reset``), and
    returns the steps; nothing runs, nothing changes."""
    sim = poisson_net().compile(backend="numpy")
    sim.run(5, {"x": np.full((4, 20), 100.0)})
    before = sim.state("y", "v")
    assert sim.check_run(inputs={"x": np.full((7, 2, 20), 100.0)}) == 7  # batch 2: fine after a reset
    assert sim.check_run(3, {"x": np.full((2, 20), 100.0)}, sample_ids=[5, 9]) == 3
    assert sim.step == 5 and sim.batch_size == 4
    np.testing.assert_array_equal(sim.state("y", "v"), before)
    cases = [
        ({"steps": 3, "inputs": {"x": np.full((2, 20), -1.0)}}, r"inputs\['x'\] holds firing rates .* element \(0, 0\) is -1.0"),
        ({"steps": 3, "inputs": {"x": np.full((2, 20), 1.0)}, "sample_ids": [1]}, "batch sizes disagree"),
        ({"steps": 3, "inputs": {"x": np.full((2, 20), 1.0)}, "reward": np.ones(2)}, "no learning rule of this network reads it"),
        ({"inputs": {"x": np.full((2, 20), 1.0)}}, "steps"),
        ({"steps": 3, "inputs": {"x": np.full((2, 20), 1.0)}, "deferred": 1}, "deferred must be True or False, got 1"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ConfigError, match=message):
            sim.check_run(**kwargs)
        with pytest.raises(ConfigError, match=message):
            sim.reset()
            sim.run(**kwargs)
    assert sim.step == 0 and sim.batch_size is None  # reset, and the refused runs ran nothing


def test_a_run_writes_per_sample_state_and_while_learning_what_learns():
    """A run's working copy copies what the run may write and holds the rest as it is
    (``lowering.written_by_run``; tests/test_finite.py checks that a failed run still changes
    nothing): the per-sample state always; a shared neuron variable and learned weights only
    while learning; weights that do not learn never."""
    net = Network()
    net.add_input("x", 4, encoder="poisson", trace=pysnn.Trace(20.0))
    net.add_population("y", 3, model="adaptive_lif", trace=pysnn.Trace(20.0))
    net.connect("x", "y", Dense(np.full((4, 3), 0.5)), learning=pysnn.Learning("postpre"))
    net.connect("y", "y", Dense(np.full((3, 3), -1.0)))
    sim = net.compile(backend="numpy")
    sim.run(2, {"x": np.full((2, 4), 50.0)})
    engine = sim._engine
    for learning, copied in [
        (False, {"y.v", "y.refrac_count", "y.output", "x.output", "x.x", "y.x"}),
        (True, {"y.v", "y.refrac_count", "y.output", "x.output", "x.x", "y.x", "y.theta", "x->y.weights"}),
    ]:
        work = engine.working_copy({}, learning)
        held = {f"{key.owner}.{key.variable}" for key, array in work.items() if array is engine._state[key]}
        names = {f"{key.owner}.{key.variable}" for key in work}
        assert names - held == copied, learning
        assert all(np.array_equal(work[key], engine._state[key]) for key in work)
