"""The NumPy reference backend: the oracle of pysnn's semantics.

Straightforward array code: one Python iteration per time step, every kernel called on whole
(batch, n) arrays. Each step, in this order:

1. **Propagation.** For each projection with delay 1, the source's output of the previous step
   times the weights, summed into a fresh accumulator in ascending source index (only sources
   with a non-zero output contribute). A zero-delay projection does the same with its source's
   output of this step, just before its target updates (``lowering.before_update``).
2. **Population updates**, in the order the populations were added. While learning (not
   deferred), every shared variable first takes ``update_shared``. An input population's output
   comes from its encoder. A neuron population's input is the sum of its projections' synapse
   outputs, in the order the projections were added, starting from 0; ``update`` gives its new
   state and spikes; a population with ``one_spike`` keeps one of each sample's spikes
   (``_keep_one_spike``). Then the population's traces that are read: ``x *= decay``, then the
   spike.
3. **Learning** (while learning is on). Each shared neuron variable's per-sample changes are
   reduced over the batch. Each learned projection's rule terms are reduced per synapse: the
   samples with the event (``on_pre``: its source spiked, ``on_post``: its target spiked) are
   folded in sample order, samples without it enter as 0 as their reduction declares;
   ``on_step`` terms come from every sample. Every step: shared variables add their reduced
   change, and synapses with an event take ``apply``, the weight decay and the bounds.
   Deferred: the reduced changes are summed over steps and applied when the run ends.
4. **Monitors** record.

Unless the plan says otherwise (``check_finite=False``), the state a step may change is then
checked for NaN and infinities (``lowering.finite_checks``): a run in which some became
non-finite stops after that step and raises ``NumericalError`` (``lowering.report_nonfinite``).

The Numba backends perform the same float operations in the same order, which is what makes them
bit-identical to this one.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Iterable, Mapping

import numpy as np

from pysnn import builtin_kernels, rng
from pysnn.backend import Backend, RunArgs
from pysnn.errors import PluginError
from pysnn.kernel_check import wrong_output_type
from pysnn.learning_terms import LearningTerms, TermKey, TermsKey
from pysnn.lowering import (
    Indexing,
    OwnState,
    Special,
    Value,
    before_update,
    finishes,
    finite_checks,
    fold_mode,
    kernel_args,
    read_key,
    report_nonfinite,
    step_start,
)
from pysnn.plan import BoundPlugin, LearningPlan, Plan, PopulationPlan, ProjectionPlan, TracePlan
from pysnn.plugin import Kernel
from pysnn.state_keys import NeuronKey, OutputKey, RuleKey, StateKey, SynapseKey, TraceKey, WeightsKey


class NumpyBackend(Backend):
    """Reference backend: array-at-a-time NumPy with a Python loop over time steps."""

    name = "numpy"

    @classmethod
    def check_kernel(cls, kernel: Kernel, bound, dtype: np.dtype, label: str) -> None:
        """Run ``bound`` on empty arrays of its argument types (so that no value can make it
        raise): it must accept them and give results of the declared types. Floating-point
        warnings are off, as in runs (arithmetic on literals alone, ``1.0 / 0.0``, is not empty)."""
        empty = {"real": dtype, "bool": np.dtype(bool), "uint64": np.dtype(np.uint64)}
        try:
            with np.errstate(all="ignore"):
                results = bound(*(np.empty(0, empty[t]) for t in kernel.arg_types))
        except Exception as exc:
            raise PluginError(f"{label}: {kernel.name}() raised {type(exc).__name__} on NumPy arrays: {exc}") from exc
        results = results if isinstance(results, tuple) else (results,)
        for name, output_type, value in zip(kernel.outputs, kernel.output_types, results):
            got = np.asarray(value).dtype
            if got != empty[output_type]:
                raise PluginError(f"{label}: {kernel.name}() {wrong_output_type(name, got.name, empty[output_type].name)}")

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self._synapses = {
            p.index: _Synapses(p, plan.populations[p.source].n, plan.populations[p.target].n)
            for p in plan.projections
            if p.learning is not None
        }
        self._sites: dict[tuple[tuple[type[StateKey], str], str], _Site] = {}

    def run(self, state: dict[StateKey, np.ndarray], args: RunArgs) -> None:
        plan = self.plan
        dt = np.asarray(plan.dt, plan.dtype)
        batch = args.sample_ids.size
        every_step = args.learning and not args.deferred
        terms = None  # a deferred run's reduced changes: handed back (``args.terms``), or applied at its end
        if args.learning and args.deferred:
            terms = args.terms if args.terms is not None else LearningTerms.zeros(plan, args.steps, batch, args.sample_ids, False)
        checks = finite_checks(plan) if plan.check_finite else ()
        per_sample = [check.key for check in checks if not check.shared]
        shared = [check.key for check in checks if check.shared]
        stops = np.full(batch + 2, -1, np.int64)  # the run's lowering.NonFinite record
        # IEEE results and wrapping integers without warnings, as in compiled code (NaN and
        # infinities in the state are reported by the checks, unless the plan lets them pass)
        with np.errstate(all="ignore"):
            for t in range(args.steps):
                step = np.uint64(args.step0 + t)
                accumulated = {proj.index: self._propagate(proj, state, batch) for proj in step_start(plan)}
                changes = {}
                for pop in plan.populations:
                    if every_step and "update_shared" in pop.plugin.kernels:
                        self._update_shared(pop, state, dt)
                    keys = _element_keys(pop, args.sample_ids, step)
                    if pop.is_input:
                        data = args.inputs[pop.name]
                        x = data[t] if data.ndim == 3 else data
                        out = self._call(pop.plugin, "encode", {"x": x, "dt": dt, "rng": keys}, state, (NeuronKey, pop.name))
                        state[OutputKey(pop.name)] = _as(out[0], state[OutputKey(pop.name)].dtype, batch, pop.n)
                    else:
                        accumulated |= {proj.index: self._propagate(proj, state, batch) for proj in before_update(plan, pop)}
                        inputs = self._synaptic_input(pop, accumulated, state, dt, batch)
                        changes[pop.name] = self._update(pop, state, inputs, dt, keys, batch)
                        if pop.one_spike:
                            _keep_one_spike(pop, state, args.sample_ids, step)
                    for trace in pop.traces:
                        self._trace(pop, trace, state)
                if args.learning:
                    reward = None if args.reward is None else (args.reward[t] if args.reward.ndim == 2 else args.reward)
                    self._learn(state, changes, reward, dt, batch, args.fold_count, t, terms)
                self._record(args, state, t)
                if not _finite(state, per_sample + (shared if every_step else [])):
                    stops[batch] = t  # every sample stops at this step
                    break
            else:  # not stopped
                if terms is not None and args.terms is None:
                    self.apply_totals(state, terms.totals, args.steps)
                    if not _finite(state, shared):
                        stops[batch + 1] = args.steps - 1
        report_nonfinite(plan, stops, state.__getitem__, args)

    # -- dynamics ---------------------------------------------------------------------------------

    def _propagate(self, proj: ProjectionPlan, state: dict[StateKey, np.ndarray], batch: int) -> np.ndarray:
        source = self.plan.populations[proj.source]
        out = state[OutputKey(source.name)]
        weights = state[WeightsKey(proj.name)]
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

    def _synaptic_input(self, pop: PopulationPlan, accumulated, state, dt, batch) -> dict[str, np.ndarray]:
        """Each input port's sum of its projections' currents, in the order they were added."""
        inputs = {port: np.zeros((batch, pop.n), self.plan.dtype) for port in pop.plugin.spec.ports}
        for k in pop.incoming:
            proj = self.plan.projections[k]
            special = {"i_in": accumulated[k], "dt": dt}
            results = self._call(proj.synapse, "update", special, state, (SynapseKey, proj.name), {"post": pop})
            for var, value in zip(proj.synapse.spec.state, results):
                state[SynapseKey(proj.name, var)] = _as(value, self.plan.dtype, batch, pop.n)
            inputs[proj.port] += _as(results[-1], self.plan.dtype, batch, pop.n)
        return inputs

    def _update(self, pop: PopulationPlan, state, inputs, dt, keys, batch) -> dict[str, np.ndarray]:
        spec = pop.plugin.spec
        results = self._call(pop.plugin, "update", {**inputs, "dt": dt, "rng": keys}, state, (NeuronKey, pop.name))
        changes = {}
        for (var, decl), value in zip(spec.state.items(), results):
            if decl.shared:
                changes[var] = _as(value, self.plan.dtype, batch, pop.n)
            else:
                state[NeuronKey(pop.name, var)] = _as(value, self.plan.dtype, batch, pop.n)
        state[OutputKey(pop.name)] = _as(results[-1], bool, batch, pop.n)
        return changes

    def _update_shared(self, pop: PopulationPlan, state, dt) -> None:
        results = self._call(pop.plugin, "update_shared", {"dt": dt}, state, (NeuronKey, pop.name))
        for var, value in zip(pop.plugin.spec.shared_state, results):
            state[NeuronKey(pop.name, var)] = np.broadcast_to(np.asarray(value, self.plan.dtype), (pop.n,)).copy()

    def _trace(self, pop: PopulationPlan, trace: TracePlan, state) -> None:
        key = TraceKey(pop.name, trace.name)
        kernel = builtin_kernels.bound(builtin_kernels.trace_kernel(trace.trace.additive), self.plan.dtype)
        state[key] = np.asarray(kernel(state[key], state[OutputKey(pop.name)], trace.decay), self.plan.dtype)

    def _call(
        self,
        bound: BoundPlugin,
        kernel: str,
        special: dict,
        state,
        owner: tuple[type[StateKey], str],
        sides: Mapping[str, PopulationPlan] | None = None,
        at: _At | None = None,
    ) -> tuple:
        """Call a kernel with its arguments bound by name; ``owner`` (key type and name) keys the
        plugin's own state (and, with ``kernel``, names the call site, bound once), ``sides``
        the populations ("pre", "post") it reads, ``at`` the synapses a rule's kernel runs on
        (default: whole arrays). Always returns a tuple of results."""
        site = self._sites.get((owner, kernel))
        if site is None:
            site = self._sites[owner, kernel] = _Site(bound, kernel, special.keys(), owner, sides or {})
        return site(special, state, at)

    # -- learning ---------------------------------------------------------------------------------

    def _learn(self, state, changes, reward, dt, batch, count: int, t: int, terms: LearningTerms | None) -> None:
        """Reduce step ``t``'s changes of shared state (``finish`` with ``count``); apply them
        now, or hand them to a deferred run's ``terms``."""
        dtype = self.plan.dtype
        for pop in self.plan.populations:
            for var, reduction in pop.reductions.items():
                reduced = reduce_batch(reduction, changes[pop.name][var], count)
                key = NeuronKey(pop.name, var)
                if terms is None:
                    state[key] = (state[key] + reduced).astype(dtype)
                else:
                    terms.take(key, t, reduced)
        for proj in self.plan.projections:
            if proj.learning is None:
                continue
            reduced, touched = self._terms(proj, state, reward, dt, batch, count)
            if terms is None:
                self._apply(proj, state, reduced, touched, dt)
            else:
                for name, value in reduced.items():
                    terms.take(TermKey(proj.name, name), t, value)

    def _terms(self, proj: ProjectionPlan, state, reward, dt, batch, count) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The batch-reduced terms of a projection's rule (0 where no sample had the event), and
        the synapses that had an event in some sample."""
        rule, reduction = proj.learning.rule, proj.learning.reduction
        synapses = self._synapses[proj.index]
        sides = {"pre": self.plan.populations[proj.source], "post": self.plan.populations[proj.target]}
        s_pre, s_post = state[OutputKey(sides["pre"].name)], state[OutputKey(sides["post"].name)]
        special = {"w": state[WeightsKey(proj.name)], "dt": dt, "reward": reward, "s_pre": s_pre, "s_post": s_post}

        def call(kernel: str, at: _At, values: dict = special) -> tuple:
            return self._call(rule, kernel, values, state, (RuleKey, proj.name), sides, at)

        def event_term(kernel: str):
            return lambda b, syn: call(kernel, _At(synapses, b, syn))[0]

        terms = {}
        touched = np.zeros(synapses.size, bool)
        if "on_pre" in rule.kernels:
            events = [synapses.of_sources(np.flatnonzero(s_pre[b])) for b in range(batch)]
            terms["pre"], hit = fold_events(reduction, events, event_term("on_pre"), synapses.size, self.plan.dtype, count)
            touched |= hit
        if "on_post" in rule.kernels:
            events = [synapses.of_targets(np.flatnonzero(s_post[b])) for b in range(batch)]
            terms["post"], hit = fold_events(reduction, events, event_term("on_post"), synapses.size, self.plan.dtype, count)
            touched |= hit
        if "on_step" in rule.kernels:
            step_terms = np.empty((batch, synapses.size), self.plan.dtype)
            for b in range(batch):
                values = special | {var: state[RuleKey(proj.name, var)][b] for var in rule.spec.state}
                results = call("on_step", _At(synapses, b, slice(None)), values)
                for var, value in zip(rule.spec.state, results):
                    state[RuleKey(proj.name, var)][b] = np.broadcast_to(np.asarray(value).astype(self.plan.dtype), (synapses.size,))
                step_terms[b] = np.broadcast_to(np.asarray(results[-1]).astype(self.plan.dtype), (synapses.size,))
            terms["step"] = reduce_batch(reduction, step_terms, count)
            touched[:] = True
        return terms, touched

    def _apply(self, proj: ProjectionPlan, state, terms: dict, touched: np.ndarray, dt, repeat_decay: int = 1) -> None:
        """New weights of the touched synapses (all with a weight decay): ``apply``, then the
        built-in kernels of the weight decay and the bounds."""
        learning: LearningPlan = proj.learning
        dtype = self.plan.dtype
        key = WeightsKey(proj.name)
        w = state[key].reshape(-1)
        syn = slice(None) if learning.weight_decay != 0 else np.flatnonzero(touched)
        at = _At(self._synapses[proj.index], None, syn)
        new = self._call(learning.rule, "apply", {"w": w, "dt": dt, **terms}, state, (RuleKey, proj.name), at=at)[0]
        new = np.broadcast_to(np.asarray(new, dtype), w[syn].shape)
        if learning.weight_decay != 0:
            decayed = builtin_kernels.bound("decayed_weight", dtype)
            for _ in range(repeat_decay):
                new = np.asarray(decayed(new, learning.weight_decay), dtype)
        updated = w.copy()
        updated[syn] = builtin_kernels.bound("clipped_weight", dtype)(new, learning.wmin, learning.wmax)
        state[key] = updated.reshape(state[key].shape)

    def apply_totals(self, state: dict[StateKey, np.ndarray], totals: Mapping[TermsKey, np.ndarray], steps: int) -> None:
        """End of a deferred run of ``steps`` steps (also of one whose terms were handed back,
        ``Simulation.apply_terms``): shared variables take ``update_shared`` once per step, then
        their summed changes; weights take ``apply`` with the summed terms."""
        dt = np.asarray(self.plan.dt, self.plan.dtype)
        for pop in self.plan.populations:
            if "update_shared" in pop.plugin.kernels:
                for _ in range(steps):
                    self._update_shared(pop, state, dt)
            for var in pop.reductions:
                key = NeuronKey(pop.name, var)
                state[key] = (state[key] + totals[key]).astype(self.plan.dtype)
        for proj in self.plan.projections:
            if proj.learning is not None:
                terms = {name: totals[TermKey(proj.name, name)].reshape(-1) for name in proj.learning.terms}
                touched = np.ones(state[WeightsKey(proj.name)].size, bool)
                self._apply(proj, state, terms, touched, dt, repeat_decay=steps)

    def _record(self, args: RunArgs, state, t: int) -> None:
        for monitor, buffer in args.records.items():
            if monitor.accumulates:
                buffer += state[OutputKey(monitor.population)]
            elif monitor.what == "spikes":
                buffer[t] = state[OutputKey(monitor.population)]
            elif (t + 1) % monitor.every == 0:
                state_var = monitor.what in self.plan.population(monitor.population).plugin.spec.state
                key = (NeuronKey if state_var else TraceKey)(monitor.population, monitor.what)
                buffer[(t + 1) // monitor.every - 1] = state[key]


class _Synapses:
    """Synapse indices of a learned projection, row-major (dense) or in CSR order (sparse)."""

    def __init__(self, proj: ProjectionPlan, n_pre: int, n_post: int) -> None:
        self.proj, self.n_post = proj, n_post
        if proj.kind == "dense":
            self.pre = np.repeat(np.arange(n_pre), n_post)
            self.post = np.tile(np.arange(n_post), n_pre)
        else:
            self.pre, self.post = proj.arrays["syn_row"], proj.arrays["indices"]
        self.size = self.pre.size

    def of_sources(self, rows: np.ndarray) -> np.ndarray:
        if self.proj.kind == "dense":
            return (rows[:, None] * self.n_post + np.arange(self.n_post)).ravel()
        indptr = self.proj.arrays["indptr"]
        return np.concatenate([np.arange(indptr[i], indptr[i + 1]) for i in rows] or [np.zeros(0, int)])

    def of_targets(self, cols: np.ndarray) -> np.ndarray:
        if self.proj.kind == "dense":
            return (np.arange(self.size // self.n_post)[:, None] * self.n_post + cols[None, :]).ravel()
        col_ptr, col_syn = self.proj.arrays["col_ptr"], self.proj.arrays["col_syn"]
        return np.concatenate([col_syn[col_ptr[j] : col_ptr[j + 1]] for j in cols] or [np.zeros(0, int)])


def fold_events(reduction: BoundPlugin, events: list[np.ndarray], term, size: int, dtype: np.dtype, count: int):
    """Reduce per-sample event terms per synapse: ``events[b]`` are the synapses with an event in
    sample ``b`` and ``term(b, syn)`` their terms; samples without the event count as 0, entering
    as ``lowering.fold_mode`` says; ``finish`` takes ``count``. Returns the reduced values (0
    where no sample had the event) and the touched mask."""
    batch = len(events)
    touched = np.zeros(size, bool)
    for syn in events:
        touched[syn] = True
    mode = fold_mode(reduction)
    if mode == "quantile":
        table = np.zeros((batch, size), dtype)
        for b, syn in enumerate(events):
            table[b, syn] = term(b, syn)
        return np.where(touched, reduce_batch(reduction, table, count), dtype.type(0)).astype(dtype), touched
    combine = reduction.kernels["combine"]
    zero = dtype.type(0)
    acc = np.full(size, reduction.spec.cls.identity, dtype)
    for b, syn in enumerate(events):
        acc[syn] = combine(acc[syn], term(b, syn))
        if mode == "ordered":
            silent = touched.copy()
            silent[syn] = False
            acc[silent] = combine(acc[silent], zero)
    if mode == "idempotent":
        count = np.zeros(size, np.int64)
        for syn in events:
            count[syn] += 1
        partial = touched & (count < batch)
        acc[partial] = combine(acc[partial], zero)
    reduced = np.zeros(size, dtype)
    hit = np.flatnonzero(touched)
    reduced[hit] = _finish(reduction, acc[hit], dtype.type(count))
    return reduced, touched


def reduce_batch(reduction: BoundPlugin, changes: np.ndarray, count: int) -> np.ndarray:
    """Reduce ``changes`` over the batch axis: fold ``combine`` in sample order then ``finish``
    (with ``count``), or, for an order statistic, ``select`` of the sorted values around the
    quantile."""
    dtype = changes.dtype
    if fold_mode(reduction) == "quantile":
        ordered = np.sort(changes, axis=0)
        lo, hi = quantile_positions(reduction.spec.cls.quantile, changes.shape[0])
        return np.asarray(reduction.kernels["select"](ordered[lo], ordered[hi]), dtype)
    combine = reduction.kernels["combine"]
    acc = np.full(changes.shape[1:], reduction.spec.cls.identity, dtype)
    for change in changes:
        acc = np.asarray(combine(acc, change), dtype)
    return np.asarray(_finish(reduction, acc, np.asarray(count, dtype)), dtype)


def _finish(reduction: BoundPlugin, acc: np.ndarray, count) -> np.ndarray:
    """``finish`` of a fold, where the reduction defines it (``lowering.finishes``)."""
    return reduction.kernels["finish"](acc, count) if finishes(reduction) else acc


def quantile_positions(quantile: float, batch: int) -> tuple[int, int]:
    """Indices of the sorted values around ``quantile`` of ``batch`` values."""
    position = quantile * (batch - 1)
    return math.floor(position), math.ceil(position)


def _finite(state, keys: list[StateKey]) -> bool:
    """True if the arrays of ``keys`` hold no NaN or infinity."""
    return all(np.isfinite(state[key]).all() for key in keys)


def _keep_one_spike(pop: PopulationPlan, state: dict[StateKey, np.ndarray], sample_ids: np.ndarray, step: np.uint64) -> None:
    """Of each sample's neurons that spiked, only the ``k``-th (ascending) keeps its spike, ``k``
    drawn by ``rng.spike_choice`` from how many spiked."""
    spikes = state[OutputKey(pop.name)]
    count = spikes.sum(axis=1, dtype=np.uint64)
    k = rng.spike_choice(pop.stream, sample_ids, step, np.uint64(pop.n), np.maximum(count, np.uint64(1)))
    rank = np.cumsum(spikes, axis=1, dtype=np.uint64) - np.uint64(1)  # wraps where none spiked yet: no match
    state[OutputKey(pop.name)] = spikes & (rank == k[:, None])


def _element_keys(pop: PopulationPlan, sample_ids: np.ndarray, step: np.uint64) -> np.ndarray | None:
    if not pop.plugin.uses("rng"):
        return None
    keys = rng.step_key(pop.stream, sample_ids[:, None], step)  # wraps: warnings are off in runs
    return rng.element_key(keys, np.arange(pop.n, dtype=np.uint64)[None, :])



RULE_ARGS = {"w": "synapse", "s_pre": "pre", "s_post": "post", "reward": "sample", "pre": "synapse", "post": "synapse", "step": "synapse"}
"""How ``_At`` takes a learning rule's special arguments (the others are one value for all)."""
BY_INDEXING = {Indexing.ONE: "one", Indexing.PER_NEURON: "post", Indexing.PER_SYNAPSE: "synapse"}
"""How ``_At`` takes a learning rule's parameters and derived values (per neuron: its target)."""


class _At:
    """Where a learning rule's kernel runs: sample ``b`` (None for ``apply``) and the synapses
    ``syn`` (indices into the flat weights, or a slice); their sources and targets are gathered
    when an argument needs them."""

    def __init__(self, synapses: _Synapses, b: int | None, syn: np.ndarray | slice) -> None:
        self.synapses, self.b, self.syn = synapses, b, syn

    @cached_property
    def pre(self) -> np.ndarray:
        return self.synapses.pre[self.syn]

    @cached_property
    def post(self) -> np.ndarray:
        return self.synapses.post[self.syn]

    def take(self, value, by: str):
        """``value`` here, taken ``by`` "one" (as it is), "sample" (at ``b``), "synapse" (a
        flat or weight-shaped array), "pre" or "post" (an array of the source's / target's
        neurons, (n,) or per sample (batch, n))."""
        if by == "one" or value is None:
            return value
        if by == "sample":
            return value[self.b]
        if by == "synapse":
            return value.reshape(-1)[self.syn]
        neurons = self.pre if by == "pre" else self.post
        return value[neurons] if value.ndim == 1 else value[self.b, neurons]


class _Site:
    """A kernel's call site: where each argument comes from (``lowering.kernel_args``), decided
    once, as (kind, name or state key, how ``_At`` takes it)."""

    def __init__(
        self,
        bound: BoundPlugin,
        kernel: str,
        special: Iterable[str],
        owner: tuple[type[StateKey], str],
        sides: Mapping[str, PopulationPlan],
    ) -> None:
        self.bound, self.function, self.label = bound, bound.kernels[kernel], f"{bound.spec.label}: {kernel}()"
        self.args: list[tuple[str, object, str]] = []
        for source in kernel_args(bound, kernel, frozenset(special), sides.get("pre"), sides.get("post")):
            if isinstance(source, Special):
                self.args.append(("special", source.name, RULE_ARGS.get(source.name, "one")))
            elif isinstance(source, Value):
                self.args.append(("value", source.name, BY_INDEXING[source.indexing]))
            elif isinstance(source, OwnState):
                key_type, name = owner
                self.args.append(("state", key_type(name, source.name), "one"))
            else:
                self.args.append(("state", read_key(source, sides[source.side]), source.side))

    def __call__(self, special: Mapping, state, at: _At | None) -> tuple:
        values = []
        for kind, name, by in self.args:
            value = special[name] if kind == "special" else self.bound.values[name] if kind == "value" else state[name]
            values.append(value if at is None else at.take(value, by))
        try:  # under the run's np.errstate: IEEE results without warnings
            result = self.function(*values)
        except Exception as exc:
            raise PluginError(f"{self.label} raised {type(exc).__name__}: {exc}") from exc
        return result if isinstance(result, tuple) else (result,)


def _as(value, dtype, batch: int, n: int) -> np.ndarray:
    """A kernel result as a fresh (batch, n) array of ``dtype`` (scalars broadcast)."""
    return np.array(np.broadcast_to(np.asarray(value).astype(dtype, copy=False), (batch, n)))
