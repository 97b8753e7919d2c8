"""Reductions: how the per-sample changes of a shared variable are combined over the batch.

Each folds ``combine`` over the samples in batch order, starting from ``identity``, then applies
``finish(acc, count)`` with ``count`` the batch size (by default ``finish`` returns ``acc``). Samples that leave a variable unchanged
contribute a change of 0, so ``max`` and ``min`` run over all samples, zeros included.
"""

import math

from pysnn import Reduction
from pysnn import kernel_math as km


class Sum(Reduction):
    """The sum of the batch's changes (the paper's default)."""

    identity = 0.0
    zero = "identity"
    split = "add"

    @staticmethod
    def combine(acc, x):
        return acc + x


class Mean(Sum):
    """The mean of the batch's changes: the sum divided by the batch size."""

    @staticmethod
    def finish(acc, count):
        return acc / count


class Max(Reduction):
    """The largest change of the batch."""

    identity = -math.inf
    zero = "idempotent"
    split = "combine"

    @staticmethod
    def combine(acc, x):
        return km.maximum(acc, x)


class Min(Reduction):
    """The smallest change of the batch."""

    identity = math.inf
    zero = "idempotent"
    split = "combine"

    @staticmethod
    def combine(acc, x):
        return km.minimum(acc, x)


class Median(Reduction):
    """The median of the batch's changes (the mean of the two middle ones for an even batch)."""

    quantile = 0.5

    @staticmethod
    def select(lo, hi):
        return (lo + hi) * 0.5
