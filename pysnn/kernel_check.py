"""Compile-time check that a bound kernel compiles under Numba and keeps the simulation dtype.

Every backend runs it when a network is compiled, so a plugin that would not compile, or whose
arithmetic would leave the simulation dtype (and so round differently on different backends), is
reported by name before anything runs. Numba caches what it compiles here across processes.
"""

from __future__ import annotations

from functools import lru_cache
from types import FunctionType

import numpy as np

from pysnn.errors import PluginError
from pysnn.kernel_source import original_line
from pysnn.plugin import Kernel


def check_kernel(kernel: Kernel, bound: FunctionType, dtype: np.dtype, label: str) -> None:
    """Raise ``PluginError`` unless ``bound`` compiles and returns the declared types."""
    problem = _problem(kernel.function, bound, kernel.arg_types, kernel.output_types, kernel.outputs, dtype.name)
    if problem:
        raise PluginError(f"{label}: {kernel.name}() {problem}")


@lru_cache(maxsize=None)
def jitted(bound: FunctionType):
    """The one Numba dispatcher of a bound kernel (cached on disk; compiled kernels call it).

    Compiled code is its only caller: without the wrappers that would let Python (or C) call it
    a kernel compiles in about half the time, which is most of ``Network.compile``. Division by
    zero follows IEEE (``error_model="numpy"``: inf or NaN, as on NumPy arrays) instead of
    raising ``ZeroDivisionError``. A damaged cache entry is rebuilt (``pysnn.numba_cache``)."""
    import numba

    import pysnn.kernel_math_jit  # noqa: F401  (registers the kernel math for Numba)
    from pysnn.numba_cache import repair_damaged

    jit = numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True)
    return repair_damaged(jit(bound))


@lru_cache(maxsize=None)
def _problem(func, bound, arg_types, output_types, outputs, dtype_name) -> str | None:
    import numba
    from numba.core.errors import NumbaError

    names = {"real": getattr(numba, dtype_name), "bool": numba.boolean, "uint64": numba.uint64}
    dispatcher = jitted(bound)
    try:
        dispatcher.compile(tuple(names[t] for t in arg_types))
    except NumbaError as exc:
        message = str(exc).strip().splitlines()
        return f"does not compile with Numba for {dtype_name}{_where(func, bound, exc)}: " + " ".join(
            line.strip() for line in message[:6]
        )
    returned = dispatcher.nopython_signatures[-1].return_type
    got = list(returned) if isinstance(returned, numba.types.BaseTuple) else [returned]
    for name, want, typ in zip(outputs, output_types, got):
        if typ != names[want]:
            return wrong_output_type(name, str(typ), dtype_name if want == "real" else want)
    return None


def wrong_output_type(output: str, got: str, expected: str) -> str:
    """The problem of a kernel whose ``output`` has type ``got`` instead of ``expected``."""
    return (
        f"returns {got} for {output!r} where {expected} is expected: a value of another type enters "
        "its arithmetic (an integer or float64 global, or a km.uniform draw: use km.cast_like)"
    )


def _where(func: FunctionType, bound: FunctionType, exc: Exception) -> str:
    """``" at <plugin file>:<line>"`` for an error Numba located in ``bound``'s generated file."""
    loc = getattr(exc, "loc", None)
    line = original_line(func, bound, loc.line) if loc and loc.filename == bound.__code__.co_filename else None
    return f" at {func.__code__.co_filename}:{line}" if line else ""
