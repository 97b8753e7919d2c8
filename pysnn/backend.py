"""The backend interface, and how the backend of a simulation is chosen.

A backend is a class registered under the ``pysnn.backends`` entry-point group. ``Simulation``
constructs it once with the ``Plan`` and calls ``run`` for each run. Simulation state is a dict of
arrays, keyed as follows:

- ``("neuron", population, variable)``: per-sample state (batch, n), shared state (n,);
- ``("output", population)``: the last step's output, (batch, n), bool for spiking populations
  and the dtype for analog inputs;
- ``("synapse", projection, variable)``: synapse state (batch, n_target);
- ``("weights", projection)``: weights (dense (n_source, n_target), sparse (nnz,),
  one-to-one (n,));
- ``("trace", population)``: spike trace (batch, n), for populations whose trace is read;
- ``("rule", projection, variable)``: learning-rule state per sample and synapse
  (batch, n_synapses), synapses in row-major (dense) or CSR (sparse) order.

``run`` advances the state in place by ``steps`` steps (on a copy that ``Simulation`` commits only
if ``run`` returns) and fills the monitor buffers of ``RunArgs.records``.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from pysnn.network import Monitor
from pysnn.plan import Plan

DEFAULT_BACKEND = "numba-cpu"
BACKEND_ENV = "PYSNN_BACKEND"

StateKey = tuple[str, ...]


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
    """Input population -> (batch, n) or (steps, batch, n) array (dtype, or bool for spikes)."""
    records: Mapping[Monitor, np.ndarray]
    """Monitor -> zeroed buffer to fill (see ``Network.monitor`` for shapes)."""
    reward: np.ndarray | None = None
    """Per-sample reward for learning rules: (batch,) or (steps, batch), dtype; None if unused."""
    deferred: bool = False
    """True: shared state stays fixed during the run and takes the summed changes at its end."""


class Backend(ABC):
    """Executes a ``Plan``; subclasses implement ``run``."""

    name: str = ""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    @abstractmethod
    def run(self, state: dict[StateKey, np.ndarray], args: RunArgs) -> None:
        """Advance ``state`` by ``args.steps`` steps and fill ``args.records``."""


def backend_name(name: str | None) -> str:
    """``name``, else ``$PYSNN_BACKEND``, else ``numba-cpu``."""
    if name is None:
        name = os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
    return name
