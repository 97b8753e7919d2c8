"""Deferred learning terms handed back (``Simulation.run_terms``) and applied (``apply_terms``):
one part gives ``run(deferred=True)`` bit for bit; the parts of a batch, each run apart, combine
into the whole batch's run: the same records, the same shared state exactly for max and min and
within the bound of the reordered additions for sum and mean; what cannot be split is refused."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pysnn
from pysnn import ConfigError, Learning, NumericalError, PluginError, registry
from pysnn.learning_terms import LearningTerms, PackedRows, TermKey, combine, layout
from pysnn.state_keys import NeuronKey

from networks import COMPILED_BACKENDS
from test_learning import RULE_PARAMS, RULES, spike_trains, stdp_network

SPLITTABLE = ("sum", "mean", "max", "min")
SIGN_DEFINITE = ("postpre", "weight_dependent_postpre", "hebbian")
"""Rules whose every term has one sign (traces), so that a sum's rounding is bounded by its value."""


@st.composite
def split_cases(draw):
    """A learning network (theta, if any, reduced as the weights), the inputs of a batch, and
    the cut points of its parts."""
    reduction = draw(st.sampled_from(SPLITTABLE))
    rule = draw(st.sampled_from(RULES if reduction in ("max", "min") else SIGN_DEFINITE))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in, n_out, batch, steps = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(2, 10))
    weights = rng.uniform(0, 9, (n_in, n_out)) * (rng.random((n_in, n_out)) < 0.7)
    learning = Learning(rule, RULE_PARAMS[rule], reduction, wmin=0.0, wmax=9.5, weight_decay=draw(st.sampled_from([0.0, 0.01])))
    model = draw(st.sampled_from(["lif", "adaptive_lif"]))
    theta = model == "adaptive_lif"
    net = stdp_network(
        n_in, n_out, weights, learning, draw(st.sampled_from(["dense", "sparse"])), model,
        {"theta_plus": 0.5} if theta else None, reductions={"theta": reduction} if theta else None,
    )
    kwargs = {"steps": steps, "inputs": {"x": spike_trains(rng, steps, batch, n_in, 0.4)}, "sample_ids": np.arange(batch) + 7}
    if rule.startswith("mstdp"):
        kwargs["reward"] = rng.uniform(-1, 1, (steps, batch))
    cuts = sorted(draw(st.sets(st.integers(1, batch - 1), max_size=batch - 1))) if batch > 1 else []
    return net, kwargs, cuts, reduction


def part_of(kwargs: dict, lo: int, hi: int) -> dict:
    """The run arguments of samples lo..hi-1 of a batch."""
    part = dict(kwargs, inputs={"x": kwargs["inputs"]["x"][:, lo:hi]}, sample_ids=kwargs["sample_ids"][lo:hi])
    if "reward" in kwargs:
        part["reward"] = kwargs["reward"][:, lo:hi]
    return part


def shared_state(sim: pysnn.Simulation) -> dict[str, np.ndarray]:
    state = {"weights": sim.weights("x->y")}
    if "theta" in sim.plan.population("y").plugin.spec.state:
        state["theta"] = sim.state("y", "theta")
    return state


@given(case=split_cases(), dtype=st.sampled_from(["float32", "float64"]))
def test_parts_combine_into_the_whole_batch(case, dtype):
    """Every rule and splittable reduction, on the reference (the compiled backends hand back the
    same terms: ``test_compiled_backends_hand_back_the_references_terms``)."""
    net, kwargs, cuts, reduction = case
    whole = net.compile(backend="numpy", dtype=dtype)
    expected = whole.run(**kwargs, deferred=True)
    sim = net.compile(backend="numpy", dtype=dtype)
    batch = kwargs["sample_ids"].size
    parts, records = [], []
    for lo, hi in zip([0, *cuts], [*cuts, batch]):
        sim.reset()
        result, terms = sim.run_terms(**part_of(kwargs, lo, hi), count=batch)
        parts.append(terms)
        records.append(dict(result.items()))
    before = shared_state(sim)
    sim.apply_terms([part.packed() if n % 2 else part for n, part in enumerate(parts)])  # packed, as workers ship them
    for (pop, what), array in expected.items():  # the parts' recordings are the whole batch's
        gathered = np.concatenate([r[pop, what] for r in records], axis=0 if what == "spike_counts" else 1)
        assert gathered.tobytes() == array.tobytes(), (pop, what)
    got, want = shared_state(sim), shared_state(whole)
    if reduction in ("max", "min") or not cuts:
        for name in want:
            assert got[name].tobytes() == want[name].tobytes(), name
        return
    # sum, mean: each total adds steps x batch terms of one sign, in another order than the
    # whole run's; each order is within (n - 1) eps of the exact sum (one more rounding per
    # step for mean's division), and the shared state follows within the rule's factor (<= 3)
    # plus the roundings of apply, the steps of decay and clipping (1-Lipschitz)
    eps = np.finfo(dtype).eps
    n = kwargs["steps"] * batch
    totals, _ = combine(sim.plan, parts)
    term_bound = sum(3 * n * eps * float(np.abs(total).max(initial=0.0)) for total in totals.values())
    for name in want:  # (a sparse projection may have no synapse)
        ulp = eps * float(max(np.abs(before[name]).max(initial=1.0), np.abs(want[name]).max(initial=1.0)))
        bound = 3 * term_bound + (kwargs["steps"] + 4) * ulp
        assert np.abs(got[name].astype(float) - want[name]).max(initial=0.0) <= bound, name


def two_projections() -> pysnn.Network:
    """Spike trains -> adaptive LIF (theta by max) through a dense projection learning by mean
    (finished with the count) and a sparse one by max: totals and per-step rows, dense and
    sparse, shared neuron state."""
    rng = np.random.default_rng(4)
    net = pysnn.Network()
    net.add_input("x", 5, encoder="spikes", trace=pysnn.Trace(20.0))
    net.add_population("y", 4, model="adaptive_lif", trace=pysnn.Trace(20.0), reductions={"theta": "max"})
    net.connect("x", "y", pysnn.Dense(rng.uniform(0, 9, (5, 4))), learning=Learning("postpre", RULE_PARAMS["postpre"], "mean"))
    mask = rng.random((5, 4)) < 0.7
    sparse = pysnn.Sparse.from_dense(rng.uniform(0, 9, (5, 4)) * mask, mask)
    net.connect("x", "y", sparse, name="sparse", learning=Learning("postpre", RULE_PARAMS["postpre"], "max"))
    net.monitor("y", "spikes")
    return net


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_compiled_backends_hand_back_the_references_terms(backend):
    """A part of a batch (finished with the whole batch's count), bit for bit as NumPy hands it
    back; and one part applied gives ``run(deferred=True)`` bit for bit."""
    trains = spike_trains(np.random.default_rng(8), 6, 3, 5, 0.5)
    net = two_projections()
    handed = []
    for engine in ("numpy", backend):
        sim = net.compile(backend=engine)
        _, terms = sim.run_terms(inputs={"x": trains[:, 1:]}, sample_ids=[1, 2], count=3)
        handed.append(terms)
    for key in layout(sim.plan):
        assert handed[0].buffer(key).tobytes() == handed[1].buffer(key).tobytes(), key
    assert set(handed[0].totals) == {TermKey("x->y", "pre"), TermKey("x->y", "post")}
    assert all(handed[0].buffer(key).any() for key in layout(sim.plan))
    whole = net.compile(backend=backend)
    whole.run(inputs={"x": trains}, deferred=True)
    sim.reset()
    sim.apply_terms(sim.run_terms(inputs={"x": trains})[1])
    for owner, read in (("x->y", sim.weights), ("sparse", sim.weights)):
        assert read(owner).tobytes() == whole.weights(owner).tobytes()
    assert sim.state("y", "theta").tobytes() == whole.state("y", "theta").tobytes()


def test_terms_are_the_reduced_changes():
    """Hand-checked on the NumPy reference: sum's totals are the summed per-step terms (the
    weights change by them as ``apply`` says), max keeps each step's row; shared state does not
    change until ``apply_terms``."""
    rng = np.random.default_rng(3)
    weights = rng.uniform(0, 9, (4, 3))
    trains = spike_trains(rng, 6, 2, 4, 0.5)
    for reduction in ("sum", "max"):
        net = stdp_network(4, 3, weights, Learning("postpre", {"nu_pre": 0.2, "nu_post": 0.3}, reduction), "dense")
        sim = net.compile(backend="numpy", dtype="float64")
        result, terms = sim.run_terms(inputs={"x": trains})
        np.testing.assert_array_equal(sim.weights("x->y"), weights)
        x_pre, x_post = result.state("x", "x"), result.state("y", "x")  # traces after each step
        s_pre, s_post = result.spikes("x"), result.spikes("y")
        pre = s_pre[:, :, :, None] * x_post[:, :, None, :]  # (steps, batch, n_pre, n_post)
        post = x_pre[:, :, :, None] * s_post[:, :, None, :]
        if reduction == "sum":
            assert terms.per_step == {} and terms.steps == 6 and terms.count == 2
            np.testing.assert_allclose(terms.totals[TermKey("x->y", "pre")], pre.sum(axis=(0, 1)), rtol=1e-12)
            np.testing.assert_allclose(terms.totals[TermKey("x->y", "post")], post.sum(axis=(0, 1)), rtol=1e-12)
            sim.apply_terms(terms)
            expected = weights - 0.2 * pre.sum(axis=(0, 1)) + 0.3 * post.sum(axis=(0, 1))
            np.testing.assert_allclose(sim.weights("x->y"), expected, rtol=1e-12)
        else:
            assert terms.totals == {}
            np.testing.assert_array_equal(terms.per_step[TermKey("x->y", "pre")], pre.max(axis=1))
            np.testing.assert_array_equal(terms.per_step[TermKey("x->y", "post")], post.max(axis=1))
        assert pre.any() and post.any()


def test_mean_divides_by_the_whole_batch():
    """A part's mean is finished with ``count``, the whole batch's size: two samples that spike
    on different inputs (so each synapse's terms come from one of them, and the parts' totals add
    exactly) give the whole batch's mean, half of what a part finished with its own size gives
    (on the reference; the compiled backends hand back its terms)."""
    backend = "numpy"
    net = stdp_network(3, 2, np.full((3, 2), 20.0), Learning("postpre", {"nu_pre": 0.1, "nu_post": 0.2}, "mean"))
    trains = np.zeros((6, 2, 3), bool)
    trains[::2, 0, 0] = trains[::3, 1, 1] = True
    whole = net.compile(backend=backend, dtype="float64")
    whole.run(inputs={"x": trains}, deferred=True)
    sim = net.compile(backend=backend, dtype="float64")
    parts = []
    for b in range(2):
        sim.reset()
        parts.append(sim.run_terms(inputs={"x": trains[:, b : b + 1]}, sample_ids=[b], count=2)[1])
    sim.reset()
    alone = sim.run_terms(inputs={"x": trains[:, :1]}, sample_ids=[0])[1]  # finished with its own size, 1
    pre = TermKey("x->y", "pre")
    np.testing.assert_array_equal(alone.totals[pre], 2 * parts[0].totals[pre])
    assert parts[0].totals[pre][0].all() and not parts[0].totals[pre][1].any()
    sim.apply_terms(parts)
    np.testing.assert_array_equal(sim.weights("x->y"), whole.weights("x->y"))
    assert not np.array_equal(whole.weights("x->y"), np.full((3, 2), 20.0))


def test_what_cannot_be_split_is_refused():
    """median (an order statistic) and a reduction without ``split`` cannot be run in parts;
    nothing runs, nothing changes."""
    net = stdp_network(3, 2, np.ones((3, 2)), Learning("postpre", reduction="median"))
    sim = net.compile(backend="numpy")
    with pytest.raises(ConfigError, match="reduction plugin 'median' .* of projection 'x->y' cannot be split over parts of a batch"):
        sim.run_terms(inputs={"x": np.ones((4, 2, 3), bool)})
    assert sim.batch_size is None and sim.step == 0
    theta = stdp_network(3, 2, np.ones((3, 2)), Learning("postpre"), model="adaptive_lif", reductions={"theta": "median"})
    with pytest.raises(ConfigError, match="shared variable 'theta' of population 'y' cannot be split"):
        theta.compile(backend="numpy").run_terms(inputs={"x": np.ones((4, 2, 3), bool)})
    plain = pysnn.Network()
    plain.add_input("x", 2, encoder="spikes")
    plain.add_population("y", 2)
    plain.connect("x", "y", pysnn.Dense(np.ones((2, 2))))
    with pytest.raises(ConfigError, match="this network learns nothing"):
        plain.compile(backend="numpy").run_terms(inputs={"x": np.ones((4, 2, 2), bool)})


def test_apply_terms_checks_its_parts():
    rng = np.random.default_rng(5)
    trains = spike_trains(rng, 5, 4, 3, 0.5)
    net = stdp_network(3, 2, np.full((3, 2), 20.0), Learning("postpre", {"nu_pre": 0.1, "nu_post": 0.2}))
    sim = net.compile(backend="numpy")
    with pytest.raises(ConfigError, match="count must be at least this run's batch size 4"):
        sim.run_terms(inputs={"x": trains}, count=3)
    with pytest.raises(ConfigError, match="count must be a positive integer, got 0"):
        sim.run_terms(inputs={"x": trains}, count=0)

    def part(lo, hi, steps=5, count=4):
        sim.reset()
        return sim.run_terms(inputs={"x": trains[:steps, lo:hi]}, sample_ids=np.arange(lo, hi), count=count)[1]

    a, b = part(0, 2), part(2, 4)
    before = sim.weights("x->y")
    cases = [
        ([a], "the parts hold 2 samples \\(2 distinct ids\\), but their terms were reduced for a batch of count=4"),
        ([a, a], "the parts hold 4 samples \\(2 distinct ids\\)"),
        ([a, part(2, 4, steps=4)], "part 1 ran 4 steps for a batch of 4, part 0 5 steps for 4"),
        ([a, part(2, 4, count=5)], "part 1 ran 5 steps for a batch of 5"),
        ([], "apply_terms needs LearningTerms"),
        ("terms", "apply_terms needs LearningTerms"),
    ]
    other = stdp_network(3, 2, np.ones((3, 2)), Learning("postpre", reduction="max")).compile(backend="numpy")
    cases.append(([a, other.run_terms(inputs={"x": trains[:, 2:]}, sample_ids=[2, 3], count=4)[1]], "part 1 holds the terms of another network"))
    float64 = net.compile(backend="numpy", dtype="float64")
    cases.append(([a, float64.run_terms(inputs={"x": trains[:, 2:]}, sample_ids=[2, 3], count=4)[1]], "not a float32 array of shape \\(3, 2\\)"))
    for parts, message in cases:
        with pytest.raises(ConfigError, match=message):
            sim.apply_terms(parts)
        np.testing.assert_array_equal(sim.weights("x->y"), before)
    sim.apply_terms([a, b])
    assert not np.array_equal(sim.weights("x->y"), before)


def test_non_finite_shared_state_is_refused():
    net = stdp_network(3, 2, np.ones((3, 2)), Learning("postpre"))
    sim = net.compile(backend="numba-cpu")
    _, terms = sim.run_terms(inputs={"x": np.ones((3, 1, 3), bool)})
    terms.totals[TermKey("x->y", "post")][1, 0] = np.inf
    with pytest.raises(NumericalError, match=r"the weights of projection 'x->y' became NaN or infinite when the learning terms were applied, at weights\[1, 0\]") as info:
        sim.apply_terms(terms)
    assert (info.value.owner, info.value.variable, info.value.sample_id, info.value.index) == ("x->y", "weights", None, (1, 0))
    np.testing.assert_array_equal(sim.weights("x->y"), np.ones((3, 2)))


def test_packed_terms_pickle_and_unpack():
    """Plain data, as a worker sends them back: per-step rows packed to their non-zero values
    (-0.0 dropped), which unpack to the same rows but for zeros' signs; damaged packs are refused."""
    import pickle

    rng = np.random.default_rng(2)
    net = stdp_network(6, 4, np.full((6, 4), 20.0), Learning("mstdp", {"nu": 0.5}, reduction="max"), model="adaptive_lif")
    sim = net.compile(backend="numpy")
    _, terms = sim.run_terms(inputs={"x": spike_trains(rng, 8, 2, 6, 0.3)}, reward=rng.uniform(-1, 1, 2))
    again = pickle.loads(pickle.dumps(terms.packed()))
    assert isinstance(again, LearningTerms) and NeuronKey("y", "theta") in again.totals  # theta: summed by default
    for key, rows in terms.per_step.items():
        packed = again.per_step[key]
        assert isinstance(packed, PackedRows) and 0 < packed.index.size < rows.size
        unpacked = np.zeros_like(rows)
        unpacked.reshape(-1)[packed.index] = packed.values
        np.testing.assert_array_equal(unpacked, rows)  # equal as numbers: -0.0 == 0.0
        assert packed.index.size == np.count_nonzero(rows)
    assert any(np.signbit(rows[rows == 0]).any() for rows in terms.per_step.values())  # there were -0.0s to drop
    key = TermKey("x->y", "pre")
    bad = PackedRows(again.per_step[key].shape, again.per_step[key].index + 8 * 4 * 6, again.per_step[key].values)
    with pytest.raises(ConfigError, match="part 0's packed terms of .*pre.* do not fit a float32 array of shape \\(8, 6, 4\\)"):
        sim.apply_terms(LearningTerms(again.steps, again.count, again.sample_ids, again.totals, again.per_step | {key: bad}))
    before = sim.weights("x->y")
    sim.apply_terms(again)
    unpacked = net.compile(backend="numpy")
    unpacked.apply_terms(terms)
    np.testing.assert_array_equal(sim.weights("x->y"), unpacked.weights("x->y"))
    assert not np.array_equal(before, sim.weights("x->y"))


class Added(pysnn.Reduction):
    identity = 0.0
    zero = "identity"

    @staticmethod
    def combine(acc, x):
        return acc + x


class Finished(Added):
    zero = "idempotent"
    split = "combine"

    @staticmethod
    def finish(acc, count):
        return acc / count


class Middle(pysnn.Reduction):
    quantile = 0.5
    split = "add"

    @staticmethod
    def select(lo, hi):
        return lo


@pytest.mark.parametrize(
    "cls, message",
    [
        (type("Unknown", (Added,), {"split": "average"}), 'split must be "add", "combine" or None'),
        (type("NotAdditive", (Added,), {"split": "add", "zero": "idempotent"}), 'split = "add" needs zero = "identity", got \'idempotent\''),
        (type("NotIdempotent", (Added,), {"split": "combine"}), 'split = "combine" needs zero = "idempotent"'),
        (Finished, "it needs no finish"),
        (Middle, "an order statistic .* cannot be split"),
    ],
)
def test_split_declarations_are_checked(cls, message):
    with pytest.raises(PluginError, match=message):
        registry.spec_for("reduction", cls)


def test_builtin_reductions_declare_how_they_split():
    split = {name: registry.spec_for("reduction", name).cls.split for name in ("sum", "mean", "max", "min", "median")}
    assert split == {"sum": "add", "mean": "add", "max": "combine", "min": "combine", "median": None}
    assert math.isinf(registry.spec_for("reduction", "max").cls.identity)
