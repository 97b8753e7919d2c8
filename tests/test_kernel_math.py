"""pysnn.kernel_math: NumPy and Numba forms agree bit for bit; exp/log accuracy; IEEE specials; dtypes; uniform.

The Numba side is exercised the way compiled kernels use it: a ``numba.njit`` loop applying the same
``km`` function to one element at a time (scalars, through the overloads of ``pysnn.kernel_math_jit``).
"""

import math

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import pysnn.kernel_math_jit  # noqa: F401  (registers the Numba overloads)
from pysnn import kernel_math as km
from pysnn import rng

FLOATS = (np.float32, np.float64)
UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}
SINT = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


# --- Numba helpers, built once: element-wise loops over the scalar overloads -------------------------


def _loop1(f):
    @numba.njit
    def loop(x):
        out = np.full(x.size, f(x[0]))  # dtype of the scalar result, as Numba types it
        for k in range(x.size):
            out[k] = f(x[k])
        return out

    return loop


def _loop2(f):
    @numba.njit
    def loop(a, b):
        out = np.full(a.size, f(a[0], b[0]))
        for k in range(a.size):
            out[k] = f(a[k], b[k])
        return out

    return loop


def _loop3(f):
    @numba.njit
    def loop(a, b, c):
        out = np.full(a.size, f(a[0], b[0], c[0]))
        for k in range(a.size):
            out[k] = f(a[k], b[k], c[k])
        return out

    return loop


UNARY = {name: _loop1(getattr(km, name)) for name in ("exp", "log", "sqrt", "floor")}
BINARY = {name: _loop2(getattr(km, name)) for name in ("power", "minimum", "maximum")}
TERNARY = {name: _loop3(getattr(km, name)) for name in ("clip", "where")}


@numba.njit
def _uniform_loop(keys, i):
    out = np.empty(keys.size, np.float64)
    for k in range(keys.size):
        out[k] = km.uniform(keys[k], i)
    return out


@numba.njit
def _exp_scalar(x):
    return km.exp(x)


@numba.njit
def _log_scalar(x):
    return km.log(x)


@numba.njit
def _power_scalar(x, y):
    return km.power(x, y)


@numba.njit
def _cast_like_scalar(x, like):
    return km.cast_like(x, like)


def numpy_call(name, *args):
    with np.errstate(all="ignore"):
        return getattr(km, name)(*args)


def assert_identical(expected, got):
    """Same dtype, same values (NaN where NaN), same bits wherever the value is not NaN (signed zeros)."""
    assert got.dtype == expected.dtype
    assert np.array_equal(expected, got, equal_nan=True), (expected, got)
    ok = ~np.isnan(expected)
    assert np.array_equal(np.signbit(expected[ok]), np.signbit(got[ok]))
    uint = UINT[expected.dtype]
    assert np.array_equal(expected[ok].view(uint), got[ok].view(uint))


# --- strategies ---------------------------------------------------------------------------------------


def elements(dtype):
    """Any float of ``dtype`` (NaN, inf, subnormal, huge), biased towards the ranges that matter for exp/log/power."""
    width = 32 if np.dtype(dtype) == np.float32 else 64
    tiny = float(np.finfo(dtype).tiny)
    return st.one_of(
        st.floats(width=width),
        st.floats(-800.0, 800.0, width=width),
        st.floats(-8.0, 8.0, width=width),
        st.floats(-tiny, tiny, width=width),  # subnormals and signed zeros
        st.sampled_from([0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan]),
    )


def float_arrays(dtype, count):
    """``count`` arrays of ``dtype`` with the same length (1 to 32)."""
    return st.integers(1, 32).flatmap(
        lambda n: st.tuples(*(arrays(dtype, n, elements=elements(dtype)) for _ in range(count)))
    )


# --- NumPy vs Numba, bit for bit -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_numpy_and_numba_are_bit_identical(name, dtype, data):
    (x,) = data.draw(float_arrays(dtype, 1))
    expected = numpy_call(name, x)
    assert expected.dtype == dtype
    with np.errstate(all="ignore"):
        got = UNARY[name](x)
    assert_identical(expected, got)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_numpy_and_numba_are_bit_identical(name, dtype, data):
    a, b = data.draw(float_arrays(dtype, 2))
    expected = numpy_call(name, a, b)
    assert expected.dtype == dtype
    assert_identical(expected, BINARY[name](a, b))


@pytest.mark.parametrize("dtype", FLOATS)
@given(data=st.data())
def test_clip_numpy_and_numba_are_bit_identical(dtype, data):
    x, lo, hi = data.draw(float_arrays(dtype, 3))
    expected = numpy_call("clip", x, lo, hi)
    assert expected.dtype == dtype
    assert_identical(expected, TERNARY["clip"](x, lo, hi))


@pytest.mark.parametrize("dtype", FLOATS)
@given(data=st.data())
def test_where_numpy_and_numba_are_bit_identical(dtype, data):
    a, b = data.draw(float_arrays(dtype, 2))
    cond = data.draw(arrays(np.bool_, a.size))
    expected = numpy_call("where", cond, a, b)
    assert expected.dtype == dtype
    assert_identical(expected, TERNARY["where"](cond, a, b))
    # where is exact: each element is one of its inputs, bits included
    uint = UINT[np.dtype(dtype)]
    assert np.array_equal(expected.view(uint), np.where(cond, a.view(uint), b.view(uint)))


# --- accuracy -------------------------------------------------------------------------------------------


def ulp_distance(a, b):
    """Number of representable floats between a and b (same float dtype, finite or equal infinities)."""
    sint = SINT[a.dtype]
    lowest = np.iinfo(sint).min

    def ordered(v):  # bit patterns mapped to integers that increase with the value (-0 and +0 both 0)
        i = v.view(sint).astype(np.int64)
        return np.where(i < 0, np.int64(lowest) - i, i)

    return np.abs(ordered(a) - ordered(b))


def test_ulp_distance_helper():
    one = np.array([1.0])
    assert ulp_distance(one, np.nextafter(one, 2.0))[0] == 1
    assert ulp_distance(np.array([0.0]), np.array([-0.0]))[0] == 0
    assert ulp_distance(np.array([5e-324]), np.array([-5e-324]))[0] == 2
    assert ulp_distance(np.array([-1.0]), np.nextafter(np.array([-1.0]), 0.0))[0] == 1
    f = np.array([1.0], np.float32)
    assert ulp_distance(f, np.nextafter(f, np.float32(0)))[0] == 1


EXP64_GRIDS = [np.linspace(-745.1, 709.78, 100_001), np.linspace(-1.0, 1.0, 100_001)]
LOG64_GRIDS = [np.geomspace(5e-324, 1.7e308, 100_001), np.linspace(0.5, 2.0, 100_001)]


@pytest.mark.parametrize("grid", range(2))
def test_exp_float64_within_one_ulp_of_numpy(grid):
    x = EXP64_GRIDS[grid]
    got, ref = km.exp(x), np.exp(x)
    assert got.dtype == np.float64
    assert np.isfinite(got).all() and np.isfinite(ref).all()
    assert ulp_distance(got, ref).max() <= 1


@pytest.mark.parametrize("grid", range(2))
def test_log_float64_within_one_ulp_of_numpy(grid):
    x = LOG64_GRIDS[grid]
    got, ref = km.log(x), np.log(x)
    assert got.dtype == np.float64
    assert np.isfinite(got).all()
    assert ulp_distance(got, ref).max() <= 1


FLOAT32_GRIDS = {
    # underflow to 0, subnormal results, up to just below overflow (ln of the largest float32 is 88.7228)
    "exp": [np.linspace(-110.0, 88.72, 100_001).astype(np.float32)],
    # subnormal inputs up to near the largest float32, and densely around 1
    "log": [
        np.geomspace(1.5e-45, 3.4e38, 100_001).astype(np.float32),
        np.linspace(0.5, 2.0, 100_001).astype(np.float32),
    ],
}


@pytest.mark.parametrize("name", ["exp", "log"])
def test_float32_is_the_rounded_float64_result(name):
    for x in FLOAT32_GRIDS[name]:
        got = getattr(km, name)(x)
        ref = getattr(np, name)(x.astype(np.float64)).astype(np.float32)
        assert got.dtype == np.float32
        assert np.isfinite(got).all() and np.isfinite(ref).all()
        assert (got == ref).mean() >= 0.999
        assert ulp_distance(got, ref).max() <= 1
    if name == "exp":
        assert (km.exp(x[:100]) == 0).all()  # e**-110 is below half the smallest float32 subnormal
        assert (km.exp(x) > 0).mean() > 0.96  # only the inputs below about -104 underflow


def test_power_float32_is_the_rounded_float64_result():
    x, y = np.meshgrid(np.geomspace(0.01, 100.0, 300), np.linspace(-8.0, 8.0, 201))
    x, y = x.astype(np.float32).ravel(), y.astype(np.float32).ravel()
    got = km.power(x, y)
    ref = (x.astype(np.float64) ** y.astype(np.float64)).astype(np.float32)
    assert got.dtype == np.float32
    assert (got == ref).mean() >= 0.999
    assert ulp_distance(got, ref).max() <= 1


def test_exp_float64_of_one_is_within_one_ulp_of_e():
    # fdlibm's exp is not correctly rounded (< 1 ulp): e itself is one of the two neighbours
    got = km.exp(np.array([1.0]))
    assert ulp_distance(got, np.array([math.e]))[0] <= 1
    assert km.log(np.array([math.e]))[0] == 1.0


# --- special values ---------------------------------------------------------------------------------------

INF, NAN = math.inf, math.nan
# (input, exp(input)) with IEEE results; overflow/underflow points per dtype
EXP_SPECIALS = {
    np.float64: [
        (0.0, 1.0), (-0.0, 1.0), (INF, INF), (-INF, 0.0), (NAN, NAN),
        # ln of the largest float64 is 709.7827
        (709.78, 1.7928227943945155e308), (709.79, INF), (1000.0, INF), (1e300, INF),
        (-745.13, 5e-324), (-745.14, 0.0), (-1000.0, 0.0), (-1e300, 0.0),
    ],
    np.float32: [
        (0.0, 1.0), (-0.0, 1.0), (INF, INF), (-INF, 0.0), (NAN, NAN), (1.0, float(np.float32(math.e))),
        (88.72, float(np.float32(np.exp(np.float64(np.float32(88.72)))))), (88.73, INF), (1e30, INF),
        (-103.0, float(np.float32(np.exp(np.float64(np.float32(-103.0)))))), (-104.0, 0.0), (-1e30, 0.0),
    ],
}
LOG_SPECIALS = {
    np.float64: [
        (0.0, -INF), (-0.0, -INF), (INF, INF), (-INF, NAN), (NAN, NAN), (-1.0, NAN), (-5e-324, NAN),
        (1.0, 0.0), (math.e, 1.0), (5e-324, -744.4400719213812), (1.7976931348623157e308, 709.782712893384),
    ],
    np.float32: [
        (0.0, -INF), (-0.0, -INF), (INF, INF), (-INF, NAN), (NAN, NAN), (-1.0, NAN), (-1e-45, NAN),
        (1.0, 0.0), (1e-45, float(np.float32(-103.27892990343184))),
        (3.4028235e38, float(np.float32(88.72283905206835))),
    ],
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name, table", [("exp", EXP_SPECIALS), ("log", LOG_SPECIALS)])
def test_special_values_give_ieee_results(name, table, dtype):
    x = np.array([p[0] for p in table[dtype]], dtype)
    want = np.array([p[1] for p in table[dtype]], dtype)
    for got in (numpy_call(name, x), UNARY[name](x)):
        assert got.dtype == dtype
        assert np.array_equal(got, want, equal_nan=True), (x, got, want)
        zero = want == 0
        assert not np.signbit(got[zero]).any()  # exp underflow and log(1) give +0


# --- result dtypes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["exp", "log"])
def test_numpy_result_dtypes_unary(name):
    f = getattr(km, name)
    assert f(np.array([1.5, 2.0], np.float32)).dtype == np.float32
    assert f(np.array([1.5, 2.0], np.float64)).dtype == np.float64
    assert f(np.array([1, 2], np.int32)).dtype == np.float64
    assert f(np.array([1, 2], np.int64)).dtype == np.float64
    assert f(np.float32(2.0)).dtype == np.float32
    assert f(3).dtype == np.float64
    # integers are converted to float64, not rounded through a smaller type
    assert f(np.array([3], np.int64))[0] == f(np.array([3.0]))[0]


def test_numpy_result_dtypes_power():
    f32, f64, i64 = np.array([2.0], np.float32), np.array([2.0]), np.array([2])
    assert km.power(f32, f32).dtype == np.float32
    assert km.power(f64, f64).dtype == np.float64
    assert km.power(f32, f64).dtype == np.float64
    assert km.power(f64, f32).dtype == np.float64
    assert km.power(i64, i64).dtype == np.float64
    assert km.power(i64, i64)[0] == 4.0


def test_numba_result_dtypes():
    cases = [
        (km.exp, _exp_scalar, (np.float32(1.5),), numba.float32),
        (km.exp, _exp_scalar, (1.5,), numba.float64),
        (km.exp, _exp_scalar, (3,), numba.float64),
        (km.exp, _exp_scalar, (np.int32(3),), numba.float64),
        (km.log, _log_scalar, (np.float32(1.5),), numba.float32),
        (km.log, _log_scalar, (1.5,), numba.float64),
        (km.log, _log_scalar, (3,), numba.float64),
        (km.power, _power_scalar, (np.float32(2.5), np.float32(3.5)), numba.float32),
        (km.power, _power_scalar, (2.5, 3.5), numba.float64),
        (km.power, _power_scalar, (np.float32(2.5), 3.5), numba.float64),
        (km.power, _power_scalar, (2, 3), numba.float64),
    ]
    for _, jitted, args, _ in cases:
        jitted(*args)
    for f, jitted, args, want in cases:
        sig = tuple(numba.typeof(a) for a in args)
        returns = {s.args: s.return_type for s in jitted.nopython_signatures}
        assert returns[sig] == want, (f, sig, returns[sig])
        # the NumPy form gives the same dtype and value
        numpy_result = f(*(np.array([a]) if isinstance(a, np.generic) else a for a in args))
        assert numpy_result.dtype == np.dtype(str(want))
        assert numpy_result.ravel()[0] == jitted(*args)


@pytest.mark.parametrize("small_int", [np.int8, np.int16, np.bool_])
def test_power_of_float32_and_small_int_has_one_result_dtype(small_int):
    # NumPy and Numba's own arithmetic both type float32 with int8/int16/bool as float32
    # (kernel_math._result_dtype says "as Numba types it"); km.power's two forms must agree on the
    # result type, and so on the value's rounding.
    x, y = np.float32(1.1), small_int(3)
    numpy_result = km.power(np.array([x]), np.array([y]))
    numba_result = _power_scalar(x, y)
    returned = {s.args: s.return_type for s in _power_scalar.nopython_signatures}[(numba.float32, numba.typeof(y))]
    assert np.dtype(str(returned)) == numpy_result.dtype
    assert numpy_result[0] == numba_result


# --- minimum / maximum / clip / cast_like --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOATS)
def test_minimum_maximum_propagate_nan(dtype):
    a = np.array([NAN, 1.0, NAN, -INF, 2.0, INF], dtype)
    b = np.array([1.0, NAN, NAN, NAN, 3.0, -INF], dtype)
    lo = np.array([NAN, NAN, NAN, NAN, 2.0, -INF], dtype)
    hi = np.array([NAN, NAN, NAN, NAN, 3.0, INF], dtype)
    for got_min, got_max in [
        (numpy_call("minimum", a, b), numpy_call("maximum", a, b)),
        (BINARY["minimum"](a, b), BINARY["maximum"](a, b)),
    ]:
        assert got_min.dtype == got_max.dtype == dtype
        assert np.array_equal(got_min, lo, equal_nan=True)
        assert np.array_equal(got_max, hi, equal_nan=True)


@pytest.mark.parametrize("dtype", FLOATS)
def test_minimum_maximum_signed_zeros_follow_the_comparison(dtype):
    # defined by comparisons: ties (0 == -0) return the first argument, on both backends
    z, nz = np.array([0.0, -0.0], dtype), np.array([-0.0, 0.0], dtype)
    for f in ("minimum", "maximum"):
        for got in (numpy_call(f, z, nz), BINARY[f](z, nz)):
            assert np.array_equal(np.signbit(got), [False, True])


@pytest.mark.parametrize("dtype", FLOATS)
def test_clip(dtype):
    x = np.array([-2.0, 0.0, 0.25, 1.0, 3.0, NAN, -INF, INF], dtype)
    want = np.array([0.0, 0.0, 0.25, 1.0, 1.0, NAN, 0.0, 1.0], dtype)
    lo, hi = np.zeros_like(x), np.ones_like(x)
    for got in (km.clip(x, dtype(0), dtype(1)), numpy_call("clip", x, lo, hi), TERNARY["clip"](x, lo, hi)):
        assert got.dtype == dtype
        assert np.array_equal(got, want, equal_nan=True)
    # a NaN bound gives NaN
    nan = np.full_like(x, NAN)
    assert np.isnan(numpy_call("clip", x, nan, hi)).all()
    assert np.isnan(TERNARY["clip"](x, lo, nan)).all()


def test_cast_like_both_ways():
    x64 = np.array([0.1, 1.0 / 3.0, 1e-40, 1e39, -2.5])
    like32 = np.float32(0)
    with np.errstate(over="ignore"):
        down = km.cast_like(x64, like32)
        assert down.dtype == np.float32
        assert np.array_equal(down, x64.astype(np.float32))
    up = km.cast_like(down, np.zeros(3))
    assert up.dtype == np.float64
    assert np.array_equal(up, down.astype(np.float64), equal_nan=True)
    assert km.cast_like(np.float64(0.1), np.zeros(2, np.float32)).dtype == np.float32

    assert _cast_like_scalar(0.1, np.float32(0)) == np.float32(0.1)
    assert _cast_like_scalar(np.float32(0.1), 0.0) == np.float64(np.float32(0.1))
    returns = {s.args: s.return_type for s in _cast_like_scalar.nopython_signatures}
    assert returns[(numba.float64, numba.float32)] == numba.float32
    assert returns[(numba.float32, numba.float64)] == numba.float64


# --- uniform ------------------------------------------------------------------------------------------------


@given(
    keys=arrays(np.uint64, st.integers(1, 64), elements=st.integers(0, 2**64 - 1)),
    i=st.integers(0, 255),
)
def test_uniform_numpy_and_numba_are_bit_identical(keys, i):
    expected = km.uniform(keys, i)
    got = _uniform_loop(keys, i)
    assert expected.dtype == got.dtype == np.float64
    assert np.array_equal(expected.view(np.uint64), got.view(np.uint64))
    assert ((expected >= 0.0) & (expected < 1.0)).all()
    # 53-bit resolution: every draw is an integer multiple of 2**-53
    scaled = expected * 2.0**53
    assert np.array_equal(scaled, np.floor(scaled))


def test_uniform_extremes_stay_in_unit_interval():
    keys = np.array([0, 1, 2**63, 2**64 - 1], np.uint64)
    for i in (0, 255):
        u = km.uniform(keys, i)
        assert ((u >= 0.0) & (u < 1.0)).all()
    assert km.uniform(np.uint64(0), 0) == 0.0  # mix(0) == 0
    assert float(km.uniform(np.uint64(0), 0)) == _uniform_loop(np.zeros(1, np.uint64), 0)[0]


N_DRAWS = 10**6


@pytest.fixture(scope="module")
def element_keys():
    u64 = np.array([rng.stream_key(20240607, "uniform-test"), 3, 17], np.uint64)
    step = rng.step_key(u64[:1], u64[1:2], u64[2:])
    return rng.element_key(step, np.arange(N_DRAWS, dtype=np.uint64))


def _chi2_quantile(df, z):
    """Wilson-Hilferty approximation of the chi-square quantile at standard-normal quantile z."""
    c = 2.0 / (9.0 * df)
    return df * (1.0 - c + z * math.sqrt(c)) ** 3


def test_uniform_is_uniform(element_keys):
    u = km.uniform(element_keys, 0)
    assert u.size == N_DRAWS
    assert ((u >= 0.0) & (u < 1.0)).all()
    # chi-square over 100 equal bins; the bound is the 1 - 3e-7 quantile (z = 5) of chi2(99), about 194
    counts = np.bincount((u * 100).astype(np.int64), minlength=100)
    expected = N_DRAWS / 100
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < _chi2_quantile(99, 5.0)
    # Kolmogorov-Smirnov: sqrt(n) D below 1.95 (p = 0.001 under uniformity)
    s = np.sort(u)
    n = s.size
    d = max((np.arange(1, n + 1) / n - s).max(), (s - np.arange(n) / n).max())
    assert math.sqrt(n) * d < 1.95
    # moments: mean 1/2, variance 1/12 within 5 standard errors
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / n)
    # the low bits are not stuck: the 2**-53 digit is 0 and 1 about equally often
    low = (u * 2.0**53).astype(np.uint64) & np.uint64(1)
    assert abs(low.mean() - 0.5) < 5 * 0.5 / math.sqrt(n)


@pytest.mark.parametrize("i, j", [(0, 1), (1, 2), (0, 255), (7, 200), (254, 255)])
def test_uniform_draw_indices_are_uncorrelated(element_keys, i, j):
    a, b = km.uniform(element_keys, i), km.uniform(element_keys, j)
    assert not np.array_equal(a, b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(N_DRAWS)


def test_uniform_neighbouring_elements_are_uncorrelated(element_keys):
    u = km.uniform(element_keys, 0)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / math.sqrt(N_DRAWS)
    # draw 255 of element k and draw 0 of element k + 1 are adjacent counters
    assert abs(np.corrcoef(km.uniform(element_keys[:-1], 255), u[1:])[0, 1]) < 5 / math.sqrt(N_DRAWS)
