"""The NumPy reference backend: the oracle of pysnn's semantics.

Straightforward array code: one Python iteration per time step, every kernel called on whole
(batch, n) arrays. Each step, in this order:

1. **Propagation.** For each projection, the source's output of the previous step times the
   weights, summed into a fresh accumulator in ascending source index (only sources with a
   non-zero output contribute).
2. **Population updates**, in the order the populations were added. While learning, every shared
   variable first takes ``update_shared``. An input population's output comes from its encoder.
   A neuron population's input is the sum of its projections' synapse outputs, in the order
   the projections were added, starting from 0; ``update`` gives its new state and spikes.
3. **Shared changes** (learning only): each shared variable's per-sample changes are folded
   over the batch in sample order with its reduction and added to it.
4. **Monitors** record.

The Numba backends perform the same float operations in the same order, which is what makes them
bit-identical to this one.
"""

from __future__ import annotations

import numpy as np

from pysnn import rng
from pysnn.backend import Backend, RunArgs, StateKey
from pysnn.errors import PluginError
from pysnn.plan import BoundPlugin, PopulationPlan, ProjectionPlan


class NumpyBackend(Backend):
    """Reference backend: array-at-a-time NumPy with a Python loop over time steps."""

    name = "numpy"

    def run(self, state: dict[StateKey, np.ndarray], args: RunArgs) -> None:
        plan = self.plan
        dt = np.asarray(plan.dt, plan.dtype)
        batch = args.sample_ids.size
        for t in range(args.steps):
            step = np.uint64(args.step0 + t)
            accumulated = [self._propagate(proj, state, batch) for proj in plan.projections]
            changes = {}
            for pop in plan.populations:
                if args.learning and "update_shared" in pop.plugin.kernels:
                    self._update_shared(pop, state, dt)
                keys = _element_keys(pop, args.sample_ids, step)
                if pop.is_input:
                    data = args.inputs[pop.name]
                    x = data[t] if data.ndim == 3 else data
                    out = _call(pop.plugin, "encode", {"x": x, "dt": dt, "rng": keys}, state, pop.name)
                    state["output", pop.name] = _as(out[0], state["output", pop.name].dtype, batch, pop.n)
                else:
                    i_in = self._synaptic_input(pop, accumulated, state, dt, batch)
                    changes[pop.name] = self._update(pop, state, i_in, dt, keys, batch)
            if args.learning:
                for pop in plan.populations:
                    for var, reduction in pop.reductions.items():
                        key = ("neuron", pop.name, var)
                        state[key] = (state[key] + reduce_batch(reduction, changes[pop.name][var])).astype(plan.dtype)
            self._record(args, state, t)

    def _propagate(self, proj: ProjectionPlan, state: dict[StateKey, np.ndarray], batch: int) -> np.ndarray:
        source = self.plan.populations[proj.source]
        out = state["output", source.name]
        weights = state["weights", proj.name]
        n_target = self.plan.populations[proj.target].n
        acc = np.zeros((batch, n_target), self.plan.dtype)

        def contribution(column: np.ndarray, w: np.ndarray) -> np.ndarray:
            # 0 where the source is silent; adding +0.0 leaves the accumulator's bits unchanged.
            return np.where(column[:, None], w, 0) if out.dtype == bool else column[:, None] * w

        if proj.kind == "one_to_one":
            acc += np.where(out, weights, 0) if out.dtype == bool else out * weights
            return acc
        for i in np.flatnonzero((out != 0).any(axis=0)):
            if proj.kind == "dense":
                acc += contribution(out[:, i], weights[i])
            else:
                lo, hi = proj.arrays["indptr"][i], proj.arrays["indptr"][i + 1]
                targets = proj.arrays["indices"][lo:hi]
                acc[:, targets] += contribution(out[:, i], weights[lo:hi])
        return acc

    def _synaptic_input(self, pop: PopulationPlan, accumulated, state, dt, batch) -> np.ndarray:
        i_in = np.zeros((batch, pop.n), self.plan.dtype)
        for k in pop.incoming:
            proj = self.plan.projections[k]
            results = _call(proj.synapse, "update", {"i_in": accumulated[k], "dt": dt}, state, proj.name, "synapse")
            for var, value in zip(proj.synapse.spec.state, results):
                state["synapse", proj.name, var] = _as(value, self.plan.dtype, batch, pop.n)
            i_in += _as(results[-1], self.plan.dtype, batch, pop.n)
        return i_in

    def _update(self, pop: PopulationPlan, state, i_in, dt, keys, batch) -> dict[str, np.ndarray]:
        spec = pop.plugin.spec
        results = _call(pop.plugin, "update", {"i_in": i_in, "dt": dt, "rng": keys}, state, pop.name)
        changes = {}
        for (var, decl), value in zip(spec.state.items(), results):
            if decl.shared:
                changes[var] = _as(value, self.plan.dtype, batch, pop.n)
            else:
                state["neuron", pop.name, var] = _as(value, self.plan.dtype, batch, pop.n)
        state["output", pop.name] = _as(results[-1], bool, batch, pop.n)
        return changes

    def _update_shared(self, pop: PopulationPlan, state, dt) -> None:
        results = _call(pop.plugin, "update_shared", {"dt": dt}, state, pop.name)
        for var, value in zip(pop.plugin.spec.shared_state, results):
            state["neuron", pop.name, var] = np.broadcast_to(np.asarray(value, self.plan.dtype), (pop.n,)).copy()

    def _record(self, args: RunArgs, state, t: int) -> None:
        for monitor, buffer in args.records.items():
            if monitor.what == "spike_counts":
                buffer += state["output", monitor.population]
            elif monitor.what == "spikes":
                buffer[t] = state["output", monitor.population]
            elif (t + 1) % monitor.every == 0:
                buffer[(t + 1) // monitor.every - 1] = state["neuron", monitor.population, monitor.what]


def reduce_batch(reduction: BoundPlugin, changes: np.ndarray) -> np.ndarray:
    """Fold ``combine`` over the batch axis of ``changes`` in sample order, then ``finish``."""
    dtype = changes.dtype
    combine, finish = reduction.kernels["combine"], reduction.kernels["finish"]
    acc = np.full(changes.shape[1:], reduction.spec.cls.identity, dtype)
    for change in changes:
        acc = np.asarray(combine(acc, change), dtype)
    return np.asarray(finish(acc, np.asarray(changes.shape[0], dtype)), dtype)


def _element_keys(pop: PopulationPlan, sample_ids: np.ndarray, step: np.uint64) -> np.ndarray | None:
    if not pop.plugin.uses("rng"):
        return None
    with np.errstate(over="ignore"):
        keys = rng.step_key(pop.stream, sample_ids[:, None], step)
        return rng.element_key(keys, np.arange(pop.n, dtype=np.uint64)[None, :])


def _call(bound: BoundPlugin, kernel: str, special: dict, state, owner: str, kind: str = "neuron") -> tuple:
    """Call a kernel with its arguments bound by name; always return a tuple of results."""
    values = []
    for name in bound.args(kernel):
        if name in special:
            values.append(special[name])
        elif name in bound.values:
            values.append(bound.values[name])
        else:
            values.append(state[kind, owner, name])
    try:
        with np.errstate(all="ignore"):
            result = bound.kernels[kernel](*values)
    except Exception as exc:
        raise PluginError(f"{bound.spec.label}: {kernel}() raised {type(exc).__name__}: {exc}") from exc
    return result if isinstance(result, tuple) else (result,)


def _as(value, dtype, batch: int, n: int) -> np.ndarray:
    """A kernel result as a fresh (batch, n) array of ``dtype`` (scalars broadcast)."""
    return np.array(np.broadcast_to(np.asarray(value).astype(dtype, copy=False), (batch, n)))

