"""Description of plasticity: spike traces of populations and the learning of projections."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from pysnn.errors import ConfigError, flag, real_number, shown


def _number(value: Any) -> bool:
    """A real number (not a bool) that a float holds, other than NaN; infinities included."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return False
    try:
        return not math.isnan(float(value))
    except OverflowError:  # a Python int beyond every float
        return False


@dataclass(frozen=True)
class Trace:
    """A population's spike trace, read by learning rules as ``x_pre`` / ``x_post``.

    Each step, after the population updated: ``x *= exp(-dt / tau)``, then ``x = 1`` where it
    spiked (``x += 1`` if ``additive``). Computed only when a rule or a monitor needs it.
    """

    tau: float = 20.0
    """Time constant in ms."""
    additive: bool = False

    def __post_init__(self) -> None:
        self.check(np.dtype(np.float64))
        flag(self.additive, "Trace additive")

    def check(self, dtype: np.dtype, owner: str = "Trace") -> None:
        """Raise unless ``tau`` is positive and finite as ``dtype`` holds it (``owner`` names the
        trace in the message)."""
        real_number(self.tau, f"{owner} tau", "a positive number of milliseconds", dtype, lambda x: x > 0)


@dataclass(frozen=True)
class Learning:
    """How a projection's weights learn.

    ``rule`` (registered name or ``LearningRule`` class) with parameter overrides ``params``;
    ``reduction`` (name or ``Reduction`` class) combines the per-sample terms of the batch.
    After each update, weights are multiplied by ``1 - weight_decay`` (if non-zero) and clipped
    to [``wmin``, ``wmax``].
    """

    rule: Any
    params: Mapping[str, Any] = field(default_factory=dict)
    reduction: Any = "sum"
    wmin: float = -math.inf
    wmax: float = math.inf
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if not _number(self.wmin) or not _number(self.wmax):
            raise ConfigError(
                f"Learning wmin and wmax must be numbers (-inf and inf: no bound), got {shown(self.wmin)} and "
                f"{shown(self.wmax)}"
            )
        if self.wmin > self.wmax:
            raise ConfigError(f"Learning wmin={self.wmin} is greater than wmax={self.wmax}; expected wmin <= wmax")
        self.check(np.dtype(np.float64))

    def check(self, dtype: np.dtype, owner: str = "Learning") -> None:
        """Raise unless ``weight_decay`` is in [0, 1) as ``dtype`` holds it (``owner`` names the
        projection in the message)."""
        real_number(self.weight_decay, f"{owner} weight_decay", "in [0, 1)", dtype, lambda x: 0 <= x < 1)
