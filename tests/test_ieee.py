"""Division by zero in a kernel follows IEEE on every backend: inf or NaN (integers: 0, as in
NumPy), bit for bit the same, never an error."""

import warnings

import numpy as np
import pytest

from pysnn import Network, NeuronModel, per_sample
from pysnn import kernel_math as km

NUMERATORS = [1.0, -1.0, 0.0, -0.0, 2.5, 0.0, -7.0, 7.0, 7.5]
DENOMINATORS = [0.0, 0.0, 0.0, 0.0, -0.0, -0.0, 3.0, -3.0, 2.0]
OUTPUTS = ("quotient", "floored", "remainder", "integer")


@pytest.fixture(autouse=True, scope="module")
def _isolated_cache(tmp_path_factory):
    """Kernels compiled here go to a new cache (Numba's cache key does not hold the error model)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSNN_CACHE_DIR", str(tmp_path_factory.mktemp("pysnn-cache")))
        yield


class Divides(NeuronModel):
    """Divides its parameters, in every way the kernel language allows, and integers by zero."""

    params = {"num": 1.0, "den": 0.0}
    state = {name: per_sample() for name in OUTPUTS}

    @staticmethod
    def update(quotient, floored, remainder, integer, i_in, rng, num, den):
        zero = rng - rng  # an unsigned integer 0 known only at run time
        integer = km.cast_like(rng // zero + rng % zero, num)
        return num / den, num // den, num % den, integer, i_in > 0.0


class DividesLiterals(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        return v + 1.0 / 0.0 - 0.0 / 0.0, v > 0.0


def run_divides(backend: str, dtype: str) -> dict[str, np.ndarray]:
    net = Network()
    params = {"num": np.array(NUMERATORS), "den": np.array(DENOMINATORS)}
    net.add_population("d", len(NUMERATORS), model=Divides, params=params)
    for name in OUTPUTS:
        net.monitor("d", name)
    sim = net.compile(backend=backend, dtype=dtype, batch_size=1, check_finite=False)  # inf and NaN in the state: the point
    result = sim.run(2)
    return {name: result.state("d", name) for name in OUTPUTS}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_division_by_zero_is_ieee_and_identical_on_every_backend(dtype):
    reference = run_divides("numpy", dtype)
    compiled = run_divides("numba-cpu", dtype)  # raised ZeroDivisionError under Numba's Python error model
    bits = np.uint32 if dtype == "float32" else np.uint64
    for name in OUTPUTS:
        assert reference[name].dtype == compiled[name].dtype == np.dtype(dtype)
        assert np.array_equal(reference[name], compiled[name], equal_nan=True), name
        assert np.array_equal(reference[name].view(bits), compiled[name].view(bits)), name
    num, den = np.array(NUMERATORS, dtype), np.array(DENOMINATORS, dtype)
    with np.errstate(all="ignore"):
        expected = {"quotient": num / den, "floored": num // den, "remainder": num % den}
    for name, values in expected.items():
        assert np.array_equal(reference[name][-1, 0].view(bits), values.view(bits)), name
    quotient = reference["quotient"][-1, 0]
    assert list(quotient[:2]) == [np.inf, -np.inf] and np.isnan(quotient[2:4]).all()
    assert np.isnan(reference["remainder"][-1, 0, :6]).all()
    assert not reference["integer"].any()  # integer // 0 and % 0 are 0, as in NumPy


def test_the_numpy_kernel_check_gives_no_floating_point_warnings():
    # the check runs kernels on empty arrays; arithmetic on literals alone still computes a value
    net = Network()
    net.add_population("d", 1, model=DividesLiterals)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.compile(backend="numpy")
