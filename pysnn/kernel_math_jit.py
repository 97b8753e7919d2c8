"""Numba implementations of ``pysnn.kernel_math`` for scalars, for the CPU and CUDA targets.

Importing this module registers them for Numba's CPU target (the backends that compile kernels
import it); ``register_cuda()`` registers the same implementations for numba-cuda's CUDA target.
Each one performs the same float operations in the same order as its NumPy form, so compiled
kernels match the NumPy reference bit for bit.
"""

import math
from functools import lru_cache
from types import SimpleNamespace

import numba.extending
import numpy as np
from numba import types
from numba.np import numpy_support

from pysnn import kernel_math as km
from pysnn import kernel_rounding
from pysnn import rng


def _is_scalar(*args):
    return all(isinstance(a, (types.Number, types.Boolean)) for a in args)


def _is_float32(*args):
    """True when the arguments promote to float32, by the rule of the NumPy form
    (``kernel_math._result_dtype``): float32 with bools and small integers stays float32."""
    return np.result_type(*(numpy_support.as_dtype(a) for a in args)) == np.float32


def _register(overload, register_jitable, ops: SimpleNamespace) -> SimpleNamespace:
    """Register every kernel-math form with one target's ``overload`` and ``register_jitable``,
    built on that target's ``ops`` (``_CPU_OPS``); return the RNG helpers that generated code
    calls."""
    mix = register_jitable(rng.mix)
    step_key = register_jitable(rng.step_key)
    element_key = register_jitable(rng.element_key)
    spike_choice = register_jitable(rng.spike_choice)
    _exp_reduced = register_jitable(ops.exp_reduced)
    _log_reduced = register_jitable(ops.log_reduced)
    rint, sqrt32, sqrt64, floor32, floor64 = ops.rint, ops.sqrt32, ops.sqrt64, ops.floor32, ops.floor64

    @register_jitable
    def exp64(x):
        if x != x:
            return x
        xc = min(max(x, km.EXP_MIN_ARG), km.EXP_MAX_ARG)
        k = rint(xc * km.INV_LN2)
        return math.ldexp(_exp_reduced(xc, k), int(k))

    @register_jitable
    def log64(x):
        if x != x or x < 0.0:
            return np.nan
        if x == 0.0:
            return -np.inf
        if x == np.inf:
            return x
        m, e = math.frexp(x)
        if m < km.SQRT_HALF:
            m = m * 2.0
            e = e - 1
        return _log_reduced(m, np.float64(e))

    def _evaluated_in_float64(function, compiled64) -> None:
        """Overload ``function`` of one scalar with ``compiled64`` (float64 -> float64), rounded
        back to float32 for float32 arguments, as the NumPy form does."""

        @overload(function)
        def _overload(x):
            if not _is_scalar(x):
                return None
            if _is_float32(x):
                return lambda x: np.float32(compiled64(np.float64(x)))
            return lambda x: compiled64(np.float64(x))

    _evaluated_in_float64(km.exp, exp64)
    _evaluated_in_float64(km.log, log64)

    @overload(km.power)
    def _power(x, y):
        if not _is_scalar(x, y):
            return None
        if _is_float32(x, y):
            return lambda x, y: np.float32(exp64(np.float64(y) * log64(np.float64(x))))
        return lambda x, y: exp64(np.float64(y) * log64(np.float64(x)))

    @overload(km.sqrt)
    def _sqrt(x):
        if _is_scalar(x):
            return (lambda x: sqrt32(x)) if _is_float32(x) else (lambda x: sqrt64(np.float64(x)))
        return None

    @overload(km.floor)
    def _floor(x):
        if _is_scalar(x):
            return (lambda x: floor32(x)) if _is_float32(x) else (lambda x: floor64(np.float64(x)))
        return None

    @overload(km.where)
    def _where(condition, if_true, if_false):
        if _is_scalar(condition, if_true, if_false):
            return lambda condition, if_true, if_false: if_true if condition else if_false
        return None

    @overload(km.minimum)
    def _minimum(a, b):
        if _is_scalar(a, b):
            return lambda a, b: a if (a <= b) | (a != a) else b  # "|": no branch, so loops vectorise
        return None

    @overload(km.maximum)
    def _maximum(a, b):
        if _is_scalar(a, b):
            return lambda a, b: a if (a >= b) | (a != a) else b
        return None

    @overload(km.clip)
    def _clip(x, lo, hi):
        if _is_scalar(x, lo, hi):
            return lambda x, lo, hi: km.minimum(km.maximum(x, lo), hi)
        return None

    @overload(km.cast_like)
    def _cast_like(x, like):
        if _is_scalar(x, like):
            target = like
            return lambda x, like: target(x)
        return None

    @overload(km.uniform)
    def _uniform(rng_key, i):
        if _is_scalar(rng_key, i):

            def impl(rng_key, i):  # branch-free, as the NumPy form: NaN unless i is an integer in [0, DRAWS)
                in_range = (i >= 0) & (i < km.DRAWS)
                counter = np.uint64(i if in_range else 0)
                bits = mix(np.uint64(rng_key) + counter * rng.GOLDEN)
                draw = np.float64(bits >> km.SHIFT_11) * km.UNIT_53
                return draw if in_range & (counter == i) else np.nan

            return impl
        return None

    return SimpleNamespace(mix=mix, step_key=step_key, element_key=element_key, spike_choice=spike_choice)


_CPU_OPS = SimpleNamespace(
    rint=np.rint, sqrt32=np.sqrt, sqrt64=np.sqrt, floor32=np.floor, floor64=np.floor,
    exp_reduced=km.exp_reduced, log_reduced=km.log_reduced,
)
"""What the kernel math is built on, on the CPU: NumPy's exact operations, and the reduced forms
of exp and log as written (LLVM does not contract a * b + c on the CPU without fastmath)."""

_cpu = _register(numba.extending.overload, numba.extending.register_jitable, _CPU_OPS)
mix, step_key, element_key, spike_choice = _cpu.mix, _cpu.step_key, _cpu.element_key, _cpu.spike_choice


@lru_cache(maxsize=None)
def register_cuda() -> None:
    """Register the kernel math, and the rounded arithmetic that kernels bound for the CUDA target
    call (``kernel_rounding``), for numba-cuda's CUDA target (once; needs numba-cuda)."""
    from numba.cuda import extending as cuda_extending
    from numba.cuda import libdevice

    from pysnn.kernel_source import bind_kernel

    kernel_rounding.register_cuda()
    float64 = np.dtype(np.float64)
    ops = SimpleNamespace(  # libdevice's exact operations; NumPy's ufuncs do not compile for CUDA
        rint=libdevice.rint, sqrt32=libdevice.sqrtf, sqrt64=libdevice.sqrt, floor32=libdevice.floorf,
        floor64=libdevice.floor,
        # with rounded arithmetic, which NVVM cannot contract into multiply-adds
        exp_reduced=bind_kernel(km.exp_reduced, float64, "cuda"),
        log_reduced=bind_kernel(km.log_reduced, float64, "cuda"),
    )
    _register(cuda_extending.overload, cuda_extending.register_jitable, ops)
