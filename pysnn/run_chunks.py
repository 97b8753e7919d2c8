"""A long run as consecutive pieces, so that Ctrl-C stops it at a step boundary and progress shows.

A compiled run holds the interpreter until it returns, so Python cannot act on Ctrl-C (SIGINT)
during it. ``Simulation.run`` therefore hands the backend the run in pieces (``RunPieces``): the
first of ``FIRST_PIECE_STEPS`` steps, each later one sized from the last one's speed to take
about ``PIECE_SECONDS``. Every piece is a run of its own on the same working copy of the state
(``Backend.advance``), with the step counter, the per-step inputs and rewards and the monitors'
buffers sliced to its steps, so the pieces compute exactly what one run would; state monitors
record every ``every`` steps from the run's start, so every piece but the last is a multiple of
each monitor's ``every``. A deferred learning run is one piece: its shared state takes the
run's summed changes at its very end.

A ``spike_events`` monitor's buffer holds one piece (``event_buffer_steps``): after each piece
its spikes become events (``pysnn.spike_events``) and the next piece overwrites the buffer (a
``spikes`` record is written whole, every step, sample and neuron, not accumulated), so
pieces are capped to the steps it holds.

While pieces run, Ctrl-C only raises a flag (``interrupt_flag``); at the next piece boundary
the iteration stops, the backend keeps the completed pieces, and ``Simulation.run`` raises
``RunInterrupted`` (a ``KeyboardInterrupt``) carrying their records. A piece costs one call of
the compiled run (about a microsecond to a millisecond; no state is copied per piece).
"""

from __future__ import annotations

import _signal
import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Iterator

import numpy as np

from pysnn.backend import RunArgs
from pysnn.errors import ConfigError, shown
from pysnn.network import Monitor
from pysnn.progress import progress_bar
from pysnn.spike_events import Events, SpikeEvents, dense_events

PIECE_SECONDS = 0.25
"""Wall-clock a piece aims at: how long Ctrl-C may wait, at most about twice this."""
FIRST_PIECE_STEPS = 8
"""Steps of the first piece, which measures the speed (and compiles, the first time)."""
EVENT_BUFFER_BYTES = 64 * 2**20
"""The most memory of the dense bool buffers (a byte per step, sample and neuron) in which the
``spike_events`` monitors record a piece: pieces are capped to fit, down to the state monitors'
period. A deferred learning run, one piece, records the whole run there."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run at a step boundary. The completed steps are kept (the step counter
    counts them); ``result`` holds their records (``steps`` of them, of ``requested``)."""

    def __init__(self, result, requested: int) -> None:
        super().__init__(f"run interrupted after {result.steps} of {requested} steps; the completed steps are kept")
        self.result = result
        self.requested = requested


class RunPieces:
    """The pieces of one run (an iterator of ``RunArgs``); ``done`` counts the steps of the
    pieces completed so far. ``report(done, total)`` is called after each piece; ``stop()``
    ends the iteration at the next piece boundary."""

    def __init__(self, args: RunArgs, period: int, report: Callable[[int, int], None] | None, stop: Callable[[], bool]) -> None:
        self.args, self.period, self.report, self.stop = args, period, report, stop
        self.done = 0
        self._events: dict[Monitor, list[Events]] = {monitor: [] for monitor in args.records if monitor.events}
        self._most = min((args.records[monitor].shape[0] for monitor in self._events), default=args.steps)
        """The most steps of a piece: what the ``spike_events`` buffers hold."""

    def __iter__(self) -> Iterator[RunArgs]:
        total = self.args.steps
        if self.args.learning and self.args.deferred:
            yield self.args
            self._completed(total)
            return
        length = self._round(FIRST_PIECE_STEPS)
        while self.done < total:
            length = min(length, self._most, total - self.done)
            started = time.perf_counter()
            yield piece(self.args, self.done, length)
            seconds = time.perf_counter() - started
            self._completed(length)
            if self.stop():
                return
            length = self._round(max(1, int(length * PIECE_SECONDS / max(seconds, 1e-9))))

    def _completed(self, steps: int) -> None:
        """The piece of ``steps`` steps from ``done`` has run: its spikes become events."""
        for monitor, pieces in self._events.items():
            buffer = self.args.records[monitor][:steps]
            pieces.append(dense_events(buffer, self.done))
        self.done += steps
        if self.report is not None:
            self.report(self.done, self.args.steps)

    def _round(self, steps: int) -> int:
        """``steps`` rounded up to a multiple of the monitors' period."""
        return self.period * math.ceil(steps / self.period)

    def records(self) -> dict[Monitor, np.ndarray | SpikeEvents]:
        """The records of the completed steps (``done``): the run's buffers cut to them, and the
        ``spike_events`` monitors' events."""
        args, done = self.args, self.done

        def record(monitor: Monitor, buffer: np.ndarray) -> np.ndarray | SpikeEvents:
            if monitor.events:
                return SpikeEvents.joined(self._events[monitor], done, buffer.shape[2], args.sample_ids, args.step0)
            if monitor.accumulates:
                return buffer
            return buffer[: done if monitor.what == "spikes" else done // monitor.every]

        return {monitor: record(monitor, buffer) for monitor, buffer in args.records.items()}


def event_buffer_steps(steps: int, bytes_per_step: int, period: int, one_piece: bool) -> int:
    """The steps of the ``spike_events`` buffers of a run of ``steps`` steps, ``bytes_per_step``
    bytes per step (batch times their populations' sizes), whose state monitors' period is
    ``period``: the whole run if it fits in ``EVENT_BUFFER_BYTES`` or runs as ``one_piece``, else
    the most multiple of ``period`` that fits (at least ``period``)."""
    fit = EVENT_BUFFER_BYTES // max(bytes_per_step, 1)
    if one_piece or steps <= fit:
        return steps
    return max(period, fit // period * period)


def period(monitors: tuple[Monitor, ...]) -> int:
    """The least common multiple of the state monitors' ``every`` (1 without any)."""
    return math.lcm(1, *(m.every for m in monitors if m.what not in ("spike_counts", "spikes")))


def piece(args: RunArgs, start: int, steps: int) -> RunArgs:
    """The ``RunArgs`` of steps ``start`` to ``start + steps`` of the run ``args`` (``start``
    a multiple of every state monitor's ``every``): views of its per-step inputs, rewards and
    records; spike counts accumulate in the run's own buffer, and a ``spike_events`` monitor
    records each piece from the start of its one-piece buffer. The whole run is ``args``."""
    if start == 0 and steps == args.steps:
        return args
    stop = start + steps

    def records(monitor: Monitor, buffer: np.ndarray) -> np.ndarray:
        if monitor.accumulates:
            return buffer
        if monitor.events:  # the buffer of one piece
            return buffer[:steps]
        if monitor.what == "spikes":
            return buffer[start:stop]
        return buffer[start // monitor.every : stop // monitor.every]

    reward = args.reward
    return replace(
        args,
        steps=steps,
        step0=args.step0 + start,
        first=args.first + start,
        inputs={name: data[start:stop] if data.ndim == 3 else data for name, data in args.inputs.items()},
        records={monitor: records(monitor, buffer) for monitor, buffer in args.records.items()},
        reward=reward[start:stop] if reward is not None and reward.ndim == 2 else reward,
    )


@contextmanager
def progress_report(progress: bool | Callable[[int, int], None] | None, steps: int) -> Iterator[Callable[[int, int], None] | None]:
    """The ``report`` of a run's pieces for ``Simulation.run``'s ``progress`` argument: None,
    the user's function, or (True) an update of a tqdm bar, closed on exit."""
    if progress is None or progress is False:
        yield None
        return
    if callable(progress):
        yield progress
        return
    if progress is not True:
        raise ConfigError(f"progress must be True, False, None or a function progress(steps_done, steps), got {shown(progress)}")
    with progress_bar(steps, "run", "step") as bar:
        yield lambda done, total: bar.update(done - bar.n)


@contextmanager
def interrupt_flag() -> Iterator[Callable[[], bool]]:
    """While inside: Ctrl-C (SIGINT) sets a flag instead of raising, and the yielded function
    tells whether it was pressed. Only in the main thread with Python's default handler
    installed (elsewhere, and with a handler of the user's, SIGINT is left alone). Handlers are
    set through ``_signal``, the C module behind ``signal``: its wrappers, which convert handlers
    to enums, took 15 us per run, a tenth of what a run of one step costs."""
    pressed: list[int] = []
    if threading.current_thread() is not threading.main_thread() or _signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield lambda: bool(pressed)
        return
    previous = _signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield lambda: bool(pressed)
    finally:
        _signal.signal(signal.SIGINT, previous)
