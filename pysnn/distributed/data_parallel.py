"""Data-parallel deferred learning: one batch's samples split over Dask workers, their learning
terms combined and applied on the client.

Each part runs ``Simulation.run_terms`` on its worker from the client simulation's shared state
and hands back its records and its reduced changes; the client combines them in sample order
(``Simulation.apply_terms``). Shared state is fixed during a deferred run and random numbers are
keyed by sample id, so the records are bit-identical to one process's deferred run of the whole
batch, and so is the new shared state for max and min; for sum and mean it is equal within
round-off (the parts' totals are added in another order; see ``pysnn.learning_terms``).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from pysnn import learning_terms
from pysnn.errors import ConfigError, positive_int, shown
from pysnn.network import structure_digest
from pysnn.results import RunResult
from pysnn.simulation import Simulation
from pysnn.distributed.cluster import require_dask
from pysnn.distributed.sharded import _check_inputs, _gathered, _n_samples, _sample_ids, map_batches, records_of
from pysnn.distributed.tasks import Model

SharedState = tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]
"""Every projection's weights, and every shared neuron variable by (population, variable)."""


class ShardedLearning:
    """Deferred learning runs of ``model``'s network whose batches are split over the workers of
    ``client`` (a ``distributed.Client``, e.g. of ``pysnn.distributed.cluster``).

    ``parts``: the number of parts of a batch (None: one per worker of the client at each run;
    never more than the batch's samples). Each worker compiles ``model`` once and reuses its
    simulation; the shared state it starts from is the client simulation's at each run, so the
    model's own weights and state do not matter, but it must be of the same network (structure,
    dtype and seed) as the simulations given to ``run``.
    """

    def __init__(self, client: Any, model: Model, parts: int | None = None) -> None:
        distributed = require_dask()
        if not isinstance(client, distributed.Client):
            raise ConfigError(
                f"client must be a distributed.Client (e.g. of pysnn.distributed.cluster), got {shown(client)}"
            )
        if not isinstance(model, Model):
            raise ConfigError(f"model must be a pysnn.distributed.Model (Model.of(network, backend)), got {shown(model)}")
        self.client = client
        self.model = model
        self.parts = None if parts is None else positive_int(parts, "parts")

    def run(
        self, sim: Simulation, steps: int, inputs: Mapping[str, Any], *, sample_ids: Any = None, reward: Any = None
    ) -> RunResult:
        """``sim.reset(); sim.run(steps, inputs, sample_ids=sample_ids, reward=reward,
        deferred=True)``, with the batch's samples split into parts of ``ceil(batch / parts)``
        consecutive samples, each a task on a worker.

        ``inputs``: input population -> (batch, n) or (steps, batch, n); ``reward`` (rules that
        read it): (batch,) or (steps, batch); ``sample_ids`` (default ``0 .. batch-1``) key the
        samples' random numbers. The client's shared state (every projection's weights, every
        shared neuron variable) is scattered to the workers once (again with the model, if every
        worker that held them died); each part runs
        ``run_terms(..., count=batch)`` on it with its samples' ids and returns its records and
        terms. Then ``sim`` applies the combined terms and is reset: its shared state is the
        one run's (exactly for max and min, within round-off for sum and mean), but the
        per-sample state at the end of the run stays on the workers and is not gathered.

        Returns the records gathered as ``run_sharded`` gathers them, bit-identical to the one
        run's. Every reduction must split (sum, mean, max, min: ``learning_terms.split_layout``).
        Invalid arguments raise ``ConfigError`` before anything is submitted; an error in a task
        (e.g. ``NumericalError``) or in applying the terms is raised here as itself; either way
        ``sim`` is unchanged.
        """
        if not isinstance(sim, Simulation):
            raise ConfigError(f"sim must be a Simulation (network.compile()) of the model's network, got {shown(sim)}")
        learning_terms.split_layout(sim.plan)  # refuses median and other reductions that cannot be split
        self._check_model(sim)
        arrays = _check_inputs(inputs)
        n = _n_samples(arrays)
        ids = _sample_ids(sample_ids, n)
        steps = sim.check_run(steps, arrays, sample_ids=ids, reward=reward, deferred=True)
        rewards = None if reward is None else np.asarray(reward)
        parts = self.parts or len(self.client.nthreads()) or 1
        size = -(-n // min(parts, n))  # ceil: at most `parts` parts, the largest as small as it can be
        per_sample = {} if rewards is None else {"reward": rewards}
        results = map_batches(
            self.client, self.model, learn_part, arrays, ids, size, (steps, n), per_sample=per_sample, shared=(_shared_state(sim),)
        )
        sim.apply_terms([terms for _, terms in results])
        sim.reset()
        return _gathered(self.model.network, [records for records, _ in results], range(0, n, size), steps, ids)

    def _check_model(self, sim: Simulation) -> None:
        """``ConfigError`` unless ``sim`` and the model are of one network (structure and
        monitors), dtype and seed."""
        model = self.model
        differ = [
            f"{what} {theirs!r} (the model's: {mine!r})"
            for what, mine, theirs in (
                ("structure hash", model.network.structure_hash(), structure_digest(sim._structure)),
                ("monitors", tuple(model.network.monitors), sim.plan.monitors),
                ("dtype", str(model.dtype), sim.dtype.name),
                ("seed", model.seed, sim.plan.seed),
            )
            if mine != theirs
        ]
        if differ:
            raise ConfigError(
                f"sim is not a simulation of the model: sim has {'; '.join(differ)}; make the model "
                "with Model.of(network, backend, dtype, seed) of the network, dtype and seed that sim was compiled with"
            )


def _shared_state(sim: Simulation) -> SharedState:
    """``sim``'s current shared state, which every part starts from."""
    weights = {proj.name: sim.weights(proj.name) for proj in sim.plan.projections}
    state = {
        (pop.name, var): sim.state(pop.name, var) for pop in sim.plan.populations for var in pop.plugin.spec.shared_state
    }
    return weights, state


def learn_part(
    sim: Simulation,
    inputs: Mapping[str, np.ndarray],
    ids: np.ndarray,
    steps: int,
    count: int,
    shared: SharedState,
    reward: Any = None,
) -> tuple[dict, learning_terms.LearningTerms]:
    """A task of ``ShardedLearning.run``: the part's deferred learning run from ``shared`` state,
    as a part of a batch of ``count`` samples; its records (``records_of``) and terms (per-step
    rows packed: mostly zeros)."""
    weights, state = shared
    for projection, w in weights.items():
        sim.set_weights(projection, w)
    for (owner, variable), value in state.items():
        sim.set_state(owner, variable, value)
    result, terms = sim.run_terms(steps, inputs, sample_ids=ids, reward=reward, count=count)
    return records_of(result), terms.packed()
