"""Input ports and synapses that read their target: the conductance models ``lif_cond``,
``exp_conductance`` and ``adex``, hand-computed on the reference backend, bit-identical on
numba-cpu, and their configuration errors."""

import numpy as np
import pytest

import pysnn
from pysnn import ConfigError, Dense, NeuronModel, OneToOne, PluginError, Sparse, SynapseModel, per_sample
from pysnn import registry


def one_step_network(model: str, synapse: str = "delta", port_weights=None, params=None):
    """Two always-spiking inputs into one neuron of ``model``: one projection per port."""
    net = pysnn.Network(dt=0.1)
    net.add_input("x", 1, encoder="spikes")
    net.add_population("y", 1, model=model)
    for port, weight in (port_weights or {None: 1.0}).items():
        net.connect("x", "y", OneToOne(np.array([weight])), synapse, params, name=f"to_{port}", port=port)
    return net


def test_lif_cond_adds_each_port_to_its_conductance_then_takes_an_euler_step():
    sim = one_step_network("lif_cond", port_weights={"exc": 0.6, "inh": 6.7}).compile(backend="numpy", dtype="float64")
    spikes = np.ones((2, 1, 1), bool)
    sim.run(inputs={"x": spikes})  # step 1: the inputs spike; step 2: their spikes arrive
    v, ge, gi = -60.0, 0.6, 6.7
    dt = 0.1
    expected_v = v + dt * ((-60.0 - v + ge * (0.0 - v) + gi * (-80.0 - v)) / 20.0)
    assert sim.state("y", "ge")[0, 0] == ge - dt * ge / 5.0
    assert sim.state("y", "gi")[0, 0] == gi - dt * gi / 10.0
    assert sim.state("y", "v")[0, 0] == expected_v


def test_ports_sum_their_own_projections_only():
    net = pysnn.Network(dt=0.1)
    net.add_input("x", 2, encoder="spikes")
    net.add_population("y", 1, model="lif_cond")
    net.connect("x", "y", Dense(np.array([[0.25], [0.5]])), port="exc", name="a")
    net.connect("x", "y", Dense(np.array([[1.0], [0.0]])), port="exc", name="b")
    net.connect("x", "y", Dense(np.array([[0.0], [3.0]])), port="inh", name="c")
    sim = net.compile(backend="numpy", dtype="float64")
    sim.run(inputs={"x": np.ones((2, 1, 2), bool)})
    ge, gi = 0.25 + 0.5 + 1.0, 3.0
    assert sim.state("y", "ge")[0, 0] == ge - 0.1 * ge / 5.0
    assert sim.state("y", "gi")[0, 0] == gi - 0.1 * gi / 10.0


def test_lif_cond_clamps_v_while_refractory_and_spikes_above_threshold():
    net = one_step_network("lif_cond", port_weights={"exc": 50.0, "inh": 0.0})
    net.monitor("y", "spikes", "v")
    out = net.compile(backend="numpy", dtype="float64").run(inputs={"x": np.ones((120, 1, 1), bool)})
    spikes, v = out.spikes("y")[:, 0, 0], out.state("y", "v")[:, 0, 0]
    times = np.flatnonzero(spikes)
    assert len(times) >= 2
    # 5 ms refractory at dt = 0.1 ms, the spike's step included, whatever the drive
    assert times[1] - times[0] == 50
    assert (v[times[0] : times[0] + 50] == -60.0).all()


def test_exp_conductance_current_uses_the_target_potential_at_the_start_of_the_step():
    net = pysnn.Network(dt=1.0)
    net.add_input("x", 1, encoder="spikes")
    net.add_population("y", 1, model="lif", params={"thresh": 100.0})
    net.connect("x", "y", OneToOne(np.array([0.5])), synapse="exp_conductance", params={"tau": 2.0, "e_rev": -80.0})
    sim = net.compile(backend="numpy", dtype="float64")
    sim.reset(batch_size=2)
    sim.set_state("y", "v", np.array([[-65.0], [-50.0]]))
    sim.set_state("x->y", "g", np.array([[1.0], [2.0]]))
    sim.run(inputs={"x": np.zeros((1, 2, 1), bool)})
    decay = np.exp(-1.0 / 2.0)
    g = np.array([1.0, 2.0]) * decay
    current = g * (-80.0 - np.array([-65.0, -50.0]))
    lif_decay = np.exp(-1.0 / 100.0)
    v0 = np.array([-65.0, -50.0])
    expected = lif_decay * (v0 + 65.0) - 65.0 + current
    np.testing.assert_array_equal(sim.state("x->y", "g")[:, 0], g)
    np.testing.assert_allclose(sim.state("y", "v")[:, 0], expected, rtol=1e-15)


def test_adex_adapts_under_constant_current():
    """Spike-frequency adaptation: each spike raises w by b, so interspike intervals grow."""
    net = pysnn.Network(dt=0.1)
    net.add_input("x", 1, encoder="current")
    net.add_population("y", 1, model="adex")
    net.connect("x", "y", Dense(np.ones((1, 1))))
    net.monitor("y", "spikes")
    sim = net.compile(backend="numpy", dtype="float64")
    out = sim.run(5000, {"x": np.full((1, 1), 1000.0)})  # 1 nA for 500 ms
    times = np.flatnonzero(out.spikes("y")[:, 0, 0])
    intervals = np.diff(times)
    assert len(times) >= 5
    assert intervals[-1] > 1.5 * intervals[0]
    assert sim.state("y", "w")[0, 0] > 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conductance_network_is_identical_on_numba_cpu(dtype):
    rng = np.random.default_rng(1)
    net = pysnn.Network(dt=0.1)
    net.add_input("x", 20, encoder="poisson")
    net.add_population("e", 40, model="lif_cond", init={"v": -60 + 5 * rng.standard_normal(40)})
    net.add_population("i", 10, model="lif_cond")
    net.add_population("a", 8, model="adex")
    mask = rng.random((40, 10)) < 0.3
    net.connect("x", "e", Dense(rng.uniform(0, 2, (20, 40))), port="exc")
    net.connect("x", "i", Dense(rng.uniform(0, 2, (20, 10))), port="exc")
    net.connect("e", "i", Sparse.from_dense(np.where(mask, 0.6, 0.0), mask), port="exc")
    net.connect("i", "e", Dense(np.full((10, 40), 6.7)), port="inh")
    net.connect("x", "a", Dense(rng.uniform(0, 5, (20, 8))), synapse="exp_conductance")
    net.connect("i", "a", Dense(rng.uniform(0, 5, (10, 8))), synapse="exp_conductance", params={"e_rev": -80.0, "tau": 10.0})
    net.monitor("e", "spike_counts")
    net.monitor("a", "v", every=7)
    results = []
    for backend in ("numpy", "numba-cpu"):
        sim = net.compile(backend=backend, dtype=dtype)
        out = sim.run(300, {"x": np.full((3, 20), 200.0)})
        results.append([out.spike_counts("e"), out.state("a", "v"), sim.state("e", "gi"), sim.state("x->a", "g")])
    assert results[0][0].sum() > 0
    for reference, compiled in zip(*results):
        assert reference.tobytes() == compiled.tobytes()


class TwoPorts(NeuronModel):
    ports = ("up", "down")
    state = {"v": per_sample()}

    @staticmethod
    def update(v, up, down):
        v = v + up - down
        return v, v > 1


class ReadsTheta(SynapseModel):
    reads_target = ("theta",)

    @staticmethod
    def update(i_in, theta_post):
        return i_in * theta_post


def test_a_model_with_several_ports_needs_port_and_names_them():
    net = pysnn.Network()
    net.add_input("x", 1)
    net.add_population("y", 1, model=TwoPorts)
    with pytest.raises(ConfigError, match=r"several inputs; choose one with port= \('up', 'down'\)"):
        net.connect("x", "y", Dense(np.ones((1, 1))))
    with pytest.raises(ConfigError, match=r"port='sideways' is not an input of .*its inputs: 'up', 'down'"):
        net.connect("x", "y", Dense(np.ones((1, 1))), port="sideways")
    net.add_population("z", 1, model="lif")
    with pytest.raises(ConfigError, match=r"port='exc' is not an input of .*lif.*its inputs: 'i_in'"):
        net.connect("x", "z", Dense(np.ones((1, 1))), port="exc")
    assert net.connect("x", "y", Dense(np.ones((1, 1))), port="down").port == "down"


def test_a_synapse_reading_a_variable_the_target_lacks_is_refused_at_connect():
    net = pysnn.Network()
    net.add_input("x", 1)
    net.add_population("y", 1, model="lif")
    with pytest.raises(ConfigError, match=r"reads the target's state variable\(s\) \['theta'\].*it has: v, refrac_count"):
        net.connect("x", "y", Dense(np.ones((1, 1))), synapse=ReadsTheta)
    net.add_population("z", 1, model="adaptive_lif")
    assert net.connect("x", "z", Dense(np.ones((1, 1))), synapse=ReadsTheta).synapse is ReadsTheta


class NoPorts(NeuronModel):
    ports = ()
    state = {"v": per_sample()}

    @staticmethod
    def update(v):
        return v, v > 1


class PortClash(NeuronModel):
    ports = ("tau",)
    params = {"tau": 1.0}
    state = {"v": per_sample()}

    @staticmethod
    def update(v, tau):
        return v, v > tau


class UndeclaredRead(SynapseModel):
    @staticmethod
    def update(i_in, v_post):
        return i_in * v_post


@pytest.mark.parametrize(
    "cls, kind, message",
    [
        (NoPorts, "neuron", r"ports must be a non-empty tuple of names"),
        (PortClash, "neuron", r"\['tau'\] are reserved argument names of update\(\)"),
        (UndeclaredRead, "synapse", r"argument 'v_post' is not a parameter"),
    ],
)
def test_malformed_ports_and_reads_are_rejected_at_load(cls, kind, message):
    with pytest.raises(PluginError, match=message):
        registry.spec_for(kind, cls)
