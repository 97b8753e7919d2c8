"""What runs on a Dask worker: the network a task simulates (``Model``, scattered once), each
worker's compiled simulations (compiled once per model, reused by its tasks), and the capture of
pysnn errors, which come back to the client as themselves instead of a Dask traceback."""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from pysnn.backend import backend_name
from pysnn.errors import PySNNError
from pysnn.network import Network

CACHED_MODELS = 4
"""Compiled simulations a worker keeps (least recently used dropped first)."""


@dataclass(frozen=True)
class Model:
    """A network as its tasks compile it: the description, the backend, dtype and seed, and the
    values to set after compiling (``weights``: projection -> array; ``state``: (owner, variable)
    -> array, e.g. learned weights and thresholds). ``key`` digests all of it: a worker compiles
    a model once and reuses the simulation for every task of the same key."""

    network: Network
    backend: str
    dtype: str
    seed: int
    weights: Mapping[str, np.ndarray] = field(default_factory=dict)
    state: Mapping[tuple[str, str], np.ndarray] = field(default_factory=dict)
    key: str = ""

    @classmethod
    def of(
        cls,
        network: Network,
        backend: str | None = None,
        dtype: str = "float32",
        seed: int = 0,
        weights: Mapping[str, Any] | None = None,
        state: Mapping[tuple[str, str], Any] | None = None,
    ) -> Model:
        """The model of ``network`` (copied as pickled now, so later changes to it change nothing)."""
        weights = {name: np.asarray(w) for name, w in (weights or {}).items()}
        state = {tuple(k): np.asarray(v) for k, v in (state or {}).items()}
        body = pickle.dumps((network, backend_name(backend), dtype, seed, weights, state))
        key = f"{network.structure_hash()}-{hashlib.sha256(body).hexdigest()[:16]}"
        return cls(*pickle.loads(body), key=key)

    def compile(self) -> Any:
        """A Simulation of the model with its weights and state set."""
        sim = self.network.compile(self.backend, dtype=self.dtype, seed=self.seed)
        for projection, weights in self.weights.items():
            sim.set_weights(projection, weights)
        for (owner, variable), value in self.state.items():
            sim.set_state(owner, variable, value)
        return sim


_simulations: OrderedDict[str, tuple[Any, threading.Lock]] = OrderedDict()
_simulations_lock = threading.Lock()


def _simulation(model: Model) -> tuple[Any, threading.Lock]:
    """This process's simulation of ``model`` and the lock its runs hold (a worker may run
    several tasks at once in threads), compiled on first use (from the on-disk cache)."""
    with _simulations_lock:
        if model.key not in _simulations:
            _simulations[model.key] = (model.compile(), threading.Lock())
            while len(_simulations) > CACHED_MODELS:
                _simulations.popitem(last=False)
        _simulations.move_to_end(model.key)
        return _simulations[model.key]


@dataclass(frozen=True)
class TaskFailure:
    """A pysnn error raised in a task, returned as a value: not retried (it would raise again),
    and re-raised on the client by ``reraise`` as the same exception."""

    error: PySNNError


def reraise(result: Any) -> Any:
    """``result``, or its error raised here if it is a ``TaskFailure`` (without the worker's
    traceback: the message names what failed)."""
    if isinstance(result, TaskFailure):
        raise result.error.with_traceback(None) from None
    return result


def run_batch(model: Model, batch_fn: Callable[..., Any], inputs: Mapping[str, np.ndarray], ids: np.ndarray, args: tuple) -> Any:
    """A task: ``batch_fn(sim, inputs, ids, *args)`` on this worker's simulation of ``model``,
    reset first; a pysnn error comes back as a ``TaskFailure``."""
    try:
        sim, lock = _simulation(model)
        with lock:
            sim.reset()
            return batch_fn(sim, inputs, ids, *args)
    except PySNNError as error:
        return TaskFailure(error)


def run_call(func: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """A task: ``func(**kwargs)``; a pysnn error comes back as a ``TaskFailure``."""
    try:
        return func(**kwargs)
    except PySNNError as error:
        return TaskFailure(error)
