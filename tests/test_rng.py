"""pysnn.rng: counter-based keys agree between NumPy arrays and Numba scalars, are SplitMix64, and do not collide."""

import math
import re

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import pysnn.kernel_math_jit as kmj
from pysnn import kernel_math as km
from pysnn import rng

U64 = st.integers(0, 2**64 - 1)


def u64_arrays(count):
    """``count`` uint64 arrays of the same length (1 to 64), over the whole uint64 range."""
    return st.integers(1, 64).flatmap(
        lambda n: st.tuples(*(arrays(np.uint64, n, elements=U64) for _ in range(count)))
    )


@numba.njit
def _mix_loop(z):
    out = np.empty_like(z)
    for k in range(z.size):
        out[k] = kmj.mix(z[k])
    return out


@numba.njit
def _step_key_loop(stream, sample_id, step):
    out = np.empty_like(stream)
    for k in range(stream.size):
        out[k] = kmj.step_key(stream[k], sample_id[k], step[k])
    return out


@numba.njit
def _element_key_loop(key, index):
    out = np.empty_like(key)
    for k in range(key.size):
        out[k] = kmj.element_key(key[k], index[k])
    return out


@numba.njit
def _step_key_scalar(stream, sample_id, step):
    return kmj.step_key(stream, sample_id, step)


# --- NumPy arrays vs Numba scalars ---------------------------------------------------------------------


@given(data=u64_arrays(1))
def test_mix_numpy_and_numba_agree(data):
    (z,) = data
    expected = rng.mix(z)
    got = _mix_loop(z)
    assert expected.dtype == got.dtype == np.uint64
    assert np.array_equal(expected, got)


@given(data=u64_arrays(3))
def test_step_key_numpy_and_numba_agree(data):
    stream, sample_id, step = data
    expected = rng.step_key(stream, sample_id, step)
    got = _step_key_loop(stream, sample_id, step)
    assert expected.dtype == got.dtype == np.uint64
    assert np.array_equal(expected, got)


@given(data=u64_arrays(2))
def test_element_key_numpy_and_numba_agree(data):
    key, index = data
    expected = rng.element_key(key, index)
    got = _element_key_loop(key, index)
    assert expected.dtype == got.dtype == np.uint64
    assert np.array_equal(expected, got)


@given(stream=U64, sample_id=st.integers(0, 2**32), step=st.integers(0, 2**32))
def test_step_key_broadcasts_like_the_numpy_backend(stream, sample_id, step):
    # the NumPy backend calls step_key(stream, sample_ids[:, None], step) and element_key(keys, arange(n)[None, :])
    sample_ids = np.array([sample_id, sample_id + 1], np.uint64)
    keys = rng.step_key(np.array([stream], np.uint64), sample_ids[:, None], np.array([step], np.uint64))
    elements = rng.element_key(keys, np.arange(3, dtype=np.uint64)[None, :])
    assert elements.shape == (2, 3) and elements.dtype == np.uint64
    for s in range(2):
        k = _step_key_scalar(np.uint64(stream), sample_ids[s], np.uint64(step))
        assert keys[s, 0] == k
        got = _element_key_loop(np.full(3, k, np.uint64), np.arange(3, dtype=np.uint64))
        assert np.array_equal(elements[s], got)
    assert {str(s.return_type) for s in _step_key_scalar.nopython_signatures} == {"uint64"}


# --- the mixer is SplitMix64 -----------------------------------------------------------------------------


def test_mix_is_the_splitmix64_finaliser():
    # the reference SplitMix64 generator seeded with 0 outputs mix(k * golden) for k = 1, 2, 3, ...
    state = np.arange(1, 4, dtype=np.uint64) * rng.GOLDEN
    assert [int(v) for v in rng.mix(state)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert rng.mix(np.zeros(1, np.uint64))[0] == 0


def test_mix_is_bijective_on_a_sample():
    z = np.arange(200_000, dtype=np.uint64)
    assert np.unique(rng.mix(z)).size == z.size
    # and avalanches: one flipped input bit flips about half the output bits
    flipped = rng.mix(z ^ np.uint64(1)) ^ rng.mix(z)
    ones = np.unpackbits(flipped.view(np.uint8)).mean() * 64
    assert abs(ones - 32) < 0.5


# --- stream keys -------------------------------------------------------------------------------------------


def test_stream_key_is_deterministic_and_uint64():
    a = rng.stream_key(42, "exc")
    assert isinstance(a, np.uint64)
    assert rng.stream_key(42, "exc") == a
    assert rng.stream_key(0, "exc") != rng.stream_key(2**64 - 1, "exc")


def test_stream_keys_differ_between_names_and_seeds():
    names = ["exc", "inh", "input", "Exc", "exc ", "", "population-1", "population-2", "ä", "x" * 100]
    seeds = [0, 1, 2, 3, 42, 2**32, 2**63, 2**64 - 1, *range(100, 150)]
    keys = [int(rng.stream_key(seed, name)) for seed in seeds for name in names]
    assert len(set(keys)) == len(seeds) * len(names)


@pytest.mark.parametrize("seed", [-1, -(2**63), 2**64, 2**64 + 5, 2**100])
def test_stream_key_rejects_seeds_outside_uint64(seed):
    with pytest.raises(ValueError, match=re.escape(f"seed={seed!r}")):
        rng.stream_key(seed, "exc")


# --- keys over a realistic grid -------------------------------------------------------------------------

N_SAMPLES, N_STEPS, N_ELEMENTS = 64, 200, 100


@pytest.fixture(scope="module")
def grid_keys():
    """Element keys of shape (sample, step, element) of one stream, built like the NumPy backend does."""
    stream = np.array([rng.stream_key(7, "exc")], np.uint64)
    samples = np.arange(N_SAMPLES, dtype=np.uint64)[:, None, None]
    steps = np.arange(N_STEPS, dtype=np.uint64)[None, :, None]
    keys = rng.step_key(stream, samples, steps)
    return rng.element_key(keys, np.arange(N_ELEMENTS, dtype=np.uint64)[None, None, :])


def test_keys_of_sample_step_element_do_not_collide(grid_keys):
    assert grid_keys.shape == (N_SAMPLES, N_STEPS, N_ELEMENTS)
    assert np.unique(grid_keys).size == grid_keys.size
    # nor do the counters of the draws: every (sample, step, element, i) hashes a distinct counter
    counters = np.concatenate([(grid_keys + np.array([i], np.uint64) * rng.GOLDEN).ravel() for i in (0, 1, 255)])
    assert np.unique(counters).size == counters.size


def test_grid_keys_match_numba_scalars(grid_keys):
    stream = rng.stream_key(7, "exc")
    for sample, step, element in [(0, 0, 0), (63, 199, 99), (5, 17, 42), (1, 0, 0)]:
        k = _step_key_scalar(stream, np.uint64(sample), np.uint64(step))
        got = _element_key_loop(np.array([k], np.uint64), np.array([element], np.uint64))[0]
        assert got == grid_keys[sample, step, element]


def test_draws_of_different_samples_are_uncorrelated(grid_keys):
    u = km.uniform(grid_keys, 0)
    n = N_STEPS * N_ELEMENTS
    bound = 5 / math.sqrt(n)
    for a, b in [(0, 1), (0, 63), (31, 32)]:
        assert abs(np.corrcoef(u[a].ravel(), u[b].ravel())[0, 1]) < bound
    # nor between consecutive steps of one sample, or neighbouring elements
    assert abs(np.corrcoef(u[:, :-1, :].ravel(), u[:, 1:, :].ravel())[0, 1]) < 5 / math.sqrt(u[:, 1:, :].size)
    assert abs(np.corrcoef(u[:, :, :-1].ravel(), u[:, :, 1:].ravel())[0, 1]) < 5 / math.sqrt(u[:, :, 1:].size)
    # and every sample's draws have mean 1/2
    means = u.reshape(N_SAMPLES, -1).mean(axis=1)
    assert np.abs(means - 0.5).max() < 5 * math.sqrt(1 / 12 / n)


def test_a_samples_draws_depend_on_its_id_not_on_the_batch():
    stream = np.array([rng.stream_key(3, "input")], np.uint64)
    step = np.array([11], np.uint64)
    batch_a = np.array([4, 9, 2], np.uint64)
    batch_b = np.array([2, 4], np.uint64)
    ka = rng.element_key(rng.step_key(stream, batch_a[:, None], step), np.arange(5, dtype=np.uint64)[None, :])
    kb = rng.element_key(rng.step_key(stream, batch_b[:, None], step), np.arange(5, dtype=np.uint64)[None, :])
    assert np.array_equal(ka[2], kb[0]) and np.array_equal(ka[0], kb[1])
    assert not np.array_equal(ka[0], ka[1])
