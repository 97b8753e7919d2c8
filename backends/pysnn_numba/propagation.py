"""The propagation of dense projections from listed spiking sources, which every numba-cpu run
module calls: compiled once per dtype and cached, instead of once per network structure (its
three vector loops were 0.1-0.2 s of every run loop's compile)."""

from __future__ import annotations

import inspect
from types import FunctionType

from pysnn.kernel_source import import_generated


def add_rows_in_pairs(acc, weights, spiked, count, zero):
    """Sum the rows ``weights[spiked[:count]]`` into ``acc``, two per pass over it:
    ``(acc + w[i0]) + w[i1]`` is the two sums of a row at a time, in their order, with half the
    accumulator's loads and stores (the pass is bound by them). The first pass writes ``acc``
    from ``zero`` (+0.0 of the dtype), to which zeroing it first would add; with an odd count
    that pass takes one row."""
    if count % 2 == 1:
        i = spiked[0]
        for j in range(acc.shape[0]):
            acc[j] = zero + weights[i, j]
    elif count > 0:
        i, i1 = spiked[0], spiked[1]
        for j in range(acc.shape[0]):
            acc[j] = (zero + weights[i, j]) + weights[i1, j]
    else:
        acc[:] = zero
    for s in range(2 - count % 2, count, 2):
        i, i1 = spiked[s], spiked[s + 1]
        for j in range(acc.shape[0]):
            acc[j] = (acc[j] + weights[i, j]) + weights[i1, j]


def cached_add_rows_in_pairs() -> FunctionType:
    """``add_rows_in_pairs`` imported from a file of the cache (``kernel_source.import_generated``),
    so that Numba caches what it compiles from it there."""
    module = import_generated(inspect.getsource(add_rows_in_pairs), "pysnn_propagation", "numba")
    return module.add_rows_in_pairs
