"""Explicitly rounded arithmetic: what kernels bound for the CUDA target compute with.

numba-cuda lets NVVM contract ``a * b + c`` into one fused multiply-add, rounded once instead of
twice, even without fastmath, and offers no switch to stop it. Operations with an explicit rounding
mode are never fused, so ``bind_kernel(func, dtype, target="cuda")`` writes a kernel's ``+ - * /``
as calls of the functions here.

Called from Python each one is the IEEE operation itself, on NumPy arrays and scalars alike, so a
kernel bound for CUDA computes under NumPy exactly what its CPU binding does. ``register_cuda()``
compiles them for numba-cuda to libdevice's round-to-nearest operations (``fadd_rn``,
``fmul_rn``, ``fdiv_rn`` for float32, ``dadd_rn``, ``dmul_rn``, ``ddiv_rn`` for float64;
libdevice has no subtraction: ``sub`` adds the negation, which IEEE defines to be the same).
"""

from functools import lru_cache

import numpy as np


def add(a, b):
    """``a + b``."""
    return a + b


def sub(a, b):
    """``a - b``."""
    return a - b


def mul(a, b):
    """``a * b``."""
    return a * b


def div(a, b):
    """``a / b``."""
    return a / b


@lru_cache(maxsize=None)
def register_cuda() -> None:
    """Register the libdevice forms for numba-cuda's CUDA target (once; needs numba-cuda)."""
    import operator

    from numba import types
    from numba.cuda import libdevice
    from numba.cuda.extending import overload
    from numba.np import numpy_support

    def rounded(function, plain, float32, float64) -> None:
        """Overload ``function`` of two scalars with ``float32`` or ``float64`` by the type the
        operation has under NumPy's promotion (as in Numba), with ``plain`` for integers."""

        @overload(function)
        def _overload(a, b):
            if not all(isinstance(t, (types.Number, types.Boolean)) for t in (a, b)):
                return None
            dtype = np.result_type(numpy_support.as_dtype(a), numpy_support.as_dtype(b))
            if dtype == np.float32:
                return float32
            if dtype == np.float64:
                return float64
            return lambda a, b: plain(a, b)

    rounded(
        add,
        operator.add,
        lambda a, b: libdevice.fadd_rn(np.float32(a), np.float32(b)),
        lambda a, b: libdevice.dadd_rn(np.float64(a), np.float64(b)),
    )
    rounded(
        sub,
        operator.sub,
        lambda a, b: libdevice.fadd_rn(np.float32(a), -np.float32(b)),
        lambda a, b: libdevice.dadd_rn(np.float64(a), -np.float64(b)),
    )
    rounded(
        mul,
        operator.mul,
        lambda a, b: libdevice.fmul_rn(np.float32(a), np.float32(b)),
        lambda a, b: libdevice.dmul_rn(np.float64(a), np.float64(b)),
    )
    rounded(
        div,
        operator.truediv,
        lambda a, b: libdevice.fdiv_rn(np.float32(a), np.float32(b)),
        lambda a, b: libdevice.ddiv_rn(np.float64(a), np.float64(b)),
    )
