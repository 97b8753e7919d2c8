"""Parameters that say what they are: ``param(default, unit, gt=, ge=, lt=, le=)`` declarations are
validated when a plugin loads, and values outside the bounds are rejected where they are given."""

import math

import numpy as np
import pytest

from pysnn import (
    ConfigError, Dense, Encoder, Learning, Network, NeuronModel, Param, PluginError, Trace, param, per_sample,
)
from pysnn import kernel_math as km
from pysnn import registry
from pysnn.plugin import describe_params


def _update(v, i_in):
    return v + i_in, v > 1.0


def _neuron(params: dict) -> type:
    """A minimal neuron model class with the given ``params`` declaration."""
    body = {"params": params, "state": {"v": per_sample()}, "update": staticmethod(_update)}
    return type("Declared", (NeuronModel,), body)


@pytest.mark.parametrize(
    "declaration, message",
    [
        (param(-1.0, "ms", gt=0), r"parameter 'p': default -1.0 is not > 0 ms"),
        (param(0.0, ge=0, lt=0), r"parameter 'p': default 0.0 is not >= 0 and < 0"),
        (param(1.0, gt=0, ge=0), r"parameter 'p' has two lower bounds \(gt and ge\)"),
        (param(1.0, lt=2, le=2), r"parameter 'p' has two upper bounds \(lt and le\)"),
        (param(1.0, gt="0"), r"parameter 'p': bound gt= must be a finite number, got '0'"),
        (param(1.0, le=True), r"parameter 'p': bound le= must be a finite number, got True"),
        (param(1.0, lt=math.nan), r"parameter 'p': bound lt= must be a finite number, got nan"),
        (param(math.inf), r"parameter 'p' needs a finite number as default, got inf"),
        (param("1"), r"parameter 'p' needs a finite number as default, got '1'"),
        (param(1.0, unit=1), r"parameter 'p': unit must be a string, got 1"),
    ],
)
def test_malformed_declarations_are_rejected_at_load(declaration, message):
    with pytest.raises(PluginError, match=f"plugin class .*Declared: {message}"):
        registry.spec_for("neuron", _neuron({"p": declaration}))


def test_spec_keeps_defaults_and_declarations_apart():
    spec = registry.spec_for("neuron", _neuron({"tau": param(10.0, "ms", gt=0), "gain": 2}))
    assert spec.params == {"tau": 10.0, "gain": 2}
    assert spec.param_decls == {"tau": Param(10.0, "ms", gt=0), "gain": Param(2)}
    assert describe_params(spec.param_decls) == "tau (> 0 ms), gain"
    assert describe_params(registry.spec_for("neuron", "lif").param_decls) == (
        "thresh (mV), rest (mV), reset (mV), refrac (>= 0 ms), tc_decay (> 0 ms)"
    )


def test_population_parameter_out_of_bounds_names_owner_plugin_value_bound_and_fix():
    net = Network()
    with pytest.raises(ConfigError) as info:
        net.add_population("y", 3, params={"tc_decay": -5.0})
    message = str(info.value)
    assert message.startswith("'y': neuron plugin 'lif' (")
    assert message.endswith(
        "parameter 'tc_decay' must be > 0 ms, got -5.0; change it or leave it out for the default 100 ms"
    )
    assert "y" not in net.populations


def test_per_neuron_parameter_out_of_bounds_names_the_first_offending_index():
    net = Network()
    with pytest.raises(ConfigError, match=r"'y': .*parameter 'refrac' must be >= 0 ms, got -1.0 at index 2;"):
        net.add_population("y", 4, params={"refrac": np.array([0.0, 2.0, -1.0, -3.0])})


def test_unknown_parameter_lists_units_and_bounds():
    with pytest.raises(ConfigError, match=r"has no parameter 'tau'; it has: thresh \(mV\), .*tc_decay \(> 0 ms\)"):
        Network().add_population("y", 3, params={"tau": 1.0})


class Gain(Encoder):
    output = "analog"
    params = {"gain": param(1.0, gt=0, le=10)}

    @staticmethod
    def encode(x, gain):
        return x * gain


@pytest.mark.parametrize(
    "gain, shown", [(-1.0, "-1.0"), ([0.0, 1.0], "0.0 at index 0"), ([10.0, 11.0], "11.0 at index 1")]
)
def test_input_parameter_out_of_bounds(gain, shown):
    with pytest.raises(ConfigError, match=rf"'x': .*Gain parameter 'gain' must be > 0 and <= 10, got {shown};"):
        Network().add_input("x", 2, encoder=Gain, params={"gain": gain})


def test_synapse_parameter_out_of_bounds_at_connect():
    net = Network()
    net.add_input("x", 2, encoder="spikes")
    net.add_population("y", 2)
    message = r"'x->y': synapse plugin 'exponential' .*parameter 'tau' must be > 0 ms, got 0.0;"
    with pytest.raises(ConfigError, match=message):
        net.connect("x", "y", Dense(np.ones((2, 2))), synapse="exponential", params={"tau": 0.0})
    assert not net.projections


def test_learning_rule_parameter_out_of_bounds_at_connect():
    net = Network()
    net.add_input("x", 2, encoder="spikes", trace=Trace(additive=True))
    net.add_population("y", 2, trace=Trace(additive=True))
    learning = Learning("mstdp_et", {"tc_e_trace": -25.0})
    with pytest.raises(ConfigError, match=r"'x->y': .*'mstdp_et' .*parameter 'tc_e_trace' must be > 0 ms, got -25.0;"):
        net.connect("x", "y", Dense(np.ones((2, 2))), learning=learning)


class Leaky(NeuronModel):
    """A user model mixing a declared parameter (used by ``derived``) and a plain one."""

    params = {"tau": param(10.0, "ms", gt=0), "gain": 0.5}
    state = {"v": per_sample(0.0)}

    @staticmethod
    def derived(dt, tau):
        return {"keep": km.exp(-dt / tau)}

    @staticmethod
    def update(v, i_in, keep, gain):
        v = keep * v + gain * i_in
        return v, v > 100.0


def _run_leaky(params: dict | None) -> np.ndarray:
    net = Network()
    net.add_input("x", 2, encoder="current")
    net.add_population("y", 2, model=Leaky, params=params)
    net.connect("x", "y", Dense(np.eye(2)))
    net.monitor("y", "v")
    return net.compile(backend="numpy", dtype="float64").run(3, {"x": np.ones((1, 2))}).state("y", "v")


def test_defaults_and_in_bounds_overrides_work():
    keep = math.exp(-1.0 / 10.0)
    v = _run_leaky(None)  # (steps, batch, n); the input arrives one step late
    np.testing.assert_allclose(v[-1, 0], 0.5 + 0.5 * keep, rtol=1e-12)
    v = _run_leaky({"tau": [1.0, 1e6]})
    np.testing.assert_allclose(v[-1, 0], 0.5 + 0.5 * np.exp(-1.0 / np.array([1.0, 1e6])), rtol=1e-12)


def test_plain_number_parameters_take_any_finite_value():
    v = _run_leaky({"gain": -2.0})
    assert (v[-1] < 0).all()
    assert registry.spec_for("neuron", Leaky).param_decls["gain"] == Param(0.5)


def _add(kind: str, model: str, name: str, value: float) -> None:
    """Give ``value`` to parameter ``name`` of a standard ``model`` where its kind takes parameters."""
    net = Network()
    net.add_input("x", 2, encoder="spikes", trace=Trace(additive=True))
    if kind == "neuron":
        net.add_population("y", 2, model=model, params={name: value})
        return
    net.add_population("y", 2, trace=Trace(additive=True))
    if kind == "synapse":
        net.connect("x", "y", Dense(np.ones((2, 2))), synapse=model, params={name: value})
    else:
        net.connect("x", "y", Dense(np.ones((2, 2))), learning=Learning(model, {name: value}))


TIME_CONSTANTS = [
    ("neuron", "lif", "tc_decay"),
    ("neuron", "adaptive_lif", "tc_decay"),
    ("neuron", "adaptive_lif", "tc_theta_decay"),
    ("synapse", "exponential", "tau"),
    ("learning", "mstdp_et", "tc_e_trace"),
]
REFRACTORY_PERIODS = [("neuron", model, "refrac") for model in ("lif", "adaptive_lif", "if_subtractive")]


@pytest.mark.parametrize("kind, model, name", TIME_CONSTANTS)
@pytest.mark.parametrize("value", [0.0, -1.0])
def test_standard_time_constants_reject_zero_and_negatives(kind, model, name, value):
    with pytest.raises(ConfigError, match=rf"'{model}' .*parameter '{name}' must be > 0 ms, got {value}"):
        _add(kind, model, name, value)
    _add(kind, model, name, 0.5)


@pytest.mark.parametrize("kind, model, name", REFRACTORY_PERIODS)
def test_standard_refractory_periods_reject_negatives_only(kind, model, name):
    with pytest.raises(ConfigError, match=rf"'{model}' .*parameter '{name}' must be >= 0 ms, got -1.0"):
        _add(kind, model, name, -1.0)
    _add(kind, model, name, 0.0)
