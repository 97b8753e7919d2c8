"""Description of plasticity: spike traces of populations and the learning of projections."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from pysnn.errors import ConfigError


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


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
        if not _number(self.tau) or not 0 < self.tau < math.inf:
            raise ConfigError(f"Trace tau must be a positive number of milliseconds, got {self.tau!r}")
        if not isinstance(self.additive, bool):
            raise ConfigError(f"Trace additive must be True or False, got {self.additive!r}")


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
            raise ConfigError(f"Learning wmin and wmax must be numbers, got {self.wmin!r} and {self.wmax!r}")
        if self.wmin > self.wmax:
            raise ConfigError(f"Learning wmin={self.wmin} is greater than wmax={self.wmax}; expected wmin <= wmax")
        if not _number(self.weight_decay) or not 0 <= self.weight_decay < 1:
            raise ConfigError(f"Learning weight_decay must be in [0, 1), got {self.weight_decay!r}")
