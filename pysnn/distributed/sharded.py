"""Runs of a network over many samples, split into batches that run as Dask tasks.

A sample's random numbers are keyed by its sample id, and with learning off its result depends on
nothing else, so each task runs its batch with the samples' global ids and the gathered result is
bit-identical to one process's, for any number of workers and any batch split.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Callable, Mapping

import numpy as np

from pysnn.errors import ConfigError, positive_int, shown
from pysnn.network import Network
from pysnn.results import RunResult
from pysnn.spike_events import SpikeEvents
from pysnn.distributed.cluster import require_dask
from pysnn.distributed.tasks import Model, reraise, run_batch

SCATTER_ATTEMPTS = 5
"""Times ``map_batches`` tries to scatter data while workers it sends to have just died."""
RETRIES = 2
"""Times a failed task is submitted again: by Dask after an exception that is not a pysnn error,
by ``map_batches`` after the worker holding its input chunk died. (A task whose worker dies is
rescheduled by Dask itself, up to ``distributed.scheduler.allowed-failures`` times, 3 by default.)"""


def map_batches(
    client: Any,
    model: Model,
    batch_fn: Callable[..., Any],
    inputs: Mapping[str, np.ndarray],
    sample_ids: np.ndarray,
    batch_size: int,
    args: tuple = (),
    progress: Callable[[int], None] | None = None,
    retries: int = RETRIES,
    per_sample: Mapping[str, np.ndarray] | None = None,
    shared: tuple = (),
) -> list[Any]:
    """``batch_fn(sim, batch_inputs, batch_ids, *args, *shared, **batch_per_sample)`` for each
    batch of ``batch_size`` consecutive samples, as Dask tasks on ``client``, each on its
    worker's simulation of ``model`` (reset first); the results in batch order.

    ``model`` and the ``shared`` values (large data every task reads, e.g. weights) are
    scattered to every worker once; each batch's inputs are scattered as a chunk (not embedded
    in the task graph). ``inputs`` are arrays with the samples on axis 0, or on axis
    1 for (steps, samples, n). ``per_sample`` (name -> array with the samples on its last axis,
    e.g. ``{"reward": reward}``, (samples,) or (steps, samples)) is split and scattered with them
    and passed by keyword. ``batch_fn`` must be picklable (a module-level function).
    ``progress`` is called with the number of samples of each finished task. A worker that dies
    during a task takes the chunks it held with it: the task is submitted again with its chunk
    scattered again (at most ``retries`` times), and gives the same result; if every worker
    died, the model and the shared values are scattered again too. A pysnn error in a
    task is raised here as itself, and the other tasks are cancelled.
    """
    distributed = require_dask()
    batch_size = positive_int(batch_size, "batch_size")
    retries = check_retries(retries)
    batches = [sample_ids[s : s + batch_size] for s in range(0, len(sample_ids), batch_size)]
    chunks = [
        (
            {name: _samples(array, slice(s, s + batch_size), array.ndim - 2) for name, array in inputs.items()},
            {name: _samples(array, slice(s, s + batch_size), array.ndim - 1) for name, array in (per_sample or {}).items()},
        )
        for s in range(0, len(sample_ids), batch_size)
    ]
    batch_fn = functools.partial(_by_keyword, batch_fn)
    held = [_scatter(client, [model, *shared], broadcast=True)]  # each time they are scattered
    owned = list(held[0])  # every future made here, released at the end

    def submit(index: int, chunk: Any) -> Any:
        if any(future.cancelled() for future in held[-1]):  # every worker that held them died
            held.append(_scatter(client, [model, *shared], broadcast=True))
            owned.extend(held[-1])
        scattered_model, *values = held[-1]
        task = client.submit(run_batch, scattered_model, batch_fn, chunk, batches[index], (*args, *values), retries=retries, pure=False)
        owned.extend((chunk, task))
        return task

    tasks = {submit(i, chunk): i for i, chunk in enumerate(_scatter(client, chunks))}
    resubmitted = [0] * len(chunks)
    results: list[Any] = [None] * len(chunks)
    try:
        finished = distributed.as_completed(tasks)
        for task in finished:
            index = tasks.pop(task)
            if task.cancelled() and resubmitted[index] < retries:  # its chunk was lost with a worker
                resubmitted[index] += 1
                again = submit(index, _scatter(client, [chunks[index]])[0])
                tasks[again] = index
                finished.add(again)
                continue
            results[index] = reraise(task.result())
            if progress is not None:
                progress(len(batches[index]))
        return results
    finally:
        client.cancel(owned)


def _scatter(client: Any, data: list, broadcast: bool = False) -> list[Any]:
    """``client.scatter(data)``: futures of the list's items on the workers. Tried again (at most
    ``SCATTER_ATTEMPTS`` times, waiting a little longer each time) while it fails because a
    worker it sent to has just died: before the scheduler knew (the connection closes: OSError),
    or after the data reached it, while the scheduler recorded where the data went (it no longer
    knows the worker's address: KeyError)."""
    for attempt in range(1, SCATTER_ATTEMPTS):
        try:
            return client.scatter(data, broadcast=broadcast, hash=False)
        except (OSError, KeyError):
            time.sleep(0.2 * attempt)
    return client.scatter(data, broadcast=broadcast, hash=False)


def _by_keyword(batch_fn: Callable[..., Any], sim: Any, chunk: tuple[dict, dict], ids: np.ndarray, *args: Any) -> Any:
    """``batch_fn`` called with a chunk's inputs and, by keyword, its per-sample arrays."""
    inputs, per_sample = chunk
    return batch_fn(sim, inputs, ids, *args, **per_sample)


def check_retries(retries: Any) -> int:
    """``retries``, a non-negative integer."""
    if isinstance(retries, (bool, np.bool_)) or not isinstance(retries, (int, np.integer)) or retries < 0:
        raise ConfigError(f"retries must be an integer >= 0 (resubmissions of a failed task), got {shown(retries)}")
    return int(retries)


def run_records(sim: Any, inputs: Mapping[str, np.ndarray], ids: np.ndarray, steps: int) -> dict:
    """A batch of ``run_sharded``: every monitor's record of ``steps`` steps with learning off,
    spike events as (step, sample, neuron) arrays."""
    return records_of(sim.run(steps, inputs, sample_ids=ids, learning=False))


def records_of(result: RunResult) -> dict:
    """A run's records as a task returns them (``_gathered`` joins them): (population, what) ->
    array, spike events as (step, sample, neuron) arrays."""
    return {
        key: (record.step, record.sample, record.neuron) if isinstance(record, SpikeEvents) else record
        for key, record in result.items()
    }


def run_sharded(
    network: Network,
    inputs: Mapping[str, Any],
    steps: int,
    *,
    batch_size: int,
    client: Any,
    backend: str | None = None,
    dtype: str = "float32",
    seed: int = 0,
    sample_ids: Any = None,
    weights: Mapping[str, Any] | None = None,
    state: Mapping[tuple[str, str], Any] | None = None,
    progress: Callable[[int], None] | None = None,
    retries: int = RETRIES,
) -> RunResult:
    """Run ``network`` for ``steps`` steps over every sample of ``inputs``, with learning off, in
    batches of ``batch_size`` as Dask tasks on ``client``; the same ``RunResult`` as one process
    running all samples in one batch, bit for bit.

    ``inputs``: input population -> (samples, n), or (steps, samples, n) values per step (e.g.
    a data set's images as rates). ``sample_ids`` (default ``0 .. samples-1``) key the samples'
    random numbers. ``weights`` (projection -> array) and ``state`` ((owner, variable) -> array)
    are set after compiling, e.g. trained weights. Each worker compiles the network once (from
    the on-disk cache) and reuses it for its tasks.

    Gathered, in sample order: ``spike_counts`` and per-sample state monitors concatenated on
    their batch axis; shared state monitors (no batch axis; frozen with learning off, so every
    task's are equal) from the first task; ``spike_events`` merged with each event's ``sample``
    the global batch row, sorted by (step, sample, neuron) as one run sorts them.
    """
    steps = positive_int(steps, "steps")
    batch_size = positive_int(batch_size, "batch_size")
    retries = check_retries(retries)
    inputs = _check_inputs(inputs)
    n = _n_samples(inputs)
    ids = _sample_ids(sample_ids, n)
    model = Model.of(network, backend, dtype, seed, weights, state)
    parts = map_batches(client, model, run_records, inputs, ids, batch_size, (steps,), progress, retries)
    return _gathered(network, parts, range(0, n, batch_size), steps, ids)


def _gathered(network: Network, parts: list[dict], starts: range, steps: int, ids: np.ndarray) -> RunResult:
    """One RunResult of the batches' records (see ``run_sharded``)."""
    records = {}
    for monitor in network.monitors:
        key = (monitor.population, monitor.name)
        pieces = [part[key] for part in parts]
        if monitor.events:
            step = np.concatenate([piece[0] for piece in pieces])
            sample = np.concatenate([piece[1] + np.int32(start) for piece, start in zip(pieces, starts)])
            neuron = np.concatenate([piece[2] for piece in pieces])
            order = np.lexsort((neuron, sample, step))
            events = (step[order], sample[order], neuron[order])
            records[monitor] = SpikeEvents(events, steps, network.populations[monitor.population].n, ids, 0)
        elif monitor.what == "spike_counts":
            records[monitor] = np.concatenate(pieces, axis=0)
        elif pieces[0].ndim == 3:
            records[monitor] = np.concatenate(pieces, axis=1)
        else:
            records[monitor] = pieces[0]
    return RunResult(records, steps, ids)


def _check_inputs(inputs: Any) -> dict[str, np.ndarray]:
    if not isinstance(inputs, Mapping) or not inputs:
        raise ConfigError(f"inputs must map input populations to arrays, got {shown(inputs)}")
    arrays = {name: np.asarray(array) for name, array in inputs.items()}
    for name, array in arrays.items():
        if array.ndim not in (2, 3):
            raise ConfigError(
                f"inputs[{name!r}] must have shape (samples, n) or (steps, samples, n), got {array.shape}"
            )
    return arrays


def _n_samples(inputs: Mapping[str, np.ndarray]) -> int:
    sizes = {name: array.shape[array.ndim - 2] for name, array in inputs.items()}
    if len(set(sizes.values())) != 1 or 0 in sizes.values():
        raise ConfigError(f"inputs must have the same number (>= 1) of samples, got {sizes}")
    return next(iter(sizes.values()))


def _sample_ids(sample_ids: Any, n: int) -> np.ndarray:
    """``sample_ids`` (default ``0 .. n-1``) as uint64, checked: ``n`` non-negative integers."""
    ids = np.arange(n, dtype=np.uint64) if sample_ids is None else np.asarray(sample_ids)
    if ids.shape != (n,) or ids.dtype.kind not in "iu" or (ids.dtype.kind == "i" and n and ids.min() < 0):
        raise ConfigError(f"sample_ids must be {n} non-negative integers, one per sample, got {shown(sample_ids)}")
    return ids.astype(np.uint64)


def _samples(array: np.ndarray, rows: slice, axis: int) -> np.ndarray:
    """The samples ``rows`` of an array whose samples lie on ``axis`` (e.g. an input's axis 0 of
    (samples, n), axis 1 of (steps, samples, n))."""
    return np.ascontiguousarray(array[(slice(None),) * axis + (rows,)])
