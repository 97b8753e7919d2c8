"""What a run's monitors recorded."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from pysnn.errors import ConfigError, shown
from pysnn.network import Monitor
from pysnn.spike_events import SpikeEvents


class RunResult:
    """Monitor recordings of one run, as NumPy arrays.

    - ``spike_counts(pop)``: int32 (batch, n), spikes of each neuron during the run;
    - ``spikes(pop)``: bool (steps, batch, n);
    - ``spike_events(pop)``: the spikes as events (``SpikeEvents``), memory per spike;
    - ``state(pop, var)``: the variable after every ``every``-th step, (steps // every, batch, n)
      for per-sample variables and (steps // every, n) for shared ones.

    ``sample_ids`` are the samples' ids, in batch order; ``steps`` the number of steps run.
    """

    def __init__(self, records: Mapping[Monitor, np.ndarray | SpikeEvents], steps: int, sample_ids: np.ndarray) -> None:
        self._records = {(m.population, m.name): array for m, array in records.items()}
        self.steps = steps
        self.sample_ids = sample_ids

    def spike_counts(self, population: str) -> np.ndarray:
        return self._get(population, "spike_counts")

    def spikes(self, population: str) -> np.ndarray:
        return self._get(population, "spikes")

    def spike_events(self, population: str) -> SpikeEvents:
        return self._get(population, "spike_events")

    def state(self, population: str, variable: str) -> np.ndarray:
        return self._get(population, variable)

    def items(self) -> list[tuple[tuple[str, str], np.ndarray | SpikeEvents]]:
        """Every recording as ((population, what), array)."""
        return list(self._records.items())

    def _get(self, population: str, what: str) -> np.ndarray | SpikeEvents:
        if isinstance(population, str) and isinstance(what, str) and (population, what) in self._records:
            return self._records[population, what]
        monitored = ", ".join(f"{p}.{w}" for p, w in self._records) or "nothing"
        raise ConfigError(
            f"{shown(what)} of {shown(population)} was not monitored (monitored: {monitored}); "
            f"add net.monitor({shown(population)}, {shown(what)}) before compile"
        )

    def __repr__(self) -> str:
        shapes = ", ".join(f"{p}.{w}: {a.shape}" for (p, w), a in self._records.items())
        return f"RunResult(steps={self.steps}, batch={self.sample_ids.size}, {shapes})"
