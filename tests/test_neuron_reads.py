"""Learning rules that read neurons: several named traces per population (triplet STDP) and
neuron state (a voltage-gated rule), hand-computed from the recorded traces and potentials on
both backends, and the errors of missing or clashing traces."""

import numpy as np
import pytest

from pysnn import ConfigError, Dense, Learning, Network, NeuronModel, Trace, per_sample

from test_learning import BACKENDS, REDUCTIONS, spike_trains, stdp_network

N_IN, N_OUT = 6, 5


class NoPotential(NeuronModel):
    """A neuron model without a membrane potential ``v``."""

    state = {"u": per_sample()}

    @staticmethod
    def update(u, i_in):
        u = u + i_in
        return u, u > 1.0


def one_learning_step(rule, params, reduction, backend, connectivity="dense", seed=3, batch=4):
    """A random state, then one learning step; the step's recordings, and the weights before and
    after as (N_IN, N_OUT) matrices (every synapse exists, also when sparse)."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(2, 9, (N_IN, N_OUT))
    net = stdp_network(N_IN, N_OUT, weights, Learning(rule, params, reduction), connectivity)
    net.monitor("x", "slow")
    net.monitor("y", "slow", "v")
    sim = net.compile(backend=backend, dtype="float64")
    sim.run(inputs={"x": spike_trains(rng, 8, batch, N_IN)}, learning=False)
    before = sim.weights("x->y")
    out = sim.run(inputs={"x": spike_trains(rng, 1, batch, N_IN, 0.5)})
    record = {f"{pop}.{what}": out.state(pop, what)[0] for pop in ("x", "y") for what in ("x", "slow")}
    record |= {"s_pre": out.spikes("x")[0], "s_post": out.spikes("y")[0], "v_post": out.state("y", "v")[0]}
    return record, before.reshape(N_IN, N_OUT), sim.weights("x->y").reshape(N_IN, N_OUT)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction, connectivity", [("sum", "dense"), ("max", "sparse")])
def test_triplet_reads_two_traces_on_each_side(backend, reduction, connectivity):
    params = {"a2_plus": 0.1, "a3_plus": 0.2, "a2_minus": 0.15, "a3_minus": 0.05}
    r, before, after = one_learning_step("triplet", params, reduction, backend, connectivity)
    assert r["s_pre"].any() and r["s_post"].any()
    depression = r["s_pre"][:, :, None] * (r["y.x"][:, None, :] * (0.15 + 0.05 * (r["x.slow"] - 1.0))[:, :, None])
    potentiation = (r["x.x"][:, :, None] * (0.1 + 0.2 * (r["y.slow"] - 1.0))[:, None, :]) * r["s_post"][:, None, :]
    reduce = REDUCTIONS[reduction]
    np.testing.assert_allclose(after, before - reduce(depression) + reduce(potentiation), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("connectivity", ["dense", "sparse"])
def test_voltage_gated_rule_reads_the_targets_potential(backend, connectivity):
    params = {"a_plus": 0.3, "a_minus": 0.2, "theta_v": -60.0}
    r, before, after = one_learning_step("voltage_gated", params, "sum", backend, connectivity)
    gate = np.where(r["v_post"] > -60.0, 0.3, -0.2)  # (batch, n_out)
    assert (r["v_post"] > -60.0).any() and (r["v_post"] <= -60.0).any()
    np.testing.assert_allclose(after, before + (r["s_pre"][:, :, None] * gate[:, None, :]).sum(axis=0), rtol=1e-12)


def test_a_rule_reading_a_trace_the_population_lacks_is_refused_at_connect():
    net = Network()
    net.add_input("x", 2, encoder="spikes", trace=Trace(16.8, additive=True))
    net.add_population("y", 2, traces={"x": Trace(33.7, additive=True), "slow": Trace(125.0, additive=True)})
    with pytest.raises(ConfigError, match=r"reads slow_pre, the trace or state variable 'slow' of 'x', which has neither "
                       r"\(traces: x\); give 'x' the trace with traces=\{'slow': pysnn.Trace"):
        net.connect("x", "y", Dense(np.ones((2, 2))), learning=Learning("triplet"))
    net.add_population("u", 2, model=NoPotential)
    with pytest.raises(ConfigError, match=r"reads v_post, the trace or state variable 'v' of 'u', which has neither"):
        net.connect("x", "u", Dense(np.ones((2, 2))), learning=Learning("voltage_gated"))
    assert net.connect("x", "y", Dense(np.ones((2, 2))), learning=Learning("voltage_gated")).learning is not None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"trace": Trace(), "traces": {"slow": Trace()}}, "give trace= or traces=, not both"),
        ({"traces": {"v": Trace()}}, r"trace name\(s\) \['v'\] are taken by its state variables or outputs"),
        ({"traces": {"spikes": Trace()}}, r"trace name\(s\) \['spikes'\] are taken"),
        ({"traces": {"a b": Trace()}}, "trace name 'a b' is not a Python identifier"),
        ({"traces": {"slow": 20.0}}, "trace 'slow' must be a pysnn.Trace, got 20.0"),
        ({"traces": [Trace()]}, "traces must be a dict of name -> pysnn.Trace"),
    ],
)
def test_malformed_traces_are_rejected(kwargs, message):
    net = Network()
    with pytest.raises(ConfigError, match=message):
        net.add_population("y", 2, **kwargs)
    assert "y" not in net.populations


def test_named_traces_are_monitored_and_read_by_name_and_computed_only_when_read():
    net = Network()
    net.add_input("x", 1, encoder="spikes", traces={"fast": Trace(2.0), "slow": Trace(50.0, additive=True)})
    net.add_population("y", 1)
    net.connect("x", "y", Dense(np.ones((1, 1))))
    net.monitor("x", "slow")
    sim = net.compile(backend="numpy", dtype="float64")
    out = sim.run(inputs={"x": np.array([True, True, False])[:, None, None]})
    decay = np.exp(-1.0 / 50.0)
    np.testing.assert_allclose(out.state("x", "slow")[:, 0, 0], [1.0, 1.0 * decay + 1.0, (decay + 1.0) * decay])
    with pytest.raises(ConfigError, match="the trace 'fast' of 'x' is not computed: no learning rule or monitor reads it"):
        sim.state("x", "fast")
    with pytest.raises(ConfigError, match="no such state variable or trace; choose from spike_counts, spikes, spike_events, fast, slow"):
        net.monitor("x", "trace")
