"""Spikes as events (step, sample, neuron): what a ``spike_events`` monitor gives.

A dense spike record holds a byte per step, sample and neuron (1000 steps of 1024 samples of
10 000 neurons: 10 GB); events take 16 bytes per spike. A run records each piece
(``pysnn.run_chunks``) densely in a buffer of that piece only and turns it into events
(``dense_events``) before the next piece reuses the buffer.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from pysnn.errors import ConfigError, allocating, positive_int, shown

Events = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(step int64, sample int32, neuron int32) arrays of equal length."""
NO_EVENTS: Events = (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))


def dense_events(spikes: np.ndarray, first_step: int) -> Events:
    """The events of ``spikes``, a C-contiguous bool (steps, batch, n) array whose first step is
    the run's step ``first_step``, in (step, sample, neuron) order."""
    # one flat pass, then the indices: faster than np.nonzero of the 3-d array, same (C) order
    step, sample, neuron = np.unravel_index(np.flatnonzero(spikes), spikes.shape)
    return np.add(step, first_step, dtype=np.int64), sample.astype(np.int32), neuron.astype(np.int32)


class SpikeEvents:
    """The spikes of one population during one run, as events, sorted by step, then batch row,
    then neuron: event ``k`` is a spike of neuron ``neuron[k]`` of batch row ``sample[k]`` at the
    run's step ``step[k]`` (0 .. ``steps`` - 1; the simulation's step counter ``step0 + step[k]``).

    ``steps``, ``batch`` and ``n`` give the dense shape the events stand for (``shape``), and
    ``sample_ids`` each batch row's sample id. Made by ``RunResult.spike_events``.
    """

    def __init__(self, events: Events, steps: int, n: int, sample_ids: np.ndarray, step0: int) -> None:
        self.step, self.sample, self.neuron = events
        self.steps, self.batch, self.n = steps, sample_ids.size, n
        self.sample_ids = sample_ids
        self.step0 = step0

    @classmethod
    def joined(cls, pieces: Sequence[Events], steps: int, n: int, sample_ids: np.ndarray, step0: int) -> SpikeEvents:
        """The events of a run's consecutive ``pieces``, in order."""
        events = tuple(np.concatenate(arrays) for arrays in zip(NO_EVENTS, *pieces))
        return cls(events, steps, n, sample_ids, step0)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(steps, batch, n): the shape of ``to_dense()``."""
        return (self.steps, self.batch, self.n)

    def __len__(self) -> int:
        """The number of spikes."""
        return self.step.size

    def counts(self, interval: int | None = None) -> np.ndarray:
        """Spikes per neuron: int32 (batch, n) over the whole run (``interval=None``), or int32
        (intervals, batch, n) per ``interval`` consecutive steps from the run's start (the last
        interval holds the remaining steps when ``interval`` does not divide ``steps``)."""
        if interval is None:
            index = self.sample.astype(np.int64) * self.n + self.neuron
            return self._bincount(index, (self.batch, self.n), "counts()")
        interval = positive_int(interval, "counts interval (steps per interval)")
        intervals = -(-self.steps // interval)
        index = (self.step // interval * self.batch + self.sample) * self.n + self.neuron
        return self._bincount(index, (intervals, self.batch, self.n), f"counts(interval={interval})")

    def raster(self, sample: int) -> tuple[np.ndarray, np.ndarray]:
        """(step, neuron) of the spikes of batch row ``sample`` (0 .. batch - 1, not a sample id),
        for a raster plot: ``plt.scatter(*events.raster(0), marker="|")``."""
        if isinstance(sample, (bool, np.bool_)) or not isinstance(sample, (int, np.integer)) or not 0 <= sample < self.batch:
            raise ConfigError(f"raster sample={shown(sample)} must be a batch row, an integer from 0 to {self.batch - 1}")
        mine = self.sample == sample
        return self.step[mine], self.neuron[mine]

    def to_dense(self) -> np.ndarray:
        """The spikes as a bool (steps, batch, n) array, as a ``spikes`` monitor records them
        (for short runs: one byte per step, sample and neuron)."""
        with allocating(f"to_dense: the dense spikes, shape {self.shape}, are"):
            dense = np.zeros(self.shape, bool)
        dense[self.step, self.sample, self.neuron] = True
        return dense

    def _bincount(self, index: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
        """Spikes per flat ``index`` into ``shape``, int32."""
        with allocating(f"{what}: the counts, shape {shape}, are"):
            return np.bincount(index, minlength=math.prod(shape)).astype(np.int32).reshape(shape)

    def __repr__(self) -> str:
        return f"SpikeEvents({len(self)} spikes, steps={self.steps}, batch={self.batch}, n={self.n})"
