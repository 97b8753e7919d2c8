"""State that becomes NaN or infinite during a run is reported (``compile(check_finite=True)``,
the default): ``NumericalError`` names the population or projection, the variable, the first
step, a sample and the element, the same on every backend (numba-cpu in both its forms), and
the run is discarded. ``check_finite=False`` lets runs go on, with the same non-finite state on
every backend, and a run whose state stays finite gives the same results checked or not."""

import pickle

import numpy as np
import pysnn_numba.backend
import pytest
from pysnn_cuda.codegen import generate as cuda_generate
from pysnn_numba.codegen import generate as cpu_generate

from pysnn import ConfigError, Dense, Learning, Network, NeuronModel, OneToOne, PySNNError, Sparse, Trace, per_sample
from pysnn.errors import NumericalError
from pysnn.plan import build_plan
from pysnn.state_keys import NeuronKey, WeightsKey

from networks import COMPILED_BACKENDS, assert_unchanged, full_state

BACKENDS = ("numpy", *COMPILED_BACKENDS)
MASK = np.array([[1, 0], [1, 1], [0, 1]], bool)
"""The synapses of the sparse cases."""


class Countdown(NeuronModel):
    """``v = 1 / (T - c)`` where the counter ``c`` grows by 1 plus the input each step: ``v`` is
    infinite at the step where ``c`` reaches ``T``, and finite again after it."""

    params = {"T": 5.0}
    state = {"c": per_sample(0.0), "v": per_sample(0.0)}

    @staticmethod
    def update(c, v, i_in, T):
        c = c + 1.0 + i_in
        v = 1.0 / (T - c)
        return c, v, v > 0.5


def countdown():
    net = Network()
    net.add_input("x", 2, encoder="current")
    net.add_population("y", 2, model=Countdown)
    net.connect("x", "y", OneToOne(np.ones(2)))
    return net, {"x": np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])}, {}


def synapse():
    """Weights that each fit float32 but whose sum does not: the synapse's current first."""
    net = Network()
    net.add_input("x", 2, encoder="spikes")
    net.add_population("y", 2, model="lif")
    net.connect("x", "y", Dense(np.full((2, 2), 3e38)), synapse="exponential")
    return net, {"x": np.array([[False, False], [True, True], [True, False]])}, {}


def izhikevich():
    """A time step far too large: ``u`` overflows first (``v`` is reset at each spike)."""
    net = Network(dt=50.0)
    net.add_input("x", 3, encoder="current")
    net.add_population("y", 2, model="izhikevich")
    net.connect("x", "y", Dense(np.full((3, 2), 40.0)))
    return net, {"x": np.array([[1.0, 1.0, 1.0], [0.2, 0.1, 0.0], [0.5, 0.5, 0.5]])}, {}


def weights(kind: str = "dense", deferred: bool = False, nu_post: float = 2e38):
    """Unbounded PostPre whose potentiation overflows at the second post-synaptic spike."""
    net = Network()
    net.add_input("x", 3, encoder="spikes", trace=Trace(20.0))
    net.add_population("y", 2, model="lif", params={"refrac": 0.0}, trace=Trace(20.0))
    w = np.full((3, 2), 10.0)
    connectivity = Dense(w) if kind == "dense" else Sparse.from_dense(w, MASK)
    net.connect("x", "y", connectivity, learning=Learning("postpre", {"nu_pre": 1e-4, "nu_post": nu_post}))
    spikes = np.zeros((3, 3), bool)
    spikes[1] = True
    return net, {"x": spikes}, {"deferred": deferred}


def deferred_weights():
    """``weights`` in a deferred run: the summed terms overflow, applied at the run's end."""
    return weights(deferred=True)


def sparse_weights():
    """``weights`` through a sparse projection, with source spikes at even steps only: the
    target spikes at odd steps and its synapses learn without their rows' events."""
    net = weights("sparse")[0]
    spikes = np.zeros((7, 3, 3), bool)
    spikes[::2, 1] = True
    return net, {"x": spikes}, {}


def eligibility():
    """MSTDP-ET's per-sample eligibility trace overflows (before the weights it feeds)."""
    net = Network()
    net.add_input("x", 3, encoder="spikes", trace=Trace(20.0, additive=True))
    net.add_population("y", 2, model="lif", params={"refrac": 0.0}, trace=Trace(20.0, additive=True))
    net.connect("x", "y", Dense(np.full((3, 2), 10.0)), learning=Learning("mstdp_et", {"a_plus": 3e38}))
    spikes = np.zeros((3, 3), bool)
    spikes[1] = True
    return net, {"x": spikes}, {"reward": np.array([1.0, 2.0, 0.0])}


def theta(deferred: bool = False):
    """The adaptive threshold (shared) overflows in the sum of two samples' increases."""
    net = Network()
    net.add_input("x", 3, encoder="spikes")
    net.add_population("y", 2, model="adaptive_lif", params={"theta_plus": 3e38})
    net.connect("x", "y", Dense(np.full((3, 2), 30.0)))
    spikes = np.zeros((3, 3), bool)
    spikes[1:] = True
    return net, {"x": spikes}, {"deferred": deferred}


def deferred_theta():
    """``theta`` in a deferred run: the sum over steps overflows, applied at the run's end."""
    return theta(deferred=True)


SAMPLE_IDS = np.array([10, 11, 12], np.uint64)
CASES = {
    # (owner, variable, step, sample id, index) of the first non-finite state, after a finite step
    countdown: ("y", "v", 2, 11, (1,)),  # samples 11 and 12 at step 2: the first row is reported
    synapse: ("x->y", "i", 1, 11, (0,)),  # the neuron it drives spikes and resets: its v stays finite
    izhikevich: ("y", "u", 3, 10, (0,)),
    weights: ("x->y", "weights", 2, None, (0, 0)),
    deferred_weights: ("x->y", "weights", 6, None, (0, 0)),
    sparse_weights: ("x->y", "weights", 3, None, (0,)),
    eligibility: ("x->y", "e", 1, 11, (0,)),  # the weights it feeds are infinite at the same step
    theta: ("y", "theta", 1, None, (0,)),
    deferred_theta: ("y", "theta", 6, None, (0,)),  # the last step of the run, when the sum is applied
}
PARALLEL = [sparse_weights, eligibility]
"""Cases whose learning loops numba-cpu also runs in its parallel form (dense and sparse weights,
rule state)."""


def report(error: NumericalError) -> tuple:
    return error.owner, error.variable, error.step, error.sample_id, error.index


def failing_run(case, backend: str, check_finite: bool = True):
    """The case's simulation after one step, and its run of 6 more (inputs given per step:
    the first step's, then the others')."""
    net, inputs, options = case()
    sim = net.compile(backend=backend, check_finite=check_finite)
    sim.run(1, {name: x[:1] if x.ndim == 3 else x for name, x in inputs.items()}, sample_ids=SAMPLE_IDS, **options)
    rest = {name: x[1:] if x.ndim == 3 else x for name, x in inputs.items()}
    return sim, lambda: sim.run(6, rest, sample_ids=SAMPLE_IDS, **options)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_first_nonfinite_state_is_reported_and_the_run_discarded(case, backend):
    sim, run = failing_run(case, backend)
    before = full_state(sim)
    with pytest.raises(NumericalError) as error:
        run()
    assert report(error.value) == CASES[case]
    assert_unchanged(before, sim)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failed_run_after_runs_of_every_kind_changes_nothing(backend):
    """A run without learning reads the shared state as it is (its working copy holds the
    state's own arrays), and the GPU backends copy the next runs' state into arrays that
    earlier runs dropped: after learning, inference and a new batch, a learning run that fails
    still leaves every array as it was."""
    net, inputs, _ = theta()
    sim = net.compile(backend=backend)
    silent = np.zeros_like(inputs["x"])
    sim.run(2, {"x": silent})
    sim.run(2, inputs, learning=False)
    sim.reset()
    sim.run(2, inputs, learning=False)
    sim.run(2, {"x": silent})
    before = full_state(sim)
    with pytest.raises(NumericalError, match="theta"):
        sim.run(10, inputs)
    assert_unchanged(before, sim)
    assert np.isfinite(before[NeuronKey("y", "theta")]).all()


@pytest.mark.parametrize("case", PARALLEL, ids=lambda case: case.__name__)
def test_numba_cpus_parallel_learning_loops_report_the_same(case, monkeypatch):
    monkeypatch.setattr(pysnn_numba.backend, "SERIAL_LEARNING_WORK", 0)  # parallel loops at any size
    _, run = failing_run(case, "numba-cpu")
    with pytest.raises(NumericalError) as error:
        run()
    assert report(error.value) == CASES[case]


def test_the_message_says_what_where_when_and_what_to_do():
    _, run = failing_run(countdown, "numpy")
    with pytest.raises(NumericalError) as error:
        run()
    message = str(error.value)
    for part in ("population 'y'", "'v'", "step 2", "sample 11", "neuron 1", "discarded", "dt", "check_finite=False"):
        assert part in message, (part, message)
    assert isinstance(error.value, PySNNError) and isinstance(error.value, ArithmeticError)
    copy = pickle.loads(pickle.dumps(error.value))
    assert (str(copy), *report(copy)) == (message, *CASES[countdown])


@pytest.mark.parametrize("case", [izhikevich, weights, eligibility], ids=lambda case: case.__name__)
def test_without_the_check_runs_go_on_with_the_same_state_on_every_backend(case):
    states = {}
    for backend in BACKENDS:
        sim, run = failing_run(case, backend, check_finite=False)
        run()
        assert sim.step == 7
        states[backend] = full_state(sim)
    reference = states["numpy"]
    assert any(not np.isfinite(array).all() for array in reference.values() if getattr(array, "dtype", None) == np.float32)
    for backend, state in states.items():
        for key, array in reference.items():
            assert np.asarray(array).tobytes() == np.asarray(state[key]).tobytes(), (backend, key)


@pytest.mark.parametrize("backend", BACKENDS)
def test_finite_runs_give_the_same_results_checked_or_not(backend):
    spikes = np.random.default_rng(0).random((8, 3, 3)) < 0.5
    states = []
    for check_finite in (True, False):
        sim = weights("sparse", nu_post=0.1)[0].compile(backend=backend, check_finite=check_finite)
        sim.run(8, {"x": spikes})
        states.append(full_state(sim))
    checked, unchecked = states
    assert not np.array_equal(checked[WeightsKey("x->y")], Sparse.from_dense(np.full((3, 2), 10.0), MASK).weights)
    for key in checked:
        assert np.asarray(checked[key]).tobytes() == np.asarray(unchecked[key]).tobytes(), key


def test_only_checked_plans_generate_checks():
    net = weights()[0]
    for check_finite in (True, False):
        plan = build_plan(net, "float32", 0, check_finite)
        for source in (cpu_generate(plan, frozenset(), 0).source, cuda_generate(plan, frozenset(), 0).source):
            assert ("nonfinite" in source) == check_finite


@pytest.mark.parametrize("value", [1, "yes", None])
def test_check_finite_must_be_true_or_false(value):
    with pytest.raises(ConfigError, match="check_finite must be True or False"):
        countdown()[0].compile(backend="numpy", check_finite=value)
