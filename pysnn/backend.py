"""The backend interface, and how the backend of a simulation is chosen.

A backend is a class registered under the ``pysnn.backends`` entry-point group. ``Simulation``
constructs it once with the ``Plan`` and calls ``run`` for each run. Simulation state is a dict of
arrays under typed keys (``pysnn.state_keys``: ``NeuronKey``, ``OutputKey``, ``SynapseKey``,
``WeightsKey``, ``TraceKey``, ``RuleKey``, each naming its owner and variable).

The backend holds the state (``keys``, ``read``, ``write``, ``discard``); ``advance`` runs the
pieces of a run on a working copy that replaces the state only if no piece raises, and ``run``
advances that copy in place by ``steps`` steps and fills the monitor buffers of
``RunArgs.records``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any, Iterable, Mapping

import numpy as np

from pysnn.compile_notice import compile_notice
from pysnn.errors import ConfigError
from pysnn.learning_terms import LearningTerms
from pysnn.lowering import written_by_run
from pysnn.network import Monitor
from pysnn.plan import Plan
from pysnn.plugin import Kernel
from pysnn.state_keys import StateKey

DEFAULT_BACKEND = "numba-cpu"
BACKEND_ENV = "PYSNN_BACKEND"



@dataclass(frozen=True)
class RunArgs:
    """One run's arguments, validated."""

    steps: int
    step0: int
    """Steps simulated since the last reset: the step counter of the first step of this run."""
    sample_ids: np.ndarray
    """uint64 (batch,): each sample's id, which keys its random numbers."""
    learning: bool
    inputs: Mapping[str, np.ndarray]
    """Input population -> (batch, n) or (steps, batch, n) C-contiguous array (dtype, or bool for
    spikes): a NumPy array, or one in the backend's device memory (``Backend.asarray``)."""
    records: Mapping[Monitor, np.ndarray]
    """Monitor -> zeroed buffer to fill (see ``Network.monitor`` for shapes)."""
    reward: np.ndarray | None = None
    """Per-sample reward for learning rules: (batch,) or (steps, batch), dtype; None if unused."""
    deferred: bool = False
    """True: shared state stays fixed during the run and takes the summed changes at its end."""
    first: int = 0
    """Steps of the run before this piece of it (``pysnn.run_chunks``): 0 for a whole run."""
    held: dict = field(default_factory=dict)
    """Work arrays that a backend keeps across the pieces of one run (``lowering.HeldAccumulator``),
    shared by every piece of it."""
    terms: LearningTerms | None = None
    """A deferred learning run that hands its reduced changes back (``Simulation.run_terms``):
    the zeroed buffers to fill instead of applying them; shared state stays unchanged."""

    @property
    def fold_count(self) -> int:
        """The count that a reduction's ``finish`` takes: the batch size, or the whole batch's
        when the run is one part of it (``terms``)."""
        return self.sample_ids.size if self.terms is None else self.terms.count


class Backend(ABC):
    """Executes a ``Plan``; subclasses implement ``check_kernel`` and ``run``."""

    name: str = ""

    def __init__(self, plan: Plan) -> None:
        """Take ``plan`` and check that each of its kernels compiles for this backend."""
        self.plan = plan
        self._state: dict[StateKey, np.ndarray] = {}
        plugins = plan.bound_plugins()
        with compile_notice(f"the kernels of {len(plugins)} plugins for {self.name}, {plan.dtype.name}"):
            for bound in plugins:
                for name, kernel in bound.spec.kernels.items():
                    self.check_kernel(kernel, bound.kernels[name], plan.dtype, bound.spec.label)

    # -- the simulation state: host arrays here; a device backend overrides these methods to
    # keep the arrays in device memory, where ``advance`` can discard a failed run without a copy
    # to the host.

    def keys(self) -> set[StateKey]:
        """The keys of the state held now."""
        return set(self._state)

    def read(self, key: StateKey) -> np.ndarray:
        """A host copy of one state array."""
        return self._state[key].copy()

    def write(self, key: StateKey, value: np.ndarray) -> None:
        """Replace (or add) one state array with a copy of ``value``, already of its final shape
        and dtype."""
        self._state[key] = np.array(value)

    def discard(self, keep) -> None:
        """Drop every state array whose key ``keep(key)`` rejects."""
        self._state = {key: array for key, array in self._state.items() if keep(key)}

    def advance(self, runs: Iterable[RunArgs], added: Mapping[StateKey, np.ndarray], learning: bool) -> None:
        """Run each of ``runs`` in turn (consecutive pieces of one run, see
        ``pysnn.run_chunks``; ``learning``: they change the state shared by the batch) on a
        working copy of the state plus the ``added`` arrays (a new batch's per-sample state).
        The copy becomes the state when ``runs`` ends, also when it stops early (an interrupted
        run keeps its completed pieces); if a run raises, it is dropped, so a failed run changes
        nothing."""
        work = self.working_copy(added, learning)
        try:
            for args in runs:
                self.run(work, args)
        except BaseException:
            self.dropped(work)
            raise
        replaced, self._state = self._state, work
        self.dropped(replaced)

    def working_copy(self, added: Mapping[StateKey, np.ndarray], learning: bool) -> dict[StateKey, np.ndarray]:
        """The state for ``advance`` to run on, plus the ``added`` arrays: a copy of each array
        that the runs may write (``lowering.written_by_run``), the others as they are (weights
        are most of the state, and only learning runs write them, those that learn)."""
        sources = {**self._state, **added}
        return {key: np.array(array) if written_by_run(self.plan, key, learning) else array for key, array in sources.items()}

    def dropped(self, state: Mapping[StateKey, np.ndarray]) -> None:
        """``advance`` no longer uses ``state``, the state its working copy replaced or the copy
        of a failed run: a backend may keep its arrays for its next working copy, except those
        that the state still holds, which the working copy kept as they are (here they are all
        let go)."""

    def layout(self, key: StateKey) -> tuple[tuple[int, ...], np.dtype]:
        """The shape and dtype of one state array, without a copy."""
        array = self._state[key]
        return tuple(array.shape), np.dtype(array.dtype)

    # -- arrays that stay in device memory: only a GPU backend whose arrays other libraries take
    # (cupy) has them; the others take and give NumPy arrays

    def asarray(self, value: Any) -> Any:
        """``value``, an input or a ``set_state`` / ``set_weights`` value, as an array (not yet
        validated: ``Simulation`` checks it with the same rules either way): here a NumPy array
        (``np.asarray``); a GPU backend keeps an array already in its device memory there."""
        return np.asarray(value)

    def device_read(self, key: StateKey) -> Any:
        """A copy of one state array in device memory (``Simulation.state(..., device=True)``)."""
        raise ConfigError(
            f"device=True: backend {self.name!r} holds no state in device arrays; compile(backend='cupy') "
            "returns CuPy arrays (here device=False gives a NumPy copy)"
        )

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this backend cannot run on this machine (a package, a driver or a device is
        missing), or None if it can."""
        return None

    @classmethod
    @abstractmethod
    def check_kernel(cls, kernel: Kernel, bound: FunctionType, dtype: np.dtype, label: str) -> None:
        """Raise ``PluginError`` (prefixed with ``label``) unless ``bound``, the kernel rewritten
        for ``dtype``, compiles for this backend and returns the declared types."""

    @abstractmethod
    def run(self, state: dict[StateKey, np.ndarray], args: RunArgs) -> None:
        """Advance ``state`` (a working copy, see ``advance``) by ``args.steps`` steps in place
        and fill ``args.records``."""


def backend_name(name: str | None) -> str:
    """``name``, else ``$PYSNN_BACKEND``, else ``numba-cpu``."""
    if name is None:
        name = os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
    return name
