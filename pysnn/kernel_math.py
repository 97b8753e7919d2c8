"""The kernel math namespace: what a plugin's kernel function may call besides arithmetic.

Import it as ``from pysnn import kernel_math as km`` and write kernels with ``km.exp``,
``km.where``, ... Every function here works element-wise on NumPy arrays (the NumPy backend calls
kernels on whole ``(batch, n)`` arrays) and compiles for scalars under Numba (the Numba backends
compile kernels into per-element loops; see ``pysnn.kernel_math_jit``).

Both forms perform the same IEEE operations in the same order, so backends agree bit for bit:

- ``exp``, ``log`` and ``power`` are pysnn's own implementations (the classic fdlibm argument
  reduction and polynomials, evaluated in float64 and rounded to the argument's precision); the
  platform's ``exp`` differs between NumPy and Numba in the last bit for a large share of inputs.
- ``minimum``, ``maximum`` and ``clip`` propagate NaN and are defined by comparisons, not by
  whatever the vector instructions do with signed zeros.
- ``sqrt``, ``floor`` and ``where`` are exact everywhere.
- ``uniform`` is the counter-based generator of ``pysnn.rng``.

Value-dependent control flow must be written with ``where``: ``if`` on a value does not work on
arrays.
"""

import numpy as np

from pysnn import rng as _rng

__all__ = [
    "cast_like",
    "clip",
    "exp",
    "floor",
    "log",
    "maximum",
    "minimum",
    "power",
    "sqrt",
    "uniform",
    "where",
]

# fdlibm exp: x = k ln2 + r, |r| <= ln2 / 2, ln2 split in a head with trailing zeros (k * LN2_HI is
# exact) and a tail; exp(r) from a degree-5 Remez polynomial in r*r.
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e00
EXP_P1 = 1.66666666666666019037e-01
EXP_P2 = -2.77777777770155933842e-03
EXP_P3 = 6.61375632143793436117e-05
EXP_P4 = -1.65339022054652515390e-06
EXP_P5 = 4.13813679705723846039e-08
EXP_MIN_ARG = -746.0  # exp(x) rounds to 0 below, to inf above EXP_MAX_ARG
EXP_MAX_ARG = 710.0

# fdlibm log: x = m 2**e with sqrt(1/2) <= m < sqrt(2), f = m - 1, s = f / (2 + f),
# log(1 + f) = 2s + s R(s*s) with a degree-7 Remez polynomial R.
LOG_LG1 = 6.666666666666735130e-01
LOG_LG2 = 3.999999999940941908e-01
LOG_LG3 = 2.857142874366239149e-01
LOG_LG4 = 2.222219843214978396e-01
LOG_LG5 = 1.818357216161805012e-01
LOG_LG6 = 1.531383769920937332e-01
LOG_LG7 = 1.479819860511658591e-01
SQRT_HALF = 0.70710678118654752440

UNIT_53 = 1.0 / 9007199254740992.0  # 2**-53
SHIFT_11 = np.uint64(11)


def exp_reduced(x, k):
    """exp(x) / 2**k for float64 ``x`` with ``k = rint(x / ln 2)`` (a float64 integer)."""
    hi = x - k * LN2_HI
    lo = k * LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (EXP_P1 + t * (EXP_P2 + t * (EXP_P3 + t * (EXP_P4 + t * EXP_P5))))
    return 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)


def log_reduced(m, e):
    """log(m * 2**e) for float64 ``m`` in [sqrt(1/2), sqrt(2)) and float64 integer ``e``."""
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (LOG_LG2 + w * (LOG_LG4 + w * LOG_LG6))
    t2 = z * (LOG_LG1 + w * (LOG_LG3 + w * (LOG_LG5 + w * LOG_LG7)))
    hfsq = 0.5 * f * f
    return e * LN2_HI - ((hfsq - (s * (hfsq + (t2 + t1)) + e * LN2_LO)) - f)


def _result_dtype(*args):
    """float32 if every floating argument is float32, else float64 (as Numba types it)."""
    dtype = np.result_type(*(np.asarray(a).dtype for a in args))
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _exp64(x):
    x = np.asarray(x, np.float64)
    nan = np.isnan(x)
    xc = np.where(nan, 0.0, np.clip(x, EXP_MIN_ARG, EXP_MAX_ARG))
    k = np.rint(xc * INV_LN2)
    with np.errstate(over="ignore", under="ignore"):
        y = np.ldexp(exp_reduced(xc, k), k.astype(np.int32))
    return np.where(nan, x, y)


def _log64(x):
    x = np.asarray(x, np.float64)
    m, e = np.frexp(np.where((x > 0.0) & (x < np.inf), x, 1.0))
    low = m < SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = np.where(low, e - 1, e).astype(np.float64)
    y = log_reduced(m, e)
    y = np.where(x == np.inf, x, y)
    y = np.where(x == 0.0, -np.inf, y)
    return np.where((x < 0.0) | np.isnan(x), np.nan, y)


def _rounded(y, dtype):
    with np.errstate(over="ignore"):  # float32 overflow rounds to inf, as in compiled code
        return y.astype(dtype)


def exp(x):
    """e**x, rounded to the precision of ``x`` (float32 or float64; integers give float64)."""
    return _rounded(_exp64(x), _result_dtype(x))


def log(x):
    """Natural logarithm; -inf at 0, NaN below 0."""
    return _rounded(_log64(x), _result_dtype(x))


def power(x, y):
    """x**y as exp(y * log(x)) for x > 0 (NaN for x < 0; 0 for x == 0 and y > 0)."""
    return _rounded(_exp64(np.asarray(y, np.float64) * _log64(x)), _result_dtype(x, y))


def sqrt(x):
    """Square root (IEEE correctly rounded on every backend)."""
    return np.sqrt(x)


def floor(x):
    """Largest integer value not greater than x, in x's dtype."""
    return np.floor(x)


def where(condition, if_true, if_false):
    """``if_true`` where ``condition`` holds, else ``if_false``: the branch of kernels."""
    return np.where(condition, if_true, if_false)


def minimum(a, b):
    """The smaller of a and b; NaN if either is NaN."""
    a = np.asarray(a)
    return np.where((a <= b) | (a != a), a, b)


def maximum(a, b):
    """The larger of a and b; NaN if either is NaN."""
    a = np.asarray(a)
    return np.where((a >= b) | (a != a), a, b)


def clip(x, lo, hi):
    """``x`` limited to [lo, hi]: ``minimum(maximum(x, lo), hi)``."""
    return minimum(maximum(x, lo), hi)


def cast_like(x, like):
    """``x`` converted to the dtype of ``like`` (e.g. a float64 draw into a float32 model)."""
    return np.asarray(x).astype(np.asarray(like).dtype)


DRAWS = 1 << int(_rng.DRAW_BITS)
"""Draws per element and step: ``uniform(rng, i)`` takes 0 <= i < DRAWS (see ``pysnn.rng``)."""


def uniform(rng, i):
    """The ``i``-th (an integer 0 <= i < 256) uniform float64 draw in [0, 1) of the element
    keyed ``rng``.

    ``rng`` is the kernel argument of that name; each index gives an independent draw. The draw
    is float64 whatever the simulation dtype: compare it directly, or ``cast_like`` it before
    arithmetic in a float32 model.

    Any other ``i`` (negative, >= 256, fractional, NaN) gives NaN, on every backend, which
    compares false. Each element owns 256 consecutive counters (``pysnn.rng.DRAW_BITS``): the
    counter of i >= 256 would be the next element's, a negative i the previous one's (and its
    conversion differs between NumPy and compiled code). The limit is enforced rather than lifted
    by hashing the index into the key, which would change every existing draw (or need a second
    key scheme beyond 255); a constant index out of range is rejected when the plugin loads
    (``pysnn.kernel_lint``). The check costs nothing for a constant index in compiled code.
    """
    key = np.asarray(rng, np.uint64)
    i = np.asarray(i)
    in_range = (i >= 0) & (i < DRAWS)
    counter = np.where(in_range, i, 0).astype(np.uint64)
    with np.errstate(over="ignore"):
        bits = _rng.mix(key + counter * _rng.GOLDEN)
    draws = (bits >> SHIFT_11).astype(np.float64) * UNIT_53
    valid = in_range & (counter == i)
    return draws if valid.all() else np.where(valid, draws, np.nan)  # no pass over the draws for a valid constant
