"""Hypothesis strategies for random small networks and their input data, shared by the tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import pysnn
from pysnn import Dense, Network, OneToOne, Sparse, registry

COMPILED_BACKENDS = tuple(
    name for name in registry.names("backend") if name != "numpy" and registry.load("backend", name).unavailable() is None
)
"""The backends besides the NumPy reference that can run here (numba-cuda and cupy: on a GPU, or on
Numba's CUDA simulator, which tests/conftest.py selects unless told otherwise, with NumPy standing
in for CuPy). Hypothesis tests draw one of them per example (``compiled_backends``)."""
SAME_KERNELS = ("numba-cuda", "cupy")
"""The GPU backends, which launch the same generated kernels."""


def compiled_backends(numpy: bool = False) -> st.SearchStrategy[str]:
    """One backend per example, the NumPy reference among them if ``numpy``: each CPU backend, or
    the GPU backends together, as likely as another, so the two GPU backends share the examples
    (and the simulator's time) that one had."""
    gpu = [name for name in COMPILED_BACKENDS if name in SAME_KERNELS]
    groups = [st.just(name) for name in (["numpy"] if numpy else []) + [b for b in COMPILED_BACKENDS if b not in gpu]]
    return st.one_of(*groups, *([st.sampled_from(gpu)] if gpu else []))


NEURON_MODELS = ("lif", "adaptive_lif", "if_subtractive", "izhikevich", "qif", "lif_cond", "adex")
ENCODERS = ("poisson", "bernoulli", "current", "spikes")
CONNECTIVITY = ("dense", "sparse", "one_to_one")
SYNAPSES = ("delta", "exponential", "exp_conductance")
DRIVE = {"lif": 8.0, "adaptive_lif": 8.0, "if_subtractive": 0.6, "izhikevich": 15.0, "qif": 60.0, "lif_cond": 2.0, "adex": 4000.0}
"""Weight scale that makes a few active inputs drive each model to threshold."""


@dataclass
class Case:
    """A network, its input populations' data for a data set of samples, and run lengths."""

    network: Network
    data: dict[str, np.ndarray]
    """Input population -> (samples, n) or (steps, samples, n) array for every sample of the set."""
    steps: int
    learns: bool

    def inputs(self, samples: list[int]) -> dict[str, np.ndarray]:
        """The inputs of a batch made of the given samples (by index into the data set)."""
        return {name: (d[:, samples] if d.ndim == 3 else d[samples]) for name, d in self.data.items()}


def _input_data(rng: np.random.Generator, encoder: str, shape: tuple[int, ...]) -> np.ndarray:
    if encoder == "poisson":
        return rng.uniform(0, 400, shape)
    if encoder == "bernoulli":
        return rng.uniform(0, 0.5, shape)
    if encoder == "current":
        return rng.uniform(-0.2, 1.0, shape)
    return rng.random(shape) < 0.3


def _connectivity(rng: np.random.Generator, kind: str, n_source: int, n_target: int, scale: float):
    weights = scale * rng.uniform(-0.3, 1.0, (n_source, n_target))
    if kind == "one_to_one" and n_source == n_target:
        return OneToOne(np.diag(weights).copy())
    if kind == "sparse":
        mask = rng.random((n_source, n_target)) < 0.6
        return Sparse.from_dense(np.where(mask, weights, 0.0), mask)
    return Dense(weights)


@st.composite
def cases(draw, models=NEURON_MODELS, samples: int = 6) -> Case:
    """A random network of 1-2 input and 1-3 neuron populations with data for ``samples`` samples."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    steps = draw(st.integers(3, 20))
    net = Network(dt=draw(st.sampled_from([0.5, 1.0])))
    data = {}
    sources = []
    for k in range(draw(st.integers(1, 2))):
        name, n, encoder = f"in{k}", draw(st.integers(1, 8)), draw(st.sampled_from(ENCODERS))
        net.add_input(name, n, encoder=encoder)
        timed = encoder == "spikes" or draw(st.booleans())
        data[name] = _input_data(rng, encoder, (steps, samples, n) if timed else (samples, n))
        sources.append(name)
    pops = []
    for k in range(draw(st.integers(1, 3))):
        name, n, model = f"pop{k}", draw(st.integers(1, 8)), draw(st.sampled_from(models))
        params = {}
        if model in ("lif", "adaptive_lif") and draw(st.booleans()):
            params["thresh"] = -52.0 + rng.uniform(-3, 3, n)  # per-neuron parameter
            params["refrac"] = float(draw(st.sampled_from([0.0, 2.0, 5.0])))
        if model == "adaptive_lif":
            params["theta_plus"] = float(draw(st.sampled_from([0.05, 2.0])))
            params["tc_theta_decay"] = float(draw(st.sampled_from([20.0, 1e7])))
        net.add_population(name, n, model=model, params=params, one_spike=draw(st.booleans()))
        pops.append((name, n, model))
    for target, n_target, model in pops:
        candidates = sources + [p[0] for p in pops]
        for source in draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=2, unique=True)):
            n_source = net.populations[source].n
            kind = draw(st.sampled_from(CONNECTIVITY))
            synapse = draw(st.sampled_from(SYNAPSES))
            params = {"tau": float(draw(st.sampled_from([2.0, 10.0])))} if synapse != "delta" else None
            scale = DRIVE[model]
            if synapse == "exp_conductance":  # the current is g * (e_rev - v_post): a weight is a conductance
                params["e_rev"] = float(draw(st.sampled_from([0.0, -80.0])))
                scale = scale / 50.0
            port = draw(st.sampled_from(net.populations[target].spec().ports))
            connectivity = _connectivity(rng, kind, n_source, n_target, scale)
            order = list(net.populations)
            delay = draw(st.sampled_from([0, 1])) if order.index(source) < order.index(target) else 1  # 0: source first
            net.connect(source, target, connectivity, synapse, params, port=port, delay=delay)
    for name in sources + [p[0] for p in pops]:
        if net.populations[name].spec().cls.__name__ != "Current":
            net.monitor(name, "spike_counts")
    name, _, model = pops[draw(st.integers(0, len(pops) - 1))]
    net.monitor(name, "spikes")
    net.monitor(name, "v", every=draw(st.sampled_from([1, 3])))
    if model == "adaptive_lif":
        net.monitor(name, "theta", every=2)
    learns = any(m == "adaptive_lif" for _, _, m in pops)
    return Case(net, data, steps, learns)


def snapshot(sim: pysnn.Simulation, result: pysnn.RunResult) -> dict[str, tuple[np.ndarray, int | None]]:
    """Every monitor record and state array of a simulation: name -> (array, its batch axis)."""
    arrays = {}
    for (pop, what), array in result.items():
        spec = sim.plan.population(pop).plugin.spec
        shared = what in spec.state and spec.state[what].shared
        arrays[f"record {pop}.{what}"] = (array, None if shared else (0 if what == "spike_counts" else 1))
    for pop in sim.plan.populations:
        for var in (*pop.plugin.spec.state, "output"):
            shared = var != "output" and pop.plugin.spec.state[var].shared
            arrays[f"state {pop.name}.{var}"] = (sim.state(pop.name, var), None if shared else 0)
    for proj in sim.plan.projections:
        arrays[f"weights {proj.name}"] = (sim.weights(proj.name), None)
        for var in proj.synapse.spec.state:
            arrays[f"state {proj.name}.{var}"] = (sim.state(proj.name, var), 0)
    return arrays


def assert_identical(a: dict, b: dict, rows: list[int] | None = None) -> None:
    """Bit-for-bit equality of two snapshots; with ``rows``, of those batch rows of ``a``."""
    assert a.keys() == b.keys()
    for key, (x, axis) in a.items():
        y = b[key][0]
        if rows is not None and axis is not None:
            x = np.take(x, rows, axis=axis)
        assert x.dtype == y.dtype and x.shape == y.shape, (key, x.shape, y.shape)
        assert x.tobytes() == y.tobytes(), f"{key} differs:\n{x}\n{y}"


def full_state(sim: pysnn.Simulation) -> dict:
    """Every state array the backend holds, the step counter and the batch size."""
    return {key: sim._engine.read(key) for key in sim._engine.keys()} | {"step": sim.step, "batch": sim.batch_size}


def assert_unchanged(before: dict, sim: pysnn.Simulation) -> None:
    """``sim``'s ``full_state`` equals ``before``."""
    after = full_state(sim)
    assert before.keys() == after.keys()
    for key in before:
        assert np.array_equal(before[key], after[key]), key

