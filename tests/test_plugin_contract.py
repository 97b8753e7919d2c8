"""The plugin contract: malformed plugins are rejected when loaded, with an error naming the
plugin and the problem; well-formed user plugins (classes passed directly) run on every backend."""

import numpy as np
import pytest

from pysnn import Encoder, Network, NeuronModel, OneToOne, PluginError, SynapseModel, per_sample, shared
from pysnn import kernel_math as km
from pysnn import registry

LEAK = np.float64(0.5)  # a float64 global: mixing it into float32 arithmetic changes the dtype


class NoUpdate(NeuronModel):
    state = {"v": per_sample()}


class NotStatic(NeuronModel):
    state = {"v": per_sample()}

    def update(self, v, i_in):
        return v, v > 0


class UnknownArgument(NeuronModel):
    params = {"tau": 10.0}
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in, tua):
        return v, v > 0


class MissingStateArgument(NeuronModel):
    state = {"v": per_sample(), "w": per_sample()}

    @staticmethod
    def update(v, i_in):
        return v, v, v > 0


class WrongArity(NeuronModel):
    state = {"v": per_sample(), "w": per_sample()}

    @staticmethod
    def update(v, w, i_in):
        return v + i_in, v > 0


class BadInit(NeuronModel):
    state = {"v": per_sample("v_start")}

    @staticmethod
    def update(v):
        return v, v > 0


class BadDefault(NeuronModel):
    params = {"tau": "ten"}
    state = {"v": per_sample()}

    @staticmethod
    def update(v):
        return v, v > 0


class ReservedName(NeuronModel):
    params = {"dt": 1.0}
    state = {"v": per_sample()}

    @staticmethod
    def update(v):
        return v, v > 0


class DoesNotCompile(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        return km.exp(v, i_in), v > 0


class LeaksFloat64(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = v * LEAK + i_in
        return v, v > 0


class UniformArithmetic(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in, rng):
        v = v + km.uniform(rng, 0)
        return v, v > 1


class SharedSynapse(SynapseModel):
    state = {"g": shared()}

    @staticmethod
    def update(g, i_in):
        return g, i_in


class BadOutput(Encoder):
    output = "voltage"

    @staticmethod
    def encode(x):
        return x


class NestedFunction(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        def helper(a):
            return a

        return helper(v), v > 0


@pytest.mark.parametrize(
    "cls, message",
    [
        (NoUpdate, "missing kernel function update\\(\\)"),
        (NotStatic, "update\\(\\) must be a @staticmethod"),
        (UnknownArgument, "update\\(\\) argument 'tua' is not a parameter, state variable, derived value or special"),
        (MissingStateArgument, "must take every state variable it updates; missing \\['w'\\]"),
        (WrongArity, "update\\(\\) must return 3 value\\(s\\) \\(v, w, spiked\\), but the return on line \\d+ of its source gives 2"),
        (BadInit, "state variable 'v' starts at 'v_start', which is neither a parameter nor a derived value"),
        (BadDefault, "parameter 'tau' needs a finite number as default"),
        (ReservedName, "\\['dt'\\] are reserved argument names of update\\(\\)"),
        (SharedSynapse, "a synapse model cannot have shared state"),
        (BadOutput, 'output must be "spike" or "analog"'),
        (NestedFunction, "defines a nested function or class"),
        (int, "is not a subclass of pysnn.NeuronModel"),
    ],
)
def test_malformed_plugins_are_rejected_by_name(cls, message):
    kind = "encoder" if cls is BadOutput else "synapse" if cls is SharedSynapse else "neuron"
    with pytest.raises(PluginError, match=f"plugin class .*{message}"):
        registry.spec_for(kind, cls)


LEAK_MESSAGE = "returns float64 for 'v' where float32 is expected"


@pytest.mark.parametrize(
    "cls, backend, message",
    [
        (DoesNotCompile, "numpy", "update\\(\\) raised TypeError on NumPy arrays"),
        (DoesNotCompile, "numba-cpu", "update\\(\\) does not compile with Numba for float32"),
        (LeaksFloat64, "numpy", f"update\\(\\) {LEAK_MESSAGE}"),
        (LeaksFloat64, "numba-cpu", f"update\\(\\) {LEAK_MESSAGE}"),
        (UniformArithmetic, "numpy", f"{LEAK_MESSAGE}.*km.cast_like"),
        (UniformArithmetic, "numba-cpu", f"{LEAK_MESSAGE}.*km.cast_like"),
    ],
)
def test_kernels_that_would_not_run_identically_everywhere_are_rejected_at_compile(cls, backend, message):
    """Each backend checks the kernels for its own target when a network is compiled for it."""
    net = Network()
    net.add_population("y", 2, model=cls)
    with pytest.raises(PluginError, match=f"{cls.__name__}.*{message}"):
        net.compile(backend=backend)


class NoisyLeaky(NeuronModel):
    """A user model with derived values, per-neuron parameters, literals and random numbers."""

    params = {"tau": 20.0, "noise": 2.0}
    state = {"v": per_sample(0.0), "last": per_sample("tau")}

    @staticmethod
    def derived(dt, tau):
        return {"keep": km.exp(-dt / tau)}

    @staticmethod
    def update(v, last, i_in, keep, noise, rng):
        jitter = km.cast_like(km.uniform(rng, 0) - 0.5, v)
        v = keep * v + i_in + noise * jitter + 0.25 * v**2 * 0.0
        spiked = v >= 1.5
        return km.where(spiked, 0.0, v), km.where(spiked, 0, last + 1), spiked


def test_user_plugin_class_runs_identically_on_both_backends():
    results = []
    for backend in ("numpy", "numba-cpu"):
        net = Network()
        net.add_input("x", 5, encoder="current")
        net.add_population("y", 5, model=NoisyLeaky, params={"noise": np.linspace(0.0, 2.0, 5)})
        net.connect("x", "y", OneToOne(1.0))
        net.monitor("y", "v")
        out = net.compile(backend=backend).run(40, {"x": np.full((3, 5), 0.2)})
        results.append(out.state("y", "v"))
    assert results[0].tobytes() == results[1].tobytes()
    assert results[0][:, :, 0].std() < results[0][:, :, 4].std()  # noise scales per neuron


def test_shared_state_needs_a_known_reduction():
    class Unreduced(NeuronModel):
        state = {"v": per_sample(), "theta": shared(0.0, reduction="geometric")}

        @staticmethod
        def update(v, theta, i_in):
            return v, theta, v > 0

    net = Network()
    net.add_population("y", 2, model=Unreduced)
    with pytest.raises(PluginError, match="no reduction plugin named 'geometric'.*max, mean, median, min, sum"):
        net.compile(backend="numpy")
