"""Learning-rule parameters per target and per synapse: a hand-computed PostPre step with each
shape on both backends, dense and sparse; Numba bit-identical to NumPy with arrays in every rule
kernel (events, on_step, derived values, apply); arrays of one value equal the scalar; a rule's
state starting at an array parameter; and the errors of wrong shapes and bounds."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pysnn import ConfigError, Learning, LearningRule, Network, Sparse, Trace, per_sample

from networks import assert_identical, snapshot
from test_learning import BACKENDS, spike_trains, stdp_network

N_IN, N_OUT = 6, 5
MASK = np.random.default_rng(0).random((N_IN, N_OUT)) < 0.7
"""The synapses of the sparse projections (those of the dense ones where it holds are non-zero)."""
KINDS = ["scalar", "target", "synapse"]


def shaped(kind: str, connectivity: str, rng: np.random.Generator, lo: float, hi: float) -> tuple:
    """A parameter value of ``kind`` drawn in [lo, hi): what ``Learning`` takes, and its value
    at every (source, target) pair."""
    if kind == "scalar":
        value = rng.uniform(lo, hi)
        return value, np.full((N_IN, N_OUT), value)
    if kind == "target":
        value = rng.uniform(lo, hi, N_OUT)
        return value, np.broadcast_to(value, (N_IN, N_OUT))
    matrix = rng.uniform(lo, hi, (N_IN, N_OUT))
    return (matrix if connectivity == "dense" else matrix[MASK]), matrix  # CSR order: row-major


def initial_weights(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(2, 9, (N_IN, N_OUT)) * MASK


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("connectivity", ["dense", "sparse"])
@pytest.mark.parametrize("kind", KINDS)
def test_postpre_step_with_each_parameter_shape(backend, connectivity, kind):
    """One step of PostPre from a random state, nu_post of ``kind`` and nu_pre of the next kind:
    synapse (i, j) changes by -nu_pre[i, j] * sum_b(s_pre x_post) + nu_post[i, j] * sum_b(x_pre
    s_post) (with per-target nu_post, column j's potentiation scales with nu_post[j])."""
    rng = np.random.default_rng(KINDS.index(kind) + 10 * (connectivity == "sparse"))
    nu_post, nu_post_at = shaped(kind, connectivity, rng, 0.1, 1.0)
    nu_pre, nu_pre_at = shaped(KINDS[(KINDS.index(kind) + 1) % 3], connectivity, rng, 0.1, 1.0)
    weights = rng.uniform(6, 16, (N_IN, N_OUT)) * MASK  # strong enough that targets spike
    net = stdp_network(N_IN, N_OUT, weights, Learning("postpre", {"nu_pre": nu_pre, "nu_post": nu_post}), connectivity)
    sim = net.compile(backend=backend, dtype="float64")
    sim.run(inputs={"x": spike_trains(rng, 8, 4, N_IN)}, learning=False)
    before = sim.weights("x->y")
    out = sim.run(inputs={"x": spike_trains(rng, 1, 4, N_IN, 0.5)})
    s_pre, s_post = out.spikes("x")[0], out.spikes("y")[0]
    x_pre, x_post = out.state("x", "x")[0], out.state("y", "x")[0]
    assert s_pre.any() and s_post.any()
    depression = (s_pre[:, :, None] * x_post[:, None, :]).sum(axis=0)
    potentiation = (x_pre[:, :, None] * s_post[:, None, :]).sum(axis=0)
    delta = -nu_pre_at * depression + nu_post_at * potentiation
    expected = before + (delta if connectivity == "dense" else delta[MASK])
    np.testing.assert_allclose(sim.weights("x->y"), expected, rtol=1e-12)


CASES = {
    "mstdp": lambda c, r: {"nu": shaped("scalar", c, r, 0.5, 1)[0], "a_plus": shaped("synapse", c, r, 0.5, 1.5)[0],
                           "a_minus": shaped("target", c, r, -1.5, -0.5)[0]},
    "mstdp_et": lambda c, r: {"nu": shaped("target", c, r, 0.5, 1)[0], "a_plus": shaped("synapse", c, r, 0.5, 1.5)[0],
                              "tc_e_trace": shaped("synapse", c, r, 10, 40)[0]},
    "voltage_gated": lambda c, r: {"a_plus": shaped("target", c, r, 0.1, 0.5)[0], "a_minus": shaped("synapse", c, r, 0.1, 0.3)[0],
                                   "theta_v": shaped("target", c, r, -62, -58)[0]},
}


@pytest.mark.parametrize("connectivity", ["dense", "sparse"])
@pytest.mark.parametrize("rule", sorted(CASES))
def test_numba_cpu_equals_numpy_with_array_parameters(rule, connectivity):
    """Arrays read by on_pre / on_post (mstdp), on_step and a derived value (mstdp_et's
    per-synapse e_decay), and apply, with weight decay and bounds, deferred or not: same bits."""
    rng = np.random.default_rng(3)
    learning = Learning(rule, CASES[rule](connectivity, rng), "max", wmin=0.0, wmax=9.5, weight_decay=0.01)
    net = stdp_network(N_IN, N_OUT, initial_weights(rng), learning, connectivity)
    kwargs = {"inputs": {"x": spike_trains(rng, 12, 3, N_IN, 0.4)}}
    if rule.startswith("mstdp"):
        kwargs["reward"] = rng.uniform(-1, 1, (12, 3))
    snapshots = []
    for backend in BACKENDS:
        sim = net.compile(backend=backend)
        first = snapshot(sim, sim.run(**kwargs))
        snapshots.append((first, snapshot(sim, sim.run(**kwargs, deferred=True))))
    for numpy_snapshot, numba_snapshot in zip(*snapshots):
        assert_identical(numpy_snapshot, numba_snapshot)
    assert not np.array_equal(sim.weights("x->y"), net.projections["x->y"].connectivity.weights.astype(np.float32))


@given(
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["target", "synapse"]),
    connectivity=st.sampled_from(["dense", "sparse"]),
    backend=st.sampled_from(BACKENDS),
)
def test_an_array_of_one_value_learns_like_the_scalar(seed, kind, connectivity, backend):
    rng = np.random.default_rng(seed)
    weights, nu = initial_weights(rng), rng.uniform(0.01, 0.5)
    trains = spike_trains(rng, 10, 2, N_IN, 0.4)
    array = np.full(N_OUT if kind == "target" else (N_IN, N_OUT) if connectivity == "dense" else MASK.sum(), nu)
    results = []
    for value in (nu, array):
        learning = Learning("hebbian", {"nu_pre": value, "nu_post": 0.1}, wmax=9.5)
        sim = stdp_network(N_IN, N_OUT, weights, learning, connectivity).compile(backend=backend)
        sim.run(inputs={"x": trains})
        results.append(sim.weights("x->y"))
    assert results[0].tobytes() == results[1].tobytes()


class StartsAtParameter(LearningRule):
    """Per-synapse state that starts at the parameter ``e0`` and is each step's term."""

    params = {"e0": 0.0}
    state = {"e": per_sample("e0")}

    @staticmethod
    def on_step(e):
        return e, e

    @staticmethod
    def apply(w, step):
        return w + step


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["target", "synapse"])
def test_rule_state_starts_at_an_array_parameter(backend, kind):
    rng = np.random.default_rng(4)
    e0, e0_at = shaped(kind, "sparse", rng, 0.0, 1.0)
    net = Network()
    net.add_input("x", N_IN, encoder="spikes")
    net.add_population("y", N_OUT)
    weights = initial_weights(rng)
    net.connect("x", "y", Sparse.from_dense(weights, MASK), learning=Learning(StartsAtParameter, {"e0": e0}))
    sim = net.compile(backend=backend, dtype="float64")
    sim.run(inputs={"x": np.zeros((1, 2, N_IN), bool)})
    np.testing.assert_allclose(sim.state("x->y", "e"), np.broadcast_to(e0_at[MASK], (2, MASK.sum())))
    np.testing.assert_allclose(sim.weights("x->y"), weights[MASK] + 2 * e0_at[MASK], rtol=1e-12)


def connect(learning: Learning, connectivity: str = "dense", n_in: int = N_IN):
    net = Network()
    net.add_input("x", n_in, encoder="spikes", trace=Trace())
    net.add_population("y", N_OUT, trace=Trace())
    weights = np.ones((n_in, N_OUT))
    mask = MASK if n_in == N_IN else np.eye(n_in, N_OUT, dtype=bool)
    return net.connect("x", "y", stdp_connectivity(weights, mask, connectivity), learning=learning)


def stdp_connectivity(weights, mask, connectivity):
    from pysnn import Dense

    return Dense(weights) if connectivity == "dense" else Sparse.from_dense(weights, mask)


@pytest.mark.parametrize(
    "connectivity, value, message",
    [
        ("dense", np.ones(N_IN), r"\(6, 5\) \(per synapse\), got shape \(6,\)"),
        ("dense", np.ones((N_OUT, N_IN)), r"\(6, 5\) \(per synapse\), got shape \(5, 6\)"),
        ("dense", np.ones(N_IN * N_OUT), r"\(6, 5\) \(per synapse\), got shape \(30,\)"),
        ("sparse", np.ones((N_IN, N_OUT)), rf"\({MASK.sum()},\) \(per synapse\), got shape \(6, 5\)"),
        ("sparse", np.ones(MASK.sum() + 1), rf"\({MASK.sum()},\) \(per synapse\), got shape \({MASK.sum() + 1},\)"),
    ],
)
def test_wrong_shapes_are_refused_at_connect(connectivity, value, message):
    accepted = r"must be a scalar, have shape \(5,\) \(per target\) or "
    with pytest.raises(ConfigError, match=r"'x->y': params\['nu_post'\] " + accepted + message):
        connect(Learning("postpre", {"nu_post": value}), connectivity)


def test_bounds_apply_to_every_element_and_ambiguous_shapes_are_refused():
    a_plus = np.full((N_IN, N_OUT), 0.2)
    a_plus[1, 2] = -0.1
    with pytest.raises(ConfigError, match=r"'x->y': .* parameter 'a_plus' must be >= 0, got -0.1 at index 1, 2"):
        connect(Learning("voltage_gated", {"a_plus": a_plus}))
    with pytest.raises(ConfigError, match=r"params\['nu_post'\] of shape \(5,\) is ambiguous: the projection has as many "
                       "synapses as targets"):
        connect(Learning("postpre", {"nu_post": np.ones(N_OUT)}), "sparse", n_in=N_OUT)
    assert connect(Learning("postpre", {"nu_post": np.ones(N_OUT)}), "dense", n_in=N_OUT).learning is not None
