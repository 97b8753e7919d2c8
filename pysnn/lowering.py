"""What every backend needs to know about a plan, decided once for all of them.

A kernel's arguments are bound by name (see ``pysnn.plugin``); ``kernel_args`` says where each
one comes from, as a typed reference that a backend turns into an array (NumPy) or an
expression (generated code). Backends differ in how they fetch a value, never in which value.

A compiled run function takes each argument from a typed ``RunValue`` (a state array, a
parameter, a monitor's buffer...) that ``resolve`` turns into its value for one run. How a
reduction folds the batch is decided here too (``fold_mode``, ``finishes``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Mapping, Union

import numpy as np

from pysnn.plan import BoundPlugin, Plan, PopulationPlan
from pysnn.plugin import POST_SUFFIX, Reduction

if TYPE_CHECKING:
    from pysnn.backend import RunArgs, StateKey


@dataclass(frozen=True)
class Special:
    """An argument the call site provides (``i_in``, ``dt``, ``rng``, ``x``, a port, ``w``...)."""

    name: str


@dataclass(frozen=True)
class Value:
    """A parameter or derived value of the plugin: one for all elements, or one per element."""

    name: str
    per_element: bool


@dataclass(frozen=True)
class OwnState:
    """A state variable of the plugin itself: per sample and element, or shared (per element)."""

    name: str
    shared: bool


@dataclass(frozen=True)
class TargetState:
    """A state variable of a synapse's target population, read at the start of the step."""

    name: str
    shared: bool


ArgSource = Union[Special, Value, OwnState, TargetState]


def kernel_args(
    bound: BoundPlugin, kernel: str, special: frozenset[str] | set[str], target: PopulationPlan | None = None
) -> tuple[ArgSource, ...]:
    """Where each argument of ``bound``'s ``kernel`` comes from, in order.

    ``special`` names the arguments the call site provides; ``target`` is the population whose
    state a synapse model reads (``<variable>_post`` arguments).
    """
    sources: list[ArgSource] = []
    for name in bound.args(kernel):
        if name in special:
            sources.append(Special(name))
        elif name in bound.values:
            sources.append(Value(name, bound.values[name].ndim == 1))
        elif name in bound.spec.state:
            sources.append(OwnState(name, bound.spec.state[name].shared))
        elif target is not None and name.endswith(POST_SUFFIX):
            var = name[: -len(POST_SUFFIX)]
            sources.append(TargetState(var, target.plugin.spec.state[var].shared))
        else:
            raise AssertionError(f"{bound.spec.label}: {kernel}() argument {name!r} has no source")
    return tuple(sources)


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


# -- the arguments of a run ------------------------------------------------------------------------


@dataclass(frozen=True)
class StepCount:
    """The number of steps of the run (int64)."""


@dataclass(frozen=True)
class FirstStep:
    """The step counter of the run's first step (int64)."""


@dataclass(frozen=True)
class SampleIds:
    """Each sample's id, (batch,) uint64."""


@dataclass(frozen=True)
class TimeStep:
    """``dt`` in the dtype."""


@dataclass(frozen=True)
class Deferred:
    """Whether learned changes are summed and applied at the end of the run."""


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
    """A parameter or derived value of a plugin: a scalar of the dtype, or (n,)."""

    owner: PluginOwner
    name: str


@dataclass(frozen=True)
class LearningConstant:
    """``wmin``, ``wmax`` or ``weight_decay`` of a projection's learning (a scalar)."""

    projection: int
    name: str


@dataclass(frozen=True)
class TraceDecay:
    """The per-step decay factor of a population's trace (a scalar)."""

    population: int


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


RunValue = Union[
    StepCount, FirstStep, SampleIds, TimeStep, Deferred, Reward, StateRef, PluginValue,
    LearningConstant, TraceDecay, Connectivity, InputData, Stream, Record,
]


def resolve(ref: RunValue, plan: Plan, state: Mapping[StateKey, np.ndarray], args: RunArgs) -> object:
    """The value of ``ref`` for the run ``args`` of ``plan`` on ``state``: arrays as they are,
    0-d values as scalars of their dtype."""
    match ref:
        case StepCount():
            return np.int64(args.steps)
        case FirstStep():
            return np.int64(args.step0)
        case SampleIds():
            return args.sample_ids
        case TimeStep():
            return plan.dtype.type(plan.dt)
        case Deferred():
            return args.deferred
        case Reward():
            return args.reward
        case StateRef(key):
            return state[key]
        case PluginValue(owner, name):
            value = plugin_of(owner, plan).values[name]
            return value[()] if value.ndim == 0 else value
        case LearningConstant(projection, name):
            return getattr(plan.projections[projection].learning, name)[()]
        case TraceDecay(population):
            return plan.populations[population].trace_decay[()]
        case Connectivity(projection, name):
            return plan.projections[projection].arrays[name]
        case InputData(population):
            return args.inputs[population]
        case Stream(population):
            return plan.populations[population].stream
        case Record(monitor):
            return args.records[plan.monitors[monitor]]
    raise TypeError(f"not a run value: {ref!r}")


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
