"""Numba's on-disk cache, made to repair itself: a damaged entry is dropped and compiled again.

Numba caches each compiled function in an index file (``.nbi``) and data files (``.nbc``) in the
``__pycache__`` folder next to its source, here under ``pysnn.kernel_source.cache_dir()``. If one
is truncated or garbled (a full disk, a copy cut short, a crash while writing by a tool other
than Numba, whose own writes are atomic), Numba's loader raises (``EOFError``,
``UnpicklingError``, ...) on every later compile, in every later process, until someone deletes
the file by hand. ``RepairingCache`` loads through Numba's own cache and, when the load raises,
warns once (``CacheWarning``) and empties the function's index (``Cache.flush``), so that the
function is compiled and saved again, overwriting the damaged data. Only loading is guarded: a
function that does not compile still raises as before.

``repair_damaged`` gives a dispatcher this cache; pysnn calls it on every dispatcher it compiles
(kernels in ``pysnn.kernel_check.jitted``, the generated run modules in the Numba backend), so a
damaged entry is caught wherever it is loaded, also when one function's compile loads another.
It builds on Numba's cache classes (``numba.core.caching.FunctionCache``, set as a dispatcher's
``_cache`` by ``enable_caching``; long-standing, checked with Numba 0.68);
tests/test_cache_repair.py fails if a Numba release changes them.
"""

from __future__ import annotations

import warnings
from types import ModuleType

from numba.core.caching import FunctionCache
from numba.core.dispatcher import Dispatcher

from pysnn.kernel_source import CacheWarning


class RepairingCache(FunctionCache):
    """Numba's cache of one function, which treats an entry that fails to load as missing after
    dropping the function's entries from its index."""

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


def repair_damaged(dispatcher: Dispatcher) -> Dispatcher:
    """``dispatcher``, its disk cache (if it caches) replaced by a ``RepairingCache`` (once)."""
    if type(dispatcher._cache) is FunctionCache:
        dispatcher._cache = RepairingCache(dispatcher.py_func)
    return dispatcher


def repair_damaged_in(module: ModuleType) -> None:
    """``repair_damaged`` for every dispatcher that ``module`` defines (a generated run module)."""
    for value in vars(module).values():
        if isinstance(value, Dispatcher) and value.py_func.__module__ == module.__name__:
            repair_damaged(value)
