"""A compiled network: its state on a backend, and the run / reset / state-access API."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from pysnn import registry
from pysnn.backend import Backend, RunArgs, backend_name
from pysnn.errors import ConfigError, PluginError
from pysnn.network import Monitor, Network
from pysnn.plan import PopulationPlan, build_plan
from pysnn.results import RunResult
from pysnn.state_keys import NeuronKey, OutputKey, RuleKey, StateKey, SynapseKey, TraceKey, WeightsKey


class Simulation:
    """B copies of a network simulated in lock-step, one input sample each.

    Made by ``Network.compile``. Per-sample state (membrane potentials, outputs, synapse currents)
    has a leading batch axis; weights and other shared state have none. State persists from one
    ``run`` to the next until ``reset``.
    """

    def __init__(self, network: Network, backend: str | None, dtype: str, batch_size: int | None, seed: int) -> None:
        self.plan = build_plan(network, dtype, seed)
        self._traces = {name: set(pop.traces) for name, pop in network.populations.items()}
        """Population -> the names of its declared traces (computed or not)."""
        self.backend = backend_name(backend)
        backend_class = registry.load("backend", self.backend)
        if not (isinstance(backend_class, type) and issubclass(backend_class, Backend)):
            raise PluginError(f"backend {self.backend!r} is {backend_class!r}, not a pysnn.backend.Backend subclass")
        self._engine = backend_class(self.plan)
        self.step = 0
        """Steps simulated since the last reset."""
        self.batch_size: int | None = None
        """Batch size of the per-sample state; None until a run or ``reset(batch_size)``."""
        for key, array in self._shared_state().items():
            self._engine.write(key, array)
        if batch_size is not None:
            self.reset(batch_size)

    @property
    def dtype(self) -> np.dtype:
        return self.plan.dtype

    def run(
        self,
        steps: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        sample_ids: Any = None,
        learning: bool = True,
        reward: Any = None,
        deferred: bool = False,
    ) -> RunResult:
        """Simulate ``steps`` time steps of every sample of the batch; return the recordings.

        ``inputs`` maps each input population to an array of shape (batch, n) (the same values
        every step) or (steps, batch, n); ``steps`` may be omitted when an input gives it.
        ``sample_ids`` (default ``0 .. batch-1``) are the samples' ids in the data set: they key
        the samples' random numbers, so a sample gives the same result in any batch.
        ``learning`` lets shared learned state change (weights, adaptive thresholds).
        ``reward`` is the per-sample reward of reward-modulated rules, (batch,) or (steps, batch).
        ``deferred=False`` applies the batch-reduced changes of shared state after every step
        (the paper's semantics); ``deferred=True`` keeps shared state fixed during the run and
        applies, when it ends, the sum over steps of the reduced changes (see the README).
        Invalid arguments raise ``ConfigError`` and leave the simulation unchanged.
        """
        inputs = self._check_input_mapping(inputs)
        steps = self._check_steps(steps, inputs)
        batch = self._batch_size(inputs, sample_ids)
        prepared = {name: self._prepare_input(self.plan.population(name), value) for name, value in inputs.items()}
        ids = _sample_ids(sample_ids, batch)
        for name, flag in (("learning", learning), ("deferred", deferred)):
            if not isinstance(flag, (bool, np.bool_)):
                raise ConfigError(f"{name} must be True or False, got {flag!r}")
        rewards = self._check_reward(reward, steps, batch, bool(learning))
        args = RunArgs(
            steps, self.step, ids, bool(learning), prepared, self._records(steps, batch), rewards, bool(deferred)
        )
        self._engine.advance(args, self._per_sample_state(batch) if self.batch_size is None else {})
        self.batch_size = batch
        self.step += steps
        return RunResult(args.records, steps, ids)

    def reset(self, batch_size: int | None = None) -> None:
        """Per-sample state back to its initial values and the step counter to 0.

        Shared state (weights, learned thresholds) is kept. Without ``batch_size`` the next run
        takes its batch size from its inputs; with it, per-sample state is allocated now (e.g. to
        ``set_state`` before running).
        """
        self._engine.discard(lambda key: isinstance(key, WeightsKey) or self._is_shared(key))
        self.batch_size = None
        self.step = 0
        if batch_size is not None:
            if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
                raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
            for key, array in self._per_sample_state(int(batch_size)).items():
                self._engine.write(key, array)
            self.batch_size = int(batch_size)

    def state(self, owner: str, variable: str) -> np.ndarray:
        """A copy of a state variable of a population or a projection's synapses.

        Per-sample variables have shape (batch, n), shared ones (n,); ``"output"`` is a
        population's output of the last step.
        """
        return self._engine.read(self._state_key(owner, variable))

    def set_state(self, owner: str, variable: str, value: Any) -> None:
        """Overwrite a state variable with ``value`` (broadcast to its shape)."""
        key = self._state_key(owner, variable)
        self._engine.write(key, self._checked_array(value, self._engine.read(key), f"{owner}.{variable}"))

    def weights(self, projection: str) -> np.ndarray:
        """A copy of a projection's weights (dense (n_source, n_target), sparse (nnz,), one-to-one (n,))."""
        return self._engine.read(self._weights_key(projection))

    def set_weights(self, projection: str, weights: Any) -> None:
        """Overwrite a projection's weights (same shape as ``weights(projection)``)."""
        key = self._weights_key(projection)
        self._engine.write(key, self._checked_array(weights, self._engine.read(key), f"weights of {projection!r}"))

    def normalize_weights(self, projection: str, total: float) -> None:
        """Scale each target neuron's incoming weights to sum to ``total`` (e.g. Diehl & Cook's
        78.4, after each presentation). Targets whose weights sum to 0 are left unchanged."""
        key = self._weights_key(projection)
        if isinstance(total, bool) or not isinstance(total, (int, float)) or not np.isfinite(total):
            raise ConfigError(f"normalize_weights total must be a finite number, got {total!r}")
        proj = next(p for p in self.plan.projections if p.name == projection)
        w = self._engine.read(key)
        if proj.kind == "dense":
            sums = w.sum(axis=0)
        elif proj.kind == "sparse":
            sums = np.bincount(proj.arrays["indices"], weights=w, minlength=self.plan.populations[proj.target].n)
        else:
            sums = w
        sums = sums.astype(self.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(sums != 0, self.dtype.type(total) / sums, self.dtype.type(1)).astype(self.dtype)
        self._engine.write(key, (w * (scale[proj.arrays["indices"]] if proj.kind == "sparse" else scale)).astype(self.dtype))

    def __repr__(self) -> str:
        return (
            f"Simulation(backend={self.backend!r}, dtype={self.dtype.name}, batch_size={self.batch_size}, "
            f"step={self.step}, populations={[p.name for p in self.plan.populations]})"
        )

    # -- state layout -------------------------------------------------------------------------

    def _shared_state(self) -> dict[StateKey, np.ndarray]:
        state = {WeightsKey(p.name): p.arrays["weights"].copy() for p in self.plan.projections}
        for pop in self.plan.populations:
            for var in pop.plugin.spec.shared_state:
                state[NeuronKey(pop.name, var)] = pop.init[var].copy()
        return state

    def _per_sample_state(self, batch: int) -> dict[StateKey, np.ndarray]:
        state = {}
        for pop in self.plan.populations:
            for var in pop.plugin.spec.per_sample_state:
                state[NeuronKey(pop.name, var)] = np.repeat(pop.init[var][None, :], batch, axis=0)
            out_dtype = bool if pop.spiking else self.dtype
            state[OutputKey(pop.name)] = np.zeros((batch, pop.n), out_dtype)
            for trace in pop.traces:
                state[TraceKey(pop.name, trace.name)] = np.zeros((batch, pop.n), self.dtype)
        for proj in self.plan.projections:
            for var, init in proj.init.items():
                state[SynapseKey(proj.name, var)] = np.repeat(init[None, :], batch, axis=0)
            if proj.learning is not None:
                n_synapses = proj.arrays["weights"].size
                for var, decl in proj.learning.rule.spec.state.items():
                    value = proj.rule_value(decl.init) if isinstance(decl.init, str) else decl.init
                    state[RuleKey(proj.name, var)] = np.full((batch, n_synapses), value, self.dtype)
        return state

    def _is_shared(self, key: StateKey) -> bool:
        return isinstance(key, NeuronKey) and self.plan.population(key.owner).plugin.spec.state[key.variable].shared

    def _state_key(self, owner: str, variable: str) -> StateKey:
        if owner in (p.name for p in self.plan.populations):
            if variable == "output":
                key = OutputKey(owner)
            else:
                key = (TraceKey if variable in self._traces[owner] else NeuronKey)(owner, variable)
        elif owner in (p.name for p in self.plan.projections):
            proj = next(p for p in self.plan.projections if p.name == owner)
            learned = proj.learning is not None and variable in proj.learning.rule.spec.state
            key = (RuleKey if learned else SynapseKey)(owner, variable)
        else:
            raise ConfigError(f"{owner!r} is neither a population nor a projection of this network")
        if key not in self._engine.keys():
            pop = next((p for p in self.plan.populations if p.name == owner), None)
            if pop is not None and variable in self._traces[owner]:
                raise ConfigError(f"the trace {variable!r} of {owner!r} is not computed: no learning rule or monitor reads it")
            if self.batch_size is None and variable in self._per_sample_names(owner):
                raise ConfigError(
                    f"{owner}.{variable} has a batch axis and no batch size is set yet; "
                    "run first or call reset(batch_size=...)"
                )
            known = sorted(k.variable for k in self._engine.keys() if not isinstance(k, WeightsKey) and k.owner == owner)
            raise ConfigError(f"{owner!r} has no state variable {variable!r}; it has: {', '.join(known) or 'none yet'}")
        return key

    def _per_sample_names(self, owner: str) -> tuple[str, ...]:
        """The variables of a population or projection that have a batch axis."""
        for pop in self.plan.populations:
            if pop.name == owner:
                return (*pop.plugin.spec.per_sample_state, "output", *(t.name for t in pop.traces))
        proj = next(p for p in self.plan.projections if p.name == owner)
        rule_state = tuple(proj.learning.rule.spec.state) if proj.learning else ()
        return (*proj.synapse.spec.state, *rule_state)

    def _weights_key(self, projection: str) -> StateKey:
        if WeightsKey(projection) not in self._engine.keys():
            names = ", ".join(p.name for p in self.plan.projections) or "none"
            raise ConfigError(f"no projection named {projection!r}; projections: {names}")
        return WeightsKey(projection)

    @staticmethod
    def _checked_array(value: Any, current: np.ndarray, what: str) -> np.ndarray:
        try:
            array = np.array(np.broadcast_to(np.asarray(value, dtype=current.dtype), current.shape))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{what}: cannot use a value of shape {np.shape(value)} for shape {current.shape}") from exc
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ConfigError(f"{what} must be finite")
        return array

    # -- run arguments --------------------------------------------------------------------------

    def _check_input_mapping(self, inputs: Any) -> dict[str, Any]:
        inputs = {} if inputs is None else inputs
        if not isinstance(inputs, Mapping):
            raise ConfigError(f"inputs must be a dict of input population -> array, got {type(inputs).__name__}")
        expected = [p.name for p in self.plan.populations if p.is_input]
        unknown = [name for name in inputs if name not in expected]
        if unknown:
            raise ConfigError(f"inputs {unknown} are not input populations; input populations: {expected or 'none'}")
        missing = [name for name in expected if name not in inputs]
        if missing:
            raise ConfigError(f"inputs is missing {missing}; every input population needs an array")
        return dict(inputs)

    def _check_steps(self, steps: Any, inputs: Mapping[str, Any]) -> int:
        timed = {name: np.shape(value)[0] for name, value in inputs.items() if np.ndim(value) == 3}
        if steps is None:
            if not timed:
                raise ConfigError("steps is required unless an input has shape (steps, batch, n)")
            steps = next(iter(timed.values()))
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ConfigError(f"steps must be a positive integer, got {steps!r}")
        for name, length in timed.items():
            if length != steps:
                raise ConfigError(f"inputs[{name!r}] has {length} steps along axis 0, but steps={steps}")
        return int(steps)

    def _batch_size(self, inputs: Mapping[str, Any], sample_ids: Any) -> int:
        sizes = {name: np.shape(value)[-2] for name, value in inputs.items() if np.ndim(value) in (2, 3)}
        if sample_ids is not None:
            sizes["sample_ids"] = np.size(sample_ids)
        if len(set(sizes.values())) > 1:
            raise ConfigError(f"batch sizes disagree: {sizes}; every input and sample_ids need the same batch size")
        if sizes:
            batch = next(iter(sizes.values()))
        elif self.batch_size is not None:
            batch = self.batch_size
        else:
            raise ConfigError("no batch size: the network has no inputs; pass sample_ids= or compile(batch_size=...)")
        if batch == 0:
            raise ConfigError("batch size is 0; give at least one sample")
        if self.batch_size is not None and batch != self.batch_size:
            raise ConfigError(
                f"the simulation holds state for batch size {self.batch_size}, the inputs have {batch}; "
                f"call reset() (or reset(batch_size={batch})) to start a new batch"
            )
        return batch

    def _prepare_input(self, pop: PopulationPlan, value: Any) -> np.ndarray:
        what = f"inputs[{pop.name!r}]"
        cls = pop.plugin.spec.cls
        try:
            array = np.asarray(value)
        except Exception as exc:  # noqa: BLE001 - anything that is not array-like
            raise ConfigError(f"{what} must be an array, got {type(value).__name__}") from exc
        if array.ndim not in (2, 3) or array.shape[-1] != pop.n:
            raise ConfigError(
                f"{what} must have shape (batch, {pop.n}) or (steps, batch, {pop.n}), got {array.shape}"
            )
        if array.dtype.kind not in "biuf":
            raise ConfigError(f"{what} must be numeric or bool, got dtype {array.dtype}")
        if cls.input_dtype == "bool":
            bad = (array != 0) & (array != 1)
            expected = "0 or 1"
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                cast = array.astype(self.dtype)
                lo, hi = cls.input_range
                bad = ~(np.isfinite(cast) & (cast >= lo) & (cast <= hi))
            expected = f"finite, within [{lo}, {hi}] in {self.dtype.name}"
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ConfigError(
                f"{what} holds {cls.input_description} for the {pop.plugin.spec.label}; element {index} "
                f"is {array[index].item()!r}, expected {expected}"
            )
        dtype = np.dtype(bool) if cls.input_dtype == "bool" else self.dtype
        return np.ascontiguousarray(array, dtype=dtype)

    def _records(self, steps: int, batch: int) -> dict[Monitor, np.ndarray]:
        records = {}
        for monitor in self.plan.monitors:
            pop = self.plan.population(monitor.population)
            if monitor.what == "spike_counts":
                records[monitor] = np.zeros((batch, pop.n), np.int32)
            elif monitor.what == "spikes":
                records[monitor] = np.zeros((steps, batch, pop.n), bool)
            else:
                shared = monitor.what in pop.plugin.spec.state and pop.plugin.spec.state[monitor.what].shared
                shape = (pop.n,) if shared else (batch, pop.n)
                records[monitor] = np.zeros((steps // monitor.every, *shape), self.dtype)
        return records

    def _check_reward(self, reward: Any, steps: int, batch: int, learning: bool) -> np.ndarray | None:
        if reward is None:
            if learning and self.plan.uses_reward:
                rules = [p.learning.rule.spec.label for p in self.plan.projections if p.learning and p.learning.uses("reward")]
                raise ConfigError(f"reward is required while learning: {', '.join(rules)} read(s) it")
            return None
        if not self.plan.uses_reward:
            raise ConfigError("reward was given, but no learning rule of this network reads it")
        array = np.asarray(reward, dtype=np.float64)
        if array.shape not in ((batch,), (steps, batch)):
            raise ConfigError(f"reward must have shape (batch,) = ({batch},) or (steps, batch) = ({steps}, {batch}), got {array.shape}")
        if not np.isfinite(array).all():
            raise ConfigError("reward must be finite")
        return np.ascontiguousarray(array, dtype=self.dtype)


def _sample_ids(sample_ids: Any, batch: int) -> np.ndarray:
    if sample_ids is None:
        return np.arange(batch, dtype=np.uint64)
    ids = np.asarray(sample_ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or (ids.dtype.kind == "i" and ids.size and ids.min() < 0):
        raise ConfigError(f"sample_ids must be a 1-D array of non-negative integers, got {sample_ids!r}")
    return ids.astype(np.uint64)

