"""The public API under random bad arguments (issue 8), as properties.

Every call either succeeds or raises a ``pysnn.PySNNError`` whose message names the argument (by
its name, or by the wrong name it was given); a call that fails changes nothing (the description;
a simulation's every state array, its step counter and batch size), and the simulation then runs
exactly as a twin that saw only the calls that succeeded. The simulations are two fixed, tiny
structures (``small_net``, ``learned_net`` of test_hardening.py), so that Numba compiles each
once; only the arguments vary.
"""

import math
import re

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from pysnn import Dense, Learning, Network, OneToOne, PySNNError, Sparse, Trace
from test_hardening import BACKENDS, MASK, learned_net, small_net

BAD = [
    None, "abc", "", 1j, math.nan, math.inf, -math.inf, 1e39, -1e39, 1e-50, True, False, -1, 0, 2.5,
    2**62, 2**63, 2**64, -(2**63), 10**400, np.int64(-5), np.float32("nan"), [[1.0, 2.0], [3.0]], [], (), [None],
    {"a": 1}, object(), np.array([1 + 1j]), np.array(["a", "b"]),
]  # fmt: skip
"""Values wrong for most arguments: types, NaN and inf, floats beyond float32, sizes, nesting."""


def arrays(shape: tuple[int, ...]) -> list:
    """Arrays for an argument of ``shape``: filled with bad (or edge) values, or wrongly shaped."""
    filled = [np.full(shape, v) for v in (np.nan, np.inf, -np.inf, 1e39, -1e39, 1e-50, -5.0, 2.0, 1 + 0j, "1", None)]
    wrong = [np.ones(shape[:-1] + (shape[-1] + 1,)), np.ones((0,) + shape[1:]), np.ones(shape + (2,)), np.ones(shape[::-1] + (3,))]
    return filled + wrong + [np.ones(shape, bool), np.full(shape, 2**63, np.uint64)]


NAMES = ["x", "y", "x->y", "y->x", "output", "refrac_count", "V", "w"]
"""Names of the network (valid somewhere) and near misses."""


def keywords_found(message: str, keywords: tuple[str, ...], bad) -> bool:
    """Whether ``message`` names the argument: one of its ``keywords``, or the name it was given."""
    named = isinstance(bad, str) and bad.strip() and re.search(rf"(?<!\w){re.escape(bad)}(?!\w)", message)
    return any(k in message for k in keywords) or bool(named)


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=str(key), strict=True)


def snapshot(sim) -> dict:
    state = {key: sim._engine.read(key) for key in sim._engine.keys()}
    return state | {"step": np.asarray(sim.step), "batch": np.asarray(sim.batch_size)}


# -- simulations ---------------------------------------------------------------------------------

STRUCTURES = {"dense": small_net, "learned sparse": learned_net}


def run_args(structure: str) -> dict:
    rates = np.full((2, 4), 150.0)
    return {"steps": 3, "inputs": {"x": rates}, "reward": np.ones(2) if structure == "learned sparse" else None}


def operations(structure: str) -> dict:
    """Operation -> (valid arguments, argument -> (keywords its errors name, its bad values))."""
    n_weights = (4, 3) if structure == "dense" else (int(MASK.sum()),)
    run = run_args(structure)
    return {
        "run": (
            run | {"sample_ids": None, "learning": True, "deferred": False},
            {
                "steps": (("steps",), [np.uint64(2**64 - 1), 2**63 - 1]),
                "inputs": (("inputs",), [{"y": run["inputs"]["x"]}, {"x": run["inputs"]["x"], "z": 1}]),
                "x": (("inputs",), arrays((2, 4)) + [np.ones((4, 2, 4)), np.ones((3, 3, 4))]),
                "sample_ids": (("sample_ids",), [[5, 6], [0, -1], [0.0, 1.0], [[0, 1]], [1, 2, 3], np.array([2**64 - 1, 0], np.uint64)]),
                "learning": (("learning",), [np.bool_(True), 1]),
                "reward": (("reward",), arrays((2,)) + [np.ones((2, 2))]),
                "deferred": (("deferred",), ["yes", 0]),
            },
        ),
        "reset": ({"batch_size": 2}, {"batch_size": (("batch_size",), [np.int64(0), 2.0])}),
        "state": ({"owner": "y", "variable": "v"}, {"owner": (("owner",), NAMES), "variable": (("variable",), NAMES)}),
        "set_state": (
            {"owner": "y", "variable": "v", "value": -60.0},
            {"owner": (("owner",), NAMES), "variable": (("variable",), NAMES), "value": (("value",), arrays((2, 3)))},
        ),
        "weights": ({"projection": "x->y"}, {"projection": (("projection",), NAMES)}),
        "set_weights": (
            {"projection": "x->y", "weights": np.full(n_weights, 4.0)},
            {"projection": (("projection",), NAMES), "weights": (("weights",), arrays(n_weights))},
        ),
        "normalize_weights": (
            {"projection": "x->y", "total": 20.0},
            {"projection": (("projection",), NAMES), "total": (("total",), [np.float32(3e38), np.float64(1e300)])},
        ),
        "result": (
            {"population": "y", "what": "spikes"},
            {"population": (("monitored",), NAMES), "what": (("monitored",), NAMES)},
        ),
    }


def call(target, op: str, args: dict):
    """Apply ``op`` with ``args`` to ``target``: a simulation, or for ``result`` a run's result."""
    if op == "run" and "x" in args:
        args = {k: v for k, v in args.items() if k != "x"} | {"inputs": {"x": args["x"]}}
    if op == "result":
        return target.state(args["population"], args["what"])
    return getattr(target, op)(**args)


@st.composite
def sim_calls(draw, structure: str):
    """(operation, its arguments with one of them replaced by a bad value, that argument, keywords)."""
    op, (valid, bad_values) = draw(st.sampled_from(sorted(operations(structure).items())))
    arg = draw(st.sampled_from(sorted(bad_values)))
    keywords, specific = bad_values[arg]
    bad = draw(st.sampled_from(BAD + specific))
    if op == "reset" and bad is None:  # None is reset's default: a valid call, tested elsewhere
        bad = 0
    args = {k: v for k, v in valid.items() if k != arg} | {arg: bad}
    return op, args, arg, keywords


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("structure", sorted(STRUCTURES))
@given(data=st.data())
def test_bad_calls_change_nothing(structure, backend, data):
    sim, twin = (STRUCTURES[structure]().compile(backend=backend) for _ in range(2))
    for s in (sim, twin):
        s.run(**run_args(structure))
    for op, args, arg, keywords in data.draw(st.lists(sim_calls(structure), min_size=1, max_size=4)):
        targets = (sim, twin)
        if op == "result":  # a valid run on both, then a bad look-up in its recordings
            targets = tuple(s.run(**run_args(structure)) for s in (sim, twin))
        before = snapshot(sim)
        try:
            out = call(targets[0], op, args)
        except PySNNError as exc:
            event(f"{op}({arg}=...) refused")
            assert keywords_found(str(exc), keywords, args[arg]), f"{op}({arg}={args[arg]!r}): {exc}"
            assert_same(before, snapshot(sim))
            continue
        event(f"{op}({arg}=...) accepted")
        twin_out = call(targets[1], op, args)  # a call that succeeded does the same on the twin
        if isinstance(out, np.ndarray):
            np.testing.assert_array_equal(out, twin_out, strict=True)
        assert_same(snapshot(sim), snapshot(twin))
    out, twin_out = (s.run(**run_args(structure)) for s in (sim, twin))
    assert_same(dict(out.items()), dict(twin_out.items()))
    assert_same(snapshot(sim), snapshot(twin))


# -- descriptions --------------------------------------------------------------------------------

CONNECTIVITY = [
    Dense(np.ones((3, 4))), Dense(np.full((4, 3), 1e39)), OneToOne(np.ones(4)),
    Sparse([0, 1], [0], [1.0], 3), Sparse.from_dense(np.full((4, 3), 2.0)), np.ones((4, 3)),
]  # fmt: skip
LEARNING = [Learning("mstdp", {"nu": 1e39}), Learning("mstdp", wmin=0.0, wmax=0.5), Learning("postpre"), Learning(5), Learning("hebbian", reduction=[1])]

BUILD = {
    "Network": ({"dt": 1.0}, {"dt": (("dt",), [1e-320])}),
    "add_population": (
        {"n": 3, "model": "lif", "params": {"thresh": -50.0}, "init": {"v": -60.0}, "trace": Trace(), "reductions": None},
        {
            "n": (("n must", "population sizes"), [np.int64(0), 3.0]),
            "model": (("model", "neuron plugin"), ["lifx", "poisson", Trace]),
            "params": (("params", "parameter"), [{"thresh": v} for v in arrays((3,))] + [{"tau": 1.0}, {"tc_decay": -1.0}, {"tc_decay": 1e-50}]),
            "init": (("init", "state variable"), [{"v": v} for v in arrays((3,))] + [{"thresh": 1.0}]),
            "trace": (("trace",), [Trace(1e-50), {"x": Trace()}]),
            "reductions": (("reductions",), [{"theta": "sum"}, {"v": "max"}, {"v": 5}]),
        },
    ),
    "add_input": (
        {"n": 4, "encoder": "bernoulli", "params": None, "trace": None},
        {
            "n": (("n must", "population sizes"), [np.int64(0)]),
            "encoder": (("encoder",), ["lif", "gauss"]),
            "params": (("params", "parameter"), [{"p": 1.0}]),
            "trace": (("trace",), [Trace(1e-50)]),
        },
    ),
    "connect": (
        {"connectivity": Dense(np.ones((4, 3))), "synapse": "exponential", "params": {"tau": 5.0}, "learning": None, "port": None},
        {
            "source": (("source",), NAMES),
            "target": (("target",), NAMES),
            "connectivity": (("connectivity", "weights", "OneToOne", "Dense", "Sparse"), CONNECTIVITY),
            "synapse": (("synapse",), ["lif", "alpha"]),
            "params": (("params", "parameter"), [{"tau": v} for v in arrays((3,))] + [{"tau": 0.0}, {"tau": 1e-50}]),
            "learning": (("learning", "Learning", "rule", "reduction", "nu", "wmin"), LEARNING),
            "port": (("port",), ["exc", "i_in"]),
        },
    ),
    "monitor": ({"population": "y", "what": "v", "every": 2}, {"population": (("population",), NAMES), "what": (("what",), NAMES), "every": (("every",), [np.int64(0)])}),
    "Dense": ({"weights": np.ones((4, 3))}, {"weights": (("Dense weights",), arrays((4, 3)))}),
    "Sparse": (
        {"indptr": [0, 1, 2, 2, 3], "indices": [0, 1, 2], "weights": [1.0, 2.0, 3.0], "n_target": 3},
        {
            "indptr": (("indptr",), [[0, 2, 1, 2, 3], [1, 1, 2, 2, 3], [0, 1, 2, 2, 4], np.array([0, 1, 2, 2, 3], np.uint64), [0.0, 1.0, 2.0, 2.0, 3.0]]),
            "indices": (("indices",), [[0, 0, 3], [0, -1, 2], [0.0, 1.0, 2.0], [0, 1]]),
            "weights": (("weights",), arrays((3,))),
            "n_target": (("n_target",), [2, np.int64(0)]),
        },
    ),
    "from_dense": (
        {"matrix": np.ones((4, 3)), "mask": None},
        {"matrix": (("matrix",), arrays((4, 3))), "mask": (("mask",), arrays((4, 3)))},
    ),
    "OneToOne": ({"weights": np.ones(3)}, {"weights": (("OneToOne weights",), arrays((3,)))}),
    "Trace": ({"tau": 20.0, "additive": False}, {"tau": (("tau",), [1e-320]), "additive": (("additive",), [1, np.bool_(True)])}),
    "Learning": (
        {"rule": "mstdp", "params": {"nu": 0.1}, "reduction": "sum", "wmin": -10.0, "wmax": 10.0, "weight_decay": 0.0},
        {
            "rule": (("rule", "learning_rule"), ["postpre", "stdp"]),
            "params": (("params", "parameter"), [{"nu": v} for v in arrays((3,))] + [{"tau": 1.0}]),
            "reduction": (("reduction",), ["mode", "mstdp"]),
            "wmin": (("wmin",), [5.0, 11.0]),
            "wmax": (("wmax",), [1.0, -11.0]),
            "weight_decay": (("weight_decay",), [1.0, 1 - 1e-9]),
        },
    ),
    "compile": (
        {"backend": "numpy", "dtype": "float32", "batch_size": 2, "seed": 1},
        {
            "backend": (("backend",), ["numba-cpu", "numpy ", "cuda-magic"]),
            "dtype": (("dtype",), ["float16", "int32", np.float32, "f8"]),
            "batch_size": (("batch_size",), [np.int64(0)]),
            "seed": (("seed",), [2**64 - 1, np.uint64(7)]),
        },
    ),
}
"""Call -> (valid arguments, argument -> (keywords its errors name, its bad values))."""


def build(net: Network, name: str, args: dict, k: int):
    """Make the call ``name`` with ``args`` on (or beside) ``net``; new names end in ``k``."""
    match name:
        case "Network":
            return Network(**args)
        case "add_population" | "add_input":
            return getattr(net, name)(f"z{k}", **args)
        case "connect":
            return net.connect(**({"source": "x", "target": "y"} | args), name=f"b{k}")
        case "monitor":
            return net.monitor(args["population"], args["what"], every=args["every"])
        case "Dense" | "OneToOne" | "Sparse" | "Trace":
            return {"Dense": Dense, "OneToOne": OneToOne, "Sparse": Sparse, "Trace": Trace}[name](**args)
        case "from_dense":
            return Sparse.from_dense(**args)
        case "Learning":  # rule and reduction are checked where the Learning is used
            return net.connect("x", "y", Dense(np.ones((4, 3))), learning=Learning(**args), name=f"b{k}")
        case "compile":
            return net.compile(**args)


def description(net: Network) -> tuple:
    return net.dt, dict(net.populations), dict(net.projections), list(net.monitors)


@given(data=st.data())
def test_bad_descriptions_change_nothing_and_compile_or_fail_by_name(data):
    for k in range(data.draw(st.integers(1, 3))):
        net = learned_net()
        name, (valid, bad_values) = data.draw(st.sampled_from(sorted(BUILD.items())))
        arg = data.draw(st.sampled_from(sorted(bad_values)))
        keywords, specific = bad_values[arg]
        bad = data.draw(st.sampled_from(BAD + specific))
        args = {key: value for key, value in valid.items() if key != arg} | {arg: bad}
        before = description(net)
        try:
            build(net, name, args, k)
        except PySNNError as exc:
            event(f"{name}({arg}=...) refused")
            assert keywords_found(str(exc), keywords, bad), f"{name}({arg}={bad!r}): {exc}"
            assert description(net) == before
            continue
        event(f"{name}({arg}=...) accepted")
        if name in ("add_population", "add_input", "connect", "Learning"):
            # accepted as float64; compile checks it again in its dtype and must name it if it fails
            try:
                net.compile(backend="numpy")
            except PySNNError as exc:
                assert keywords_found(str(exc), keywords, bad), f"{name}({arg}={bad!r}), then compile: {exc}"
