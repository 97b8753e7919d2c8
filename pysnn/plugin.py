"""The plugin contract: declarative model classes whose per-element update is a scalar kernel.

A plugin class declares parameters (with defaults; with ``param`` also a unit and bounds, checked
where values are given), state variables (with initial values and batch semantics) and one or
more *kernel functions*: plain functions of scalars, written with arithmetic, comparisons and
``pysnn.kernel_math``, that every backend runs unchanged (NumPy on whole arrays, Numba as compiled
per-element loops); ``pysnn.kernel_lint`` lists what a kernel body may use. Kernel arguments are
bound by name:

- state variables of the plugin, parameters, derived values (see ``derived``),
- and the special arguments of the kernel's kind (``i_in``, ``dt``, ``rng``, ``x``).

``dt`` is the time step in ms, ``rng`` the counter-based key of the element (pass it to
``km.uniform``), ``i_in`` the input of this step. Numeric literals take the simulation's dtype.

Kinds (subclass one):

``NeuronModel``
    ``update(<state>, i_in, ...) -> (<new state in declaration order>, spiked)``. For a ``shared``
    state variable (no batch axis, e.g. an adaptive threshold) ``update`` receives the current
    value and returns this sample's *change*; the changes of the batch are combined with the
    variable's reduction and applied after the step, and only while learning is on. The optional
    ``update_shared(<shared state>, ...) -> (<new shared state>)`` runs once per step before the
    neurons update, also only while learning is on (e.g. a decay of the threshold).
``SynapseModel``
    ``update(<state>, i_in, ...) -> (<new state>, current)``: the post-synaptic dynamics of a
    projection, per target neuron; ``i_in`` is the sum of weights of this step's input.
``Encoder``
    ``encode(x, rng, ...) -> output``: turns a sample's input value ``x`` into the output of an
    input neuron for one step: a spike (``output = "spike"``) or a value (``output = "analog"``).
``Reduction``
    how the per-sample changes of a shared variable (weights included) are combined: a fold,
    ``combine(acc, x) -> acc`` over the batch in sample order from ``identity``, then
    ``finish(acc, count) -> value`` (default: ``acc``); or an order statistic (``quantile``
    set), ``select(lo, hi) -> value`` of the two sorted values around that quantile.
``LearningRule``
    how a projection's weights change, in event form. Per sample, ``on_pre(...) -> term`` for
    each synapse whose source spiked and ``on_post(...) -> term`` for each synapse whose target
    spiked (cost: spikes x fan-out); a rule with per-synapse state (``state``: per sample and
    synapse) may instead declare ``on_step(<state>, ...) -> (<state>, term)``, run for every
    synapse and sample each step. The terms are reduced over the batch (0 for samples without
    the event) and ``apply(w, pre, post, step, ...) -> w`` gives the new weight.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import math
import operator
import textwrap
from dataclasses import dataclass
from types import FunctionType
from typing import Any, ClassVar, Mapping

import numpy as np

from pysnn.errors import PluginError
from pysnn.kernel_lint import check_kernel_body


PRE_SUFFIX = "_pre"
"""Suffix of the arguments through which a learning rule reads its source population."""
POST_SUFFIX = "_post"
"""Suffix of the arguments through which a synapse or a learning rule reads its target."""


def neuron_read(arg: str) -> tuple[str, str] | None:
    """``("pre" | "post", name)`` for an argument ``<name>_pre`` / ``<name>_post``, else None."""
    for side, suffix in (("pre", PRE_SUFFIX), ("post", POST_SUFFIX)):
        if arg.endswith(suffix) and arg[: -len(suffix)].isidentifier():
            return side, arg[: -len(suffix)]
    return None


DEFAULT_PORT = "i_in"
"""The input of a neuron model that declares no ports."""


@dataclass(frozen=True)
class StateVar:
    """Declaration of a state variable: initial value and batch semantics."""

    init: float | str = 0.0
    """Initial value, or the name of a parameter or derived value it starts at."""
    shared: bool = False
    """True: one value for the whole batch (learned); False: one value per sample."""
    reduction: str | None = None
    """For shared variables: the reduction that combines the batch's changes."""


def per_sample(init: float | str = 0.0) -> StateVar:
    """A state variable with one value per sample and neuron, shape (batch, n)."""
    return StateVar(init=init)


def shared(init: float | str = 0.0, reduction: str = "sum") -> StateVar:
    """A state variable shared by the batch, shape (n,), changed by reduced per-sample updates."""
    return StateVar(init=init, shared=True, reduction=reduction)


_BOUND_OPS = {"gt": (">", operator.gt), "ge": (">=", operator.ge), "lt": ("<", operator.lt), "le": ("<=", operator.le)}


@dataclass(frozen=True)
class Param:
    """Declaration of a parameter: default value, unit and bounds (see ``param``)."""

    default: float
    unit: str = ""
    """Unit, for messages only (e.g. "ms"); empty for a dimensionless parameter."""
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    @property
    def bounds(self) -> tuple[tuple[str, float], ...]:
        """The declared bounds as (field, number) pairs, e.g. (("gt", 0.0),)."""
        return tuple((key, getattr(self, key)) for key in _BOUND_OPS if getattr(self, key) is not None)

    def allows(self, value: Any) -> np.ndarray:
        """Elementwise: True where ``value`` (a number or an array) is inside the bounds."""
        ok = np.ones(np.shape(value), dtype=bool)
        for key, bound in self.bounds:
            ok &= _BOUND_OPS[key][1](value, bound)
        return ok

    def bounds_text(self) -> str:
        """The bounds with the unit, e.g. "> 0 ms" or ">= 0 and <= 1"; empty without bounds."""
        return " and ".join(f"{_BOUND_OPS[key][0]} {self.with_unit(bound)}" for key, bound in self.bounds)

    def with_unit(self, value: float) -> str:
        """``value`` exactly (shortest form, no trailing ".0") followed by the unit, e.g. "100 ms"."""
        text = repr(float(value)).removesuffix(".0")
        return f"{text} {self.unit}" if self.unit else text

    def describe(self) -> str:
        """Unit and bounds for listings, e.g. "> 0 ms", "mV"; empty for a plain number."""
        return self.bounds_text() or self.unit


def param(
    default: float,
    unit: str = "",
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> Param:
    """A parameter with a unit and bounds, e.g. ``param(100.0, "ms", gt=0)``.

    ``unit`` is shown in messages (values are never converted). Values given to ``add_population``,
    ``add_input``, ``connect`` or ``Learning`` outside the bounds (``gt``: >, ``ge``: >=,
    ``lt``: <, ``le``: <=; at most one lower and one upper) are rejected there.
    """
    return Param(default, unit, gt=gt, ge=ge, lt=lt, le=le)


def as_param(value: float | Param) -> Param:
    """A ``params`` entry as a declaration: a plain number is a ``Param`` without unit or bounds."""
    return value if isinstance(value, Param) else Param(value)


def describe_params(decls: Mapping[str, Param]) -> str:
    """Parameter names with units and bounds, e.g. "thresh (mV), refrac (>= 0 ms), nu"."""
    return ", ".join(f"{name} ({decl.describe()})" if decl.describe() else name for name, decl in decls.items())


class Plugin:
    """Base of every kernel plugin; see the module docstring for the contract."""

    params: ClassVar[Mapping[str, float | Param]] = {}
    """Parameter name -> default value, or ``param(...)`` for one with a unit and bounds."""
    state: ClassVar[Mapping[str, StateVar]] = {}
    kind: ClassVar[str] = ""


class NeuronModel(Plugin):
    """A neuron model: ``update`` (and optionally ``update_shared``) over (batch, n) neurons."""

    kind = "neuron model"
    ports: ClassVar[tuple[str, ...]] = (DEFAULT_PORT,)
    """Names of the model's inputs: each is an argument of ``update`` that receives the sum of
    the currents of the projections connected to it (``Network.connect(..., port=...)``), e.g.
    ``("exc", "inh")`` for excitatory and inhibitory conductance increments."""


class SynapseModel(Plugin):
    """Post-synaptic dynamics of a projection: ``update`` per sample and target neuron."""

    kind = "synapse model"
    reads_target: ClassVar[tuple[str, ...]] = ()
    """State variables of the target neuron that ``update`` reads, as arguments named
    ``<variable>_post`` (per sample, the value at the start of the step), e.g. ``("v",)`` for a
    conductance whose current is ``g * (e_rev - v_post)``."""


class Encoder(Plugin):
    """Turns per-sample input values into the output of an input population, step by step."""

    kind = "encoder"
    output: ClassVar[str] = "spike"
    """"spike" (a bool per neuron and step) or "analog" (a value)."""
    input_dtype: ClassVar[str] = "float"
    """"float" (inputs are converted to the simulation dtype) or "bool" (spikes)."""
    input_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    """Inclusive range of valid input values; NaN is never valid."""
    input_description: ClassVar[str] = "values"
    """What the input values are, for error messages (e.g. "firing rates in Hz")."""


class Reduction(Plugin):
    """Combines the per-sample changes of a shared variable into one change."""

    kind = "reduction"
    identity: ClassVar[float] = 0.0
    """Start of the fold."""
    zero: ClassVar[str] = "ordered"
    """How samples without an event (change 0) enter an event-driven fold: "identity" (0 is the
    identity of ``combine``: they are skipped), "idempotent" (``combine`` is commutative and
    idempotent: 0 is folded once) or "ordered" (0 is folded at each such sample's position)."""
    quantile: ClassVar[float | None] = None
    """Set for order statistics (e.g. 0.5, median): then ``select`` replaces the fold."""
    split: ClassVar[str | None] = None
    """Whether the reduction of a batch follows from the reductions of its parts, so that a
    deferred learning run can be split over processes (``Simulation.run_terms``): "add" (the
    reduction is linear: the parts' results, each finished with the whole batch's ``count``, add
    up to it; ``zero`` must be "identity"), "combine" (``combine`` merges the parts' results
    exactly: associative, commutative and without rounding, with no ``finish``; ``zero`` must be
    "idempotent"), or None (it cannot be split: the default)."""

    @staticmethod
    def finish(acc, count):
        return acc


class LearningRule(Plugin):
    """How a projection's weights change: see the module docstring."""

    kind = "learning rule"


@dataclass(frozen=True)
class Kernel:
    """A validated kernel function of a plugin, with the types of its arguments and results.

    Types are "real" (the simulation dtype), "bool" or "uint64" (``rng``).
    """

    name: str
    function: FunctionType
    args: tuple[str, ...]
    arg_types: tuple[str, ...]
    outputs: tuple[str, ...]
    output_types: tuple[str, ...]
    reads: tuple[tuple[str, str, str], ...] = ()
    """``(argument, "pre" | "post", name)`` for each argument that reads a trace or state
    variable of the source / target population."""


@dataclass(frozen=True)
class PluginSpec:
    """A validated plugin class, as the compiler uses it."""

    cls: type
    label: str
    kernels: Mapping[str, Kernel]
    derived_args: tuple[str, ...] = ()
    """Arguments of ``derived()`` (parameters and ``dt``); empty without ``derived()``."""
    derived_names: tuple[str, ...] = ()
    """Names of the values ``derived()`` returns."""

    @property
    def params(self) -> Mapping[str, float]:
        """Parameter name -> default value."""
        return {name: decl.default for name, decl in self.param_decls.items()}

    @property
    def param_decls(self) -> Mapping[str, Param]:
        """Parameter name -> declaration (unit and bounds; none for plain-number parameters)."""
        return {name: as_param(value) for name, value in self.cls.params.items()}

    @property
    def state(self) -> Mapping[str, StateVar]:
        return self.cls.state

    @property
    def shared_state(self) -> tuple[str, ...]:
        return tuple(n for n, s in self.cls.state.items() if s.shared)

    @property
    def per_sample_state(self) -> tuple[str, ...]:
        return tuple(n for n, s in self.cls.state.items() if not s.shared)

    @property
    def ports(self) -> tuple[str, ...]:
        """A neuron model's input ports."""
        return self.cls.ports

    @property
    def reads_target(self) -> tuple[str, ...]:
        """A synapse model's reads of its target's state variables."""
        return self.cls.reads_target


@dataclass(frozen=True)
class _KernelRule:
    name: str
    special: frozenset[str]
    outputs: tuple[str, ...]
    readable: tuple[str, ...] = ()
    """State variables it may take as arguments; it must take those it returns."""
    optional: bool = False
    reads_neurons: bool = False
    """True: it may also take ``<name>_pre`` / ``<name>_post``, a trace or state variable of the
    source / target population (checked when the projection is connected)."""


_EVENT_ARGS = frozenset({"w", "s_pre", "s_post", "reward", "dt"})


TERM_KERNELS = {"on_pre": "pre", "on_post": "post", "on_step": "step"}
"""A learning rule's event kernels -> the name of the reduced term ``apply`` receives."""


def _kernel_rules(base: type, state: Mapping[str, StateVar], cls: type) -> list[_KernelRule]:
    names = tuple(state)
    shared_names = tuple(n for n, s in state.items() if s.shared)
    if base is NeuronModel:
        rules = [_KernelRule("update", frozenset({"dt", "rng", *cls.ports}), (*names, "spiked"), names)]
        if shared_names:
            rules.append(_KernelRule("update_shared", frozenset({"dt"}), shared_names, shared_names, optional=True))
        return rules
    if base is SynapseModel:
        reads = {f"{var}{POST_SUFFIX}" for var in cls.reads_target}
        return [_KernelRule("update", frozenset({"i_in", "dt", *reads}), (*names, "current"), names)]
    if base is Encoder:
        return [_KernelRule("encode", frozenset({"x", "dt", "rng"}), ("output",))]
    if base is LearningRule:
        terms = [term for kernel, term in TERM_KERNELS.items() if inspect.getattr_static(cls, kernel, None) is not None]
        return [
            _KernelRule("on_pre", _EVENT_ARGS, ("term",), optional=True, reads_neurons=True),
            _KernelRule("on_post", _EVENT_ARGS, ("term",), optional=True, reads_neurons=True),
            _KernelRule("on_step", _EVENT_ARGS, (*names, "term"), names, optional=True, reads_neurons=True),
            _KernelRule("apply", frozenset({"w", "dt", *terms}), ("w",)),
        ]
    if cls.quantile is not None:
        return [_KernelRule("select", frozenset({"lo", "hi"}), ("value",))]
    return [
        _KernelRule("combine", frozenset({"acc", "x"}), ("acc",)),
        _KernelRule("finish", frozenset({"acc", "count"}), ("value",)),
    ]


_KINDS = (NeuronModel, SynapseModel, Encoder, Reduction, LearningRule)


def inspect_plugin(cls: Any, label: str) -> PluginSpec:
    """Validate a plugin class and return its spec; a ``PluginError`` names ``label``."""
    try:
        return _inspect(cls, label)
    except PluginError as exc:
        raise PluginError(f"{label}: {exc}") from exc.__cause__


def _inspect(cls: Any, label: str) -> PluginSpec:
    base = next((k for k in _KINDS if isinstance(cls, type) and issubclass(cls, k)), None)
    if base is None:
        raise PluginError(
            f"{cls!r} is not a subclass of pysnn.NeuronModel, SynapseModel, Encoder, Reduction or LearningRule"
        )
    params = _check_params(cls.params)
    derived_args, derived = _check_derived(cls, params)
    state = _check_state(cls.state, set(params) | set(derived))
    if base is not NeuronModel and any(s.shared for s in state.values()):
        raise PluginError(f"a {base.kind} cannot have shared state")
    if base in (Encoder, Reduction) and state:
        raise PluginError(f"a {base.kind} cannot have state variables")
    if base is LearningRule:
        _check_learning_rule(cls, state)
    if base is Reduction:
        _check_reduction(cls)
    if base is Encoder:
        _check_encoder(cls)
    if base is NeuronModel and not state:
        raise PluginError("a neuron model needs at least one state variable")
    if base is NeuronModel:
        _check_names(cls.ports, "ports", "input port", allow_empty=False)
    if base is SynapseModel:
        _check_names(cls.reads_target, "reads_target", "target state variable", allow_empty=True)
    rules = _kernel_rules(base, state, cls)
    if base is NeuronModel and len(rules) == 1 and inspect.getattr_static(cls, "update_shared", None):
        raise PluginError("update_shared() needs at least one shared state variable")
    kernels = {}
    for rule in rules:
        func = _kernel_function(cls, rule.name, rule.optional)
        if func is None:
            continue
        clash = (set(params) | set(state) | set(derived)) & rule.special
        if clash:
            raise PluginError(f"{sorted(clash)} are reserved argument names of {rule.name}(); rename them")
        allowed = set(params) | set(derived) | set(rule.readable) | rule.special
        required = set(rule.outputs) & set(state)
        args = _check_signature(func, rule.name, allowed, required, rule.reads_neurons)
        _check_returns(func, rule)
        check_kernel_body(func, function_ast(func), rule.name)
        declared = {f"{var}{POST_SUFFIX}" for var in getattr(cls, "reads_target", ())}
        reads = tuple((a, *neuron_read(a)) for a in args if a in declared or a not in allowed)
        kernels[rule.name] = Kernel(
            rule.name, func, args, tuple(_arg_type(cls, a) for a in args), rule.outputs, _output_types(cls, rule), reads
        )
    return PluginSpec(cls=cls, label=label, kernels=kernels, derived_args=derived_args, derived_names=derived)


def _arg_type(cls: type, arg: str) -> str:
    if arg == "rng":
        return "uint64"
    if arg == "x" and issubclass(cls, Encoder) and cls.input_dtype == "bool":
        return "bool"
    if arg in ("s_pre", "s_post") and issubclass(cls, LearningRule):
        return "bool"
    return "real"


def _output_types(cls: type, rule: _KernelRule) -> tuple[str, ...]:
    if rule.name == "update" and issubclass(cls, NeuronModel):
        return ("real",) * (len(rule.outputs) - 1) + ("bool",)
    if rule.name == "encode":
        return ("bool" if cls.output == "spike" else "real",)
    return ("real",) * len(rule.outputs)


def _check_params(params: Any) -> dict[str, float]:
    """Validate the ``params`` declaration; returns name -> default value."""
    if not isinstance(params, Mapping):
        raise PluginError(f"params must be a dict of name -> default value or param(...), got {type(params).__name__}")
    defaults = {}
    for name, value in params.items():
        _check_identifier(name, "parameter")
        decl = as_param(value)
        _check_param(name, decl)
        defaults[name] = decl.default
    return defaults


def _check_param(name: str, decl: Param) -> None:
    if not _is_finite_number(decl.default):
        raise PluginError(f"parameter {name!r} needs a finite number as default, got {decl.default!r}")
    if not isinstance(decl.unit, str):
        raise PluginError(f"parameter {name!r}: unit must be a string, got {decl.unit!r}")
    for key, bound in decl.bounds:
        if not _is_finite_number(bound):
            raise PluginError(f"parameter {name!r}: bound {key}= must be a finite number, got {bound!r}")
    if decl.gt is not None and decl.ge is not None:
        raise PluginError(f"parameter {name!r} has two lower bounds (gt and ge); give one")
    if decl.lt is not None and decl.le is not None:
        raise PluginError(f"parameter {name!r} has two upper bounds (lt and le); give one")
    if not decl.allows(decl.default):
        raise PluginError(f"parameter {name!r}: default {decl.default!r} is not {decl.bounds_text()}")


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_state(state: Any, init_names: set[str]) -> dict[str, StateVar]:
    if not isinstance(state, Mapping):
        raise PluginError(f"state must be a dict of name -> per_sample()/shared(), got {type(state).__name__}")
    for name, var in state.items():
        _check_identifier(name, "state variable")
        if not isinstance(var, StateVar):
            raise PluginError(f"state variable {name!r} must be declared with per_sample() or shared(), got {var!r}")
        if name in init_names:
            raise PluginError(f"{name!r} is both a state variable and a parameter or derived value")
        if isinstance(var.init, str) and var.init not in init_names:
            raise PluginError(
                f"state variable {name!r} starts at {var.init!r}, which is neither a parameter nor a "
                f"derived value ({sorted(init_names)})"
            )
        if not isinstance(var.init, str) and not (
            isinstance(var.init, (int, float)) and not isinstance(var.init, bool) and math.isfinite(var.init)
        ):
            raise PluginError(f"state variable {name!r} needs a finite number or a parameter name as init")
        if var.shared and not isinstance(var.reduction, str):
            raise PluginError(f"shared state variable {name!r} needs a reduction name, e.g. 'sum'")
    return dict(state)


def _check_names(names: Any, attribute: str, what: str, allow_empty: bool) -> None:
    if not isinstance(names, tuple) or (not names and not allow_empty):
        raise PluginError(f"{attribute} must be a {'' if allow_empty else 'non-empty '}tuple of names, got {names!r}")
    for name in names:
        _check_identifier(name, what)
    if len(set(names)) != len(names):
        raise PluginError(f"{attribute} {names!r} names an entry twice")


def _check_identifier(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise PluginError(f"{what} name {name!r} is not a valid Python identifier")


def _check_derived(cls: type, params: Mapping[str, float]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Arguments of ``derived`` and the names it defines (learned by calling it with the defaults)."""
    func = _kernel_function(cls, "derived", optional=True)
    if func is None:
        return (), ()
    args = _check_signature(func, "derived", set(params) | {"dt"}, set())
    values = {a: np.float64(params.get(a, 1.0)) for a in args}
    try:
        result = func(**values)
    except Exception as exc:
        raise PluginError(f"derived() raised {type(exc).__name__}: {exc} with the default parameters") from exc
    if not isinstance(result, Mapping) or not all(isinstance(k, str) for k in result):
        raise PluginError(f"derived() must return a dict of name -> value, got {type(result).__name__}")
    for name in result:
        _check_identifier(name, "derived value")
        if name in params:
            raise PluginError(f"derived value {name!r} has the name of a parameter")
    return args, tuple(result)


def _check_learning_rule(cls: type, state: Mapping[str, StateVar]) -> None:
    events = [k for k in ("on_pre", "on_post", "on_step") if inspect.getattr_static(cls, k, None) is not None]
    if not events:
        raise PluginError("a learning rule needs on_pre(), on_post() or on_step()")
    if state and "on_step" not in events:
        raise PluginError("per-synapse state variables need on_step() to update them")


def _check_reduction(cls: type) -> None:
    if cls.quantile is not None:
        if isinstance(cls.quantile, bool) or not isinstance(cls.quantile, (int, float)) or not 0 <= cls.quantile <= 1:
            raise PluginError(f"quantile must be a number in [0, 1], got {cls.quantile!r}")
        if cls.split is not None:
            raise PluginError(
                f"an order statistic (quantile set) cannot be split over parts of a batch: set split = None, got {cls.split!r}"
            )
        return
    if isinstance(cls.identity, bool) or not isinstance(cls.identity, (int, float)):
        raise PluginError(f"identity must be a number, got {cls.identity!r}")
    if cls.zero not in ("identity", "idempotent", "ordered"):
        raise PluginError(f'zero must be "identity", "idempotent" or "ordered", got {cls.zero!r}')
    _check_split(cls)


SPLIT_ZERO = {"add": "identity", "combine": "idempotent"}
"""The ``zero`` that each way of splitting a reduction (``Reduction.split``) needs."""


def _check_split(cls: type) -> None:
    if cls.split is None:
        return
    if cls.split not in SPLIT_ZERO:
        raise PluginError(f'split must be "add", "combine" or None, got {cls.split!r}')
    if cls.zero != SPLIT_ZERO[cls.split]:
        raise PluginError(
            f'split = "{cls.split}" needs zero = "{SPLIT_ZERO[cls.split]}", got {cls.zero!r}: '
            "set split = None if the parts of a batch cannot be combined"
        )
    if cls.split == "combine" and inspect.getattr_static(cls, "finish") is not inspect.getattr_static(Reduction, "finish"):
        raise PluginError('split = "combine" merges the parts\' finished results with combine(): it needs no finish()')


def _check_encoder(cls: type) -> None:
    if cls.output not in ("spike", "analog"):
        raise PluginError(f'output must be "spike" or "analog", got {cls.output!r}')
    if cls.input_dtype not in ("float", "bool"):
        raise PluginError(f'input_dtype must be "float" or "bool", got {cls.input_dtype!r}')
    lo, hi = cls.input_range
    if not lo <= hi:
        raise PluginError(f"input_range {cls.input_range!r} is empty")


def _kernel_function(cls: type, name: str, optional: bool) -> FunctionType | None:
    raw = inspect.getattr_static(cls, name, None)
    if raw is None:
        if optional:
            return None
        raise PluginError(f"missing kernel function {name}()")
    if not isinstance(raw, staticmethod):
        raise PluginError(f"{name}() must be a @staticmethod (kernels have no self)")
    func = raw.__func__
    if not isinstance(func, FunctionType):
        raise PluginError(f"{name}() must be a plain Python function")
    if func.__code__.co_freevars:
        raise PluginError(
            f"{name}() uses variables of an enclosing function ({', '.join(func.__code__.co_freevars)}); "
            "kernels may only use their arguments and module-level names"
        )
    return func


def _check_signature(
    func: FunctionType, name: str, allowed: set[str], required: set[str], reads_neurons: bool = False
) -> tuple[str, ...]:
    sig = inspect.signature(func)
    args = []
    for p in sig.parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or p.default is not p.empty:
            raise PluginError(f"{name}() argument {p.name!r} must be a plain positional argument without default")
        if p.name not in allowed and not (reads_neurons and neuron_read(p.name)):
            reads = " or <name>_pre / <name>_post (a trace or state variable of the source / target)"
            raise PluginError(
                f"{name}() argument {p.name!r} is not a parameter, state variable, derived value or "
                f"special argument{reads if reads_neurons else ''}; allowed: {sorted(allowed)}"
            )
        args.append(p.name)
    missing = required - set(args)
    if missing:
        raise PluginError(f"{name}() must take every state variable it updates; missing {sorted(missing)}")
    return tuple(args)


def function_ast(func: FunctionType) -> ast.FunctionDef:
    """The parsed definition of a kernel function (its source must be available)."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError) as exc:
        raise PluginError(
            f"the source of {func.__qualname__}() is not available; define kernels in a .py file"
        ) from exc
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise PluginError(f"{func.__qualname__} is not defined by a def statement")
    return node


def _returns(node: ast.FunctionDef) -> list[ast.Return]:
    found = []

    def visit(n: ast.AST) -> None:
        for child in ast.iter_child_nodes(n):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                raise PluginError(f"{node.name}() defines a nested function or class; kernels cannot")
            if isinstance(child, ast.Return):
                found.append(child)
            visit(child)

    visit(node)
    return found


def _check_returns(func: FunctionType, rule: _KernelRule) -> None:
    returns = _returns(function_ast(func))
    if not returns:
        raise PluginError(f"{rule.name}() has no return statement")
    for ret in returns:
        got = len(ret.value.elts) if isinstance(ret.value, ast.Tuple) else 1
        if got != len(rule.outputs):
            raise PluginError(
                f"{rule.name}() must return {len(rule.outputs)} value(s) ({', '.join(rule.outputs)}), "
                f"but the return on line {ret.lineno} of its source gives {got}"
            )
        _check_return_order(func, rule, ret)


def _check_return_order(func: FunctionType, rule: _KernelRule, ret: ast.Return) -> None:
    """Reject a returned name that is another position's declared output (e.g. swapped state
    variables); a name that is also returned at its own position (``return i, i``) is fine."""
    values = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
    names = [v.id if isinstance(v, ast.Name) else None for v in values]
    for position, name in enumerate(names):
        if name in rule.outputs and names[rule.outputs.index(name)] != name:
            line = func.__code__.co_firstlineno + ret.lineno - 1
            raise PluginError(
                f"{rule.name}() at {func.__code__.co_filename}:{line}: `{ast.unparse(ret)}` returns {name!r} "
                f"in the place of {rule.outputs[position]!r}; {rule.name}() returns "
                f"({', '.join(rule.outputs)}) in this order"
            )
