"""At most one spike per sample and step (``add_population(one_spike=True)``), BindsNET's semantics:
the neurons that lose the draw still take their update (reset, refractory period, threshold
increase); only their output spike is removed."""

import numpy as np
import pytest

from pysnn import ConfigError, Dense, Network, Trace

from networks import COMPILED_BACKENDS


def diehl_cook_like(one_spike: bool, n_out: int = 12) -> Network:
    net = Network()
    net.add_input("x", 20, encoder="poisson", trace=Trace(20.0))
    net.add_population("y", n_out, model="adaptive_lif", params={"theta_plus": 0.5}, trace=Trace(20.0), one_spike=one_spike)
    net.connect("x", "y", Dense(np.random.default_rng(0).uniform(0, 9, (20, n_out))))
    net.monitor("y", "spikes", "spike_counts", "v", "refrac_count", "x", "theta")
    return net


RATES = np.random.default_rng(1).uniform(0, 400, (5, 20))


@pytest.mark.parametrize("learning", [False, True])
def test_losers_take_their_update_and_one_crossing_neuron_keeps_its_spike(learning):
    """Feed-forward, so both networks see the same input: membrane potentials, refractory
    counters and (learning) thresholds are identical with and without ``one_spike``; each step
    where neurons crossed, exactly one of them spikes; the trace follows the spikes kept."""
    one, every = (diehl_cook_like(flag).compile(backend="numpy").run(60, inputs={"x": RATES}, learning=learning) for flag in (True, False))
    for var in ("v", "refrac_count", "theta"):
        np.testing.assert_array_equal(one.state("y", var), every.state("y", var))
    kept, crossed = one.spikes("y"), every.spikes("y")
    assert crossed.sum(axis=2).max() > 2  # several neurons cross at some steps
    np.testing.assert_array_equal(kept.sum(axis=2), crossed.any(axis=2))
    assert not (kept & ~crossed).any()
    np.testing.assert_array_equal(one.spike_counts("y"), kept.sum(axis=0))
    trace = np.zeros((5, 12), np.float32)
    for t in range(60):
        trace = np.where(kept[t], np.float32(1), trace * np.float32(np.exp(np.float32(-1 / 20))))
        np.testing.assert_allclose(one.state("y", "x")[t], trace, rtol=1e-5)


def test_the_spike_kept_is_uniform_among_the_neurons_that_crossed():
    """4 neurons cross together at the first step in each of 4000 samples: each keeps the
    spike about 1000 times (a chi-square test at the 0.1 % level)."""
    net = Network()
    net.add_input("x", 1, encoder="spikes")
    net.add_population("y", 4, model="lif", one_spike=True)
    net.connect("x", "y", Dense(np.full((1, 4), 100.0)))
    net.monitor("y", "spike_counts")
    counts = net.compile(backend="numpy").run(2, inputs={"x": np.ones((2, 4000, 1), bool)}).spike_counts("y")
    assert (counts.sum(axis=1) == 1).all()  # the input reaches y at the second step
    observed = counts.sum(axis=0)
    chi2 = ((observed - 1000.0) ** 2 / 1000.0).sum()
    assert chi2 < 16.27, observed  # 3 degrees of freedom


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_compiled_backends_keep_the_same_spike_as_numpy_while_learning(backend):
    nets = {name: diehl_cook_like(True) for name in ("numpy", backend)}
    runs = {name: net.compile(backend=name).run(25, inputs={"x": RATES[:3]}) for name, net in nets.items()}
    assert runs["numpy"].spikes("y").sum() > 10
    for what in ("spikes", "v", "x", "theta"):
        a, b = (run.spikes("y") if what == "spikes" else run.state("y", what) for run in runs.values())
        np.testing.assert_array_equal(a, b, err_msg=what)


def test_one_spike_must_be_a_bool():
    net = Network()
    with pytest.raises(ConfigError, match="one_spike must be True or False, got 'yes'"):
        net.add_population("y", 3, one_spike="yes")
    assert "y" not in net.populations
