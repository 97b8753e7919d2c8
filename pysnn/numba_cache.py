"""Numba's on-disk caches, made to repair themselves: a damaged entry is dropped and compiled again.

Numba caches each compiled function in an index file (``.nbi``) and data files (``.nbc``) in the
``__pycache__`` folder next to its source, here under ``pysnn.kernel_source.cache_dir()``. If one
is truncated or garbled (a full disk, a copy cut short, a crash while writing by a tool other
than Numba, whose own writes are atomic), Numba's loader raises (``EOFError``,
``UnpicklingError``, ...) on every later compile, in every later process, until someone deletes
the file by hand. A repairing cache loads through Numba's own and, when the load raises, warns
once (``CacheWarning``) and empties the function's index (``flush``), so that the function is
compiled and saved again, overwriting the damaged data. Only loading is guarded: a function that
does not compile still raises as before.

``repair_damaged`` gives a dispatcher such a cache; pysnn calls it on every dispatcher it
compiles (kernels in ``pysnn.kernel_check.jitted``, the generated run modules of the Numba and
numba-cuda backends), so a damaged entry is caught wherever it is loaded, also when one
function's compile loads another. It builds on Numba's cache classes (``FunctionCache``, set as
a dispatcher's ``_cache`` by ``enable_caching``; numba-cuda's ``CUDACache``, a copy of the same
design; long-standing, checked with Numba 0.68 and numba-cuda 0.30); tests/test_cache_repair.py
fails if a release changes them.
"""

from __future__ import annotations

import functools
import warnings
from types import ModuleType

from numba.core.caching import FunctionCache

from pysnn.kernel_source import CacheWarning


class Repairing:
    """Mixed into a Numba cache class (``repairing``): a load that raises drops the function's
    entries from its index and counts as a miss."""

    def __init__(self, py_func) -> None:
        super().__init__(py_func)
        self.function = f"{py_func.__qualname__} (from {py_func.__code__.co_filename})"

    def load_overload(self, sig, target_context):
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:  # whatever a damaged file makes the unpickler or the rebuild raise
            warnings.warn(
                CacheWarning(
                    f"pysnn dropped a damaged compiled-code cache entry of {self.function} in "
                    f"{self.cache_path} ({type(exc).__name__}: {exc}); compiling it again"
                )
            )
            try:
                self.flush()  # an empty index: the next save writes a fresh entry over the damaged one
            except OSError:
                self.disable()  # cannot even rewrite the index: compile without caching this function
            return None


@functools.cache
def repairing(cache_type: type) -> type:
    """``cache_type`` (Numba's ``FunctionCache``, numba-cuda's ``CUDACache``), repairing."""
    return type(f"Repairing{cache_type.__name__}", (Repairing, cache_type), {"__doc__": Repairing.__doc__})


def repair_damaged(dispatcher, cache_type: type = FunctionCache):
    """``dispatcher``, its disk cache replaced by a repairing one if it is a ``cache_type``
    (Numba's CPU cache by default; not one that repairs already, not a dispatcher that does
    not cache)."""
    if type(getattr(dispatcher, "_cache", None)) is cache_type:
        dispatcher._cache = repairing(cache_type)(dispatcher.py_func)
    return dispatcher


def repair_damaged_in(module: ModuleType, cache_type: type = FunctionCache) -> None:
    """``repair_damaged`` for every dispatcher that ``module`` defines (a generated run module)."""
    for value in vars(module).values():
        if getattr(getattr(value, "py_func", None), "__module__", None) == module.__name__:
            repair_damaged(value, cache_type)
