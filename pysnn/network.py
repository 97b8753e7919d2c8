"""Network description: populations, input populations, projections and monitors.

Plain data, independent of any backend: it can be printed, pickled, validated and compiled for
every backend. Models are given by registered name (or directly as plugin classes) and validated
when added, so a mistake is reported where it is made.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from pysnn import registry
from pysnn.connectivity import Connectivity, Sparse
from pysnn.errors import ConfigError, checked_array, flag, narrowing, positive_int, real_number, shown
from pysnn.learning import Learning, Trace
from pysnn.plugin import (
    DEFAULT_PORT,
    Encoder,
    LearningRule,
    NeuronModel,
    PluginSpec,
    Reduction,
    SynapseModel,
    describe_params,
)

SPIKE_MONITORS = ("spike_counts", "spikes", "spike_events")
DEFAULT_TRACE = "x"
"""Name of the trace that ``trace=`` gives a population (what rules read as ``x_pre``/``x_post``)."""
RESERVED_NAMES = ("output", *SPIKE_MONITORS)
"""Names of a population's outputs, which a trace cannot take."""
PLUGIN_BASES = {
    "neuron": NeuronModel,
    "synapse": SynapseModel,
    "encoder": Encoder,
    "reduction": Reduction,
    "learning_rule": LearningRule,
}
"""Plugin kind -> the class that a plugin of that kind given as a class must derive from."""


@dataclass(frozen=True)
class Population:
    """``n`` neurons of one model, or an input population driven by an encoder."""

    name: str
    n: int
    model: Any
    """Registered name or plugin class of the neuron model (or encoder, for inputs)."""
    params: Mapping[str, np.ndarray]
    """Parameter overrides: float64 arrays of shape () or (n,)."""
    init: Mapping[str, np.ndarray]
    """Initial-value overrides of state variables: float64 arrays of shape () or (n,)."""
    is_input: bool
    traces: Mapping[str, Trace] = field(default_factory=dict)
    """Trace name -> spike trace, read by learning rules as ``<name>_pre`` / ``<name>_post``."""
    reductions: Mapping[str, Any] = field(default_factory=dict)
    """Shared state variable -> reduction (name or class) replacing the model's declared one."""
    one_spike: bool = False
    """At most one spike per sample and step (``Network.add_population``)."""

    @property
    def kind(self) -> str:
        return "encoder" if self.is_input else "neuron"

    @property
    def spiking(self) -> bool:
        return not self.is_input or self.spec().cls.output == "spike"

    def spec(self) -> PluginSpec:
        return registry.spec_for(self.kind, self.model)


@dataclass(frozen=True)
class Projection:
    """Connections from ``source`` to ``target`` with a synapse model."""

    name: str
    source: str
    target: str
    connectivity: Connectivity
    synapse: Any
    params: Mapping[str, np.ndarray]
    learning: Learning | None = None
    """How the weights learn (parameters validated), or None for fixed weights."""
    port: str = DEFAULT_PORT
    """The input port of the target's neuron model that the synapses' current feeds."""
    delay: int = 1
    """Steps until the target receives the source's output: 1 (the previous step's) or 0 (the
    same step's; the source is updated first)."""

    def spec(self) -> PluginSpec:
        return registry.spec_for("synapse", self.synapse)


@dataclass(frozen=True)
class Monitor:
    """What is recorded of a population: ``spike_counts``, ``spikes``, ``spike_events`` or a state
    variable.

    A ``spike_events`` monitor is a ``spikes`` monitor with ``events=True``: the backends record
    it as ``spikes``, into a buffer of one piece of the run at a time, and the run keeps each
    piece's spikes as events (``pysnn.run_chunks``, ``pysnn.spike_events``).
    """

    population: str
    what: str
    every: int = 1
    events: bool = False

    @property
    def name(self) -> str:
        """What was asked for: ``what``, or ``spike_events``."""
        return "spike_events" if self.events else self.what

    @property
    def accumulates(self) -> bool:
        """Whether its record adds up over a run's steps (``spike_counts``): every piece of a
        run adds to the same buffer, where the other records are written step by step."""
        return self.what == "spike_counts"


@dataclass
class Network:
    """A spiking network description; ``compile`` turns it into a runnable ``Simulation``.

    Example::

        net = Network(dt=1.0)
        net.add_input("x", 100, encoder="poisson")
        net.add_population("y", 1000, model="lif")
        net.connect("x", "y", Dense(weights))
        net.monitor("y", "spike_counts")
        sim = net.compile(backend="numba-cpu")
        out = sim.run(1000, inputs={"x": rates})   # rates: (batch, 100) in Hz
    """

    dt: float = 1.0
    """Time step in ms."""
    populations: dict[str, Population] = field(default_factory=dict)
    projections: dict[str, Projection] = field(default_factory=dict)
    monitors: list[Monitor] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dt = _dt(self.dt, np.float64)

    def check(self, dtype: np.dtype) -> None:
        """Raise ``ConfigError`` unless every value of the description is valid as a simulation in
        ``dtype`` holds it: dt, parameters, initial values, weights, trace time constants and
        weight decay, after the cast (in float32, 1e39 becomes inf and 1e-50 becomes 0), and each
        connectivity fits its populations' sizes. Each was checked in float64 where it was given;
        ``compile`` checks them again, in its dtype, on what the (plain-data) description holds now."""
        _dt(self.dt, dtype)
        for pop in self.populations.values():
            spec = pop.spec()
            values(spec, pop.params, pop.n, "params", pop.name, dtype=dtype)
            values(spec, pop.init, pop.n, "init", pop.name, dtype=dtype)
            for name, trace in pop.traces.items():
                trace.check(dtype, f"population {pop.name!r}: trace {name!r}")
        for proj in self.projections.values():
            source, target = self.populations[proj.source], self.populations[proj.target]
            n_target = _check_sizes(proj.name, proj.connectivity, source, target)[1]
            values(proj.spec(), proj.params, n_target, "params", proj.name, dtype=dtype)
            checked_array(proj.connectivity.weights, f"projection {proj.name!r}: weights", dtype)
            if proj.learning is not None:
                proj.learning.check(dtype, f"projection {proj.name!r}: Learning")
                rule = registry.spec_for("learning_rule", proj.learning.rule)
                values(rule, proj.learning.params, n_target, "params", proj.name, proj.connectivity.weights.shape, dtype)

    def structure(self) -> dict[str, list[dict[str, Any]]]:
        """The network's structure as plain data (JSON types), which ``structure_hash`` digests.

        Each population in order: name, size, input or not, its model or encoder, ``one_spike``,
        its traces' names and kinds (additive or not), the reduction of each shared variable.
        Each projection in order: name, source, target, connectivity kind and, for ``Sparse``, a
        digest of which synapses exist, synapse model, port, delay, learning rule and reduction.
        Plugins count by class, whether given by name or as a class. Values do not count (dt,
        parameters, initial values, weights, trace time constants, learning bounds and decay),
        nor do monitors.
        """
        populations = [
            {
                "name": pop.name,
                "n": pop.n,
                "input": pop.is_input,
                "model": _plugin_id(pop.spec()),
                "one_spike": pop.one_spike,
                "traces": {name: trace.additive for name, trace in pop.traces.items()},
                "reductions": {
                    var: _plugin_id(registry.spec_for("reduction", pop.reductions.get(var, pop.spec().state[var].reduction)))
                    for var in pop.spec().shared_state
                },
            }
            for pop in self.populations.values()
        ]
        projections = [
            {
                "name": proj.name,
                "source": proj.source,
                "target": proj.target,
                "connectivity": proj.connectivity.kind,
                "synapses": _synapses_digest(proj.connectivity),
                "synapse": _plugin_id(proj.spec()),
                "port": proj.port,
                "delay": proj.delay,
                "learning": None
                if proj.learning is None
                else [
                    _plugin_id(registry.spec_for("learning_rule", proj.learning.rule)),
                    _plugin_id(registry.spec_for("reduction", proj.learning.reduction)),
                ],
            }
            for proj in self.projections.values()
        ]
        return {"populations": populations, "projections": projections}

    def structure_hash(self) -> str:
        """A digest (16 hex digits) of ``structure()``: equal for networks built the same way,
        whatever their values (e.g. trained weights), so a checkpoint (``pysnn.checkpoint``) of
        one loads into the other."""
        return structure_digest(self.structure())

    def add_population(
        self,
        name: str,
        n: int,
        model: Any = "lif",
        params: Mapping[str, Any] | None = None,
        init: Mapping[str, Any] | None = None,
        trace: Trace | None = None,
        reductions: Mapping[str, Any] | None = None,
        traces: Mapping[str, Trace] | None = None,
        one_spike: bool = False,
    ) -> Population:
        """Add ``n`` neurons of a neuron model (registered name or ``NeuronModel`` class).

        ``params`` overrides parameter defaults and ``init`` initial state values, each with a
        scalar or an array of shape (n,). ``traces`` gives the population named spike traces
        (e.g. ``{"x": Trace(20.0), "slow": Trace(100.0)}``), ``trace`` is short for
        ``traces={"x": trace}``.
        ``reductions`` chooses, per shared state variable, how the batch's changes are combined
        (e.g. ``{"theta": "max"}``; default: the model's declaration).
        ``one_spike=True`` lets at most one neuron per sample and step spike (BindsNET's
        ``one_spike``, used by Diehl & Cook's network): where several cross threshold, one of
        them, drawn uniformly with the counter-based random numbers, keeps its spike. The others
        have still taken their model's update (reset, refractory period, threshold increase):
        only their output spike is removed, so their traces, projections, learning rules and
        spike monitors see no spike.
        """
        flag(one_spike, f"population {name!r}: one_spike")
        pop = self._add(name, n, model, params, init, False, _traces(name, trace, traces), reductions)
        if one_spike:
            pop = self.populations[name] = dataclasses.replace(pop, one_spike=True)
        return pop

    def add_input(
        self,
        name: str,
        n: int,
        encoder: Any = "poisson",
        params: Mapping[str, Any] | None = None,
        trace: Trace | None = None,
        traces: Mapping[str, Trace] | None = None,
    ) -> Population:
        """Add an input population whose output each step comes from an encoder and run inputs.

        At run time it takes an array of shape (batch, n) (the same values every step) or
        (steps, batch, n) (one slice per step), e.g. rates in Hz for ``poisson``, which spikes
        with probability ``rate * dt / 1000`` per step: at most once per step, so rates of
        ``1000 / dt`` Hz and above spike at every step. ``traces`` /
        ``trace`` give it spike traces (spiking encoders only), as for ``add_population``.
        """
        return self._add(name, n, encoder, params, None, True, _traces(name, trace, traces))

    def connect(
        self,
        source: str,
        target: str,
        connectivity: Connectivity,
        synapse: Any = "delta",
        params: Mapping[str, Any] | None = None,
        name: str | None = None,
        learning: Learning | None = None,
        port: str | None = None,
        delay: int = 1,
    ) -> Projection:
        """Connect ``source`` to ``target`` (a neuron population); returns the projection.

        ``connectivity`` is ``Dense(w)``, ``Sparse(...)`` or ``OneToOne(w)``; ``synapse`` the
        synapse model (default ``delta``), ``params`` its parameter overrides. The projection is
        named ``name`` or ``"source->target"``. ``learning`` (``pysnn.Learning``) makes its
        weights plastic. ``port`` is the input of the target's neuron model that the synapses
        feed (e.g. ``"exc"`` or ``"inh"`` of ``lif_cond``); it may be omitted when the model has
        one input. ``delay=1`` (default): the target receives the source's output of the
        previous step; ``delay=0``: of the same step, which needs the source to be updated
        first, i.e. added before the target (populations update in the order they were added).
        """
        for role, pop in (("source", source), ("target", target)):
            if not isinstance(pop, str) or pop not in self.populations:
                raise ConfigError(f"connect {role}={shown(pop)} is not a population; add it first ({self._pop_names()})")
        if self.populations[target].is_input:
            raise ConfigError(f"connect target={target!r} is an input population; inputs receive no projections")
        if not isinstance(connectivity, Connectivity):
            raise ConfigError(
                f"connectivity must be pysnn.Dense, Sparse or OneToOne, got {type(connectivity).__name__}; "
                "wrap a weight matrix as Dense(weights)"
            )
        name = f"{source}->{target}" if name is None else name
        if not isinstance(name, str) or not name:
            raise ConfigError(f"projection name must be a non-empty string, got {shown(name)}")
        if name in self.projections:
            raise ConfigError(f"a projection named {name!r} exists already; pass name= to tell them apart")
        sizes = _check_sizes(name, connectivity, self.populations[source], self.populations[target])
        delay = _check_delay(delay, name, list(self.populations), source, target)
        spec = _spec("synapse", synapse, f"projection {name!r}: synapse")
        target_spec = self.populations[target].spec()
        port = _check_port(port, target_spec, name)
        missing = [var for var in spec.reads_target if var not in target_spec.state]
        if missing:
            raise ConfigError(
                f"projection {name!r}: {spec.label} reads the target's state variable(s) {missing}, which "
                f"{target_spec.label} of {target!r} does not have (it has: {', '.join(target_spec.state)})"
            )
        if learning is not None:
            learning = _check_learning(learning, name, connectivity, self.populations[source], self.populations[target])
        projection = Projection(
            name, source, target, connectivity, synapse, values(spec, params, sizes[1], "params", name), learning, port, delay
        )
        self.projections[name] = projection
        return projection

    def monitor(self, population: str, *what: str, every: int = 1) -> None:
        """Record ``spike_counts`` (batch, n), ``spikes`` (steps, batch, n), ``spike_events``
        (``pysnn.SpikeEvents``: (step, sample, neuron) per spike, for long runs) or state variables.

        A state variable is recorded after every ``every``-th step of a run: shape
        (steps // every, batch, n) for per-sample variables, (steps // every, n) for shared ones.
        """
        if not isinstance(population, str) or population not in self.populations:
            raise ConfigError(f"monitor population={shown(population)} is not a population ({self._pop_names()})")
        if not what:
            raise ConfigError(f"monitor needs what to record: {', '.join(SPIKE_MONITORS)} or a state variable")
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ConfigError(f"monitor every={shown(every)} must be a positive integer number of steps")
        pop = self.populations[population]
        spec = pop.spec()
        for item in what:
            if not isinstance(item, str):
                raise ConfigError(
                    f"monitor what={shown(item)} must be a name: {', '.join(SPIKE_MONITORS)} or a state variable"
                )
            if item in SPIKE_MONITORS:
                if pop.is_input and spec.cls.output != "spike":
                    raise ConfigError(f"monitor {item!r}: input population {population!r} emits analog values, not spikes")
            elif item not in pop.traces and (pop.is_input or item not in spec.state):
                choices = [*SPIKE_MONITORS, *pop.traces, *([] if pop.is_input else spec.state)]
                raise ConfigError(
                    f"monitor what={item!r}: population {population!r} has no such state variable or trace; "
                    f"choose from {', '.join(choices)}"
                )
            if any(m.population == population and m.name == item for m in self.monitors) or what.count(item) > 1:
                raise ConfigError(f"monitor what={item!r}: {item!r} of {population!r} is monitored already")
        self.monitors += [
            Monitor(population, "spikes", events=True) if item == "spike_events"
            else Monitor(population, item, int(every) if item not in SPIKE_MONITORS else 1)
            for item in what
        ]

    def compile(
        self,
        backend: str | None = None,
        *,
        dtype: str = "float32",
        batch_size: int | None = None,
        seed: int = 0,
        check_finite: bool = True,
    ):
        """Compile for a backend (name; default ``$PYSNN_BACKEND`` or ``numba-cpu``).

        ``dtype`` is float32 or float64 (not None), in which every value of the description is
        checked again (``check``); ``batch_size`` fixes the batch size now (else the first run's
        inputs give it); ``seed`` keys every random number of the simulation. ``check_finite``:
        a run in which state becomes NaN or infinite raises ``NumericalError`` (naming the
        variable, the step and a sample) and changes nothing; False lets such runs go on, a
        little faster.
        """
        from pysnn.simulation import Simulation

        return Simulation(
            self, backend=backend, dtype=dtype, batch_size=batch_size, seed=seed, check_finite=check_finite
        )

    def _add(self, name, n, model, params, init, is_input, traces, reductions=None) -> Population:
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"population name must be a Python identifier, got {shown(name)}")
        if name in self.populations:
            raise ConfigError(f"a population named {name!r} exists already")
        n = positive_int(n, f"population {name!r}: n")
        kind, argument = ("encoder", "encoder") if is_input else ("neuron", "model")
        spec = _spec(kind, model, f"population {name!r}: {argument}")
        if traces and is_input and spec.cls.output != "spike":
            raise ConfigError(f"population {name!r}: an analog input has no spikes to trace")
        clash = set(traces) & {*spec.state, *RESERVED_NAMES}
        if clash:
            raise ConfigError(
                f"population {name!r}: trace name(s) {sorted(clash)} are taken by its state variables or "
                f"outputs ({', '.join([*RESERVED_NAMES, *spec.state])}); choose other names"
            )
        reductions = {} if reductions is None else reductions
        if not isinstance(reductions, Mapping):
            raise ConfigError(
                f"population {name!r}: reductions must be a dict of shared variable -> reduction, got {shown(reductions)}"
            )
        for var, reduction in reductions.items():
            if var not in spec.shared_state:
                raise ConfigError(
                    f"population {name!r}: reductions[{var!r}]: {spec.label} has no shared state variable {var!r}; "
                    f"shared ones: {', '.join(spec.shared_state) or 'none'}"
                )
            _spec("reduction", reduction, f"population {name!r}: reductions[{var!r}]")
        pop = Population(
            name,
            n,
            model,
            values(spec, params, n, "params", name),
            values(spec, init, n, "init", name),
            is_input,
            traces,
            dict(reductions),
        )
        self.populations[name] = pop
        return pop

    def _pop_names(self) -> str:
        return "populations: " + (", ".join(self.populations) or "none")


def values(
    spec: PluginSpec,
    given: Mapping[str, Any] | None,
    n: int,
    what: str,
    owner: str,
    synapses: tuple[int, ...] | None = None,
    dtype: np.dtype = np.dtype(np.float64),
) -> dict[str, np.ndarray]:
    """Validate parameter or initial-value overrides: known names, scalar or (n,) (or, given the
    shape of a learned projection's weights, ``synapses``, also that shape: per synapse), finite,
    and parameters inside their declared bounds (element-wise), each as ``dtype`` holds it;
    return them in ``dtype``."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"{owner!r}: {what} must be a dict of name -> value, got {type(given).__name__}")
    known = spec.param_decls if what == "params" else spec.state
    out = {}
    for key, value in given.items():
        if key not in known:
            if what == "params":
                kind, listing = "parameter", describe_params(known)
            else:
                kind, listing = "state variable", ", ".join(known)
            raise ConfigError(f"{owner!r}: {spec.label} has no {kind} {key!r}; it has: {listing or 'none'}")
        array = checked_array(value, f"{owner!r}: {what}[{key!r}]", dtype)
        if array.shape not in ((), (n,), synapses):
            shapes = f"a scalar or have shape ({n},)"
            if synapses is not None:
                shapes = f"a scalar, have shape ({n},) (per target) or {synapses} (per synapse)"
            raise ConfigError(f"{owner!r}: {what}[{key!r}] must be {shapes}, got shape {array.shape}")
        if array.shape == synapses == (n,):
            raise ConfigError(
                f"{owner!r}: {what}[{key!r}] of shape ({n},) is ambiguous: the projection has as many synapses as "
                f"targets, so it could be per target or per synapse; such a projection takes scalars only"
            )
        if what == "params":
            _check_bounds(spec, key, array, owner, value)
        out[key] = array
    return out


def _check_bounds(spec: PluginSpec, name: str, array: np.ndarray, owner: str, given: Any) -> None:
    """Raise if an element of parameter ``name``'s ``array`` (``given`` cast to the simulation
    dtype) is outside its declared bounds."""
    decl = spec.param_decls[name]
    outside = ~decl.allows(array.astype(np.float64))
    if outside.any():
        index = np.unravel_index(np.argmax(outside), array.shape)
        at = f" at index {', '.join(map(str, index))}" if array.ndim else ""
        value, cast = float(np.asarray(given, dtype=np.float64)[index]), float(array[index])
        raise ConfigError(
            f"{owner!r}: {spec.label} parameter {name!r} must be {decl.bounds_text()}, got "
            f"{value!r}{at}{narrowing(array.dtype, cast) if cast != value else ''}; change it or leave it out "
            f"for the default {decl.with_unit(decl.default)}"
        )


def _traces(population: str, trace: Any, traces: Any) -> dict[str, Trace]:
    """A population's named traces from ``trace=`` (the trace ``x``) or ``traces=``, validated."""
    if trace is not None and traces is not None:
        raise ConfigError(f"population {population!r}: give trace= or traces=, not both")
    if trace is not None:
        traces = {DEFAULT_TRACE: trace}
    traces = {} if traces is None else traces
    if not isinstance(traces, Mapping):
        raise ConfigError(f"population {population!r}: traces must be a dict of name -> pysnn.Trace, got {traces!r}")
    for name, value in traces.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"population {population!r}: trace name {name!r} is not a Python identifier")
        if not isinstance(value, Trace):
            raise ConfigError(f"population {population!r}: trace {name!r} must be a pysnn.Trace, got {value!r}")
    return dict(traces)


def _check_port(port: Any, target: PluginSpec, projection: str) -> str:
    """The target port a projection feeds: ``port``, or the model's only input."""
    ports = target.ports
    if port is None:
        if len(ports) > 1:
            raise ConfigError(
                f"projection {projection!r}: {target.label} has several inputs; choose one with port= "
                f"({', '.join(map(repr, ports))})"
            )
        return ports[0]
    if not isinstance(port, str) or port not in ports:
        raise ConfigError(
            f"projection {projection!r}: port={shown(port)} is not an input of {target.label}; its inputs: "
            f"{', '.join(map(repr, ports))}"
        )
    return port


def _check_delay(delay: Any, projection: str, order: list[str], source: str, target: str) -> int:
    """A projection's delay, 0 or 1; 0 only from a population updated before the target."""
    if isinstance(delay, bool) or not isinstance(delay, (int, np.integer)) or delay not in (0, 1):
        raise ConfigError(f"projection {projection!r}: delay={shown(delay)} must be 0 (same step) or 1 (next step)")
    if delay == 0 and order.index(source) >= order.index(target):
        where = "onto itself" if source == target else f"from {source!r}, which was added after {target!r}"
        raise ConfigError(
            f"projection {projection!r}: delay=0 {where}: a zero-delay projection needs its source updated "
            f"before its target within a step, i.e. added before it; use delay=1 or add {source!r} before {target!r}"
        )
    return int(delay)


def _check_learning(learning: Any, name: str, connectivity: Connectivity, source: Population, target: Population) -> Learning:
    """``learning`` with its rule parameters validated; errors name the projection."""
    if not isinstance(learning, Learning):
        raise ConfigError(f"projection {name!r}: learning must be a pysnn.Learning, got {learning!r}")
    rule = _spec("learning_rule", learning.rule, f"projection {name!r}: Learning rule")
    _spec("reduction", learning.reduction, f"projection {name!r}: Learning reduction")
    if connectivity.kind not in ("dense", "sparse"):
        raise ConfigError(
            f"projection {name!r}: learning needs Dense or Sparse connectivity, got {type(connectivity).__name__}"
        )
    if not source.spiking:
        raise ConfigError(f"projection {name!r}: learning rules need a spiking source; {source.name!r} is analog")
    for kernel in rule.kernels.values():
        for arg, side, var in kernel.reads:
            pop = source if side == "pre" else target
            if var not in pop.traces and (pop.is_input or var not in pop.spec().state):
                how = "trace=pysnn.Trace(tau=...)" if var == DEFAULT_TRACE else f"traces={{{var!r}: pysnn.Trace(tau=...)}}"
                raise ConfigError(
                    f"projection {name!r}: {rule.label} reads {arg}, the trace or state variable {var!r} of "
                    f"{pop.name!r}, which has neither (traces: {', '.join(pop.traces) or 'none'}); give "
                    f"{pop.name!r} the trace with {how}"
                )
    weights = connectivity.weights
    if weights.size and (weights.min() < learning.wmin or weights.max() > learning.wmax):
        raise ConfigError(
            f"projection {name!r}: initial weights span [{weights.min()}, {weights.max()}], outside "
            f"[wmin, wmax] = [{learning.wmin}, {learning.wmax}]"
        )
    params = values(rule, learning.params, target.n, "params", name, connectivity.weights.shape)
    return dataclasses.replace(learning, params=params)


def _check_sizes(name: str, connectivity: Connectivity, source: Population, target: Population) -> tuple[int, int]:
    """The sizes of ``source`` and ``target``, which must be those ``connectivity`` has."""
    sizes = (source.n, target.n)
    for role, pop, want, got in zip(("source", "target"), (source, target), connectivity.shape(), sizes):
        if want is not None and want != got:
            raise ConfigError(
                f"{type(connectivity).__name__} connectivity of {name!r} has {role} size {want}, "
                f"but population {pop.name!r} has {got} neurons"
            )
    return sizes


def structure_digest(structure: Mapping[str, Any]) -> str:
    """16 hex digits of SHA-256 of a ``Network.structure()`` as sorted JSON."""
    return hashlib.sha256(json.dumps(structure, sort_keys=True).encode()).hexdigest()[:16]


def _plugin_id(spec: PluginSpec) -> str:
    """A plugin's identity in ``Network.structure``: its class's module and name."""
    return f"{spec.cls.__module__}.{spec.cls.__qualname__}"


def _synapses_digest(connectivity: Connectivity) -> str | None:
    """Which synapses a ``Sparse`` connectivity has (a digest of its CSR indices); None for the
    other kinds, whose synapses follow from the populations' sizes."""
    if not isinstance(connectivity, Sparse):
        return None
    return hashlib.sha256(connectivity.indptr.tobytes() + connectivity.indices.tobytes()).hexdigest()[:16]


def _dt(dt: Any, dtype: np.dtype) -> float:
    """The time step ``dt`` as ``dtype`` holds it, which must be positive and finite."""
    return real_number(dt, "dt", "a positive number of milliseconds", dtype, lambda x: x > 0)


def _spec(kind: str, plugin: Any, what: str) -> PluginSpec:
    """The spec of ``plugin``, given as argument ``what``: a registered name or a plugin class."""
    base = PLUGIN_BASES[kind]
    if not isinstance(plugin, str) and not (isinstance(plugin, type) and issubclass(plugin, base)):
        raise ConfigError(
            f"{what} must be the name of an installed {kind} plugin or a pysnn.{base.__name__} subclass, "
            f"got {shown(plugin)}"
        )
    return registry.spec_for(kind, plugin)
