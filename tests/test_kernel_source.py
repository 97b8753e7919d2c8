"""pysnn.kernel_source (binding kernels to a dtype) and pysnn.kernel_check (the Numba compile-time check).

Bound kernels must compute in the simulation dtype on every backend: called on float32 NumPy arrays and
compiled by Numba for float32 scalars, they give the same bits.
"""

import ast
import inspect
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

import pysnn
from pysnn import kernel_math as km
from pysnn import kernel_source
from pysnn.errors import PluginError
from pysnn.kernel_check import check_kernel, jitted
from pysnn.kernel_source import LITERAL, POWER, bind_kernel, bound_source, cache_dir
from pysnn.plugin import Kernel
from pysnn import Network, OneToOne, SynapseModel

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
GLOBAL_F64 = np.float64(0.25)


@pytest.fixture(autouse=True, scope="module")
def _isolated_cache(tmp_path_factory):
    """Generated sources and Numba's cache of this module go to a temporary folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSNN_CACHE_DIR", str(tmp_path_factory.mktemp("pysnn-cache")))
        yield


# --- kernels (module level, as plugins define them) ----------------------------------------------------------


class Izhikevich:
    @staticmethod
    def update(v, u, i_in, dt):
        v = v + 0.5 * dt * (0.04 * v**2 + 5 * v + 140 - u + i_in)
        u = u + dt * 0.02 * (0.2 * v - u)
        return v, u


def powers(x, y):
    acc = x**3
    for _ in range(4):
        acc = acc + 2 * x
    return acc + x**2.5 + x**y + x**9 + x**1


def ranges(x):
    acc = x
    for k in range(1, 3):
        acc = acc + k
    return acc * 2


def leaks_float64(x):
    return x + GLOBAL_F64


def adds_a_draw(x, rng):
    return x + km.uniform(rng, 0)


def adds_a_cast_draw(x, rng):
    return x + km.cast_like(km.uniform(rng, 0), x)


def spikes_on_a_draw(x, rng):
    return km.uniform(rng, 0) < x


def does_not_type(x):
    return km.exp(x, x)


def only_for_the_cache_test(x):
    return x * 3.5 - 1


def only_for_the_memo_test(x):
    return x * 1.25 + 2


# --- helpers ----------------------------------------------------------------------------------------------


def function_def(source: str) -> ast.FunctionDef:
    defs = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    assert len(defs) == 1
    return defs[0]


def wrapped_literals(node: ast.AST) -> list:
    return [
        n.args[0].value
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == LITERAL
    ]


def power_calls(node: ast.AST) -> list[str]:
    return [
        ast.unparse(n)
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == POWER
    ]


def izhikevich_inputs(n=2000):
    r = np.random.default_rng(11)
    v = r.uniform(-80.0, 30.0, n).astype(np.float32)
    u = r.uniform(-20.0, 0.0, n).astype(np.float32)
    i_in = r.uniform(0.0, 20.0, n).astype(np.float32)
    return v, u, i_in, np.float32(0.5)


def izhikevich_loop(kernel):
    """A Numba loop calling ``kernel`` per element, like the compiled backends do."""

    @numba.njit
    def loop(v, u, i_in, dt):
        v_out = np.empty_like(v)
        u_out = np.empty_like(u)
        for k in range(v.size):
            v_out[k], u_out[k] = kernel(v[k], u[k], i_in[k], dt)
        return v_out, u_out

    return loop


def returned_types(dispatcher):
    """The types a Numba dispatcher's compiled signatures return (the elements, for tuples)."""
    found = set()
    for sig in dispatcher.nopython_signatures:
        ret = sig.return_type
        found |= {str(t) for t in ret} if isinstance(ret, numba.types.BaseTuple) else {str(ret)}
    return found


# --- bound_source ---------------------------------------------------------------------------------------------


def test_bound_source_wraps_literals_and_unrolls_squares():
    source = bound_source(Izhikevich.update, F32)
    tree = function_def(source)
    assert tree.name == "update"
    assert [a.arg for a in tree.args.args] == ["v", "u", "i_in", "dt"]
    assert tree.decorator_list == []  # @staticmethod is dropped
    assert sorted(wrapped_literals(tree)) == sorted([0.5, 0.04, 5, 140, 0.02, 0.2])
    assert not any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(tree))
    assert "(v * v)" in ast.unparse(tree)
    assert f"{LITERAL} = numpy.float32" in source.splitlines()
    assert f"from pysnn.kernel_math import power as {POWER}" in source.splitlines()
    # binding for float64 differs only in the literal type (and the header comment)
    source64 = bound_source(Izhikevich.update, F64)
    assert f"{LITERAL} = numpy.float64" in source64.splitlines()
    assert ast.unparse(function_def(source64)) == ast.unparse(tree)


def test_bound_source_powers_and_range():
    source = bound_source(powers, F32)
    tree = function_def(source)
    assert tree.name == "powers" and [a.arg for a in tree.args.args] == ["x", "y"]
    body = ast.unparse(tree)
    assert "acc = x * x * x" in body  # x**3 unrolled
    assert "for _ in range(4):" in body  # range() arguments stay Python ints
    assert f"acc = acc + {LITERAL}(2) * x" in body
    assert sorted(power_calls(tree)) == sorted(
        [f"{POWER}(x, {LITERAL}(2.5))", f"{POWER}(x, y)", f"{POWER}(x, {LITERAL}(9))"]  # 9 > 8: not unrolled
    )
    assert body.rstrip().endswith(f"{POWER}(x, {LITERAL}(9)) + x")  # x**1 is just x
    assert not any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(tree))
    assert sorted(wrapped_literals(tree)) == sorted([2, 2.5, 9])


def test_bound_source_leaves_every_range_argument_alone():
    tree = function_def(bound_source(ranges, F32))
    body = ast.unparse(tree)
    assert "range(1, 3)" in body
    assert wrapped_literals(tree) == [2]


def test_bound_source_imports_module_globals():
    lines = bound_source(leaks_float64, F32).splitlines()
    assert "GLOBAL_F64 = numpy.float64(0.25)" in lines  # numbers by value: NumPy scalars keep their dtype
    lines = bound_source(adds_a_draw, F32).splitlines()
    assert "import pysnn.kernel_math as km" in lines


def test_bound_source_computes_what_the_original_means():
    bound = bind_kernel(powers, F64)
    x = np.linspace(0.1, 3.0, 50)
    y = np.linspace(-2.0, 2.0, 50)
    want = x * x * x + 4 * (2 * x) + km.power(x, 2.5) + km.power(x, y) + km.power(x, 9.0) + x
    # the same operations in the same order: acc = x*x*x; four additions of 2*x; then the sum left to right
    acc = x * x * x
    for _ in range(4):
        acc = acc + 2.0 * x
    exact_order = acc + km.power(x, 2.5) + km.power(x, y) + km.power(x, 9.0) + x
    got = bound(x, y)
    assert np.array_equal(got, exact_order)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(got, powers(x, y), rtol=1e-12)  # within rounding of plain NumPy powers


# --- bind_kernel: float32 everywhere, NumPy == Numba ----------------------------------------------------------


def test_bound_float32_kernel_numpy_equals_numba_bit_for_bit():
    bound = bind_kernel(Izhikevich.update, F32)
    v, u, i_in, dt = izhikevich_inputs()
    v_np, u_np = bound(v, u, i_in, dt)
    assert v_np.dtype == u_np.dtype == np.float32
    v_nb, u_nb = izhikevich_loop(jitted(bound))(v, u, i_in, dt)
    assert np.array_equal(v_np.view(np.uint32), v_nb.view(np.uint32))
    assert np.array_equal(u_np.view(np.uint32), u_nb.view(np.uint32))
    assert returned_types(jitted(bound)) == {"float32"}
    # NumPy already computes the unbound source in float32 (Python numbers are weak scalars)
    v_plain, u_plain = Izhikevich.update(v, u, i_in, dt)
    assert np.array_equal(v_plain, v_np) and np.array_equal(u_plain, u_np)


def test_unbound_kernel_under_numba_leaves_float32():
    # without binding, Numba types 0.04 etc. as float64: the result is float64 and differs from NumPy's float32
    v, u, i_in, dt = izhikevich_inputs()
    v_np, _ = Izhikevich.update(v, u, i_in, dt)
    plain = numba.njit(Izhikevich.update)
    plain(v[0], u[0], i_in[0], dt)
    assert returned_types(plain) == {"float64"}
    v_nb = np.array([plain(v[k], u[k], i_in[k], dt)[0] for k in range(v.size)])
    assert (v_nb.astype(np.float32) != v_np).mean() > 0.1


def test_bound_float32_powers_numpy_equals_numba():
    bound = bind_kernel(powers, F32)
    x = np.linspace(0.05, 2.0, 500).astype(np.float32)
    y = np.linspace(-3.0, 3.0, 500).astype(np.float32)
    got_np = bound(x, y)
    assert got_np.dtype == np.float32
    kernel = jitted(bound)

    @numba.njit
    def loop(x, y):
        out = np.empty_like(x)
        for k in range(x.size):
            out[k] = kernel(x[k], y[k])
        return out

    got_nb = loop(x, y)
    assert np.array_equal(got_np.view(np.uint32), got_nb.view(np.uint32))
    assert returned_types(kernel) == {"float32"}


# --- memoisation and the cache folder -----------------------------------------------------------------------------


def test_bind_kernel_is_memoised_and_written_under_cache_dir():
    first = bind_kernel(only_for_the_memo_test, np.float32)
    assert bind_kernel(only_for_the_memo_test, np.float32) is first
    assert bind_kernel(only_for_the_memo_test, F32) is first
    assert bind_kernel(only_for_the_memo_test, "float32") is first
    other = bind_kernel(only_for_the_memo_test, np.float64)
    assert other is not first and other.__module__ != first.__module__
    path = Path(sys.modules[first.__module__].__file__)
    assert path.parent == cache_dir() / "kernels"
    assert path.read_text() == bound_source(only_for_the_memo_test, F32)
    assert first.__name__ == "only_for_the_memo_test"
    assert first(np.array([2.0], np.float32)).dtype == np.float32


def test_bind_kernel_writes_to_pysnn_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PYSNN_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path / pysnn.__version__
    bound = bind_kernel(only_for_the_cache_test, np.float32)
    path = Path(sys.modules[bound.__module__].__file__)
    assert path.parent == tmp_path / pysnn.__version__ / "kernels"
    assert path.name.startswith("pysnn_kernel_only_for_the_cache_test_") and path.suffix == ".py"
    assert path.read_text() == bound_source(only_for_the_cache_test, F32)
    assert np.array_equal(bound(np.array([2.0], np.float32)), np.array([6.0], np.float32))


def test_write_once_keeps_identical_files(tmp_path):
    path = kernel_source.write_once(tmp_path / "sub" / "a.py", "x = 1\n")
    stamp = path.stat().st_mtime_ns
    assert kernel_source.write_once(path, "x = 1\n") == path and path.stat().st_mtime_ns == stamp
    with pytest.warns(kernel_source.CacheWarning, match="replaced the damaged generated source"):
        kernel_source.write_once(path, "x = 2\n")  # content-addressed: other content is damage
    assert path.read_text() == "x = 2\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.py"]  # no temporary files left


def test_function_without_source_raises_plugin_error():
    namespace = {}
    exec(compile("def made_up(x):\n    return x * 2.0\n", "<generated>", "exec"), namespace)
    with pytest.raises(PluginError, match=r"source of made_up\(\) is not available"):
        bound_source(namespace["made_up"], F32)
    with pytest.raises(PluginError, match="not available"):
        bind_kernel(namespace["made_up"], np.float32)


# --- check_kernel ---------------------------------------------------------------------------------------------------


def kernel_of(func, arg_types, output_types):
    args = tuple(inspect.signature(func).parameters)
    outputs = tuple(f"out{k}" for k in range(len(output_types)))
    return Kernel("update", func, args, tuple(arg_types), outputs, tuple(output_types))


def test_check_kernel_accepts_a_float32_kernel():
    args = ("v", "u", "i_in", "dt")
    kernel = Kernel("update", Izhikevich.update, args, ("real",) * 4, ("v", "u"), ("real", "real"))
    for dtype in (F32, F64):
        assert check_kernel(kernel, bind_kernel(Izhikevich.update, dtype), dtype, "test:izh") is None


def test_check_kernel_rejects_a_float64_global_in_float32():
    kernel = kernel_of(leaks_float64, ["real"], ["real"])
    message = r"test:leak: update\(\) returns float64 for 'out0' where float32 is expected"
    with pytest.raises(PluginError, match=message):
        check_kernel(kernel, bind_kernel(leaks_float64, F32), F32, "test:leak")
    # the same kernel is fine in a float64 simulation
    check_kernel(kernel, bind_kernel(leaks_float64, F64), F64, "test:leak")


def test_check_kernel_rejects_uniform_arithmetic_in_float32_unless_cast():
    kernel = kernel_of(adds_a_draw, ["real", "uint64"], ["real"])
    with pytest.raises(PluginError, match=r"returns float64 .* where float32 is expected.*km\.cast_like"):
        check_kernel(kernel, bind_kernel(adds_a_draw, F32), F32, "test:draw")
    cast = kernel_of(adds_a_cast_draw, ["real", "uint64"], ["real"])
    check_kernel(cast, bind_kernel(adds_a_cast_draw, F32), F32, "test:draw")
    spikes = kernel_of(spikes_on_a_draw, ["real", "uint64"], ["bool"])
    check_kernel(spikes, bind_kernel(spikes_on_a_draw, F32), F32, "test:spikes")


def test_check_kernel_reports_a_typing_error():
    kernel = kernel_of(does_not_type, ["real"], ["real"])
    with pytest.raises(PluginError, match=r"test:broken: update\(\) does not compile with Numba for float32"):
        check_kernel(kernel, bind_kernel(does_not_type, F32), F32, "test:broken")


class AliasedAccumulator(SynapseModel):
    """``acc -= ...`` on a name bound to an argument: on NumPy arrays an augmented assignment
    would update the argument's array in place."""

    @staticmethod
    def update(i_in):
        acc = i_in
        acc -= 0.25
        return acc + i_in


def test_augmented_assignments_make_new_values_on_every_backend():
    bound = bind_kernel(AliasedAccumulator.update, F32)
    i_in = np.array([1.0, 2.0], F32)
    np.testing.assert_array_equal(bound(i_in), [1.75, 3.75])
    np.testing.assert_array_equal(i_in, [1.0, 2.0])
    net = Network()
    net.add_input("x", 2, encoder="current")
    net.add_population("y", 2, model="if_subtractive", params={"thresh": 100.0})
    net.connect("x", "y", OneToOne(1.0), synapse=AliasedAccumulator)
    potentials = []
    for backend in ("numpy", "numba-cpu"):
        sim = net.compile(backend=backend)
        sim.run(2, {"x": np.array([[1.0, 2.0]])})  # step 1: no input yet (-0.25); step 2: 2 x - 0.25
        potentials.append(sim.state("y", "v"))
    np.testing.assert_array_equal(potentials[0], [[1.5, 3.5]])
    np.testing.assert_array_equal(potentials[0], potentials[1])
