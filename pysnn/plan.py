"""The compiled form of a network description, shared by every backend.

``build_plan`` resolves plugins, binds their kernels to the simulation dtype, casts parameters and
weights, computes derived values and initial states, and orders everything: populations and
projections in the order they were added. Backends only read a ``Plan``, and each checks that
the plan's kernels compile for its target (``Backend.check_kernel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from types import FunctionType
from typing import Mapping

import numpy as np

from pysnn import kernel_math as km
from pysnn import registry, rng
from pysnn.connectivity import Connectivity
from pysnn.errors import ConfigError, PluginError, flag
from pysnn.kernel_source import bind_kernel
from pysnn.learning import Learning, Trace
from pysnn.network import Monitor, Network
from pysnn.plugin import TERM_KERNELS, PluginSpec

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class BoundPlugin:
    """A plugin's kernels bound to the dtype, and the values of its parameters and derived values.

    ``values`` maps names to arrays of the dtype, of shape () (one value for all neurons) or (n,)
    (per neuron; a synapse model's or learning rule's target), or, for a learning rule, the shape
    of its projection's weights (the names in ``per_synapse``; see ``lowering.Indexing``).
    """

    spec: PluginSpec
    kernels: Mapping[str, FunctionType]
    values: Mapping[str, np.ndarray]
    per_synapse: frozenset[str] = frozenset()

    def args(self, kernel: str) -> tuple[str, ...]:
        return self.spec.kernels[kernel].args

    def uses(self, arg: str) -> bool:
        """True if some kernel takes ``arg`` (e.g. ``rng``)."""
        return any(arg in k.args for k in self.spec.kernels.values())


@dataclass(frozen=True)
class TracePlan:
    """A computed spike trace of a population."""

    name: str
    trace: Trace
    decay: np.ndarray
    """exp(-dt / tau), in the dtype (0-d)."""


@dataclass(frozen=True)
class PopulationPlan:
    name: str
    index: int
    n: int
    is_input: bool
    plugin: BoundPlugin
    init: Mapping[str, np.ndarray]
    """State variable -> initial values, shape (n,)."""
    reductions: Mapping[str, BoundPlugin]
    """Shared state variable -> its bound reduction."""
    stream: np.uint64
    """Random stream key of this population."""
    incoming: tuple[int, ...]
    """Indices of the projections into this population, in order."""
    traces: tuple[TracePlan, ...] = ()
    """The population's traces that a learning rule or a monitor reads (only those are computed)."""
    one_spike: bool = False
    """At most one spike per sample and step: after the update, the ``k``-th of the neurons that
    spiked (in ascending order) keeps its spike, ``k = rng.spike_choice(...)`` of the count; then
    traces and monitors."""

    @property
    def spiking(self) -> bool:
        return not self.is_input or self.plugin.spec.cls.output == "spike"


@dataclass(frozen=True)
class ProjectionPlan:
    name: str
    index: int
    source: int
    target: int
    kind: str
    """Connectivity kind: "dense", "sparse" or "one_to_one"."""
    arrays: Mapping[str, np.ndarray]
    """Connectivity arrays; ``weights`` is the initial weight array (dtype)."""
    synapse: BoundPlugin
    init: Mapping[str, np.ndarray]
    """Synapse state variable -> initial values, shape (n_target,)."""
    port: str
    """The input port of the target's neuron model that this projection's current feeds."""
    learning: LearningPlan | None = None
    delay: int = 1
    """1: the target receives the source's output of the previous step; 0: of the same step
    (the source comes first in the plan's populations)."""

    def rule_value(self, name: str) -> np.ndarray:
        """The learning rule's parameter or derived value ``name`` at each synapse, flat (row-major
        dense, CSR order sparse), or 0-d if it is one value for all."""
        rule = self.learning.rule
        value = rule.values[name]
        if name in rule.per_synapse:
            return value.reshape(-1)
        if value.ndim == 1 and self.kind == "sparse":
            return value[self.arrays["indices"]]
        if value.ndim == 1:
            return np.broadcast_to(value, self.arrays["weights"].shape).reshape(-1)
        return value


@dataclass(frozen=True)
class LearningPlan:
    """A projection's learning rule and reduction, bound; constraints in the dtype (0-d)."""

    rule: BoundPlugin
    reduction: BoundPlugin
    wmin: np.ndarray
    wmax: np.ndarray
    weight_decay: np.ndarray

    def uses(self, arg: str) -> bool:
        return self.rule.uses(arg)

    @property
    def terms(self) -> list[str]:
        """The names of the rule's reduced terms, those it defines of ``pre`` (from
        ``on_pre``), ``post`` (``on_post``) and ``step`` (``on_step``), in that order."""
        return [term for kernel, term in TERM_KERNELS.items() if kernel in self.rule.kernels]


@dataclass(frozen=True)
class Plan:
    dt: float
    dtype: np.dtype
    seed: int
    populations: tuple[PopulationPlan, ...]
    projections: tuple[ProjectionPlan, ...]
    monitors: tuple[Monitor, ...]
    check_finite: bool = True
    """Runs check that the state they change stays finite (``lowering.finite_checks``) and raise
    ``NumericalError`` otherwise; part of the compiled code's structure."""

    def population(self, name: str) -> PopulationPlan:
        return self._populations[name]

    def projection(self, name: str) -> ProjectionPlan:
        return self._projections[name]

    @cached_property
    def _populations(self) -> dict[str, PopulationPlan]:
        return {p.name: p for p in self.populations}

    @cached_property
    def _projections(self) -> dict[str, ProjectionPlan]:
        return {p.name: p for p in self.projections}

    @cached_property
    def learns(self) -> bool:
        """True if some shared state (weights included) changes while learning is on."""
        return any(p.reductions for p in self.populations) or any(p.learning for p in self.projections)

    def bound_plugins(self) -> list[BoundPlugin]:
        """Every bound plugin of the plan (each kernel a backend may run), in plan order."""
        found = []
        for pop in self.populations:
            found += [pop.plugin, *pop.reductions.values()]
        for proj in self.projections:
            found.append(proj.synapse)
            if proj.learning is not None:
                found += [proj.learning.rule, proj.learning.reduction]
        return found

    @property
    def uses_reward(self) -> bool:
        return any(p.learning.uses("reward") for p in self.projections if p.learning)


def build_plan(network: Network, dtype: str, seed: int, check_finite: bool = True) -> Plan:
    """Resolve and check ``network`` for a simulation in ``dtype`` with random ``seed``, whose
    runs check that their state stays finite unless ``check_finite`` is False."""
    dtype = _float_dtype(dtype)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ConfigError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    flag(check_finite, "check_finite")
    if not network.populations:
        raise ConfigError("the network has no populations; add some with add_population/add_input")
    network.check(dtype)
    clash = set(network.populations) & set(network.projections)
    if clash:
        raise ConfigError(f"names {sorted(clash)} are used by a population and a projection; rename one")
    names = list(network.populations)
    projections = tuple(
        ProjectionPlan(
            name=proj.name,
            index=k,
            source=names.index(proj.source),
            target=names.index(proj.target),
            kind=proj.connectivity.kind,
            arrays=proj.connectivity.arrays(
                network.populations[proj.source].n, network.populations[proj.target].n, dtype
            ),
            synapse=(syn := _bind(proj.spec(), proj.params, network.populations[proj.target].n, network.dt, dtype)),
            init=_initial_state(syn, {}, network.populations[proj.target].n, dtype),
            port=proj.port,
            learning=_learning(proj.learning, network.populations[proj.target].n, proj.connectivity, network.dt, dtype),
            delay=proj.delay,
        )
        for k, proj in enumerate(network.projections.values())
    )
    traced = _traces_read(network, projections, names)
    populations = []
    for index, pop in enumerate(network.populations.values()):
        bound = _bind(pop.spec(), pop.params, pop.n, network.dt, dtype)
        reductions = {
            var: _bind(registry.spec_for("reduction", pop.reductions.get(var, s.reduction)), {}, 1, network.dt, dtype)
            for var, s in bound.spec.state.items()
            if s.shared
        }
        populations.append(
            PopulationPlan(
                name=pop.name,
                index=index,
                n=pop.n,
                is_input=pop.is_input,
                plugin=bound,
                init=_initial_state(bound, pop.init, pop.n, dtype),
                reductions=reductions,
                stream=rng.stream_key(int(seed), pop.name),
                incoming=tuple(p.index for p in projections if p.target == index),
                traces=tuple(
                    TracePlan(name, trace, km.exp(-np.asarray(network.dt, dtype) / dtype.type(trace.tau)))
                    for name, trace in pop.traces.items()
                    if (pop.name, name) in traced
                ),
                one_spike=pop.one_spike,
            )
        )
    return Plan(network.dt, dtype, int(seed), tuple(populations), projections, tuple(network.monitors), bool(check_finite))


def _bind(
    spec: PluginSpec,
    overrides: Mapping[str, np.ndarray],
    n: int,
    dt: float,
    dtype: np.dtype,
    synapses: tuple[int, ...] | None = None,
) -> BoundPlugin:
    """``spec`` bound to ``dtype`` with its values: shape () or (n,), or, given the shape of a
    learned projection's weights (``synapses``), also that shape (per synapse)."""
    shapes = [(), (n,)] + ([] if synapses is None else [synapses])
    values = {name: np.asarray(overrides.get(name, default), dtype=dtype) for name, default in spec.params.items()}
    if spec.derived_names:
        args = {name: (np.asarray(dt, dtype) if name == "dt" else values[name]) for name in spec.derived_args}
        try:
            with np.errstate(all="ignore"):
                result = spec.cls.derived(**args)
        except Exception as exc:
            raise PluginError(f"{spec.label}: derived() raised {type(exc).__name__}: {exc}") from exc
        for name in spec.derived_names:
            value = np.asarray(result[name], dtype=dtype)
            if value.shape not in shapes or not np.isfinite(value).all():
                raise ConfigError(
                    f"{spec.label}: derived value {name!r} must be finite with shape {' or '.join(map(str, shapes))}; got "
                    f"{value!r} from parameters {args}"
                )
            values[name] = value
    kernels = {name: bind_kernel(k.function, dtype) for name, k in spec.kernels.items()}
    per_synapse = frozenset(name for name, value in values.items() if value.shape not in ((), (n,)))
    return BoundPlugin(spec, kernels, values, per_synapse)


def _learning(
    learning: Learning | None, n_target: int, connectivity: Connectivity, dt: float, dtype: np.dtype
) -> LearningPlan | None:
    """The bound learning of a projection into ``n_target`` neurons; the rule's values are
    scalars, per target or per synapse (``connect`` checked that no shape is both)."""
    if learning is None:
        return None
    rule = registry.spec_for("learning_rule", learning.rule)
    with np.errstate(over="ignore"):  # a bound beyond the dtype's range becomes inf: it clips the same
        wmin, wmax = np.asarray(learning.wmin, dtype), np.asarray(learning.wmax, dtype)
    return LearningPlan(
        rule=_bind(rule, learning.params, n_target, dt, dtype, connectivity.weights.shape),
        reduction=_bind(registry.spec_for("reduction", learning.reduction), {}, 1, dt, dtype),
        wmin=wmin,
        wmax=wmax,
        weight_decay=np.asarray(learning.weight_decay, dtype),
    )


def _traces_read(network: Network, projections: tuple[ProjectionPlan, ...], names: list[str]) -> set[tuple[str, str]]:
    """(population, trace name) of every trace a learning rule or a monitor reads."""
    read = {(m.population, m.what) for m in network.monitors if m.what in network.populations[m.population].traces}
    for proj in projections:
        if proj.learning is not None:
            for kernel in proj.learning.rule.spec.kernels.values():
                for _, side, var in kernel.reads:
                    pop = network.populations[names[proj.source if side == "pre" else proj.target]]
                    if var in pop.traces:
                        read.add((pop.name, var))
    return read


def _float_dtype(value) -> np.dtype:
    """``value`` as float32 or float64 (``np.dtype(None)`` would be float64: refused)."""
    try:
        dtype = None if value is None else np.dtype(value)
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.name not in DTYPES:
        raise ConfigError(f"dtype must be 'float32' or 'float64', got {value!r}")
    return dtype


def _initial_state(bound: BoundPlugin, overrides: Mapping[str, np.ndarray], n: int, dtype: np.dtype) -> dict[str, np.ndarray]:
    init = {}
    for name, var in bound.spec.state.items():
        value = overrides.get(name, bound.values[var.init] if isinstance(var.init, str) else var.init)
        init[name] = np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
    return init
