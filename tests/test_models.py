"""Model semantics: hand-computed trajectories of the standard models (seed-paper.md's
reference semantics for LIF, adaptive LIF and subtractive-reset IF), the update order, and the
synapse models, on both backends."""

import math

import numpy as np
import pytest

from pysnn import Dense, Network, OneToOne, Sparse

BACKENDS = ["numpy", "numba-cpu"]


def driven(model, steps, weight, params=None, spikes_at=None, dt=1.0):
    """One neuron of ``model`` driven by one input that spikes at ``spikes_at`` (default: always)."""
    net = Network(dt=dt)
    net.add_input("x", 1, encoder="spikes")
    net.add_population("y", 1, model=model, params=params)
    net.connect("x", "y", Dense([[weight]]))
    net.monitor("y", "spikes")
    net.monitor("y", "v")
    train = np.zeros((steps, 1, 1), bool)
    train[:, 0, 0] = True if spikes_at is None else np.isin(np.arange(steps), spikes_at)
    return net, {"x": train}


def current_driven(model, current, steps, backend, dt=1.0):
    """Spikes and ``v`` of one neuron of ``model`` driven by a constant current (float64)."""
    net = Network(dt=dt)
    net.add_input("x", 1, encoder="current")
    net.add_population("y", 1, model=model)
    net.connect("x", "y", OneToOne(1.0))
    net.monitor("y", "spikes")
    net.monitor("y", "v")
    out = net.compile(backend=backend, dtype="float64").run(steps, {"x": [[current]]})
    return out.spikes("y")[:, 0, 0], out.state("y", "v")[:, 0, 0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_lif_trajectory_and_refractory_period(backend):
    """rest -65, thresh -52, refrac 5, tc_decay 100; weight 10 mV per input spike every step."""
    net, inputs = driven("lif", 20, 10.0)
    out = net.compile(backend=backend, dtype="float64").run(inputs=inputs)
    decay = math.exp(-1 / 100)
    v = out.state("y", "v")[:, 0, 0]
    # Step 0: the input's first spike has not arrived (it reaches y one step later).
    assert v[0] == -65.0
    assert v[1] == pytest.approx(-55.0)
    # Step 2: decay of the 10 mV above rest, plus 10 more: above threshold, so reset.
    assert decay * 10.0 - 65.0 + 10.0 >= -52.0
    assert v[2] == -65.0
    # Refractory: the counter is 5 after the spike and blocks input while > 0 (steps 3..7).
    np.testing.assert_allclose(v[3:8], -65.0)
    assert v[8] == pytest.approx(-55.0)
    spikes = np.flatnonzero(out.spikes("y")[:, 0, 0])
    np.testing.assert_array_equal(spikes, [2, 9, 16])


@pytest.mark.parametrize("backend", BACKENDS)
def test_lif_subthreshold_decay(backend):
    """A single 5 mV input at step 0 arrives at step 1 and decays with exp(-dt / tc_decay)."""
    net, inputs = driven("lif", 10, 5.0, params={"tc_decay": 20.0}, spikes_at=[0], dt=0.5)
    v = net.compile(backend=backend, dtype="float64").run(inputs=inputs).state("y", "v")[:, 0, 0]
    expected = [-65.0] + [-65.0 + 5.0 * math.exp(-0.5 / 20.0) ** (t - 1) for t in range(1, 10)]
    np.testing.assert_allclose(v, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_if_subtractive_reset_keeps_the_residue(backend):
    """v += 0.3 per step; at v >= 1 a spike and v -= 1: spikes every 3-4 steps, rate ~ input."""
    spikes, v = current_driven("if_subtractive", 0.3, 100, backend)
    np.testing.assert_allclose(v[:8], [0.0, 0.3, 0.6, 0.9, 0.2, 0.5, 0.8, 0.1], atol=1e-12)
    np.testing.assert_array_equal(np.flatnonzero(spikes[:8]), [4, 7])
    assert spikes.sum() == math.floor(0.3 * 99 + 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adaptive_threshold_grows_with_batch_spikes_and_decays(backend):
    """theta += theta_plus * (spikes of the neuron summed over the batch); theta *= exp(-dt/tc)
    first each step; frozen while learning is off; the spike test uses thresh + theta."""
    params = {"theta_plus": 3.0, "tc_theta_decay": 50.0}
    net, inputs = driven("adaptive_lif", 30, 10.0, params=params)
    net.monitor("y", "theta")
    batch_inputs = {"x": np.repeat(inputs["x"], 3, axis=1)}  # three identical samples
    sim = net.compile(backend=backend, dtype="float64")
    out = sim.run(inputs=batch_inputs)
    spikes = out.spikes("y")[:, :, 0]
    theta = out.state("y", "theta")[:, 0]
    expected, value = [], 0.0
    for t in range(30):
        value = value * math.exp(-1 / 50.0) + 3.0 * spikes[t].sum()
        expected.append(value)
    np.testing.assert_allclose(theta, expected, rtol=1e-12)
    assert spikes[:, 0].sum() >= 2 and (spikes[:, 0] == spikes[:, 1]).all()
    # The threshold rose: the second spike comes later than for a plain LIF neuron (step 9).
    assert np.flatnonzero(spikes[:, 0])[1] > 9
    frozen = sim.run(inputs=batch_inputs, learning=False)
    assert (frozen.state("y", "theta") == theta[-1]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_input_reaches_target_one_step_later(backend):
    """An input spike at step t changes its target at step t + 1 (seed-paper.md, step order 1)."""
    net, inputs = driven("lif", 8, 3.0, spikes_at=[4])
    v = net.compile(backend=backend).run(inputs=inputs).state("y", "v")[:, 0, 0]
    assert (v[:5] == -65.0).all() and v[5] > -65.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_exponential_synapse_current(backend):
    """i = i * exp(-dt / tau) + w * s(t-1); the neuron integrates i."""
    net, inputs = driven("if_subtractive", 6, 0.25, params={"thresh": 100.0}, spikes_at=[0])
    net.projections.clear()
    net.connect("x", "y", Dense([[0.25]]), synapse="exponential", params={"tau": 2.0})
    sim = net.compile(backend=backend, dtype="float64")
    v = sim.run(inputs=inputs).state("y", "v")[:, 0, 0]
    current = [0.0] + [0.25 * math.exp(-1 / 2.0) ** (t - 1) for t in range(1, 6)]
    np.testing.assert_allclose(v, np.cumsum(current), rtol=1e-12)
    assert sim.state("x->y", "i")[0, 0] == pytest.approx(current[-1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_izhikevich_regular_spiking(backend):
    """Constant current 10: matches a direct transcription of Izhikevich's equations."""
    spikes, v_recorded = current_driven("izhikevich", 10.0, 400, backend, dt=0.5)
    v, u, a, b, c, d, expected_v, expected_s = -65.0, -13.0, 0.02, 0.2, -65.0, 8.0, [], []
    for t in range(400):
        i_in = 10.0 if t > 0 else 0.0
        for _ in range(2):
            v = v + 0.5 * 0.5 * (0.04 * v * v + 5 * v + 140 - u + i_in)
        u = u + 0.5 * a * (b * v - u)
        expected_s.append(v >= 30.0)
        v, u = (c, u + d) if v >= 30.0 else (v, u)
        expected_v.append(v)
    np.testing.assert_allclose(v_recorded, expected_v, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(spikes, expected_s)
    assert 3 <= sum(expected_s) <= 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_sparse_equals_dense_bit_for_bit(backend):
    """Sparse.from_dense(w) adds the same weights in the same order as Dense(w)."""
    rng = np.random.default_rng(0)
    w = np.where(rng.random((30, 20)) < 0.3, rng.uniform(0, 6, (30, 20)), 0.0)
    results = []
    for connectivity in (Dense(w), Sparse.from_dense(w)):
        net = Network()
        net.add_input("x", 30, encoder="poisson")
        net.add_population("y", 20, model="lif")
        net.connect("x", "y", connectivity)
        net.monitor("y", "v")
        results.append(net.compile(backend=backend).run(50, {"x": np.full((3, 30), 200.0)}).state("y", "v"))
    assert results[0].tobytes() == results[1].tobytes()
    assert (results[0] != -65.0).any()
