"""The pieces of the Numba code generator: the scoped emitter, the typed references to run
arguments, the reduction decisions of ``pysnn.lowering``, showing the generated code, and that the
generated source depends on the structure only."""

from pathlib import Path

import numpy as np
import pytest
from pysnn_numba.backend import NumbaCPUBackend
from pysnn_numba.codegen import generate
from pysnn_numba.emitter import Code

from pysnn import Dense, Learning, Network, Sparse, Trace
from pysnn.backend import RunArgs
from pysnn.lowering import (
    Connectivity,
    FirstStep,
    InputData,
    LearningConstant,
    NeuronModelOf,
    PluginValue,
    Record,
    Reward,
    RuleOf,
    SampleIds,
    StateRef,
    StepCount,
    Stream,
    TimeStep,
    TraceDecay,
    finishes,
    fold_mode,
    resolve,
)
from pysnn.plan import build_plan
from pysnn.state_keys import NeuronKey, WeightsKey
from test_learning import RootMeanSquare




def stdp_network(n_out=4, weights=None, thresh=-52.0, reduction="sum", sparse=False) -> Network:
    weights = np.full((3, n_out), 0.5) if weights is None else weights
    net = Network()
    net.add_input("x", 3, encoder="spikes", trace=Trace(20.0))
    net.add_population("y", n_out, model="lif", params={"thresh": thresh}, trace=Trace(20.0))
    connectivity = Sparse.from_dense(weights, weights != 0) if sparse else Dense(weights)
    net.connect("x", "y", connectivity, learning=Learning("postpre", {"nu_pre": 0.1}, reduction, wmax=2.0))
    net.monitor("y", "spike_counts", "v")
    return net


def test_emitter_indents_inside_blocks_and_dedents_after_them():
    code = Code()
    code.line("a = 0")
    with code.block("for i in range(n):"):
        code.line("b = i", "c = b")
        with code.block("if b:"):
            code.line("a += b")
        code.line("d = a")
    code.line("e = a", "f = e")
    assert code.lines == [
        "a = 0",
        "for i in range(n):",
        "    b = i",
        "    c = b",
        "    if b:",
        "        a += b",
        "    d = a",
        "e = a",
        "f = e",
    ]


def test_emitter_starts_at_a_depth_and_restores_it_after_an_exception():
    code = Code(depth=1)
    with pytest.raises(KeyError):
        with code.block("while True:"):
            raise KeyError
    code.line("x = 1")
    assert code.lines == ["    while True:", "    x = 1"]


def test_typed_references_resolve_to_the_run_values():
    thresh = np.linspace(-55.0, -50.0, 4)
    weights = np.array([[0.5, 0.0, 1.0, 0.2], [0.0, 0.3, 0.0, 0.0], [0.7, 0.0, 0.0, 0.4]])
    plan = build_plan(stdp_network(weights=weights, thresh=thresh, sparse=True), "float32", 3)
    state = {WeightsKey("x->y"): np.ones(5, np.float32), NeuronKey("y", "v"): np.zeros((2, 4), np.float32)}
    buffers = {monitor: np.zeros((7, 2, 4), np.float32) for monitor in plan.monitors}
    inputs = {"x": np.zeros((7, 2, 3), bool)}
    args = RunArgs(7, 11, np.array([5, 9], np.uint64), True, inputs, buffers, np.ones(2, np.float32), True)

    def value(ref):
        return resolve(ref, plan, state, args)

    assert value(StepCount()) == 7 and type(value(StepCount())) is np.int64
    assert value(FirstStep()) == 11 and type(value(FirstStep())) is np.int64
    assert value(SampleIds()) is args.sample_ids
    assert value(TimeStep()) == np.float32(plan.dt) and type(value(TimeStep())) is np.float32
    assert value(Reward()) is args.reward
    assert value(StateRef(WeightsKey("x->y"))) is state[WeightsKey("x->y")]
    np.testing.assert_array_equal(value(PluginValue(NeuronModelOf(1), "thresh")), thresh.astype(np.float32))
    assert type(value(PluginValue(NeuronModelOf(1), "rest"))) is np.float32  # 0-d: a scalar
    assert value(PluginValue(RuleOf(0), "nu_pre")) == np.float32(0.1)
    assert value(LearningConstant(0, "wmax")) == np.float32(2.0)
    assert value(TraceDecay(0, "x")) == plan.populations[0].traces[0].decay
    assert value(Connectivity(0, "indptr")) is plan.projections[0].arrays["indptr"]
    assert value(InputData("x")) is inputs["x"]
    assert value(Stream(1)) == plan.populations[1].stream
    assert value(Record(1)) is buffers[plan.monitors[1]]
    with pytest.raises(TypeError, match="not a run value"):
        value(("state", WeightsKey("x->y")))


def test_every_argument_of_a_generated_module_is_a_typed_reference():
    plan = build_plan(stdp_network(sparse=True), "float64", 0)
    names = [arg.name for arg in generate(plan, frozenset({"x"}), 0).args]
    assert names[:4] == ["steps", "step0", "sample_ids", "dt"]  # deferred: a module of its own
    assert len(set(names)) == len(names)
    refs = {arg.name: arg.ref for arg in generate(plan, frozenset({"x"}), 0).args}
    assert refs["k0_w"] == StateRef(WeightsKey("x->y"))
    assert refs["k0_indptr"] == Connectivity(0, "indptr")
    assert refs["l0_wmax"] == LearningConstant(0, "wmax")
    assert refs["p0_x"] == InputData("x")


@pytest.mark.parametrize(
    "reduction, mode, finish",
    [
        ("sum", "identity", False),
        ("mean", "identity", True),
        ("max", "idempotent", False),
        ("min", "idempotent", False),
        ("median", "quantile", False),
        (RootMeanSquare, "ordered", True),
    ],
)
def test_how_each_reduction_folds_is_decided_in_lowering(reduction, mode, finish):
    bound = build_plan(stdp_network(reduction=reduction), "float32", 0).projections[0].learning.reduction
    assert fold_mode(bound) == mode
    assert finishes(bound) is finish


def test_show_code_prints_the_path_of_each_generated_module(monkeypatch, capsys):
    backend = NumbaCPUBackend(build_plan(stdp_network(), "float32", 0))
    monkeypatch.delenv("PYSNN_SHOW_CODE", raising=False)
    backend.compiled(frozenset())
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("PYSNN_SHOW_CODE", "1")
    backend.compiled(frozenset({"x"}))
    backend.compiled(frozenset({"x"}))  # memoised: generated once
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("pysnn: generated run module ")
    path = Path(err[0].removeprefix("pysnn: generated run module "))
    assert path.read_text() == backend.source(frozenset({"x"}))
    assert "def run_coupled(" in path.read_text()


@pytest.mark.parametrize("sparse", [False, True])
def test_the_source_depends_on_the_structure_only(sparse):
    rng = np.random.default_rng(0)
    small = stdp_network(10, rng.uniform(0, 1, (3, 10)), thresh=-52.0, sparse=sparse)
    large = stdp_network(20, rng.uniform(0, 2, (3, 20)), thresh=-40.0, sparse=sparse)
    sources = [NumbaCPUBackend(build_plan(net, "float32", seed)).source() for net, seed in ((small, 0), (large, 1))]
    assert sources[0] == sources[1]
    per_neuron = stdp_network(10, thresh=np.linspace(-55, -50, 10), sparse=sparse)
    assert NumbaCPUBackend(build_plan(per_neuron, "float32", 0)).source() != sources[0]
