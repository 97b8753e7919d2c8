"""What every backend needs to know about a plan, decided once for all of them.

A kernel's arguments are bound by name (see ``pysnn.plugin``); ``kernel_args`` says where each
one comes from, as a typed reference that a backend turns into an array (NumPy) or an
expression (generated code). Backends differ in how they fetch a value, never in which value.

A compiled run function takes each argument from a typed ``RunValue`` (a state array, a
parameter, a monitor's buffer...) that ``resolve`` turns into its value for one run. When each
projection propagates is decided here too (``step_start``, ``before_update``, and
``constant_input``: once per run), how a reduction folds the batch (``fold_mode``,
``finishes``), and which state a run checks for NaN and infinities, and how it reports them
(``finite_checks``, ``NonFinite``, ``report_nonfinite``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Callable, Literal, Mapping, Union

import numpy as np

from pysnn.errors import NumericalError
from pysnn.learning_terms import TermsKey
from pysnn.plan import BoundPlugin, Plan, PopulationPlan, ProjectionPlan
from pysnn.plugin import Reduction
from pysnn.state_keys import NeuronKey, OutputKey, RuleKey, StateKey, SynapseKey, TraceKey, WeightsKey

if TYPE_CHECKING:
    from pysnn.backend import RunArgs


@dataclass(frozen=True)
class Special:
    """An argument the call site provides (``i_in``, ``dt``, ``rng``, ``x``, a port, ``w``...)."""

    name: str


class Indexing(Enum):
    """How a parameter or derived value is indexed where a kernel runs."""

    ONE = "one"
    """One value for all elements: shape ()."""
    PER_NEURON = "per neuron"
    """Shape (n,): a neuron model's own neuron; a synapse model's or learning rule's target."""
    PER_SYNAPSE = "per synapse"
    """A learning rule's value per synapse: (n_source, n_target) dense, (nnz,) sparse (CSR order)."""


@dataclass(frozen=True)
class Value:
    """A parameter or derived value of the plugin, and how it is indexed."""

    name: str
    indexing: Indexing


@dataclass(frozen=True)
class OwnState:
    """A state variable of the plugin itself: per sample and element, or shared (per element)."""

    name: str
    shared: bool


@dataclass(frozen=True)
class NeuronRead:
    """A trace or state variable of the source (``side`` "pre") or target ("post") population:
    per sample and neuron, or shared (per neuron). Synapses read their target's state at the
    start of the step; learning rules read both sides after the step's update."""

    side: str
    name: str
    trace: bool
    shared: bool


ArgSource = Union[Special, Value, OwnState, NeuronRead]


def kernel_args(
    bound: BoundPlugin,
    kernel: str,
    special: frozenset[str] | set[str],
    source: PopulationPlan | None = None,
    target: PopulationPlan | None = None,
) -> tuple[ArgSource, ...]:
    """Where each argument of ``bound``'s ``kernel`` comes from, in order.

    ``special`` names the arguments the call site provides; ``source`` and ``target`` are the
    populations whose traces and state the kernel reads (``<name>_pre``, ``<name>_post``).
    """
    reads = {arg: (side, name) for arg, side, name in bound.spec.kernels[kernel].reads}
    sources: list[ArgSource] = []
    for arg in bound.args(kernel):
        if arg in reads:
            side, name = reads[arg]
            pop = source if side == "pre" else target
            traced = name in (t.name for t in pop.traces)
            shared = not traced and pop.plugin.spec.state[name].shared
            sources.append(NeuronRead(side, name, traced, shared))
        elif arg in special:
            sources.append(Special(arg))
        elif arg in bound.values:
            sources.append(Value(arg, _indexing(bound, arg)))
        elif arg in bound.spec.state:
            sources.append(OwnState(arg, bound.spec.state[arg].shared))
        else:
            raise AssertionError(f"{bound.spec.label}: {kernel}() argument {arg!r} has no source")
    return tuple(sources)


def _indexing(bound: BoundPlugin, name: str) -> Indexing:
    if name in bound.per_synapse:
        return Indexing.PER_SYNAPSE
    return Indexing.PER_NEURON if bound.values[name].ndim == 1 else Indexing.ONE


def read_key(read: NeuronRead, population: PopulationPlan) -> StateKey:
    """The state key of what ``read`` reads of ``population``."""
    return TraceKey(population.name, read.name) if read.trace else NeuronKey(population.name, read.name)


# -- when a projection propagates ---------------------------------------------------------------


def step_start(plan: Plan) -> tuple[ProjectionPlan, ...]:
    """The projections that propagate at the start of a step, before any population updates:
    those with delay 1, which read their source's output of the previous step."""
    return tuple(proj for proj in plan.projections if proj.delay == 1)


def before_update(plan: Plan, pop: PopulationPlan) -> tuple[ProjectionPlan, ...]:
    """The zero-delay projections into ``pop``, which propagate just before it updates: their
    sources, added before it, have already updated in this step."""
    return tuple(plan.projections[k] for k in pop.incoming if plan.projections[k].delay == 0)


def constant_input(plan: Plan, proj: ProjectionPlan, timed_inputs: frozenset[str], weights_learn: bool) -> bool:
    """True if ``proj`` sums the same input at every step of a run from step ``proj.delay`` on
    (before it, a delay-1 projection reads the previous run's last output), so that a run may
    compute it at its steps ``t <= proj.delay`` only, into an accumulator held across the run's
    pieces (``HeldAccumulator``, ``PieceStart``): its source is an input population whose
    encoder draws no random numbers, given the same values every step (not in
    ``timed_inputs``), and its weights stay fixed during the run (``weights_learn``: the run's
    learned weights change every step; then ``proj`` must not learn)."""
    source = plan.populations[proj.source]
    fixed = not (weights_learn and proj.learning is not None)
    return source.is_input and not source.plugin.uses("rng") and source.name not in timed_inputs and fixed


# -- how a reduction folds the batch --------------------------------------------------------------

FoldMode = Literal["quantile", "identity", "idempotent", "ordered"]


def fold_mode(reduction: BoundPlugin) -> FoldMode:
    """How ``reduction`` folds the batch: "quantile" (an order statistic: sort, then ``select``),
    else its ``zero``, how samples without an event enter an event-driven fold (``Reduction``)."""
    cls = reduction.spec.cls
    return "quantile" if cls.quantile is not None else cls.zero


def finishes(reduction: BoundPlugin) -> bool:
    """True if ``reduction`` defines ``finish``; else the fold's result is the reduced value."""
    return inspect.getattr_static(reduction.spec.cls, "finish") is not inspect.getattr_static(Reduction, "finish")


# -- state that must stay finite ---------------------------------------------------------------


@dataclass(frozen=True)
class FiniteCheck:
    """A float state array that a step writes, checked for NaN and infinities at the end of every
    step that may change it (``Plan.check_finite``): per sample, or ``shared`` (no batch axis)."""

    key: StateKey
    shared: bool

    def __str__(self) -> str:
        """The state as a message names it, e.g. "population 'exc': variable 'v'"."""
        if isinstance(self.key, WeightsKey):
            return f"the weights of projection {self.key.owner!r}"
        owner = "population" if isinstance(self.key, (NeuronKey, OutputKey, TraceKey)) else "projection"
        what = {TraceKey: "trace", SynapseKey: "synapse variable", RuleKey: "learning-rule variable"}
        return f"{owner} {self.key.owner!r}: {what.get(type(self.key), 'variable')} {self.key.variable!r}"

    def element(self, index: tuple[int, ...]) -> str:
        """Element ``index`` of a sample's (or the shared) array, as a message names it."""
        if isinstance(self.key, WeightsKey):
            return f"weights[{', '.join(map(str, index))}]"
        what = {RuleKey: "synapse", SynapseKey: "target neuron"}.get(type(self.key), "neuron")
        return f"{what} {index[0]}"


def finite_checks(plan: Plan) -> tuple[FiniteCheck, ...]:
    """The state that runs of ``plan`` check, in the order a step computes it: per population,
    its incoming synapses' state, its model's per-sample state (an analog input: its output),
    its traces; then the learning phase's shared neuron variables and, per learned projection,
    its rule's state and its weights. When several are non-finite at the step a run stops, the
    first in this order (the likely cause of the others) is reported."""
    checks = []
    for pop in plan.populations:
        if pop.is_input and not pop.spiking:
            checks.append(FiniteCheck(OutputKey(pop.name), False))
        elif not pop.is_input:
            for k in pop.incoming:
                proj = plan.projections[k]
                checks += [FiniteCheck(SynapseKey(proj.name, var), False) for var in proj.synapse.spec.state]
            state = pop.plugin.spec.state
            checks += [FiniteCheck(NeuronKey(pop.name, var), False) for var in state if not state[var].shared]
        checks += [FiniteCheck(TraceKey(pop.name, trace.name), False) for trace in pop.traces]
    for pop in plan.populations:
        checks += [FiniteCheck(NeuronKey(pop.name, var), True) for var in pop.reductions]
    for proj in plan.projections:
        if proj.learning is not None:
            checks += [FiniteCheck(RuleKey(proj.name, var), False) for var in proj.learning.rule.spec.state]
            checks.append(FiniteCheck(WeightsKey(proj.name), True))
    return tuple(checks)


def report_nonfinite(plan: Plan, stops: np.ndarray, read: Callable[[StateKey], np.ndarray], args: RunArgs) -> None:
    """Raise ``NumericalError`` if a run's ``NonFinite`` record ``stops`` says that it stopped:
    the state it stopped with (``read``: a host copy of a state array) holds the non-finite
    values of that step, which are found here. Reported: the first check in ``finite_checks``
    order with one, in the first sample that stopped then, and the next few others."""
    batch = args.sample_ids.size
    if stops.max() < 0:
        return
    t = int(stops[stops >= 0].min())
    rows = range(batch) if t in stops[batch:] else np.flatnonzero(stops[:batch] == t)  # the rows at step t
    found = []
    for check in finite_checks(plan):
        values = read(check.key)
        for row in [None] if check.shared else rows:
            bad = np.argwhere(~np.isfinite(values if row is None else values[row]))
            if bad.size:
                found.append((check, row, tuple(int(i) for i in bad[0])))
                break
    if not found:
        raise AssertionError(f"a run stopped at step {args.step0 + t} for a non-finite value that its state does not hold")
    check, row, index = found[0]
    sample = None if row is None else int(args.sample_ids[row])
    where = f"in sample {sample} (batch row {row}), " if row is not None else ""
    others = "; ".join(f"{c} (at {c.element(i)})" for c, _, i in found[1:5]) + ("; ..." if len(found) > 5 else "")
    raise NumericalError(
        f"{check} became NaN or infinite at step {args.step0 + t} (counting from 0 at the last reset), "
        f"{where}at {check.element(index)}" + (f"; so did {others}" if others else "")
        + ". The run was discarded: the simulation is as it was before it. Check the parameters, the weights "
        f"and the time step (dt = {plan.dt}: too large for the model?), or compile with check_finite=False to "
        "let runs go on with non-finite values.",
        check.key.owner,
        check.key.variable,
        args.step0 + t,
        sample,
        index,
    )


# -- the arguments of a run ------------------------------------------------------------------------


@dataclass(frozen=True)
class StepCount:
    """The number of steps of the run (int64)."""


@dataclass(frozen=True)
class FirstStep:
    """The step counter of the run's first step (int64)."""


@dataclass(frozen=True)
class PieceStart:
    """The run's step (from 0) at which this piece of it starts (int64; ``RunArgs.first``)."""


@dataclass(frozen=True)
class HeldAccumulator:
    """A projection's summed input per sample and target, (batch, n_target) in the dtype, kept
    across the pieces of a run: where the input is constant (``constant_input``), the pieces
    after the first reuse what the first computed (``RunArgs.held``)."""

    projection: int


@dataclass(frozen=True)
class SampleIds:
    """Each sample's id, (batch,) uint64."""


@dataclass(frozen=True)
class TimeStep:
    """``dt`` in the dtype."""


@dataclass(frozen=True)
class Reward:
    """The reward, (batch,) or (steps, batch)."""


@dataclass(frozen=True)
class StateRef:
    """A state array (see ``pysnn.backend`` for the keys)."""

    key: tuple[str, ...]


@dataclass(frozen=True)
class NeuronModelOf:
    """The neuron model (or encoder) of a population."""

    population: int


@dataclass(frozen=True)
class SynapseOf:
    """The synapse model of a projection."""

    projection: int


@dataclass(frozen=True)
class RuleOf:
    """The learning rule of a projection."""

    projection: int


PluginOwner = Union[NeuronModelOf, SynapseOf, RuleOf]


@dataclass(frozen=True)
class PluginValue:
    """A parameter or derived value of a plugin: a scalar of the dtype, or an array (``Indexing``)."""

    owner: PluginOwner
    name: str


@dataclass(frozen=True)
class LearningConstant:
    """``wmin``, ``wmax`` or ``weight_decay`` of a projection's learning (a scalar)."""

    projection: int
    name: str


@dataclass(frozen=True)
class TraceDecay:
    """The per-step decay factor of a population's trace (by name; a scalar)."""

    population: int
    name: str


@dataclass(frozen=True)
class Connectivity:
    """A connectivity array of a projection (``indptr``, ``indices``, ``col_ptr``...)."""

    projection: int
    name: str


@dataclass(frozen=True)
class InputData:
    """The data of an input population (by name), (batch, n) or (steps, batch, n)."""

    population: str


@dataclass(frozen=True)
class Stream:
    """The random stream key of a population (uint64)."""

    population: int


@dataclass(frozen=True)
class Record:
    """The buffer of a monitor (its index in ``plan.monitors``)."""

    monitor: int


@dataclass(frozen=True)
class FoldCount:
    """The count that reductions' ``finish`` takes (int64; ``RunArgs.fold_count``)."""


@dataclass(frozen=True)
class TermsBuffer:
    """Where a deferred run that hands its terms back (``RunArgs.terms``) writes those of
    ``key``: the sum over steps, or (``per_step``) each step's row; ``flat``: as one axis of
    synapses (else a dense projection's (n_source, n_target))."""

    key: TermsKey
    per_step: bool
    flat: bool


@dataclass(frozen=True)
class NonFinite:
    """Where a run stopped because checked state (``finite_checks``) became NaN or infinite:
    (batch + 2,) int64, the step of the run (from 0) at whose end sample ``b`` did (a run
    without learning stops each sample there); then the step at which the whole batch stopped
    (learning runs: the samples and the shared state advance together); then the last step of
    a deferred run whose end (the summed changes) did; -1: never (``report_nonfinite``)."""


RunValue = Union[
    StepCount, FirstStep, PieceStart, HeldAccumulator, SampleIds, TimeStep, Reward, StateRef, PluginValue,
    LearningConstant, TraceDecay, Connectivity, InputData, Stream, Record, FoldCount, TermsBuffer, NonFinite,
]

PLAN_VALUES = (TimeStep, PluginValue, LearningConstant, TraceDecay, Connectivity, Stream)
"""The run values that are the same in every run of a plan (``plan_value``): a backend may
resolve each once."""


def resolve(ref: RunValue, plan: Plan, state: Mapping[StateKey, np.ndarray], args: RunArgs) -> object:
    """The value of ``ref`` for the run ``args`` of ``plan`` on ``state``: arrays as they are,
    0-d values as scalars of their dtype."""
    match ref:
        case StateRef(key):  # most arguments
            return state[key]
        case StepCount():
            return np.int64(args.steps)
        case FirstStep():
            return np.int64(args.step0)
        case PieceStart():
            return np.int64(args.first)
        case HeldAccumulator():
            return args.held.setdefault(ref, np.empty(held_shape(ref, plan, args), plan.dtype))
        case SampleIds():
            return args.sample_ids
        case Reward():
            return args.reward
        case InputData(population):
            return args.inputs[population]
        case Record(monitor):
            return args.records[plan.monitors[monitor]]
        case FoldCount():
            return np.int64(args.fold_count)
        case TermsBuffer(key, per_step, flat):
            array = args.terms.buffer(key)
            return array.reshape((array.shape[0], -1) if per_step else (-1,)) if flat else array
        case NonFinite():
            return np.full(args.sample_ids.size + 2, -1, np.int64)
    return plan_value(ref, plan)


def plan_value(ref: RunValue, plan: Plan) -> object:
    """The value of ``ref``, one of the ``PLAN_VALUES``, in every run of ``plan``."""
    match ref:
        case TimeStep():
            return plan.dtype.type(plan.dt)
        case PluginValue(owner, name):
            value = plugin_of(owner, plan).values[name]
            return value[()] if value.ndim == 0 else value
        case LearningConstant(projection, name):
            return getattr(plan.projections[projection].learning, name)[()]
        case TraceDecay(population, name):
            return next(t.decay for t in plan.populations[population].traces if t.name == name)[()]
        case Connectivity(projection, name):
            return plan.projections[projection].arrays[name]
        case Stream(population):
            return plan.populations[population].stream
    raise TypeError(f"not a run value: {ref!r}")


def shared_state(plan: Plan, key: StateKey) -> bool:
    """Whether ``key`` names state shared by the batch (weights, a neuron model's shared
    variables), which only learning runs change; the rest of the state is per sample."""
    return isinstance(key, WeightsKey) or (
        isinstance(key, NeuronKey) and key.variable in plan.population(key.owner).plugin.spec.shared_state
    )


def learned_state(plan: Plan, key: StateKey) -> bool:
    """Whether ``key`` names state that learning changes: a neuron model's shared variable, or
    the weights of a projection that learns (the other weights never change in a run)."""
    if isinstance(key, WeightsKey):
        return plan.projection(key.owner).learning is not None
    return shared_state(plan, key)


def written_by_run(plan: Plan, key: StateKey, learning: bool) -> bool:
    """Whether a run, learning or not, may write the state array ``key``: the per-sample state
    always, the ``learned_state`` while learning."""
    return not shared_state(plan, key) or (learning and learned_state(plan, key))


def held_shape(ref: HeldAccumulator, plan: Plan, args: RunArgs) -> tuple[int, int]:
    """(batch, n_target): the shape of a ``HeldAccumulator`` in the run ``args``."""
    return (args.sample_ids.size, plan.populations[plan.projections[ref.projection].target].n)


def plugin_of(owner: PluginOwner, plan: Plan) -> BoundPlugin:
    """The bound plugin that ``owner`` names."""
    match owner:
        case NeuronModelOf(population):
            return plan.populations[population].plugin
        case SynapseOf(projection):
            return plan.projections[projection].synapse
        case RuleOf(projection):
            return plan.projections[projection].learning.rule
    raise TypeError(f"not a plugin owner: {owner!r}")
