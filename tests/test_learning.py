"""Learning with batch reductions: reduced updates equal the reduction of the single-sample
updates, deferred updates equal summed sequential runs, hand-computed PostPre and adaptive
threshold, and the Numba backend equals the NumPy reference for every rule, reduction and
connectivity."""

import math

import numba
import numpy as np
import pytest
import pysnn_numba.backend
from hypothesis import given, target
from hypothesis import strategies as st

import pysnn
from pysnn import ConfigError, Dense, Learning, Network, PluginError, Sparse, Trace

from networks import assert_identical, compiled_backends, snapshot

BACKENDS = ["numpy", "numba-cpu"]
REDUCTIONS = {
    "sum": lambda a: a.sum(axis=0),
    "mean": lambda a: a.mean(axis=0),
    "max": lambda a: a.max(axis=0),
    "min": lambda a: a.min(axis=0),
    "median": lambda a: np.median(a, axis=0),
}
RULE_PARAMS = {
    "postpre": {"nu_pre": 0.2, "nu_post": 0.3},
    "weight_dependent_postpre": {"nu_pre": 0.2, "nu_post": 0.3},
    "hebbian": {"nu_pre": 0.2, "nu_post": 0.3},
    "mstdp": {"nu": 0.5},
    "mstdp_et": {"nu": 0.5},
    "triplet": {"a2_plus": 0.1, "a3_plus": 0.2, "a2_minus": 0.15, "a3_minus": 0.05},
    "voltage_gated": {"a_plus": 0.3, "a_minus": 0.2, "theta_v": -60.0},
}
RULES = list(RULE_PARAMS)


def stdp_network(n_in, n_out, weights, learning, connectivity="dense", model="lif", params=None, one_spike=False, reductions=None):
    """Spike-train inputs into ``n_out`` neurons (``one_spike``: at most one spike per step;
    ``reductions`` of their shared variables), both with traces ``x`` (additive for the
    reward-modulated and triplet rules) and ``slow`` (additive, for the triplet rule)."""
    additive = learning.rule.startswith("mstdp") or learning.rule == "triplet"
    traces = {"x": Trace(20.0, additive=additive), "slow": Trace(100.0, additive=True)}
    net = Network()
    net.add_input("x", n_in, encoder="spikes", traces=traces)
    net.add_population("y", n_out, model=model, params=params, traces=traces, one_spike=one_spike, reductions=reductions)
    conn = Dense(weights) if connectivity == "dense" else Sparse.from_dense(weights, weights != 0)
    net.connect("x", "y", conn, learning=learning)
    net.monitor("x", "spikes", "x")
    net.monitor("y", "spikes", "x")
    return net


def spike_trains(rng, steps, batch, n, p=0.3):
    return rng.random((steps, batch, n)) < p


@given(
    seed=st.integers(0, 2**32 - 1),
    reduction=st.sampled_from(sorted(REDUCTIONS)),
    batch=st.integers(1, 6),
    connectivity=st.sampled_from(["dense", "sparse"]),
    backend=st.sampled_from(BACKENDS),
)
def test_one_step_equals_the_reduction_of_single_sample_updates(seed, reduction, batch, connectivity, backend):
    """From a random state, one learning step changes w by -nu_pre * R(s_pre x_post) + nu_post *
    R(x_pre s_post), with R the reduction over the B per-sample products materialised here (zeros
    for samples without the event). Float32; tolerance 1e-6 relative to the weight scale."""
    rng = np.random.default_rng(seed)
    n_in, n_out, nu_pre, nu_post = 6, 5, 0.3, 0.7
    weights = rng.uniform(2, 9, (n_in, n_out)) * (rng.random((n_in, n_out)) < 0.8)
    net = stdp_network(n_in, n_out, weights, Learning("postpre", {"nu_pre": nu_pre, "nu_post": nu_post}, reduction), connectivity)
    sim = net.compile(backend=backend)
    sim.run(inputs={"x": spike_trains(rng, 8, batch, n_in)})  # a random state (learning: one compiled loop)
    w0 = sim.weights("x->y").astype(np.float64)
    out = sim.run(inputs={"x": spike_trains(rng, 1, batch, n_in, 0.5)}, learning=True)
    s_pre, s_post = out.spikes("x")[0], out.spikes("y")[0]
    x_pre, x_post = out.state("x", "x")[0].astype(np.float64), out.state("y", "x")[0].astype(np.float64)
    pre_terms = s_pre[:, :, None] * x_post[:, None, :]  # (batch, n_in, n_out)
    post_terms = x_pre[:, :, None] * s_post[:, None, :]
    reduce = REDUCTIONS[reduction]
    delta = -nu_pre * reduce(pre_terms) + nu_post * reduce(post_terms)
    expected = w0 + (delta[np.nonzero(weights)] if connectivity == "sparse" else delta)
    np.testing.assert_allclose(sim.weights("x->y"), expected, rtol=0, atol=1e-6 * 9)
    target(float(s_pre.sum() + s_post.sum()))  # steer towards steps with many events


@pytest.mark.parametrize("reduction", sorted(REDUCTIONS))
def test_adaptive_threshold_uses_the_reduction_machinery(reduction):
    """theta after a step = decayed theta + R(theta_plus * s) over the batch's spikes."""
    rng = np.random.default_rng(4)
    net = Network()
    net.add_input("x", 8, encoder="spikes")
    net.add_population("y", 6, model="adaptive_lif", params={"theta_plus": 0.5, "tc_theta_decay": 40.0}, reductions={"theta": reduction})
    net.connect("x", "y", Dense(rng.uniform(2, 12, (8, 6))))
    net.monitor("y", "spikes", "theta")
    sim = net.compile(backend="numpy", dtype="float64")
    out = sim.run(inputs={"x": spike_trains(rng, 40, 5, 8, 0.5)})
    spikes, theta = out.spikes("y"), out.state("y", "theta")
    expected, value = [], np.zeros(6)
    for t in range(40):
        value = value * math.exp(-1 / 40.0) + REDUCTIONS[reduction](0.5 * spikes[t].astype(float))
        expected.append(value)
    np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-15)
    assert spikes.sum() > 0 and theta[-1].max() > 0


def test_postpre_hand_computed():
    """1 input -> 1 neuron, float64: traces and weight changes by seed-paper.md's formulas."""
    learning = Learning("postpre", {"nu_pre": 0.1, "nu_post": 0.2})
    net = stdp_network(1, 1, np.array([[20.0]]), learning, params={"refrac": 0.0})
    train = np.zeros((6, 1, 1), bool)
    train[[0, 3], 0, 0] = True
    sim = net.compile(backend="numpy", dtype="float64")
    out = sim.run(inputs={"x": train})
    s_y = out.spikes("y")[:, 0, 0]
    np.testing.assert_array_equal(s_y, [0, 1, 0, 0, 1, 0])  # 20 mV input reaches y one step later
    decay = math.exp(-1 / 20.0)
    x_x = [1.0, decay, decay**2, 1.0, decay, decay**2]
    x_y = [0.0, 1.0, decay, decay**2, 1.0, decay]
    np.testing.assert_allclose(out.state("x", "x")[:, 0, 0], x_x)
    np.testing.assert_allclose(out.state("y", "x")[:, 0, 0], x_y)
    w = 20.0
    for t in range(6):
        w -= 0.1 * (train[t, 0, 0] * x_y[t])  # depression at the input's spikes, by y's trace
        w += 0.2 * (x_x[t] * s_y[t])  # potentiation at y's spikes, by x's trace
    assert sim.weights("x->y")[0, 0] == pytest.approx(w, abs=1e-12)
    assert w == pytest.approx(20.0 - 0.1 * decay**2 + 0.2 * (decay + decay))


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_of_one_learns_bit_identically_across_runs_and_backends(backend):
    """Many steps of learning, as one run or as several (the weights carry over), on either
    backend: bit-identical (float32)."""
    rng = np.random.default_rng(5)
    weights = rng.uniform(0, 9, (10, 8))
    trains = spike_trains(rng, 300, 1, 10)
    results = []
    for chunks, engine in (((300,), "numpy"), ((100, 150, 50), backend)):
        net = stdp_network(10, 8, weights, Learning("postpre", {"nu_pre": 0.05, "nu_post": 0.1}, wmin=0.0, wmax=12.0))
        sim = net.compile(backend=engine)
        start = 0
        for steps in chunks:
            sim.run(inputs={"x": trains[start : start + steps]})
            start += steps
        results.append(sim.weights("x->y"))
    assert results[0].tobytes() == results[1].tobytes()
    assert not np.array_equal(results[0], weights.astype(np.float32))


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 2e-5)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_deferred_sum_equals_summed_sequential_runs(backend, dtype, tolerance):
    """Deferred with ``sum``: w_batch - w0 == sum over samples of (w_alone - w0), each sample
    run alone from w0, within round-off (relative to the largest change)."""
    rng = np.random.default_rng(6)
    weights = rng.uniform(0, 9, (10, 8))
    trains = spike_trains(rng, 50, 4, 10)
    net = stdp_network(10, 8, weights, Learning("postpre", {"nu_pre": 0.05, "nu_post": 0.1}))
    sim = net.compile(backend=backend, dtype=dtype)
    w0 = sim.weights("x->y").astype(np.float64)
    sim.run(inputs={"x": trains}, deferred=True)
    batch_change = sim.weights("x->y") - w0
    summed = np.zeros_like(w0)
    for b in range(4):
        alone = net.compile(backend=backend, dtype=dtype)
        alone.run(inputs={"x": trains[:, b : b + 1]}, sample_ids=[b], deferred=True)
        summed += alone.weights("x->y") - w0
    scale = np.abs(summed).max()
    assert scale > 0.1
    np.testing.assert_allclose(batch_change, summed, rtol=0, atol=tolerance * scale)


def test_deferred_keeps_weights_fixed_during_the_run():
    """Deferred: spikes within the run are those of frozen weights; the change comes at the end."""
    rng = np.random.default_rng(7)
    weights = rng.uniform(0, 9, (10, 8))
    trains = spike_trains(rng, 60, 3, 10)
    learn = Learning("postpre", {"nu_pre": 0.5, "nu_post": 1.0})
    frozen = stdp_network(10, 8, weights, learn).compile(backend="numpy").run(inputs={"x": trains}, learning=False)
    sim = stdp_network(10, 8, weights, learn).compile(backend="numpy")
    deferred = sim.run(inputs={"x": trains}, deferred=True)
    np.testing.assert_array_equal(deferred.spikes("y"), frozen.spikes("y"))
    assert not np.array_equal(sim.weights("x->y"), weights.astype(np.float32))


@st.composite
def learning_cases(draw):
    rule = draw(st.sampled_from(RULES))
    reduction = draw(st.sampled_from(sorted(REDUCTIONS)))
    connectivity = draw(st.sampled_from(["dense", "sparse"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in, n_out, batch, steps = draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 4)), draw(st.integers(2, 15))
    weights = rng.uniform(0, 9, (n_in, n_out)) * (rng.random((n_in, n_out)) < 0.7)
    bounded = draw(st.booleans())
    learning = Learning(
        rule,
        RULE_PARAMS[rule],
        reduction,
        wmin=0.0 if bounded else -math.inf,
        wmax=9.5 if bounded else math.inf,
        weight_decay=draw(st.sampled_from([0.0, 0.01])),
    )
    model, one_spike = draw(st.sampled_from(["lif", "adaptive_lif"])), draw(st.booleans())
    net = stdp_network(n_in, n_out, weights, learning, connectivity, model=model, one_spike=one_spike)
    trains = spike_trains(rng, steps, batch, n_in, 0.4)
    constant = draw(st.booleans())  # the same spikes every step: propagated once per run unless the weights learn
    kwargs = {"steps": steps, "inputs": {"x": trains[0] if constant else trains}, "deferred": draw(st.booleans())}
    if rule.startswith("mstdp"):
        kwargs["reward"] = rng.uniform(-1, 1, (steps, batch) if draw(st.booleans()) else (batch,))
    return net, kwargs


@given(case=learning_cases(), dtype=st.sampled_from(["float32", "float64"]), backend=compiled_backends())
def test_compiled_backend_equals_numpy_while_learning(case, dtype, backend):
    net, kwargs = case
    snapshots = []
    for engine in ("numpy", backend):
        sim = net.compile(backend=engine, dtype=dtype)
        first = snapshot(sim, sim.run(**kwargs))
        snapshots.append((first, snapshot(sim, sim.run(**kwargs))))
    for numpy_snapshot, numba_snapshot in zip(*snapshots):
        assert_identical(numpy_snapshot, numba_snapshot)


@pytest.mark.parametrize("connectivity", ["dense", "sparse"])
@pytest.mark.parametrize("spiking", ["every target", "two targets"])
@pytest.mark.parametrize("reduction", ["sum", "max", "median"])
@pytest.mark.parametrize("deferred", [False, True])
def test_learning_paths_match_numpy(connectivity, spiking, reduction, deferred):
    """The Numba backend's learning takes other paths when every target of a block of 16
    spikes (dense: tiles), when few targets spike (their columns only) and when sources spike
    (whole rows): 37 targets (two full blocks and a partial one), 30 % of the synapses absent
    (sparse) or zero (dense), each path against NumPy."""
    rng = np.random.default_rng(5)
    weights = rng.uniform(0.0, 0.05, (20, 37))
    weights[:, slice(None) if spiking == "every target" else [3, 20]] += 20.0
    weights[rng.random(weights.shape) < 0.3] = 0.0
    learning = Learning("weight_dependent_postpre", {"nu_pre": 0.001, "nu_post": 0.002, "wmax": 30.0}, reduction, wmax=30.0)
    net = stdp_network(20, 37, weights, learning, connectivity, params={"refrac": 0.0})
    trains = spike_trains(rng, 12, 3, 20, 0.5)
    snapshots = []
    for backend in BACKENDS:
        sim = net.compile(backend=backend)
        result = sim.run(inputs={"x": trains}, deferred=deferred)
        snapshots.append(snapshot(sim, result))
    spiked = result.spikes("y").any(axis=1)  # (steps, targets): some sample spiked
    if spiking == "every target":
        assert spiked[1:].all()
    else:
        assert spiked[1:, [3, 20]].all() and not np.delete(spiked, [3, 20], axis=1).any()
    assert_identical(*snapshots)


@pytest.mark.parametrize("connectivity", ["dense", "sparse"])
def test_learning_does_not_depend_on_the_thread_count(connectivity, monkeypatch):
    monkeypatch.setattr(pysnn_numba.backend, "SERIAL_LEARNING_WORK", 0)  # parallel loops at any size
    rng = np.random.default_rng(11)
    weights = rng.uniform(0.0, 8.0, (20, 37)) * (rng.random((20, 37)) < 0.7)
    learning = Learning("postpre", {"nu_pre": 0.05, "nu_post": 0.1}, "sum", wmax=12.0)
    net = stdp_network(20, 37, weights, learning, connectivity)
    trains = spike_trains(rng, 15, 6, 20, 0.4)
    threads = numba.get_num_threads()
    snapshots = []
    try:
        for count in (1, numba.config.NUMBA_NUM_THREADS):
            numba.set_num_threads(count)
            sim = net.compile(backend="numba-cpu")
            snapshots.append(snapshot(sim, sim.run(inputs={"x": trains})))
    finally:
        numba.set_num_threads(threads)
    assert snapshots[0]["weights x->y"][0].tobytes() != weights.astype(np.float32).tobytes()
    assert_identical(*snapshots)


def test_a_short_learning_run_leaves_the_thread_count_as_it_was():
    """Learning with little work per step runs on one thread; the caller's count comes back."""
    weights = np.full((4, 3), 5.0)
    net = stdp_network(4, 3, weights, Learning("postpre", {"nu_pre": 0.1, "nu_post": 0.1}))
    sim = net.compile(backend="numba-cpu")
    before = numba.get_num_threads()
    sim.run(inputs={"x": spike_trains(np.random.default_rng(0), 10, 1, 4, 0.5)})
    assert numba.get_num_threads() == before == numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("backend", BACKENDS)
def test_bounds_decay_and_switching_learning_off(backend):
    rng = np.random.default_rng(8)
    weights = rng.uniform(0, 1, (10, 8))
    trains = spike_trains(rng, 40, 2, 10, 0.5)
    learn = Learning("hebbian", {"nu_pre": 0.5, "nu_post": 0.5}, wmin=0.0, wmax=1.0, weight_decay=0.01)
    net = stdp_network(10, 8, weights * 20, Learning("hebbian", {"nu_pre": 0.0, "nu_post": 0.0}))
    net.projections.clear()
    net.connect("x", "y", Dense(weights), learning=learn)
    sim = net.compile(backend=backend)
    sim.run(inputs={"x": trains})
    w = sim.weights("x->y")
    assert w.max() <= 1.0 and w.min() >= 0.0 and (w == 1.0).any()  # Hebbian growth, clipped
    sim.run(inputs={"x": trains}, learning=False)
    np.testing.assert_array_equal(sim.weights("x->y"), w)  # off: unchanged, no recompilation
    sim.reset()  # no residual activity: without input nothing spikes
    sim.run(inputs={"x": np.zeros_like(trains)})
    np.testing.assert_allclose(sim.weights("x->y"), w * np.float32(0.99) ** 40, rtol=1e-5)  # decay alone


@pytest.mark.parametrize("connectivity", ["dense", "sparse"])
def test_normalize_weights(connectivity):
    rng = np.random.default_rng(9)
    weights = rng.uniform(0.1, 1, (12, 5)) * (rng.random((12, 5)) < 0.6)
    net = stdp_network(12, 5, weights, Learning("postpre"), connectivity)
    sim = net.compile(backend="numpy")
    sim.normalize_weights("x->y", 78.4)
    w = sim.weights("x->y")
    if connectivity == "dense":
        sums = w.sum(axis=0)
    else:
        sums = np.bincount(np.nonzero(weights)[1], weights=w, minlength=5)
    nonzero = weights.sum(axis=0) > 0
    np.testing.assert_allclose(sums[nonzero], 78.4, rtol=1e-5)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Learning("ltp", {}), "no learning_rule plugin named 'ltp'"),
        (lambda: Learning("postpre", {}, reduction="mode"), "no reduction plugin named 'mode'"),
        (lambda: Learning("postpre", {"nu_pre": [1e-4, 1e-2, 0.1]}), r"params\['nu_pre'\] must be a scalar, have shape \(2,\) "
         r"\(per target\) or \(3, 2\) \(per synapse\), got shape \(3,\)"),
        (lambda: Learning("postpre", {"nu": 0.1}), "has no parameter 'nu'; it has: nu_pre, nu_post"),
        (lambda: Learning("postpre", {}, wmin=1.0, wmax=0.0), "wmin=1.0 is greater than wmax=0.0"),
        (lambda: Learning("postpre", {}, weight_decay=1.5), "weight_decay must be in \\[0, 1\\)"),
        (lambda: Learning("postpre", {}, wmin=0.0, wmax=0.5), "initial weights span \\[.*\\], outside \\[wmin, wmax\\]"),
    ],
)
def test_learning_configuration_errors(make, message):
    net = Network()
    net.add_input("x", 3, encoder="spikes", trace=Trace())
    net.add_population("y", 2, trace=Trace())
    with pytest.raises((ConfigError, PluginError), match=message):
        net.connect("x", "y", Dense(np.full((3, 2), 0.8)), learning=make())


def test_learning_structure_errors():
    net = Network()
    net.add_input("x", 3, encoder="spikes")
    net.add_input("c", 3, encoder="current", )
    net.add_population("y", 3, trace=Trace())
    with pytest.raises(ConfigError, match="reads x_pre, the trace or state variable 'x' of 'x', which has neither .traces: none.; give 'x' the trace with trace=pysnn.Trace"):
        net.connect("x", "y", Dense(np.ones((3, 3))), learning=Learning("postpre"))
    with pytest.raises(ConfigError, match="learning needs Dense or Sparse connectivity, got OneToOne"):
        net.connect("x", "y", pysnn.OneToOne(1.0), learning=Learning("postpre"))
    with pytest.raises(ConfigError, match="learning rules need a spiking source; 'c' is analog"):
        net.connect("c", "y", Dense(np.ones((3, 3))), learning=Learning("postpre"))
    with pytest.raises(ConfigError, match="an analog input has no spikes to trace"):
        net.add_input("c2", 3, encoder="current", trace=Trace())
    with pytest.raises(ConfigError, match="reductions\\['v'\\]: .* has no shared state variable 'v'"):
        net.add_population("z", 3, model="adaptive_lif", reductions={"v": "max"})


@pytest.mark.parametrize("backend", BACKENDS)
def test_reward_errors(backend):
    net = stdp_network(3, 2, np.ones((3, 2)), Learning("mstdp"))
    sim = net.compile(backend=backend)
    trains = {"x": np.zeros((5, 2, 3), bool)}
    with pytest.raises(ConfigError, match="reward is required while learning"):
        sim.run(inputs=trains)
    with pytest.raises(ConfigError, match=r"reward must have shape \(batch,\) = \(2,\) or \(steps, batch\) = \(5, 2\), got \(3,\)"):
        sim.run(inputs=trains, reward=np.ones(3))
    sim.run(inputs=trains, learning=False)  # no reward needed without learning
    plain = stdp_network(3, 2, np.ones((3, 2)), Learning("postpre")).compile(backend=backend)
    with pytest.raises(ConfigError, match="no learning rule of this network reads it"):
        plain.run(inputs=trains, reward=np.ones(2))


class RootMeanSquare(pysnn.Reduction):
    """A user reduction whose zeros must be folded in place (the default ``zero = "ordered"``)."""

    @staticmethod
    def combine(acc, x):
        return acc + x * x

    @staticmethod
    def finish(acc, count):
        return pysnn.kernel_math.sqrt(acc / count)


@pytest.mark.parametrize("connectivity", ["dense", "sparse"])
def test_user_reduction_plugin_on_both_backends(connectivity):
    """A reduction given as a class: same bits on both backends, and the value of the
    materialised per-sample terms (zeros included) for one step."""
    rng = np.random.default_rng(11)
    weights = rng.uniform(2, 9, (6, 5)) * (rng.random((6, 5)) < 0.8)
    learning = Learning("postpre", {"nu_pre": 0.3, "nu_post": 0.7}, RootMeanSquare)
    trains = spike_trains(rng, 12, 4, 6, 0.5)
    results = []
    for backend in BACKENDS:
        sim = stdp_network(6, 5, weights, learning, connectivity).compile(backend=backend, dtype="float64")
        sim.run(inputs={"x": trains[:11]}, learning=False)
        w0 = sim.weights("x->y")
        out = sim.run(inputs={"x": trains[11:]})
        results.append(sim.weights("x->y"))
    assert results[0].tobytes() == results[1].tobytes()
    s_pre, s_post = out.spikes("x")[0], out.spikes("y")[0]
    x_pre, x_post = out.state("x", "x")[0], out.state("y", "x")[0]
    rms = lambda a: np.sqrt((a * a).mean(axis=0))  # noqa: E731
    pre = rms(s_pre[:, :, None] * x_post[:, None, :])
    post = rms(x_pre[:, :, None] * s_post[:, None, :])
    delta = -0.3 * pre + 0.7 * post
    expected = w0 + (delta[np.nonzero(weights)] if connectivity == "sparse" else delta)
    np.testing.assert_allclose(results[0], expected, rtol=0, atol=1e-12)
    assert s_pre.any() and s_post.any()
