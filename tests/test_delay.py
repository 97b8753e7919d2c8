"""Zero-delay projections (``Network.connect(delay=0)``) and the constant-input cache: a projection
from a deterministic input given the same values every step is propagated at a run's steps
t <= delay only, into an accumulator held across the run's pieces (``lowering.constant_input``). The shared properties (tests/networks.py draws
delays) compare every backend with NumPy; these tests pin the semantics down by hand."""

import numpy as np
import pytest

from networks import COMPILED_BACKENDS, assert_identical, snapshot
from pysnn import ConfigError, Dense, Network, OneToOne, Sparse, run_chunks

BACKENDS = ("numpy", *COMPILED_BACKENDS)


def chain(delay: int) -> Network:
    """Spikes -> a -> b, each a one-step integrate-and-fire relay (weight 1 = threshold 1)."""
    net = Network()
    net.add_input("x", 1, encoder="spikes")
    net.add_population("a", 1, model="if_subtractive")
    net.add_population("b", 1, model="if_subtractive")
    net.connect("x", "a", Dense(np.ones((1, 1))), delay=delay)
    net.connect("a", "b", Dense(np.ones((1, 1))), delay=delay)
    net.monitor("a", "spikes")
    net.monitor("b", "spikes")
    return net


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_spike_crosses_a_zero_delay_chain_within_its_step(backend):
    """An input spike at step 2 reaches a and b at step 2 with delay 0, at steps 3 and 4 with
    delay 1 (each relay fires at the step its input arrives)."""
    trains = np.zeros((7, 1, 1), bool)
    trains[2] = True
    for delay, (at_a, at_b) in ((0, (2, 2)), (1, (3, 4))):
        out = chain(delay).compile(backend=backend).run(inputs={"x": trains})
        assert np.flatnonzero(out.spikes("a")[:, 0, 0]).tolist() == [at_a]
        assert np.flatnonzero(out.spikes("b")[:, 0, 0]).tolist() == [at_b]


@pytest.mark.parametrize(
    "source, target, delay, message",
    [
        ("b", "a", 0, r"projection 'b->a': delay=0 from 'b', which was added after 'a'.*add 'b' before 'a'"),
        ("a", "a", 0, r"projection 'a->a': delay=0 onto itself.*use delay=1"),
        ("x", "b", 2, r"projection 'x->b': delay=2 must be 0 \(same step\) or 1 \(next step\)"),
        ("x", "b", True, r"delay=True must be 0"),
        ("x", "b", "0", r"delay='0' must be 0"),
    ],
)
def test_bad_delays_are_config_errors_that_change_nothing(source, target, delay, message):
    net = chain(1)
    before = dict(net.projections)
    with pytest.raises(ConfigError, match=message):
        net.connect(source, target, Dense(np.ones((1, 1))), delay=delay)
    assert net.projections == before


def constant_network() -> Network:
    """Deterministic inputs into ``h`` (analog, delay 0 and sparse; spikes, delay 1 and
    one-to-one) and a zero-delay projection from ``h`` into ``o``."""
    rng = np.random.default_rng(2)
    net = Network()
    net.add_input("c", 5, encoder="current")
    net.add_input("s", 4, encoder="spikes")
    net.add_population("h", 4, model="if_subtractive")
    net.add_population("o", 3, model="lif")
    mask = rng.random((5, 4)) < 0.7
    net.connect("c", "h", Sparse.from_dense(np.where(mask, rng.uniform(-0.1, 0.4, (5, 4)), 0.0), mask), delay=0)
    net.connect("s", "h", OneToOne(rng.uniform(0.0, 0.3, 4)))
    net.connect("h", "o", Dense(rng.uniform(5.0, 15.0, (4, 3))), synapse="exponential", delay=0)
    net.monitor("h", "v", "spikes")
    net.monitor("o", "v", "spike_counts")
    return net


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_constant_inputs_propagated_once_equal_the_same_values_given_every_step(backend, monkeypatch):
    """Runs with constant inputs (propagated at the run's steps t <= delay) equal runs with
    the same values given per step (propagated every step) and NumPy, bit for bit: across runs
    whose inputs and weights change, and across pieces of one step each."""
    monkeypatch.setattr(run_chunks, "PIECE_SECONDS", 1e-9)  # pieces of 8 steps, then of 1
    rng = np.random.default_rng(4)
    runs = [(11, {"c": rng.uniform(-0.5, 1.0, (3, 5)), "s": rng.random((3, 4)) < 0.5}) for _ in range(3)]
    results, sims = {}, {}
    for engine, timed in ((backend, False), (backend, True), ("numpy", True)):
        sim = constant_network().compile(backend=engine)
        snapshots = []
        for k, (steps, inputs) in enumerate(runs):
            if k == 2:  # new weights between runs: the next run propagates them
                sim.set_weights("c->h", sim.weights("c->h") * 2.0)
            given = {name: np.broadcast_to(x, (steps, *x.shape)) if timed else x for name, x in inputs.items()}
            snapshots.append(snapshot(sim, sim.run(steps, given)))
        results[engine, timed], sims[engine, timed] = snapshots, sim
    assert results["numpy", True][-1]["record o.spike_counts"][0].sum() > 0  # the drive reaches o
    source = sims[backend, False]._engine.source  # the cache is in the code of runs with constant inputs only
    assert source(frozenset()).count("piece_start + t <= 0:") == 1 and source(frozenset()).count("piece_start + t <= 1:") == 1
    assert "piece_start" not in source(frozenset({"c", "s"}))
    for cached, every_step, reference in zip(*results.values()):
        assert_identical(cached, every_step)
        assert_identical(cached, reference)


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_a_constant_input_is_propagated_once_per_run_not_per_piece(backend, monkeypatch):
    """Every piece of a run gets the same held accumulators (``RunArgs.held``), which the first
    piece filled, and its start in the run (``RunArgs.first``), so later pieces skip the product."""
    monkeypatch.setattr(run_chunks, "PIECE_SECONDS", 1e-9)  # pieces of 8 steps, then of 1
    sim = constant_network().compile(backend=backend)
    seen = []
    original = type(sim._engine).run

    def spy(self, state, args):
        original(self, state, args)
        seen.append((args.first, {ref: id(array) for ref, array in args.held.items()}))

    monkeypatch.setattr(type(sim._engine), "run", spy)
    rng = np.random.default_rng(4)
    sim.run(11, {"c": rng.uniform(-0.5, 1.0, (3, 5)), "s": rng.random((3, 4)) < 0.5})
    assert [first for first, _ in seen] == [0, 8, 9, 10]
    held = [buffers for _, buffers in seen]
    assert len(held[0]) == 2 and all(buffers == held[0] for buffers in held)  # c->h (delay 0), s->h (delay 1)
