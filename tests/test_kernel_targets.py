"""Kernels bound for a target (``kernel_source.bind_kernel(func, dtype, target)``).

The ``"cuda"`` binding writes ``+ - * /`` as calls of ``pysnn.kernel_rounding``'s explicitly rounded
operations (which NVVM cannot fuse into multiply-adds); called from Python these are the IEEE
operations themselves, so under NumPy it must compute the ``"cpu"`` binding's bits. The ``"cpu"``
binding is what it was before targets existed: its source is content-hashed for Numba's cache.
"""

import ast
import sys
from pathlib import Path

import numpy as np
import pytest

from pysnn import __version__, builtin_kernels, registry
from pysnn import kernel_math as km
from pysnn.errors import ConfigError
from pysnn.kernel_source import LINES, LITERAL, ROUNDED, bind_kernel, bound_source, cache_dir, runtime_digest
from pysnn.plugin import Kernel

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
N = 64
ROUNDED_OPS = tuple(ROUNDED)


@pytest.fixture(autouse=True, scope="module")
def _isolated_cache(tmp_path_factory):
    """Generated sources of this module go to a temporary folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSNN_CACHE_DIR", str(tmp_path_factory.mktemp("pysnn-cache")))
        yield


def leak(v, i_in, dt):
    v += dt * (i_in - v) / 2.0
    return v**2


def mixed(x, y):
    acc = x + 1.0  # not `acc = x`: under NumPy the cpu binding's `acc -= ...` would then update x in place
    for _ in range(3 - 1):
        acc -= y / 4.0
    return km.where(x > y * 2.0, km.exp(x - y), acc**2.5), x % y


def plugin_kernels() -> list[Kernel]:
    """Every kernel of every installed plugin (as tests/scripts/cuda_kernels.py runs them)."""
    kinds = ("neuron", "synapse", "encoder", "reduction", "learning_rule")
    return [kernel for kind in kinds for name in registry.names(kind) for kernel in registry.load(kind, name).kernels.values()]


def sample_args(kernel: Kernel, dtype: np.dtype, rng: np.random.Generator) -> list[np.ndarray]:
    args = []
    for kind in kernel.arg_types:
        if kind == "uint64":
            args.append(rng.integers(0, 2**63, N, dtype=np.uint64))
        elif kind == "bool":
            args.append(rng.random(N) < 0.5)
        else:
            args.append(rng.uniform(-70, 40, N).astype(dtype))
    return args


def bits(value) -> np.ndarray:
    """``value`` as comparable bits: floats viewed as unsigned integers of their width."""
    value = np.asarray(value)
    return value.view(f"u{value.itemsize}") if value.dtype.kind == "f" else value


def function_def(source: str) -> ast.FunctionDef:
    (tree,) = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)]
    return tree


def bare_arithmetic(tree: ast.AST) -> list[str]:
    """``+ - * /`` operations and augmented assignments left as operators."""
    return [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, (ast.BinOp, ast.AugAssign)) and isinstance(n.op, ROUNDED_OPS)
    ]


# --- every plugin kernel ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_cuda_bound_plugin_kernels_compute_the_cpu_bound_bits(dtype):
    rng = np.random.default_rng(0)
    kernels = plugin_kernels()
    assert len(kernels) >= 20
    for kernel in kernels:
        args = sample_args(kernel, dtype, rng)
        with np.errstate(all="ignore"):  # copies: an augmented assignment may update an argument in place
            expected = bind_kernel(kernel.function, dtype)(*map(np.copy, args))
            got = bind_kernel(kernel.function, dtype, "cuda")(*map(np.copy, args))
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) == len(expected) == len(kernel.outputs), kernel.name
        for name, e, g in zip(kernel.outputs, expected, got):
            assert np.asarray(g).dtype == np.asarray(e).dtype, (kernel.function.__qualname__, name)
            assert np.array_equal(bits(g), bits(e)), (kernel.function.__qualname__, name)


def test_cuda_bound_builtin_kernels_compute_the_cpu_bound_bits():
    rng = np.random.default_rng(1)
    for dtype in DTYPES:
        x, decay, wmin, wmax = (rng.uniform(-2, 2, N).astype(dtype) for _ in range(4))
        spiked = rng.random(N) < 0.5
        args = {"trace": (x, spiked, decay), "additive_trace": (x, spiked, decay)}
        args |= {"decayed_weight": (x, decay), "clipped_weight": (x, wmin, wmax)}
        for name, func in builtin_kernels.KERNELS.items():
            expected = bind_kernel(func, dtype)(*args[name])
            assert np.array_equal(bits(bind_kernel(func, dtype, "cuda")(*args[name])), bits(expected)), name


def test_cuda_source_of_every_kernel_has_no_bare_arithmetic():
    kernels = [k.function for k in plugin_kernels()] + list(builtin_kernels.KERNELS.values())
    rounded = 0
    for func in kernels:
        cpu, cuda = (function_def(bound_source(func, DTYPES[0], target)) for target in ("cpu", "cuda"))
        assert bare_arithmetic(cuda) == [], func.__qualname__
        rounded += len(bare_arithmetic(cpu))
        assert ast.unparse(cuda).count("__pysnn_") >= ast.unparse(cpu).count("__pysnn_"), func.__qualname__
    assert rounded > 100  # the plugins do compute


# --- the rewrite --------------------------------------------------------------------------------------------------


def test_cuda_source_rounds_operators_and_augmented_assignments():
    body = ast.unparse(function_def(bound_source(leak, DTYPES[0], "cuda")))
    assert f"v = __pysnn_add__(v, __pysnn_div__(__pysnn_mul__(dt, __pysnn_sub__(i_in, v)), {LITERAL}(2.0)))" in body
    assert "return __pysnn_mul__(v, v)" in body  # v**2 unrolled, then rounded


def test_cuda_source_leaves_comparisons_calls_modulo_and_range_alone():
    body = ast.unparse(function_def(bound_source(mixed, DTYPES[0], "cuda")))
    assert "for _ in range(3 - 1):" in body
    assert f"acc = __pysnn_sub__(acc, __pysnn_div__(y, {LITERAL}(4.0)))" in body
    assert f"km.where(x > __pysnn_mul__(y, {LITERAL}(2.0)), km.exp(__pysnn_sub__(x, y))" in body
    assert f"__pysnn_power__(acc, {LITERAL}(2.5))" in body
    assert body.rstrip().endswith("x % y)")
    assert bare_arithmetic(function_def(bound_source(mixed, DTYPES[0], "cuda"))) == ["3 - 1"]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_cuda_bound_small_kernels_compute_the_cpu_bound_bits(dtype):
    rng = np.random.default_rng(2)
    x, y = (rng.uniform(0.1, 3.0, N).astype(dtype) for _ in range(2))
    for func, args in ((leak, (x, y, dtype.type(0.1))), (mixed, (x, y))):
        # copies: under NumPy, `v += ...` of the cpu binding updates the argument in place
        expected, got = (bind_kernel(func, dtype, target)(*map(np.copy, args)) for target in ("cpu", "cuda"))
        expected, got = np.atleast_2d(expected), np.atleast_2d(got)
        assert all(np.array_equal(bits(g), bits(e)) for e, g in zip(expected, got)), func.__name__


def test_cuda_bound_kernel_maps_lines_to_the_same_original_lines():
    cpu, cuda = (bind_kernel(mixed, DTYPES[0], target) for target in ("cpu", "cuda"))
    assert sorted(cuda.__globals__[LINES].values()) == sorted(cpu.__globals__[LINES].values())


# --- the cpu binding, the memo and the file ----------------------------------------------------------------------


def test_cpu_source_is_the_bound_kernel():
    """Byte for byte the file a cpu-bound kernel is loaded from: literals of the dtype, a power as
    a product, an augmented assignment as a plain one; no rounded operations."""
    golden = (
        f"# Generated by pysnn {__version__} (runtime {runtime_digest()}) from {leak.__module__}.leak for float32.\n"
        "import numpy\n"
        "from pysnn.kernel_math import power as __pysnn_power__\n"
        "__pysnn_literal__ = numpy.float32\n"
        "\n"
        "\n"
        "def leak(v, i_in, dt):\n"
        "    v = v + dt * (i_in - v) / __pysnn_literal__(2.0)\n"
        "    return v * v\n"
        "\n"
        "\n"
        "__pysnn_lines__ = {7: 1, 8: 2, 9: 3}\n"
    )
    assert bound_source(leak, DTYPES[0]) == golden
    assert bound_source(leak, DTYPES[0], "cpu") == golden


def test_target_is_part_of_the_memo_key_the_file_name_and_its_content():
    cpu = bind_kernel(leak, np.float32)
    assert bind_kernel(leak, "float32", "cpu") is cpu
    cuda = bind_kernel(leak, np.float32, "cuda")
    assert bind_kernel(leak, "float32", "cuda") is cuda and cuda is not cpu
    cpu_path, cuda_path = (Path(sys.modules[f.__module__].__file__) for f in (cpu, cuda))
    assert cpu_path.parent == cuda_path.parent == cache_dir() / "kernels"
    assert cpu_path.name.startswith("pysnn_kernel_leak_") and cuda_path.name.startswith("pysnn_kernel_cuda_leak_")
    source = cuda_path.read_text()
    assert source == bound_source(leak, DTYPES[0], "cuda")
    assert source.startswith(f"# Generated by pysnn {__version__} (runtime {runtime_digest()}) from {leak.__module__}.leak for float32, target cuda.\n")
    assert "from pysnn.kernel_rounding import mul as __pysnn_mul__" in source.splitlines()


def test_unknown_target_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"kernel target must be one of 'cpu', 'cuda', got 'gpu'"):
        bind_kernel(leak, np.float32, "gpu")
    with pytest.raises(ConfigError, match="got 'CUDA'"):
        bound_source(leak, DTYPES[0], "CUDA")
