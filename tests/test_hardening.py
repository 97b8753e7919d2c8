"""Hardening (issue 8): no argument, however wrong, reaches compiled code unchecked, is checked in
another dtype than the one the simulation uses, changes anything before its error, surfaces as
NumPy's own exception, or is silently reinterpreted."""

import dataclasses

import numpy as np
import pytest

from pysnn import ConfigError, Dense, Learning, Network, OneToOne, Sparse, Trace
from pysnn.simulation import MAX_STEP

from networks import assert_unchanged, full_state

BACKENDS = ["numpy", "numba-cpu"]
RATES = np.full((2, 4), 200.0)
MASK = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]], bool)


def small_net(dt=1.0, connectivity=None, **population):
    """4 Poisson inputs -> 3 LIF neurons: the structure that the Numba tests here and in
    test_api_fuzz.py share (compiled once)."""
    net = Network(dt=dt)
    net.add_input("x", 4, encoder="poisson")
    net.add_population("y", 3, model="lif", **population)
    net.connect("x", "y", Dense(np.full((4, 3), 5.0)) if connectivity is None else connectivity)
    net.monitor("y", "spike_counts", "spikes")
    return net


def learned_net(trace=None, **learning):
    """small_net with sparse connectivity learning by reward (mstdp): rewards, traces, learning."""
    trace = Trace(20.0, additive=True) if trace is None else trace
    net = Network()
    net.add_input("x", 4, encoder="poisson", trace=trace)
    net.add_population("y", 3, model="lif", trace=Trace(20.0, additive=True))
    learning = Learning("mstdp", **{"params": {"nu": 0.1}, "wmin": -10.0, "wmax": 10.0, **learning})
    net.connect("x", "y", Sparse.from_dense(np.where(MASK, 2.0, 0.0), MASK), learning=learning)
    net.monitor("y", "spike_counts", "spikes")
    return net


def ran(backend="numpy", net=None):
    sim = (small_net() if net is None else net).compile(backend=backend)
    sim.run(3, {"x": RATES}, **({"reward": np.ones(2)} if net is not None else {}))
    return sim, full_state(sim)


# -- 1. what compiled code reads is what was validated ------------------------------------------


def test_sparse_keeps_copies_of_what_it_validated():
    indptr, indices, weights = np.array([0, 2, 3, 3, 4]), np.array([0, 2, 1, 0]), np.full(4, 6.0)
    sparse = Sparse(indptr, indices, weights, 3)
    indptr[1], indices[0], weights[0] = 10**9, 10**9, np.nan  # the caller's arrays, after validation
    np.testing.assert_array_equal(sparse.indptr, [0, 2, 3, 3, 4])
    np.testing.assert_array_equal(sparse.indices, [0, 2, 1, 0])
    np.testing.assert_array_equal(sparse.weights, 6.0)
    out = small_net(connectivity=sparse).compile(backend="numpy").run(5, {"x": RATES})
    fresh = Sparse([0, 2, 3, 3, 4], [0, 2, 1, 0], np.full(4, 6.0), 3)
    np.testing.assert_array_equal(out.spikes("y"), small_net(connectivity=fresh).compile(backend="numpy").run(5, {"x": RATES}).spikes("y"))


@pytest.mark.parametrize(
    "connectivity, names",
    [
        (lambda: Dense(np.ones((4, 3))), ("weights",)),
        (lambda: OneToOne(np.ones(3)), ("weights",)),
        (lambda: Sparse([0, 1, 2], [0, 2], [1.0, 2.0], 3), ("indptr", "indices", "weights", "n_target")),
    ],
)
def test_connectivity_is_read_only(connectivity, names):
    conn = connectivity()
    for name in names:
        value = getattr(conn, name)
        with pytest.raises(AttributeError):
            setattr(conn, name, value)
        if isinstance(value, np.ndarray):
            with pytest.raises(ValueError, match="read-only"):
                value[...] = 0
            with pytest.raises(ValueError):
                value.flags.writeable = True


def test_sparse_indices_beyond_int64_are_refused():
    with pytest.raises(ConfigError, match="Sparse indptr must be integers below 2\\*\\*63"):
        Sparse(np.array([0, 2**63], np.uint64), [0], [1.0], 3)


def test_batch_size_and_step_are_read_only():
    sim, before = ran()
    with pytest.raises(AttributeError):
        sim.batch_size = 100  # the state has 2 rows: compiled code would index past them
    with pytest.raises(AttributeError):
        sim.step = -1
    with pytest.raises(ConfigError, match="holds state for batch size 2"):
        sim.run(2, {"x": np.full((100, 4), 200.0)})
    assert_unchanged(before, sim)


def test_compile_checks_connectivity_sizes_again():
    net = small_net()
    net.populations["y"] = dataclasses.replace(net.populations["y"], n=5)  # the description is plain data
    with pytest.raises(ConfigError, match="Dense connectivity of 'x->y' has target size 3, but population 'y' has 5 neurons"):
        net.compile(backend="numpy")


def test_reads_are_copies():
    sim, before = ran()
    sim.weights("x->y")[:] = np.nan
    sim.state("y", "v")[:] = np.nan
    assert_unchanged(before, sim)


# -- 3. values are checked as the simulation holds them ------------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: small_net(dt=1e-50), r"dt must be a positive number of milliseconds, got 1e-50, which float32 holds as 0.0"),
        (lambda: small_net(params={"thresh": 1e39}), r"'y': params\['thresh'\] must be finite in float32, got 1e\+39, which float32 holds as inf"),
        (lambda: small_net(params={"tc_decay": 1e-50}), r"parameter 'tc_decay' must be > 0 ms, got 1e-50, which float32 holds as 0.0"),
        (lambda: small_net(init={"v": [-65.0, -1e39, -65.0]}), r"'y': init\['v'\] must be finite in float32; element \(1,\) is -1e\+39"),
        (lambda: small_net(connectivity=Dense(np.full((4, 3), 1e39))), r"projection 'x->y': weights must be finite in float32; element \(0, 0\) is 1e\+39"),
        (lambda: learned_net(trace=Trace(1e-50)), r"population 'x': trace 'x' tau must be a positive number of milliseconds, got 1e-50, which float32 holds as 0.0"),
        (lambda: learned_net(weight_decay=1 - 1e-9), r"projection 'x->y': Learning weight_decay must be in \[0, 1\), got 0.999999999, which float32 holds as 1.0"),
        (lambda: learned_net(params={"nu": 1e39}), r"'x->y': params\['nu'\] must be finite in float32, got 1e\+39"),
    ],
)
def test_description_values_are_checked_in_the_compile_dtype(make, message):
    net = make()
    net.compile(backend="numpy", dtype="float64")  # valid in float64 ...
    with pytest.raises(ConfigError, match=message + ".*compile\\(dtype='float64'\\)"):
        net.compile(backend="numpy", dtype="float32")  # ... not as float32 holds it


WEIGHTS = [  # value, accepted in float32, accepted in float64
    (np.full((4, 3), 1e39), False, True),
    (np.full((4, 3), 3e38), True, True),
    (np.full((4, 3), 1e-50), True, True),
    (np.full((4, 3), np.nan), False, False),
    (np.full((4, 3), -np.inf), False, False),
    (np.full((4, 3), 1 + 0j), False, False),
    (np.full((4, 3), "1.0"), False, False),
    (np.full((4, 3), None), False, False),
    (np.ones((4, 3), bool), True, True),
    (np.full((4, 3), 7, np.uint64), True, True),
    ([[1.0, 2.0, 3.0]] * 3 + [[1.0, 2.0]], False, False),
    ([[1.0, 2.0, 3.0]] * 4, True, True),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("value, ok32, ok64", WEIGHTS, ids=range(len(WEIGHTS)))
def test_set_weights_accepts_what_dense_accepts(dtype, value, ok32, ok64):
    try:
        dense = small_net(connectivity=Dense(value)).compile(backend="numpy", dtype=dtype)
    except ConfigError:
        dense = None
    sim = small_net().compile(backend="numpy", dtype=dtype)
    try:
        sim.set_weights("x->y", value)
    except ConfigError:
        sim = None
    assert (dense is not None, sim is not None) == ((ok32, ok32) if dtype == "float32" else (ok64, ok64))
    if sim is not None:
        np.testing.assert_array_equal(sim.weights("x->y"), dense.weights("x->y"))


def test_reward_is_checked_in_the_simulation_dtype():
    sim, before = ran(net=learned_net())
    with pytest.raises(ConfigError, match=r"reward must be finite in float32; element \(0,\) is 1e\+39, which float32 holds as inf"):
        sim.run(2, {"x": RATES}, reward=np.array([1e39, 0.0]))
    assert_unchanged(before, sim)


def test_normalize_weights_checks_total_and_result_in_the_dtype():
    sim, before = ran()
    with pytest.raises(ConfigError, match=r"normalize_weights total must be a finite number, got 1e\+39, which float32 holds as inf"):
        sim.normalize_weights("x->y", 1e39)
    assert_unchanged(before, sim)
    sim.set_weights("x->y", 1e-45)  # float32's smallest: 78.4 / sum overflows
    before = full_state(sim)
    with pytest.raises(ConfigError, match="normalize_weights total=78.4.* cannot be reached for 'x->y' in float32"):
        sim.normalize_weights("x->y", 78.4)
    assert_unchanged(before, sim)


# -- 6. validate, then change --------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, "2", True, 2**62, 2**64])
def test_reset_with_an_invalid_batch_size_changes_nothing(batch_size):
    sim, before = ran()
    with pytest.raises(ConfigError, match="batch_size"):
        sim.reset(batch_size=batch_size)
    assert_unchanged(before, sim)


# -- 7. ConfigErrors, never NumPy's own exceptions ------------------------------------------------

SIM_CALLS = [
    (lambda sim: sim.run(3, {"x": [[1, 2, 3, 4], [1, 2]]}), r"inputs\['x'\] must be a numeric array .*rows of different lengths"),
    (lambda sim: sim.run(3, {"x": np.full((2, 4), None)}), r"inputs\['x'\] must be a numeric array .*got dtype object"),
    (lambda sim: sim.run(2**63, {"x": RATES}), r"steps=9223372036854775808 would take the step counter from 3 past 2\*\*63 - 1"),
    (lambda sim: sim.run(2**62, {"x": RATES}), r"steps=4611686018427387904: the recording of 'spikes' of 'y', shape .* is too large to allocate"),
    (lambda sim: sim.run(3, {"x": RATES}, sample_ids=[[0], [1, 2]]), "sample_ids must be a numeric array"),
    (lambda sim: sim.run(3, {"x": RATES}, sample_ids="ab"), "sample_ids must be a numeric array"),
    (lambda sim: sim.run(3, {"x": RATES}, sample_ids=[0.0, 1.0]), "sample_ids must be a 1-D array of non-negative integers"),
    (lambda sim: sim.run(3, {"x": np.ones((0, 4))}), r"batch size is 0: the inputs and sample_ids hold no sample"),
    (lambda sim: sim.state("y", ["v"]), r"variable must be a state variable's name, got \['v'\]"),
    (lambda sim: sim.state(["y"], "v"), r"owner \['y'\] is neither a population nor a projection"),
    (lambda sim: sim.weights(["x->y"]), r"no projection named \['x->y'\]"),
    (lambda sim: sim.set_state("y", "v", [[1.0, 2.0, 3.0], [1.0]]), r"set_state value of y.v must be a numeric array"),
    (lambda sim: sim.normalize_weights("x->y", "78.4"), "normalize_weights total must be a finite number, got '78.4'"),
]


@pytest.mark.parametrize("call, message", SIM_CALLS)
def test_simulation_errors_are_config_errors(call, message):
    sim, before = ran()
    with pytest.raises(ConfigError, match=message):
        call(sim)
    assert_unchanged(before, sim)


def test_unhashable_names_in_results_are_config_errors():
    out = small_net().compile(backend="numpy").run(3, {"x": RATES})
    with pytest.raises(ConfigError, match=r"'spikes' of \['y'\] was not monitored"):
        out.spikes(["y"])
    with pytest.raises(ConfigError, match=r"\['v'\] of 'y' was not monitored"):
        out.state("y", ["v"])


def test_a_string_reward_is_a_config_error():
    sim, before = ran(net=learned_net())
    with pytest.raises(ConfigError, match="reward must be a numeric array .*got 'abc', of dtype <U3"):
        sim.run(3, {"x": RATES}, reward="abc")
    assert_unchanged(before, sim)


NETWORK_CALLS = [
    (lambda net: net.monitor(["y"], "v"), r"monitor population=\['y'\] is not a population"),
    (lambda net: net.monitor("y", ["v"]), r"monitor what=\[.v.\] must be a name"),
    (lambda net: net.connect(["x"], "y", Dense(np.ones((4, 3)))), r"connect source=\['x'\] is not a population"),
    (lambda net: net.add_population("z", 3, model=[1]), r"population 'z': model must be the name of an installed neuron plugin or a pysnn.NeuronModel subclass, got \[1\]"),
    (lambda net: net.add_input("z", 3, encoder=5), r"population 'z': encoder must be the name of an installed encoder plugin"),
    (lambda net: net.add_population("z", 3, reductions=5), "population 'z': reductions must be a dict"),
    (lambda net: net.add_population("z", 3, params={"thresh": "abc"}), r"'z': params\['thresh'\] must be a numeric array"),
    (lambda net: net.connect("x", "y", Dense(np.ones((4, 3))), synapse=[1], name="b"), r"projection 'b': synapse must be the name"),
    (lambda net: net.connect("x", "y", Dense(np.ones((4, 3))), name="b", learning=Learning(5)), r"projection 'b': Learning rule must be the name"),
    (lambda net: net.compile(backend=5), "backend must be a backend's name"),
    (lambda net: OneToOne([[1.0], [1.0, 2.0]]), "OneToOne weights must be a numeric array"),
    (lambda net: Learning("postpre", wmin=10**400), "Learning wmin and wmax must be numbers"),
    (lambda net: Network(dt=10**400), "dt must be a positive number of milliseconds"),
    (lambda net: Sparse([[0], [1, 2]], [0], [1.0], 3), "Sparse indptr must be a numeric array"),
    (lambda net: Sparse.from_dense(np.ones((2, 2)), "ab"), "Sparse.from_dense mask must be a numeric array"),
    (lambda net: Sparse.from_dense(np.ones((2, 2)), np.full((2, 2), 0.5)), r"Sparse.from_dense mask must be 0 or 1; element \(0, 0\) is 0.5"),
]


@pytest.mark.parametrize("call, message", NETWORK_CALLS)
def test_description_errors_are_config_errors(call, message):
    net = small_net()
    before = (list(net.populations), list(net.projections), list(net.monitors))
    with pytest.raises(ConfigError, match=message):
        call(net)
    assert (list(net.populations), list(net.projections), list(net.monitors)) == before


# -- 8. nothing silently reinterpreted -----------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda sim: Dense(np.full((4, 3), 1 + 2j)),
        lambda sim: Sparse([0, 1], [0], [1j], 3),
        lambda sim: OneToOne(1j),
        lambda sim: small_net(params={"thresh": -52 + 1j}),
        lambda sim: sim.set_weights("x->y", np.full((4, 3), 1 + 0j)),
        lambda sim: sim.set_state("y", "v", -60 + 0j),
        lambda sim: sim.run(3, {"x": RATES + 0j}),
    ],
)
def test_complex_values_are_refused(call):
    sim, before = ran()
    with pytest.raises(ConfigError, match="complex values are refused"):
        call(sim)
    assert_unchanged(before, sim)


def test_dtype_none_is_refused():
    with pytest.raises(ConfigError, match="dtype must be 'float32' or 'float64', got None"):
        small_net().compile(backend="numpy", dtype=None)


@pytest.mark.parametrize("value", [2.0, np.nan, -1.0, 0.5, [0, 1, 3]])
def test_spike_outputs_take_only_0_and_1(value):
    sim, before = ran()
    with pytest.raises(ConfigError, match=r"set_state value of y.output must be 0 or 1"):
        sim.set_state("y", "output", value)
    assert_unchanged(before, sim)
    sim.set_state("y", "output", [1.0, 0, True])
    np.testing.assert_array_equal(sim.state("y", "output"), [[True, False, True]] * 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_poisson_rates_saturate_at_one_spike_per_step(backend):
    """Documented, not refused: a Poisson input spikes with probability rate * dt / 1000 per step,
    so from 1000 / dt Hz on it spikes at every step."""
    net = Network(dt=0.5)
    net.add_input("x", 4, encoder="poisson")
    net.monitor("x", "spike_counts")
    out = net.compile(backend=backend).run(50, {"x": np.array([[2000.0, 1e6, 1e30, 1000.0]] * 2)})
    np.testing.assert_array_equal(out.spike_counts("x")[:, :3], 50)
    assert (out.spike_counts("x")[:, 3] < 50).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_step_counter_stops_at_its_int64_limit(backend):
    reference = small_net().compile(backend="numpy")
    sim = small_net().compile(backend=backend)
    for s in (reference, sim):
        s._step = MAX_STEP - 5  # no API runs 2**63 steps; start near the limit
    expected = reference.run(5, {"x": RATES})
    out = sim.run(5, {"x": RATES})  # steps MAX_STEP - 5 .. MAX_STEP - 1 run as on the reference
    np.testing.assert_array_equal(out.spikes("y"), expected.spikes("y"))
    assert sim.step == MAX_STEP
    before = full_state(sim)
    with pytest.raises(ConfigError, match=r"steps=1 would take the step counter from 9223372036854775807 past 2\*\*63 - 1"):
        sim.run(1, {"x": RATES})
    assert_unchanged(before, sim)
