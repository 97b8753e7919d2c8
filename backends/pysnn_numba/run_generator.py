"""What the Numba generators of run modules (CPU and CUDA) share: the run's arguments, and kernel
calls bound by ``pysnn.lowering``.

A generator names every array and value its code reads as an argument of the generated functions
(``arg``), each with the ``RunValue`` that the backend resolves for a run; it calls kernels by
expressions built from ``lowering.kernel_args``. Only the loops, the memory and the arithmetic's
syntax differ between targets: ``target`` binds the kernels (``kernel_source.bind_kernel``) and
``add`` writes a sum of two values of the dtype. Where the plan checks that state stays finite,
each write of checked state sets, branch-free, a flag of the loop around it (``element_loop``,
``checking``, ``check``); a sample whose step set one stops there, and a learning run stops
the whole batch, so that the backend finds the values in the state (``lowering.NonFinite``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from types import FunctionType
from typing import Iterable, Iterator

from pysnn import builtin_kernels
from pysnn.kernel_source import bind_kernel, runtime_digest
from pysnn.lowering import (
    Connectivity,
    FirstStep,
    HeldAccumulator,
    Indexing,
    InputData,
    NeuronModelOf,
    NonFinite,
    OwnState,
    PieceStart,
    PluginOwner,
    PluginValue,
    FoldCount,
    Record,
    Reward,
    RunValue,
    SampleIds,
    Special,
    StateRef,
    StepCount,
    Stream,
    SynapseOf,
    TermsBuffer,
    TimeStep,
    TraceDecay,
    Value,
    constant_input,
    finishes,
    finite_checks,
    kernel_args,
)
from pysnn.learning_terms import TermsKey, kept_per_step
from pysnn.plan import BoundPlugin, Plan, PopulationPlan, ProjectionPlan
from pysnn.state_keys import NeuronKey, OutputKey, StateKey, SynapseKey, TraceKey
from pysnn_numba.emitter import Code


@dataclass(frozen=True)
class Arg:
    """An argument of the generated functions, and where its value comes from."""

    name: str
    ref: RunValue


@dataclass
class Generated:
    """Source of the generated module and the arguments its functions take, in order."""

    source: str
    args: list[Arg]


def literal(value: float) -> str:
    """``value`` as source text that converts exactly (``REAL(...)`` rounds once, like NumPy)."""
    if value == float("inf"):
        return "np.inf"
    if value == float("-inf"):
        return "-np.inf"
    return repr(float(value))


def bounded_source(decorator: str) -> str:
    """Source of ``bounded`` and ``bounded_once``, compiled with ``decorator``: a learned
    weight after its steps of weight decay, clipped (the built-in kernels of
    ``pysnn.builtin_kernels``, which the generated module defines as globals)."""
    return f'''

{decorator}
def bounded(w, decay, repeats, wmin, wmax):
    """A learned weight after ``repeats`` steps of decay, clipped to [wmin, wmax]."""
    if decay != 0:
        for _ in range(repeats):
            w = builtin_decayed_weight(w, decay)
    return builtin_clipped_weight(w, wmin, wmax)


{decorator}
def bounded_once(w, decay, wmin, wmax):
    """``bounded`` for one step (no loop, so that callers vectorise)."""
    if decay != 0:
        w = builtin_decayed_weight(w, decay)
    return builtin_clipped_weight(w, wmin, wmax)
'''


def nonfinite(values: list[str]) -> str:
    """A branch-free test that one of ``values`` (expressions of the dtype) is NaN or infinite:
    ``x - x`` is 0 for finite x and NaN otherwise, and so is a sum of them; no target folds it
    (no fast-math)."""
    return " + ".join(f"({value} - {value})" for value in values) + " != 0"


def unpack(targets: list[str]) -> str:
    """Assignment targets of a kernel call's results."""
    return targets[0] if len(targets) == 1 else ", ".join(targets)


class RunGenerator(ABC):
    """The argument table and kernel calls of a generated run module for ``target``."""

    target = "cpu"
    """The kernel binding that the generated code calls (``kernel_source.TARGETS``)."""
    name = ""
    """The generator, as the module's first line names it."""
    imports: tuple[str, ...] = ()
    """The generated module's import lines."""
    kernel_wrap = ""
    """What compiles a kernel for the generated code to call (``kernel_table``)."""
    device_decorator = ""
    """The decorator of the module's own helper functions (``bounded``...)."""
    flat_terms = False
    """Whether the code indexes a dense projection's deferred totals by synapse (else by row and
    column)."""

    def __init__(
        self, plan: Plan, timed_inputs: frozenset[str], reward_ndim: int, deferred: bool, hands_back: bool = False
    ) -> None:
        self.plan = plan
        self.timed_inputs = timed_inputs
        self.reward_ndim = reward_ndim
        self.deferred = deferred or hands_back
        self.hands_back = hands_back
        """A deferred run that hands its reduced changes back (``RunArgs.terms``): it fills them
        in run arguments and applies nothing at its end."""
        self.args = [Arg("steps", StepCount()), Arg("step0", FirstStep()), Arg("sample_ids", SampleIds()), Arg("dt", TimeStep())]
        """The arguments of the generated functions, in order (``arg`` adds those the code reads)."""
        self.kernels: dict[str, FunctionType] = {}
        """Global name of each kernel the generated code calls -> its bound function."""
        self.learning: list = []
        """The learning code of each learned projection (set by the subclass)."""
        self.checks = frozenset(check.key for check in finite_checks(plan)) if plan.check_finite else frozenset()
        """The state that runs check (``lowering.finite_checks``; none if the plan does not)."""

    def add(self, a: str, b: str) -> str:
        """The expression of ``a + b`` for two values of the dtype."""
        return f"{a} + {b}"

    # -- the module -------------------------------------------------------------------------------

    def module(self) -> Generated:
        """The module: ``run_independent``, and ``run_coupled`` if the plan learns."""
        functions = {"run_independent": self.independent()}
        if self.plan.learns:
            functions["run_coupled"] = self.coupled()
        signature = ", ".join(a.name for a in self.args)
        header = [
            f"# Generated by {self.name} for one network structure (runtime {runtime_digest()}).",
            *self.imports,
            "",
            f"REAL = np.{self.plan.dtype.name}",
            *self.kernel_table(self.kernel_wrap),
        ]
        body = [bounded_source(self.device_decorator)] if self.learning else []
        body += self.helpers()
        for name, code in functions.items():
            body += ["", "", self.run_decorator(), f"def {name}({signature}):", *code.lines]
        return Generated("\n".join(header + body) + "\n", self.args)

    @abstractmethod
    def independent(self) -> Code:
        """The body of ``run_independent`` (no shared state changes)."""

    @abstractmethod
    def coupled(self) -> Code:
        """The body of ``run_coupled`` (learning)."""

    @abstractmethod
    def run_decorator(self) -> str:
        """The decorator of the run functions."""

    @abstractmethod
    def each_neuron(self, code: Code, pop: PopulationPlan) -> AbstractContextManager[None]:
        """A loop over the neurons ``j`` of ``pop`` (a shared variable's), whose body is emitted
        inside the ``with``."""

    @abstractmethod
    def reduce(self, code: Code, pop: PopulationPlan, var: str) -> None:
        """Reduce the batch's changes of a shared variable and apply them (or add them to the
        deferred total)."""

    def fold_batch(self, code: Code, prefix: str, reduction: BoundPlugin, change: str) -> None:
        """``value``: the expression ``change`` of every sample ``b`` folded by ``reduction`` in
        sample order from its identity, then ``finish`` where the reduction defines it."""
        combine = self.kernel(f"{prefix}_combine", reduction, "combine")
        code.line(f"value = REAL({literal(reduction.spec.cls.identity)})")
        with code.block("for b in range(batch):"):
            code.line(f"value = {combine}(value, {change})")
        if finishes(reduction):
            code.line(f"value = {self.kernel(f'{prefix}_finish', reduction, 'finish')}(value, REAL({self.fold_count()}))")

    def fold_count(self) -> str:
        """The count that reductions' ``finish`` takes (the batch size, or the whole batch's when
        a run is one part of it)."""
        return self.arg("fold_count", FoldCount())

    def add_to_total(self, key: TermsKey, reduction: BoundPlugin, index: str, value: str) -> str:
        """The statement that adds this step's reduced ``value`` to ``key``'s deferred total at
        ``index``: in its work array (``work_total``), or, in a run that hands its terms back, in
        the argument it fills, where a reduction kept per step (``learning_terms.kept_per_step``)
        stores it as step ``t``'s row instead, as it is (-0.0 included)."""
        if self.hands_back:
            per_step = kept_per_step(reduction)
            array = self.arg(self.total_name(key), TermsBuffer(key, per_step, self.flat_terms))
            if per_step:
                return f"{array}[t, {index}] = {value}"
        else:
            array = self.work_total(key)
        return f"{array}[{index}] = {self.add(f'{array}[{index}]', value)}"

    def total_name(self, key: TermsKey) -> str:
        """The name of ``key``'s deferred total in the generated code."""
        if isinstance(key, NeuronKey):
            return f"p{self.plan.population(key.owner).index}_total_{key.variable}"
        return f"l{self.plan.projection(key.projection).index}_total_{key.term}"

    def work_total(self, key: TermsKey) -> str:
        """The work array of a deferred run's total of ``key``, zeroed at the start (here: a
        local that the run function allocates)."""
        return self.total_name(key)

    def learning_phase(self, code: Code) -> None:
        """After the samples' step while learning: shared neuron variables take their reduced
        changes, learned projections their rule's terms, then shared variables' monitors record."""
        for pop in self.plan.populations:
            for var in pop.reductions:
                self.reduce(code, pop, var)
        for learning in self.learning:
            learning.step(code)
        for pop in self.plan.populations:
            for m, monitor in self.state_monitors(pop, shared=True):
                with code.block(f"if (t + 1) % {monitor.every} == 0:"):
                    code.line(f"r = (t + 1) // {monitor.every} - 1")
                    with self.each_neuron(code, pop):
                        code.line(f"{self.record(m)}[r, j] = {self.state_array(pop, monitor.what)}[j]")

    def helpers(self) -> list[str]:
        """Source of the module's own helper functions that the run functions call."""
        return []

    @abstractmethod
    def accumulator(self, proj: ProjectionPlan) -> str:
        """The expression of the summed input of ``proj`` at sample ``b``, target ``j``."""

    @contextmanager
    def propagation(self, code: Code, proj: ProjectionPlan, coupled: bool) -> Iterator[None]:
        """Around the code that sums ``proj``'s input into its accumulator at sample ``b``'s step
        ``t``: where that input is the same at every step (``lowering.constant_input``; a
        ``coupled`` run that is not deferred changes learned weights every step), only at the
        run's steps up to ``delay`` (the piece's start plus ``t``), after which the accumulator,
        held across the run's pieces (``held``), keeps it."""
        if constant_input(self.plan, proj, self.timed_inputs, coupled and not self.deferred):
            with code.block(f"if {self.arg('piece_start', PieceStart())} + t <= {proj.delay}:"):
                yield
        else:
            yield

    def held(self, proj: ProjectionPlan) -> str | None:
        """The argument that holds ``proj``'s accumulator across a run's pieces, where its input
        may be constant (``lowering.constant_input`` in runs whose weights stay fixed; where a
        learning run's weights change, ``propagation`` recomputes it every step there), else None."""
        if not constant_input(self.plan, proj, self.timed_inputs, False):
            return None
        return self.arg(f"k{proj.index}_held", HeldAccumulator(proj.index))

    # -- one neuron's step ------------------------------------------------------------------------

    def element_specials(self, code: Code, pop: PopulationPlan) -> dict[str, str]:
        """The special kernel arguments of ``pop`` at sample ``b``, neuron ``j``; emits what
        they need once per sample and step (the random key)."""
        special = {"dt": "dt"}
        if pop.plugin.uses("rng"):
            i = pop.index
            code.line(f"p{i}_key = step_key({self.arg(f'p{i}_stream', Stream(i))}, sid, step)")
            special["rng"] = f"element_key(p{i}_key, np.uint64(j))"
        return special

    def update_element(self, code: Code, pop: PopulationPlan, special: dict[str, str], coupled: bool) -> None:
        """Neuron ``j`` of sample ``b`` takes its step: encoder, or synapses and neuron model
        (while ``coupled``, shared variables' changes go to ``p<i>_d_<var>``); then its traces
        and spike monitors (``element_outputs``; with ``one_spike``, after ``keep_one_spike``);
        then the state it wrote sets the flag of ``element_loop`` if some of it is not finite."""
        i, bound, output = pop.index, pop.plugin, self.output(pop)
        state = self.state_exprs(pop)
        if pop.is_input:
            data = self.arg(f"p{i}_x", InputData(pop.name))
            x = f"{data}[t, b, j]" if pop.name in self.timed_inputs else f"{data}[b, j]"
            code.line(f"{output}[b, j] = {self.call_neuron_kernel(pop, 'encode', special | {'x': x}, state)}")
        else:
            ports = {port: f"in{n}" for n, port in enumerate(bound.spec.ports)}
            code.line(*(f"{variable} = REAL(0.0)" for variable in ports.values()))
            for k in pop.incoming:
                self.synapse(code, self.plan.projections[k], ports)
            results = [f"r_{var}" for var in bound.spec.state] + [f"{output}[b, j]"]
            code.line(f"{unpack(results)} = {self.call_neuron_kernel(pop, 'update', special | ports, state)}")
            for var, decl in bound.spec.state.items():
                if not decl.shared:
                    code.line(f"{state[var]} = r_{var}")
                elif coupled:
                    code.line(f"p{i}_d_{var}[b, j] = r_{var}")
        checked = self._element_arrays(pop)
        if not pop.one_spike:
            self.element_outputs(code, pop)
        else:  # the traces are written, and checked, after the choice of the spike kept
            checked = {key: array for key, array in checked.items() if not isinstance(key, TraceKey)}
        if checked:  # the model's new state from its locals, the rest from the arrays
            values = [f"r_{key.variable}" if isinstance(key, NeuronKey) else f"{array}[b, j]" for key, array in checked.items()]
            code.line(f"nonfinite_p{i} |= {nonfinite(values)}")

    def element_outputs(self, code: Code, pop: PopulationPlan) -> None:
        """The traces and spike monitors of neuron ``j`` of sample ``b``, from its output; with
        ``one_spike``, also the flag of ``element_loop`` if a trace is not finite."""
        i, output = pop.index, self.output(pop)
        for trace in pop.traces:
            array = self.trace(pop, trace.name)
            decay = self.arg(f"p{i}_{trace.name}_decay", TraceDecay(i, trace.name))
            kernel = self.builtin(builtin_kernels.trace_kernel(trace.trace.additive))
            code.line(f"{array}[b, j] = {kernel}({array}[b, j], {output}[b, j], {decay})")
        for m, monitor in self.spike_monitors(pop):
            buffer = self.record(m)
            target = f"{buffer}[b, j] +=" if monitor.accumulates else f"{buffer}[t, b, j] ="
            code.line(f"{target} {output}[b, j]")
        traces = [f"{array}[b, j]" for key, array in self._element_arrays(pop).items() if isinstance(key, TraceKey)]
        if pop.one_spike and traces:
            code.line(f"nonfinite_p{i} |= {nonfinite(traces)}")

    def keep_one_spike(self, code: Code, pop: PopulationPlan) -> None:
        """Of the neurons of ``pop`` that spiked in sample ``b``'s step, only the ``k``-th
        (ascending) keeps its spike, ``k`` drawn by ``rng.spike_choice`` (one thread's loop)."""
        i, output = pop.index, self.output(pop)
        stream = self.arg(f"p{i}_stream", Stream(i))
        code.line("count_ = 0")
        with code.block(f"for j in range({self.size(i)}):"):
            code.line(f"count_ += {output}[b, j]")
        with code.block("if count_ > 1:"):
            code.line(f"k_ = np.int64(spike_choice({stream}, sid, step, np.uint64({self.size(i)}), np.uint64(count_)))")
            with code.block(f"for j in range({self.size(i)}):"), code.block(f"if {output}[b, j]:"):
                code.line(f"{output}[b, j] = k_ == 0", "k_ -= 1")

    def synapse(self, code: Code, proj: ProjectionPlan, ports: dict[str, str]) -> None:
        """Post-synaptic update of projection ``proj`` at target ``j``; adds its current to the
        variable of its port (``ports``: port -> variable)."""
        k, bound = proj.index, proj.synapse
        state = {var: self.arg(f"k{k}_{var}", StateRef(SynapseKey(proj.name, var))) + "[b, j]" for var in bound.spec.state}
        results = list(state.values()) + ["current"]
        special = {"i_in": self.accumulator(proj), "dt": "dt"}
        target = self.plan.populations[proj.target]
        call = self.call_kernel(f"k{k}", SynapseOf(k), bound, "update", special, state, {"post": (target, "j")})
        variable = ports[proj.port]
        code.line(f"{unpack(results)} = {call}", f"{variable} = {self.add(variable, 'current')}")

    # -- finite state ---------------------------------------------------------------------------------

    @contextmanager
    def element_loop(self, code: Code, pop: PopulationPlan, header: str) -> Iterator[None]:
        """The loop ``header`` over the neurons ``j`` of ``pop`` in sample ``b``, whose body calls
        ``update_element``. Where the plan checks the state it writes, one flag for all of it
        (``nonfinite_p<i>``, one test per neuron: the loop stays almost as fast), cleared before
        the loop, says whether some of it is not finite (``sample_stopped``)."""
        if self._element_arrays(pop):
            code.line(f"nonfinite_p{pop.index} = False")
        with code.block(header):
            yield

    def _element_arrays(self, pop: PopulationPlan) -> dict[StateKey, str]:
        """The checked state that ``update_element`` writes for ``pop`` -> its array."""
        arrays: dict[StateKey, str] = {OutputKey(pop.name): self.output(pop)} if not pop.spiking else {}
        for k in pop.incoming:
            proj = self.plan.projections[k]
            for var in proj.synapse.spec.state:
                arrays[SynapseKey(proj.name, var)] = self.arg(f"k{k}_{var}", StateRef(SynapseKey(proj.name, var)))
        for var, decl in pop.plugin.spec.state.items():
            if not decl.shared:
                arrays[NeuronKey(pop.name, var)] = self.state_array(pop, var)
        for trace in pop.traces:
            arrays[TraceKey(pop.name, trace.name)] = self.trace(pop, trace.name)
        return {key: array for key, array in arrays.items() if key in self.checks}

    def sample_stopped(self) -> str | None:
        """The expression that says that sample ``b``'s step wrote state that is not finite (the
        flags of its neuron loops), so that its run stops there; None if nothing is checked."""
        flags = [f"nonfinite_p{pop.index}" for pop in self.plan.populations if self._element_arrays(pop)]
        return " or ".join(flags) or None

    def check(self, key: StateKey, value: str) -> list[str]:
        """The statement that sets the flag of ``checking`` if ``value``, just written to
        ``key``'s array, is NaN or infinite (none if ``key`` is not checked)."""
        return [f"nonfinite_ |= {nonfinite([value])}"] if key in self.checks else []

    def stops(self) -> str:
        """The run's ``NonFinite`` record: where samples, or the batch, stopped."""
        return self.arg("nonfinite", NonFinite())

    def record_stop(self, row: str, step: str) -> str:
        """The statement that records in ``stops`` that ``row`` (a sample; "batch": all of
        them; "batch + 1": a deferred run's end) stopped at ``step``."""
        return f"{self.stops()}[{row}] = {step}"

    @contextmanager
    def checking(self, code: Code, keys: Iterable[StateKey], end: bool = False) -> Iterator[None]:
        """Around a loop whose body writes shared state or a learning rule's state (``keys``)
        and emits ``check`` after each write: the flag ``nonfinite_``, cleared before the loop;
        if it is set after it, the batch stops at this step (``end``: at a deferred run's end)."""
        if not any(key in self.checks for key in keys):
            yield
            return
        code.line("nonfinite_ = False")
        yield
        with code.block("if nonfinite_:"):
            code.line(self.record_stop(*self.batch_row(end)))

    @staticmethod
    def batch_row(end: bool) -> tuple[str, str]:
        """The entry of the ``NonFinite`` record where the batch stops, and the step there: at a
        step, or (``end``) at the end of a deferred run."""
        return ("batch + 1", "steps - 1") if end else ("batch", "t")

    @contextmanager
    def learning_steps(self, code: Code) -> Iterator[None]:
        """The loop over the steps of a learning run, which stops after a step at which the
        batch stopped. Every thread reads the record after the step's last barrier; a later
        step's, which a faster thread may have written by then, is not this one's."""
        if not self.checks:
            with code.block("for t in range(steps):"):
                yield
            return
        code.line("stopped_ = False")
        with code.block("for t in range(steps):"):
            yield
            code.line(f"stop_ = {self.stops()}[batch]")
            with code.block("if 0 <= stop_ <= t:"):
                code.line("stopped_ = True", "break")

    def unless_stopped(self, code: Code) -> AbstractContextManager[None]:
        """What follows a learning run's ``learning_steps`` where the batch did not stop."""
        return code.block("if not stopped_:") if self.checks else nullcontext()

    # -- the arguments of the generated functions --------------------------------------------------

    def arg(self, name: str, ref: RunValue) -> str:
        """``name``, an argument of the generated functions that takes the value of ``ref``."""
        if all(a.name != name for a in self.args):
            self.args.append(Arg(name, ref))
        return name

    def output(self, pop: PopulationPlan) -> str:
        return self.arg(f"p{pop.index}_out", StateRef(OutputKey(pop.name)))

    def trace(self, pop: PopulationPlan, name: str) -> str:
        return self.arg(f"p{pop.index}_trace_{name}", StateRef(TraceKey(pop.name, name)))

    def state_array(self, pop: PopulationPlan, var: str) -> str:
        return self.arg(f"p{pop.index}_{var}", StateRef(NeuronKey(pop.name, var)))

    def record(self, monitor: int) -> str:
        return self.arg(f"m{monitor}", Record(monitor))

    def connectivity(self, proj: ProjectionPlan, name: str) -> str:
        return self.arg(f"k{proj.index}_{name}", Connectivity(proj.index, name))

    def reward_expr(self) -> str:
        reward = self.arg("reward", Reward())
        return f"{reward}[t, b]" if self.reward_ndim == 2 else f"{reward}[b]"

    def size(self, population: int) -> str:
        return f"{self.output(self.plan.populations[population])}.shape[1]"

    # -- kernels ------------------------------------------------------------------------------------

    def kernel(self, name: str, bound: BoundPlugin, kernel: str) -> str:
        """``name``, the global of ``bound``'s ``kernel`` in the generated module."""
        function = bound.kernels[kernel]
        if self.target != "cpu":
            function = bind_kernel(bound.spec.kernels[kernel].function, self.plan.dtype, self.target)
        self.kernels[name] = function
        return name

    def builtin(self, name: str) -> str:
        """The global of the built-in kernel ``name`` (``pysnn.builtin_kernels``)."""
        self.kernels[f"builtin_{name}"] = builtin_kernels.bound(name, self.plan.dtype, self.target)
        return f"builtin_{name}"

    def kernel_table(self, wrap: str) -> list[str]:
        """Lines that define the generated module's kernel globals as ``wrap(<bound function>)``."""
        return [
            f'{name} = {wrap}(sys.modules["{function.__module__}"].{function.__name__})'
            for name, function in self.kernels.items()
        ]

    def call_kernel(
        self,
        prefix: str,
        owner: PluginOwner,
        bound: BoundPlugin,
        kernel: str,
        special: dict[str, str],
        state: dict[str, str],
        sides: dict[str, tuple[PopulationPlan, str]] | None = None,
        at: dict[Indexing, str] | None = None,
    ) -> str:
        """Call expression of a kernel (arguments bound by ``lowering.kernel_args``): specials,
        values (indexed by the expressions of ``at``, default per neuron ``j``), the plugin's
        own ``state`` (expressions), and what it reads of the populations of ``sides`` ("pre",
        "post": the population and the name of its neuron index)."""
        sides = sides or {}
        at = at or {Indexing.PER_NEURON: "j"}
        populations = {side: pop for side, (pop, _) in sides.items()}
        exprs = []
        for source in kernel_args(bound, kernel, special.keys(), populations.get("pre"), populations.get("post")):
            if isinstance(source, Special):
                exprs.append(special[source.name])
            elif isinstance(source, Value):
                arg = self.arg(f"{prefix}_v_{source.name}", PluginValue(owner, source.name))
                exprs.append(arg if source.indexing is Indexing.ONE else f"{arg}[{at[source.indexing]}]")
            elif isinstance(source, OwnState):
                exprs.append(state[source.name])
            else:
                pop, index = sides[source.side]
                array = self.trace(pop, source.name) if source.trace else self.state_array(pop, source.name)
                exprs.append(f"{array}[{index}]" if source.shared else f"{array}[b, {index}]")
        return f"{self.kernel(f'{prefix}_{kernel}', bound, kernel)}({', '.join(exprs)})"

    def call_neuron_kernel(self, pop: PopulationPlan, kernel: str, special: dict[str, str], state: dict[str, str]) -> str:
        """Call expression of a kernel of ``pop``'s model (or encoder) at neuron ``j``."""
        return self.call_kernel(f"p{pop.index}", NeuronModelOf(pop.index), pop.plugin, kernel, special, state)

    def state_exprs(self, pop: PopulationPlan) -> dict[str, str]:
        """The expression of each state variable of ``pop``'s model at sample ``b``, neuron ``j``."""
        exprs = {}
        for var, decl in pop.plugin.spec.state.items():
            array = self.state_array(pop, var)
            exprs[var] = f"{array}[j]" if decl.shared else f"{array}[b, j]"
        return exprs

    def state_monitors(self, pop: PopulationPlan, shared: bool) -> list[tuple[int, object]]:
        """The monitors (index, monitor) of ``pop``'s state variables and traces, of its
        ``shared`` variables or of the others."""
        found = []
        for m, monitor in enumerate(self.plan.monitors):
            if monitor.population != pop.name or monitor.what in ("spike_counts", "spikes"):
                continue
            is_shared = monitor.what in pop.plugin.spec.state and pop.plugin.spec.state[monitor.what].shared
            if is_shared == shared:
                found.append((m, monitor))
        return found

    def monitored_array(self, pop: PopulationPlan, what: str) -> str:
        """The state or trace array that a monitor of ``what`` of ``pop`` records."""
        return self.state_array(pop, what) if what in pop.plugin.spec.state else self.trace(pop, what)

    def spike_monitors(self, pop: PopulationPlan) -> list[tuple[int, object]]:
        """The monitors (index, monitor) of ``pop``'s spikes (counts or trains)."""
        return [
            (m, monitor)
            for m, monitor in enumerate(self.plan.monitors)
            if monitor.population == pop.name and monitor.what in ("spike_counts", "spikes")
        ]
