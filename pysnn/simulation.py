"""A compiled network: its state on a backend, and the run / reset / state-access API."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from pysnn import learning_terms, registry
from pysnn.backend import Backend, RunArgs, backend_name
from pysnn.errors import (
    ConfigError,
    NumericalError,
    PluginError,
    allocating,
    as_array,
    cast_values,
    checked_array,
    flag,
    positive_int,
    real_number,
    shown,
)
from pysnn.learning_terms import LearningTerms
from pysnn.lowering import finite_checks, learned_state, shared_state
from pysnn.network import Monitor, Network
from pysnn.plan import PopulationPlan, build_plan
from pysnn.results import RunResult
from pysnn.run_chunks import RunInterrupted, RunPieces, event_buffer_steps, interrupt_flag, period, progress_report
from pysnn.state_keys import NeuronKey, OutputKey, RuleKey, StateKey, SynapseKey, TraceKey, WeightsKey

MAX_STEP = 2**63 - 1
"""The largest value of the step counter: compiled code counts steps in int64."""


class Simulation:
    """B copies of a network simulated in lock-step, one input sample each.

    Made by ``Network.compile``. Per-sample state (membrane potentials, outputs, synapse currents)
    has a leading batch axis; weights and other shared state have none. State persists from one
    ``run`` to the next until ``reset``.
    """

    def __init__(
        self, network: Network, backend: str | None, dtype: str, batch_size: int | None, seed: int, check_finite: bool = True
    ) -> None:
        if not isinstance(network, Network):
            raise ConfigError(f"network must be a pysnn.Network, got {shown(network)}; use Network.compile")
        if backend is not None and not isinstance(backend, str):
            raise ConfigError(f"backend must be a backend's name (e.g. 'numba-cpu', 'numpy') or None, got {shown(backend)}")
        sizes = ", ".join(f"{pop.name}: {pop.n}" for pop in network.populations.values())
        with allocating(f"compile: the network (population sizes {sizes}) is"):
            self.plan = build_plan(network, dtype, seed, check_finite)
        self._structure = network.structure()
        """The network's ``structure()`` when compiled, which checkpoints record (``pysnn.checkpoint``)."""
        self._traces = {name: set(pop.traces) for name, pop in network.populations.items()}
        """Population -> the names of its declared traces (computed or not)."""
        self.backend = backend_name(backend)
        backend_class = registry.load("backend", self.backend)
        if not (isinstance(backend_class, type) and issubclass(backend_class, Backend)):
            raise PluginError(f"backend {self.backend!r} is {backend_class!r}, not a pysnn.backend.Backend subclass")
        self._engine = backend_class(self.plan)
        self._reference: Backend | None = None
        """The NumPy backend of the plan, made when ``apply_terms`` first needs it."""
        self._step = 0
        self._batch_size: int | None = None
        for key, array in self._shared_state().items():
            self._engine.write(key, array)
        if batch_size is not None:
            self.reset(batch_size)

    @property
    def dtype(self) -> np.dtype:
        return self.plan.dtype

    @property
    def step(self) -> int:
        """Steps simulated since the last reset (read-only; ``reset`` sets it to 0)."""
        return self._step

    @property
    def batch_size(self) -> int | None:
        """Batch size of the per-sample state; None until a run or ``reset(batch_size)``
        (read-only: the state's arrays have this many rows)."""
        return self._batch_size

    def run(
        self,
        steps: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        sample_ids: Any = None,
        learning: bool = True,
        reward: Any = None,
        deferred: bool = False,
        progress: bool | Callable[[int, int], None] | None = None,
    ) -> RunResult:
        """Simulate ``steps`` time steps of every sample of the batch; return the recordings.

        ``inputs`` maps each input population to an array of shape (batch, n) (the same values
        every step) or (steps, batch, n); ``steps`` may be omitted when an input gives it. On the
        cupy backend an array on the GPU (CuPy; PyTorch, JAX... through ``__cuda_array_interface__``
        or DLPack) is read there, without a copy to the host.
        ``sample_ids`` (default ``0 .. batch-1``) are the samples' ids in the data set: they key
        the samples' random numbers, so a sample gives the same result in any batch.
        ``learning`` lets shared learned state change (weights, adaptive thresholds).
        ``reward`` is the per-sample reward of reward-modulated rules, (batch,) or (steps, batch).
        ``deferred=False`` applies the batch-reduced changes of shared state after every step
        (the paper's semantics); ``deferred=True`` keeps shared state fixed during the run and
        applies, when it ends, the sum over steps of the reduced changes (see the README).
        The step counter (``step``) may not pass 2**63 - 1. Invalid arguments raise
        ``ConfigError`` and leave the simulation unchanged.

        ``progress``: True shows a tqdm progress bar (steps/s; only on a terminal), a function
        is called as ``progress(steps_done, steps)`` as the run advances. Ctrl-C stops the run
        at a step boundary within about half a second (``pysnn.run_chunks``) and raises
        ``RunInterrupted`` (a ``KeyboardInterrupt``): the completed steps are kept, their
        records in its ``result``. A deferred learning run stops only at its end.
        """
        return self._run(steps, inputs, sample_ids, learning, reward, deferred, progress)[0]

    def run_terms(
        self,
        steps: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        sample_ids: Any = None,
        reward: Any = None,
        count: int | None = None,
        progress: bool | Callable[[int, int], None] | None = None,
    ) -> tuple[RunResult, LearningTerms]:
        """A deferred learning run (``run(..., learning=True, deferred=True)``) that hands back
        its batch-reduced changes instead of applying them: shared state stays as it is.

        The batch may be one part of a larger one, run by another process (data-parallel
        learning, ``pysnn.distributed.ShardedLearning``): ``count`` is the whole batch's number
        of samples (default: this batch's), which a mean divides by. ``apply_terms`` applies the
        terms of all the parts, combined. Every reduction of the network must be one that can be
        split (sum, mean, max, min: ``Reduction.split``); others raise ``ConfigError``. Returns
        the run's recordings and its terms (``pysnn.learning_terms``).
        """
        count = None if count is None else positive_int(count, "count")
        return self._run(steps, inputs, sample_ids, True, reward, True, progress, hand_back=True, count=count)

    def apply_terms(self, terms: LearningTerms | Sequence[LearningTerms]) -> None:
        """Apply the reduced changes of a deferred learning run handed back by ``run_terms``, or
        those of the parts of one batch (a list, in sample order), combined: shared variables
        and weights end as at the end of ``run(deferred=True)`` over the whole batch (exactly
        for max and min, within round-off for sum and mean, whose parts' totals are added in
        another order; see ``pysnn.learning_terms``). Per-sample state is not touched. Terms of
        another network or not of one whole batch raise ``ConfigError``; if the new shared
        state is not finite (where runs check it), ``NumericalError``: nothing changes."""
        totals, steps = learning_terms.combine(self.plan, terms)
        state = {key: self._engine.read(key) for key in self._engine.keys() if learned_state(self.plan, key)}
        if self._reference is None:  # the NumPy backend, the reference semantics of a deferred run's end
            self._reference = registry.load("backend", "numpy")(self.plan)
        self._reference.apply_totals(state, totals, steps)
        checks = [check for check in finite_checks(self.plan) if check.shared] if self.plan.check_finite else []
        for check in checks:
            bad = np.argwhere(~np.isfinite(state[check.key]))
            if bad.size:
                index = tuple(int(i) for i in bad[0])
                raise NumericalError(
                    f"{check} became NaN or infinite when the learning terms were applied, at {check.element(index)}; "
                    "nothing was changed. Check the learning rates and the inputs of the runs that made the terms.",
                    check.key.owner, check.key.variable, self._step, None, index,
                )
        for key, array in state.items():
            self._engine.write(key, array)

    def check_run(
        self,
        steps: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        sample_ids: Any = None,
        learning: bool = True,
        reward: Any = None,
        deferred: bool = False,
    ) -> int:
        """Check the arguments of a run as ``run`` checks them after ``reset()`` (any batch size),
        without running it, e.g. before the run is sent to other processes: raises the
        ``ConfigError`` that ``run`` would raise; returns the number of steps."""
        return self._checked(steps, inputs, sample_ids, learning, reward, deferred, None)[0]

    def _checked(self, steps, inputs, sample_ids, learning, reward, deferred, held: int | None) -> tuple:
        """A run's arguments, checked (``held``: the batch size the per-sample state holds, or
        None): the steps, the inputs prepared for the backend, the sample ids, the reward."""
        inputs = self._check_inputs(inputs)
        ids = _sample_ids(sample_ids)
        steps = self._check_steps(steps, inputs)
        batch = self._check_batch_size(inputs, ids, held)
        prepared = {name: self._prepare_input(self.plan.population(name), array) for name, array in inputs.items()}
        ids = np.arange(batch, dtype=np.uint64) if ids is None else ids
        flag(learning, "learning")
        flag(deferred, "deferred")
        return steps, prepared, ids, self._check_reward(reward, steps, batch, bool(learning))

    def _run(
        self, steps, inputs, sample_ids, learning, reward, deferred, progress, hand_back: bool = False, count: int | None = None
    ) -> tuple[RunResult, LearningTerms | None]:
        """``run``, or (``hand_back``) ``run_terms`` for a batch of ``count`` (None: this batch's),
        which also returns the terms."""
        steps, prepared, ids, rewards = self._checked(steps, inputs, sample_ids, learning, reward, deferred, self._batch_size)
        batch = ids.size
        records = self._records(steps, batch, bool(learning and deferred))
        terms = None
        if hand_back:
            if count is not None and count < batch:
                raise ConfigError(f"count must be at least this run's batch size {batch} (the whole batch's), got {count}")
            terms = LearningTerms.zeros(self.plan, steps, batch if count is None else count, ids)
        args = RunArgs(steps, self._step, ids, bool(learning), prepared, records, rewards, bool(deferred), terms=terms)
        added = {} if self._batch_size is not None else self._new_per_sample_state(batch, "inputs")
        with progress_report(progress, steps) as report, interrupt_flag() as pressed:
            pieces = RunPieces(args, period(self.plan.monitors), report, pressed)
            self._engine.advance(pieces, added, bool(learning) and self.plan.learns)  # raises: nothing changed; else the pieces done are kept
        self._batch_size = batch
        self._step += pieces.done
        result = RunResult(pieces.records(), pieces.done, ids)
        if pressed():
            raise RunInterrupted(result, steps)
        return result, terms

    def reset(self, batch_size: int | None = None) -> None:
        """Per-sample state back to its initial values and the step counter to 0.

        Shared state (weights, learned thresholds) is kept. Without ``batch_size`` the next run
        takes its batch size from its inputs; with it, per-sample state is allocated now (e.g. to
        ``set_state`` before running). An invalid ``batch_size`` raises ``ConfigError`` and
        changes nothing.
        """
        batch_size = None if batch_size is None else positive_int(batch_size, "batch_size")
        state = {} if batch_size is None else self._new_per_sample_state(batch_size, f"batch_size={batch_size}")
        self._engine.discard(lambda key: shared_state(self.plan, key))
        for key, array in state.items():
            self._engine.write(key, array)
        self._batch_size = batch_size
        self._step = 0

    def state(self, owner: str, variable: str, *, device: bool = False) -> np.ndarray:
        """A copy of a state variable of a population or a projection's synapses.

        Per-sample variables have shape (batch, n), shared ones (n,); ``"output"`` is a
        population's output of the last step. ``device=True`` (cupy backend only) gives a copy
        on the GPU, a CuPy array, instead of a NumPy one.
        """
        return self._read(self._state_key(owner, variable), device)

    def set_state(self, owner: str, variable: str, value: Any) -> None:
        """Overwrite a state variable with ``value`` (broadcast to its shape): finite numbers as the
        simulation dtype holds them, or, for a spiking population's ``output``, 0/1 or bools. On
        the cupy backend an array on the GPU is checked and copied there (see ``run``)."""
        key = self._state_key(owner, variable)
        self._engine.write(key, self._checked_array(value, key, f"set_state value of {owner}.{variable}"))

    def weights(self, projection: str, *, device: bool = False) -> np.ndarray:
        """A copy of a projection's weights (dense (n_source, n_target), sparse (nnz,), one-to-one
        (n,)); ``device=True``: see ``state``."""
        return self._read(self._weights_key(projection), device)

    def set_weights(self, projection: str, weights: Any) -> None:
        """Overwrite a projection's weights (same shape as ``weights(projection)``, or broadcast to
        it): finite as the simulation dtype holds them, exactly what ``Dense`` and ``Sparse`` accept
        (on the GPU, as ``set_state``)."""
        key = self._weights_key(projection)
        self._engine.write(key, self._checked_array(weights, key, f"weights of {projection!r}"))

    def normalize_weights(self, projection: str, total: float) -> None:
        """Scale each target neuron's incoming weights to sum to ``total`` (e.g. Diehl & Cook's
        78.4, after each presentation). Targets whose weights sum to 0 are left unchanged."""
        key = self._weights_key(projection)
        target = real_number(total, "normalize_weights total", "a finite number", self.dtype)
        proj = self.plan.projection(projection)
        w = self._engine.read(key)
        with np.errstate(all="ignore"):
            if proj.kind == "dense":
                sums = w.sum(axis=0)
            elif proj.kind == "sparse":
                sums = np.bincount(proj.arrays["indices"], weights=w, minlength=self.plan.populations[proj.target].n)
            else:
                sums = w
            sums = sums.astype(self.dtype)
            scale = np.where(sums != 0, self.dtype.type(target) / sums, self.dtype.type(1)).astype(self.dtype)
            w = (w * (scale[proj.arrays["indices"]] if proj.kind == "sparse" else scale)).astype(self.dtype)
        if not (np.isfinite(sums).all() and np.isfinite(w).all()):
            raise ConfigError(
                f"normalize_weights total={total!r} cannot be reached for {projection!r} in {self.dtype.name}: the "
                "weights into some target sum to a value so large or so small that the sum or the scaled weights "
                "are not finite; rescale the weights with set_weights first"
            )
        self._engine.write(key, w)

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

    def _new_per_sample_state(self, batch: int, given_by: str) -> dict[StateKey, np.ndarray]:
        """``_per_sample_state(batch)``, or a ``ConfigError`` naming the argument that set ``batch``
        (``given_by``) if it is too large to allocate."""
        with allocating(f"{given_by}: the per-sample state of {batch} samples is"):
            return self._per_sample_state(batch)

    def _state_key(self, owner: str, variable: str) -> StateKey:
        if not isinstance(variable, str):
            raise ConfigError(f"variable must be a state variable's name, got {shown(variable)}")
        if isinstance(owner, str) and owner in (p.name for p in self.plan.populations):
            if variable == "output":
                key = OutputKey(owner)
            else:
                key = (TraceKey if variable in self._traces[owner] else NeuronKey)(owner, variable)
        elif isinstance(owner, str) and owner in (p.name for p in self.plan.projections):
            proj = self.plan.projection(owner)
            learned = proj.learning is not None and variable in proj.learning.rule.spec.state
            key = (RuleKey if learned else SynapseKey)(owner, variable)
        else:
            raise ConfigError(f"owner {shown(owner)} is neither a population nor a projection of this network")
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
        proj = self.plan.projection(owner)
        rule_state = tuple(proj.learning.rule.spec.state) if proj.learning else ()
        return (*proj.synapse.spec.state, *rule_state)

    def _weights_key(self, projection: str) -> StateKey:
        if not isinstance(projection, str) or WeightsKey(projection) not in self._engine.keys():
            names = ", ".join(p.name for p in self.plan.projections) or "none"
            raise ConfigError(f"no projection named {shown(projection)}; projections: {names}")
        return WeightsKey(projection)

    def _read(self, key: StateKey, device: Any) -> Any:
        """A copy of the state array ``key``: NumPy's, or with ``device`` the backend's device array."""
        flag(device, "device")
        return self._engine.device_read(key) if device else self._engine.read(key)

    def _checked_array(self, value: Any, key: StateKey, what: str) -> np.ndarray:
        """``value`` as a new array of the dtype and shape (broadcast) of the state array ``key``,
        valid there: a NumPy array, or a device array where the backend keeps it (``Backend.asarray``)."""
        shape, dtype = self._engine.layout(key)
        array = checked_array(value, what, dtype, convert=self._engine.asarray)
        try:
            return np.broadcast_to(array, shape).copy()
        except ValueError as exc:
            raise ConfigError(f"{what}: cannot use a value of shape {array.shape} for shape {shape}") from exc

    # -- checkpoints (pysnn.checkpoint) -------------------------------------------------------

    def _snapshot(self) -> dict[StateKey, np.ndarray]:
        """A copy of every state array."""
        return {key: self._engine.read(key) for key in self._engine.keys()}

    def _restore(self, state: Mapping[StateKey, np.ndarray], batch_size: int | None, step: int) -> None:
        """Replace every state array, the batch size and the step counter at once.

        ``state`` must hold exactly the arrays of this simulation with ``batch_size`` samples (None:
        shared state only), each of its shape and dtype, and finite where runs check it
        (``check_finite``); else ``ConfigError`` names the first that does not, and nothing changes.
        """
        if batch_size is not None:
            batch_size = positive_int(batch_size, "batch_size")
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= MAX_STEP:
            raise ConfigError(f"step must be an integer in [0, 2**63 - 1], got {shown(step)}")
        expected = self._shared_state()
        if batch_size is not None:
            expected.update(self._new_per_sample_state(batch_size, f"batch_size={batch_size}"))
        missing = [_key_name(key) for key in expected if key not in state]
        unknown = [_key_name(key) for key in state if key not in expected]
        if missing or unknown:
            raise ConfigError(
                f"the state arrays differ from this simulation's with batch size {batch_size}: "
                f"missing {missing or 'none'}, not in this simulation {unknown or 'none'}"
            )
        for key, array in state.items():
            want = expected[key]
            if array.shape != want.shape or array.dtype != want.dtype:
                raise ConfigError(
                    f"state array {_key_name(key)} has shape {array.shape} and dtype {array.dtype}; this "
                    f"simulation's has shape {want.shape} and dtype {want.dtype}"
                )
            if self.plan.check_finite and array.dtype.kind == "f" and not np.isfinite(array).all():
                index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
                raise ConfigError(
                    f"state array {_key_name(key)} holds {array[index].item()!r} at {index}; this simulation "
                    "(check_finite=True) holds finite state only"
                )
        self._engine.discard(lambda key: False)
        for key, array in state.items():
            self._engine.write(key, array)
        self._batch_size, self._step = batch_size, step

    # -- run arguments --------------------------------------------------------------------------

    def _check_inputs(self, inputs: Any) -> dict[str, np.ndarray]:
        """Input population -> its input as a numeric array (shapes and values checked later)."""
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
        return {name: as_array(value, f"inputs[{name!r}]", self._engine.asarray) for name, value in inputs.items()}

    def _check_steps(self, steps: Any, inputs: Mapping[str, np.ndarray]) -> int:
        timed = {name: array.shape[0] for name, array in inputs.items() if array.ndim == 3}
        if steps is None:
            if not timed:
                raise ConfigError("steps is required unless an input has shape (steps, batch, n)")
            steps = next(iter(timed.values()))
        steps = positive_int(steps, "steps")
        for name, length in timed.items():
            if length != steps:
                raise ConfigError(f"inputs[{name!r}] has {length} steps along axis 0, but steps={steps}")
        if self._step + steps > MAX_STEP:
            raise ConfigError(
                f"steps={steps} would take the step counter from {self._step} past 2**63 - 1, the most that compiled "
                "code counts; run fewer steps, or reset() to count from 0"
            )
        return steps

    def _check_batch_size(self, inputs: Mapping[str, np.ndarray], ids: np.ndarray | None, held: int | None) -> int:
        """The batch size of a run's ``inputs`` and ``ids``, which must be ``held`` (the per-sample
        state's, or None: any)."""
        sizes = {name: array.shape[-2] for name, array in inputs.items() if array.ndim in (2, 3)}
        if ids is not None:
            sizes["sample_ids"] = ids.size
        if len(set(sizes.values())) > 1:
            raise ConfigError(f"batch sizes disagree: {sizes}; every input and sample_ids need the same batch size")
        if sizes:
            batch = next(iter(sizes.values()))
        elif held is not None:
            batch = held
        else:
            raise ConfigError("no batch size: the network has no inputs; pass sample_ids= or compile(batch_size=...)")
        if batch == 0:
            raise ConfigError(f"batch size is 0: the inputs and sample_ids hold no sample ({sizes}); give at least one")
        if held is not None and batch != held:
            raise ConfigError(
                f"the simulation holds state for batch size {held}, the inputs have {batch}; "
                f"call reset() (or reset(batch_size={batch})) to start a new batch"
            )
        return batch

    def _prepare_input(self, pop: PopulationPlan, array: np.ndarray) -> np.ndarray:
        what = f"inputs[{pop.name!r}]"
        cls = pop.plugin.spec.cls
        if array.ndim not in (2, 3) or array.shape[-1] != pop.n:
            raise ConfigError(
                f"{what} must have shape (batch, {pop.n}) or (steps, batch, {pop.n}), got {array.shape}"
            )
        dtype = np.dtype(bool) if cls.input_dtype == "bool" else self.dtype
        lo, hi = cls.input_range
        cast, bad = cast_values(array, dtype, lo, hi)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            expected = "0 or 1" if dtype == bool else f"finite, within [{lo}, {hi}] in {dtype.name}"
            raise ConfigError(
                f"{what} holds {cls.input_description} for the {pop.plugin.spec.label}; element {index} "
                f"is {array[index].item()!r}, expected {expected}"
            )
        return cast if cast.flags.c_contiguous else cast.copy()  # NumPy's, or a device array's own copy

    def _records(self, steps: int, batch: int, one_piece: bool) -> dict[Monitor, np.ndarray]:
        """Zeroed monitor buffers for a run; ``spike_events`` buffers hold one piece of it (the
        whole run if it runs as ``one_piece``)."""
        neurons = sum(self.plan.population(m.population).n for m in self.plan.monitors if m.events)
        event_steps = event_buffer_steps(steps, batch * neurons, period(self.plan.monitors), one_piece)
        records = {}
        for monitor in self.plan.monitors:
            pop = self.plan.population(monitor.population)
            if monitor.what == "spike_counts":
                shape, dtype = (batch, pop.n), np.int32
            elif monitor.what == "spikes":
                shape, dtype = (event_steps if monitor.events else steps, batch, pop.n), bool
            else:
                shared = monitor.what in pop.plugin.spec.state and pop.plugin.spec.state[monitor.what].shared
                shape, dtype = (steps // monitor.every, *((pop.n,) if shared else (batch, pop.n))), self.dtype
            with allocating(f"steps={steps}: the recording of {monitor.name!r} of {monitor.population!r}, shape {shape}, is"):
                records[monitor] = np.zeros(shape, dtype)
        return records

    def _check_reward(self, reward: Any, steps: int, batch: int, learning: bool) -> np.ndarray | None:
        if reward is None:
            if learning and self.plan.uses_reward:
                rules = [p.learning.rule.spec.label for p in self.plan.projections if p.learning and p.learning.uses("reward")]
                raise ConfigError(f"reward is required while learning: {', '.join(rules)} read(s) it")
            return None
        if not self.plan.uses_reward:
            raise ConfigError("reward was given, but no learning rule of this network reads it")
        array = checked_array(reward, "reward", self.dtype)
        if array.shape not in ((batch,), (steps, batch)):
            raise ConfigError(f"reward must have shape (batch,) = ({batch},) or (steps, batch) = ({steps}, {batch}), got {array.shape}")
        return np.ascontiguousarray(array)


def _key_name(key: StateKey) -> str:
    """A state array as ``Simulation.state`` names it: ``owner.variable``."""
    return f"{key.owner}.{key.variable}"


def _sample_ids(sample_ids: Any) -> np.ndarray | None:
    """``sample_ids`` as a new uint64 array, or None (the default ids)."""
    if sample_ids is None:
        return None
    ids = as_array(sample_ids, "sample_ids")
    if ids.ndim != 1 or (ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0)):
        raise ConfigError(f"sample_ids must be a 1-D array of non-negative integers, got {shown(sample_ids)}")
    return ids.astype(np.uint64)
