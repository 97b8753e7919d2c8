"""km.uniform's draw index: an integer in [0, 256). A constant index outside is rejected when the
plugin loads; a computed one gives NaN on every backend, never another element's draw."""

import inspect
import re

import numba
import numpy as np
import pytest

import pysnn.kernel_math_jit  # noqa: F401  (registers the kernel math for Numba)
from pysnn import Encoder, Network, NeuronModel, PluginError, per_sample, registry, rng
from pysnn import kernel_math as km

FAR = 300
NEAR = 255.0

VALID = [0, 1, 17, 255, -0.0, 255.0]
INVALID = [256, -1, 0.5, 255.5, 1e30, -1e30, np.inf, -np.inf, np.nan]


@pytest.fixture(autouse=True, scope="module")
def _isolated_cache(tmp_path_factory):
    """Kernels compiled here go to a new cache (Numba's cache of a kernel does not follow changes
    of the kernel math it calls)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSNN_CACHE_DIR", str(tmp_path_factory.mktemp("pysnn-cache")))
        yield


@numba.njit(error_model="numpy")
def _uniform_loop(keys, indices):
    out = np.empty(keys.size)
    for k in range(keys.size):
        out[k] = km.uniform(keys[k], indices[k])
    return out


def counter_draws(keys: np.ndarray, index: int) -> np.ndarray:
    """The draws of the counter ``key + index * GOLDEN`` (the definition for valid indices)."""
    with np.errstate(over="ignore"):
        bits = rng.mix(keys + np.uint64(index) * rng.GOLDEN)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_numpy_and_numba_draw_the_same_bits_for_any_index(dtype):
    indices = VALID + (INVALID if dtype != np.int64 else [256, -1, 2**40, -(2**40)])
    index_array = np.array(indices, dtype)
    keys = rng.mix(np.arange(1, len(indices) + 1, dtype=np.uint64))
    numpy_draws = km.uniform(keys, index_array)
    compiled = _uniform_loop(keys, index_array)
    assert numpy_draws.dtype == compiled.dtype == np.float64
    assert np.array_equal(numpy_draws.view(np.uint64), compiled.view(np.uint64))
    valid = len(VALID)
    assert np.isnan(numpy_draws[valid:]).all()
    for k, index in enumerate(VALID):  # unchanged for valid indices
        assert numpy_draws[k] == counter_draws(keys[k : k + 1], int(index))[0]


def test_an_index_out_of_range_is_not_a_neighbours_draw():
    with np.errstate(over="ignore"):
        step = rng.step_key(np.uint64(12345), np.uint64(0), np.uint64(7))
        first, second = rng.element_key(step, np.arange(2, dtype=np.uint64))
    assert np.isnan(km.uniform(first, 256)) and not np.isnan(km.uniform(second, 0))
    assert np.isnan(_uniform_loop(np.array([first]), np.array([256.0])))[0]
    assert np.isnan(km.uniform(second, -1)) and np.isnan(_uniform_loop(np.array([second]), np.array([-1.0])))[0]


# --- constant indices: rejected at load ------------------------------------------------------------


class DrawsAt256(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in, rng):
        return v + km.cast_like(km.uniform(rng, 256), v), v > 1.0  # here


class DrawsAtMinusOne(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in, rng):
        return v, km.uniform(rng, -1) < 0.5  # here


class DrawsAtHalf(Encoder):
    @staticmethod
    def encode(x, rng, dt):
        return km.uniform(rng, 0.5) < x  # here


class DrawsAtGlobal(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in, rng):
        return v, km.uniform(rng, FAR) < 0.5  # here


class DrawsInRange(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in, rng):
        return v, (km.uniform(rng, 0) < 0.5) & (km.uniform(rng, NEAR) < km.uniform(rng, +255))


def marked_line(cls: type) -> int:
    lines, first = inspect.getsourcelines(cls)
    return first + next(k for k, line in enumerate(lines) if line.rstrip().endswith("# here"))


@pytest.mark.parametrize(
    "cls, kind, written",
    [
        (DrawsAt256, "neuron", "256"),
        (DrawsAtMinusOne, "neuron", "-1"),
        (DrawsAtHalf, "encoder", "0.5"),
        (DrawsAtGlobal, "neuron", "FAR (= 300)"),
    ],
)
def test_a_constant_index_out_of_range_is_rejected_at_its_line(cls, kind, written):
    kernel = "encode" if kind == "encoder" else "update"
    where = f"{kernel}() at {__file__}:{marked_line(cls)}"
    message = f"{where}: the draw index {written} is not allowed in a kernel: "
    message += "km.uniform(rng, i) takes an integer 0 <= i < 256"
    with pytest.raises(PluginError, match=re.escape(message)):
        registry.spec_for(kind, cls)


def test_constant_indices_in_range_are_accepted():
    registry.spec_for("neuron", DrawsInRange)


# --- computed indices: NaN on every backend -------------------------------------------------------


class DrawsAtParameter(NeuronModel):
    """Draws at a per-neuron index."""

    params = {"index": 0.0}
    state = {"u": per_sample()}

    @staticmethod
    def update(u, i_in, rng, index):
        u = km.cast_like(km.uniform(rng, index), u)
        return u, u < 0.5


def test_a_computed_index_out_of_range_draws_nan_on_every_backend():
    indices = np.array([0.0, 255.0, 256.0, -1.0, 3.5, 1.0])
    draws = {}
    for backend in ("numpy", "numba-cpu"):
        net = Network()
        net.add_population("d", indices.size, model=DrawsAtParameter, params={"index": indices})
        net.monitor("d", "u")
        sim = net.compile(backend=backend, seed=5, batch_size=1, check_finite=False)  # NaN in the state: the point
        draws[backend] = sim.run(3).state("d", "u")
    assert np.array_equal(draws["numpy"].view(np.uint32), draws["numba-cpu"].view(np.uint32))
    invalid = np.isnan(draws["numpy"])
    assert (invalid == [False, False, True, True, True, False]).all()
    assert ((draws["numpy"][~invalid] >= 0) & (draws["numpy"][~invalid] < 1)).all()
