"""Generates the Numba source of a network's whole multi-step run from its ``Plan``.

The generated module holds one or two functions:

``run_independent`` (shared state frozen: inference, or nothing learned)
    ``prange`` over samples; each thread runs all steps of its samples, so one parallel region
    covers the whole run and a sample's state stays in its core's cache.
``run_coupled`` (learning)
    a loop over steps; each step runs the samples in a ``prange``, then reduces the batch's
    changes of shared state (neuron variables, and weights through ``learning_codegen``) and
    applies them, or sums them for the end of a deferred run.

Per sample and step both perform the float operations of the NumPy reference backend in the same
order (see ``pysnn_numpy.backend``), so results are bit-identical. Sizes, parameters and weights
are run-time arguments: the source, and so the compiled code, depends only on the structure
(models, connectivity kinds, which values are per neuron, monitors, dtype, and which inputs are
given per step).
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from types import FunctionType

import numba

from pysnn import __version__, builtin_kernels, kernel_math, kernel_math_jit, rng
from pysnn.lowering import (
    Connectivity,
    FirstStep,
    Indexing,
    InputData,
    NeuronModelOf,
    OwnState,
    PluginOwner,
    PluginValue,
    Record,
    Reward,
    RunValue,
    SampleIds,
    Special,
    StateRef,
    StepCount,
    Stream,
    SynapseOf,
    TimeStep,
    TraceDecay,
    Value,
    finishes,
    fold_mode,
    kernel_args,
)
from pysnn.plan import BoundPlugin, Plan, PopulationPlan, ProjectionPlan
from pysnn.state_keys import NeuronKey, OutputKey, SynapseKey, TraceKey, WeightsKey
from pysnn_numba.emitter import Code
from pysnn_numba.learning_codegen import learning_code, literal

BOUNDED = '''

@numba.njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def bounded(w, decay, repeats, wmin, wmax):
    """A learned weight after ``repeats`` steps of decay, clipped to [wmin, wmax] (the built-in
    kernels, see ``pysnn.builtin_kernels``)."""
    if decay != 0:
        for _ in range(repeats):
            w = builtin_decayed_weight(w, decay)
    return builtin_clipped_weight(w, wmin, wmax)


@numba.njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def bounded_once(w, decay, wmin, wmax):
    """``bounded`` for one step (no loop, so that callers vectorise)."""
    if decay != 0:
        w = builtin_decayed_weight(w, decay)
    return builtin_clipped_weight(w, wmin, wmax)
'''


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


def generate(
    plan: Plan, timed_inputs: frozenset[str], reward_ndim: int, parallel: bool = True, deferred: bool = False
) -> Generated:
    """The run module of ``plan``; inputs named in ``timed_inputs`` are given per step, the
    reward (if a rule reads it) has ``reward_ndim`` dimensions. ``parallel=False``: the same
    loops compiled without Numba's parallel machinery (``prange`` runs as ``range``), for runs
    that would use one thread anyway; they compile several times faster (see
    ``pysnn_numba.backend.NumbaCPUBackend.parallel``). ``deferred``: the module is for deferred
    learning runs (or the others) and holds the code of that kind of run only, which halves the
    learning code Numba compiles."""
    return _Generator(plan, timed_inputs, reward_ndim, parallel, deferred).module()


def runtime_digest() -> str:
    """Hash of what compiled code depends on besides the generated source (Numba's cache
    tracks only the file it compiles)."""
    parts = [__version__, numba.__version__] + [inspect.getsource(m) for m in (kernel_math, kernel_math_jit, rng)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class _Generator:
    def __init__(self, plan: Plan, timed_inputs: frozenset[str], reward_ndim: int, parallel: bool, deferred: bool) -> None:
        self.plan = plan
        self.timed_inputs = timed_inputs
        self.reward_ndim = reward_ndim
        self.parallel = parallel
        self.deferred = deferred
        self.args = [
            Arg("steps", StepCount()),
            Arg("step0", FirstStep()),
            Arg("sample_ids", SampleIds()),
            Arg("dt", TimeStep()),
        ]
        self.kernels: dict[str, str] = {}
        self.listed = sorted(
            {p.source for p in plan.projections if p.kind != "one_to_one" and plan.populations[p.source].spiking}
        )
        """Spiking populations that dense or sparse projections read: each sample keeps the list of
        their neurons that spiked in the last step, so that propagation visits only those."""
        self.learning = [learning_code(self, p) for p in plan.projections if p.learning is not None]

    def module(self) -> Generated:
        functions = {"run_independent": self.independent()}
        if self.plan.learns:
            functions["run_coupled"] = self.coupled()
        signature = ", ".join(a.name for a in self.args)
        header = [
            f"# Generated by pysnn_numba for one network structure (runtime {runtime_digest()}).",
            "import sys",
            "",
            "import numba",
            "import numpy as np",
            "",
            "from pysnn import kernel_math as km",
            "from pysnn.kernel_check import jitted",
            "from pysnn.kernel_math_jit import element_key, step_key",
            "",
            f"REAL = np.{self.plan.dtype.name}",
            *(f"{name} = jitted({ref})" for name, ref in self.kernels.items()),
        ]
        body = [BOUNDED] if self.learning else []
        parallel = "parallel=True, " if self.parallel else ""
        decorator = f"@numba.njit({parallel}cache=True, no_cfunc_wrapper=True)"  # called from Python only
        for name, code in functions.items():
            body += ["", "", decorator, f"def {name}({signature}):", *code.lines]
        return Generated("\n".join(header + body) + "\n", self.args)

    # -- the two run loops ------------------------------------------------------------------------

    def independent(self) -> Code:
        """The body of ``run_independent``."""
        code = Code(depth=1)
        code.line("batch = sample_ids.shape[0]")
        with code.block("for b in numba.prange(batch):"):
            code.line("sid = sample_ids[b]")
            for proj in self.plan.projections:
                code.line(f"k{proj.index}_acc = np.empty({self.size(proj.target)}, REAL)")
            for i in self.listed:
                code.line(f"p{i}_spk = np.empty({self.size(i)}, np.int64)")
                self.list_spikes(code, self.plan.populations[i])
            with code.block("for t in range(steps):"):
                self.sample_step(code, coupled=False)
        for pop in self.plan.populations:
            for m, monitor in self._state_monitors(pop, shared=True):
                with code.block(f"for r in range({self.record(m)}.shape[0]):"):
                    self.copy(code, f"m{m}[r, j]", f"p{pop.index}_{monitor.what}[j]", pop.index)
        return code

    def coupled(self) -> Code:
        """The body of ``run_coupled``."""
        code = Code(depth=1)
        code.line("batch = sample_ids.shape[0]")
        for proj in self.plan.projections:
            code.line(f"k{proj.index}_acc_all = np.empty((batch, {self.size(proj.target)}), REAL)")
        for pop in self.plan.populations:
            for var in pop.reductions:
                code.line(f"p{pop.index}_d_{var} = np.empty((batch, {self.size(pop.index)}), REAL)")
                if self.deferred:
                    code.line(f"p{pop.index}_total_{var} = np.zeros({self.size(pop.index)}, REAL)")
        for learning in self.learning:
            learning.allocate(code)
        for i in self.listed:
            code.line(
                f"p{i}_spk_all = np.empty((batch, {self.size(i)}), np.int64)",
                f"p{i}_nspk_all = np.empty(batch, np.int64)",
            )
            with code.block("for b in range(batch):"):
                code.line(f"p{i}_spk = p{i}_spk_all[b]")
                self.list_spikes(code, self.plan.populations[i])
                code.line(f"p{i}_nspk_all[b] = p{i}_nspk")
        shared_updates = [pop for pop in self.plan.populations if "update_shared" in pop.plugin.kernels]
        with code.block("for t in range(steps):"):
            if not self.deferred:
                for pop in shared_updates:
                    self.update_shared(code, pop)
            with code.block("for b in numba.prange(batch):"):
                code.line("sid = sample_ids[b]")
                for proj in self.plan.projections:
                    code.line(f"k{proj.index}_acc = k{proj.index}_acc_all[b]")
                for i in self.listed:
                    code.line(f"p{i}_spk = p{i}_spk_all[b]", f"p{i}_nspk = p{i}_nspk_all[b]")
                self.sample_step(code, coupled=True)
                code.line(*(f"p{i}_nspk_all[b] = p{i}_nspk" for i in self.listed))
            for pop in self.plan.populations:
                for var in pop.reductions:
                    self.reduce(code, pop, var)
            for learning in self.learning:
                learning.step(code)
            for pop in self.plan.populations:
                for m, monitor in self._state_monitors(pop, shared=True):
                    with code.block(f"if (t + 1) % {monitor.every} == 0:"):
                        code.line(f"r = (t + 1) // {monitor.every} - 1")
                        self.copy(code, f"{self.record(m)}[r, j]", f"p{pop.index}_{monitor.what}[j]", pop.index)
        if self.deferred:
            for pop in self.plan.populations:
                if pop in shared_updates:
                    with code.block("for _ in range(steps):"):
                        self.update_shared(code, pop)
                for var in pop.reductions:
                    with code.block(f"for j in range({self.size(pop.index)}):"):
                        code.line(f"p{pop.index}_{var}[j] = p{pop.index}_{var}[j] + p{pop.index}_total_{var}[j]")
            for learning in self.learning:
                learning.finish_deferred(code)
        return code

    def sample_step(self, code: Code, coupled: bool) -> None:
        """One step of sample ``b``: propagation, then the populations in order."""
        code.line("step = np.uint64(step0 + t)")
        for proj in self.plan.projections:
            self.propagate(code, proj)
        for pop in self.plan.populations:
            self.population(code, pop, coupled)

    # -- pieces of a step ---------------------------------------------------------------------------

    def list_spikes(self, code: Code, pop: PopulationPlan) -> None:
        """List, branch-free and in ascending order, the neurons of ``pop`` that spiked in
        sample ``b``'s last step (before the first step, and after each update of ``pop``)."""
        output, i = self.output(pop), pop.index
        code.line(f"p{i}_nspk = 0")
        with code.block(f"for j in range({output}.shape[1]):"):
            code.line(f"p{i}_spk[p{i}_nspk] = j", f"p{i}_nspk += {output}[b, j]")

    def propagate(self, code: Code, proj: ProjectionPlan) -> None:
        """Add the source's previous output times the weights into the accumulator: the rows of
        the listed sources that spiked, else of every source with a non-zero output, in
        ascending source order."""
        source = self.plan.populations[proj.source]
        src, acc = self.output(source), f"k{proj.index}_acc"
        code.line(f"{acc}[:] = 0")
        index = "j" if proj.kind == "one_to_one" else "i"
        if source.index in self.listed:
            with code.block(f"for s_ in range(p{source.index}_nspk):"):
                code.line(f"{index} = p{source.index}_spk[s_]")
                self._add_row(code, proj, "")
            return
        with code.block(f"for {index} in range({src}.shape[1]):"):
            code.line(f"x = {src}[b, {index}]")
            with code.block("if x:" if source.spiking else "if x != 0:"):
                self._add_row(code, proj, "" if source.spiking else "x * ")

    def _add_row(self, code: Code, proj: ProjectionPlan, factor: str) -> None:
        """Add source ``i``'s weights (one-to-one: target ``j``'s), times ``factor``."""
        w, acc = self.arg(f"k{proj.index}_w", StateRef(WeightsKey(proj.name))), f"k{proj.index}_acc"
        if proj.kind == "one_to_one":
            code.line(f"{acc}[j] += {factor}{w}[j]")
        elif proj.kind == "dense":
            with code.block(f"for j in range({acc}.shape[0]):"):
                code.line(f"{acc}[j] += {factor}{w}[i, j]")
        else:
            indptr, indices = self.connectivity(proj, "indptr"), self.connectivity(proj, "indices")
            with code.block(f"for s in range({indptr}[i], {indptr}[i + 1]):"):
                code.line(f"{acc}[{indices}[s]] += {factor}{w}[s]")

    def population(self, code: Code, pop: PopulationPlan, coupled: bool) -> None:
        """Update one population of sample ``b``: encoder or synapses + neuron model, trace,
        monitors."""
        i, bound = pop.index, pop.plugin
        special = {"dt": "dt"}
        if bound.uses("rng"):
            code.line(f"p{i}_key = step_key({self.arg(f'p{i}_stream', Stream(i))}, sid, step)")
            special["rng"] = f"element_key(p{i}_key, np.uint64(j))"
        state = self._state_exprs(pop)
        output = self.output(pop)
        with code.block(f"for j in range({output}.shape[1]):"):
            if pop.is_input:
                data = self.arg(f"p{i}_x", InputData(pop.name))
                special["x"] = f"{data}[t, b, j]" if pop.name in self.timed_inputs else f"{data}[b, j]"
                code.line(f"{output}[b, j] = {self._call(pop, 'encode', special, state)}")
            else:
                ports = {port: f"in{n}" for n, port in enumerate(bound.spec.ports)}
                special.update(ports)
                code.line(*(f"{variable} = REAL(0.0)" for variable in ports.values()))
                for k in pop.incoming:
                    self.synapse(code, self.plan.projections[k], ports)
                results = [f"r_{var}" for var in bound.spec.state] + [f"{output}[b, j]"]
                code.line(f"{_unpack(results)} = {self._call(pop, 'update', special, state)}")
                for var, decl in bound.spec.state.items():
                    if not decl.shared:
                        code.line(f"{state[var]} = r_{var}")
                    elif coupled:
                        code.line(f"p{i}_d_{var}[b, j] = r_{var}")
            for trace in pop.traces:
                array = self.trace(pop, trace.name)
                decay = self.arg(f"p{i}_{trace.name}_decay", TraceDecay(i, trace.name))
                kernel = self.builtin(builtin_kernels.trace_kernel(trace.trace.additive))
                code.line(f"{array}[b, j] = {kernel}({array}[b, j], {output}[b, j], {decay})")
            for m, monitor in enumerate(self.plan.monitors):
                if monitor.population == pop.name and monitor.what in ("spike_counts", "spikes"):
                    buffer = self.record(m)
                    target = f"{buffer}[b, j] +=" if monitor.what == "spike_counts" else f"{buffer}[t, b, j] ="
                    code.line(f"{target} {output}[b, j]")
        if i in self.listed:  # a loop of its own, so that the update loop above stays vectorisable
            self.list_spikes(code, pop)
        for m, monitor in self._state_monitors(pop, shared=False):
            array = f"p{i}_{monitor.what}" if monitor.what in pop.plugin.spec.state else self.trace(pop, monitor.what)
            with code.block(f"if (t + 1) % {monitor.every} == 0:"):
                code.line(f"r = (t + 1) // {monitor.every} - 1")
                self.copy(code, f"{self.record(m)}[r, b, j]", f"{array}[b, j]", i)

    def synapse(self, code: Code, proj: ProjectionPlan, ports: dict[str, str]) -> None:
        """Post-synaptic update of projection ``proj`` at target ``j``; adds its current to the
        variable of its port (``ports``: port -> variable)."""
        k, bound = proj.index, proj.synapse
        state = {var: self.arg(f"k{k}_{var}", StateRef(SynapseKey(proj.name, var))) + "[b, j]" for var in bound.spec.state}
        results = list(state.values()) + ["current"]
        special = {"i_in": f"k{k}_acc[j]", "dt": "dt"}
        target = self.plan.populations[proj.target]
        call = self.call_kernel(f"k{k}", SynapseOf(k), bound, "update", special, state, {"post": (target, "j")})
        code.line(f"{_unpack(results)} = {call}", f"{ports[proj.port]} += current")

    def copy(self, code: Code, target: str, value: str, population: int) -> None:
        """``target = value`` for each neuron ``j`` of a population (a monitor's record): an
        explicit loop, as a slice assignment would compile Numba's shape check and its error
        message, which takes seconds in the serial form."""
        with code.block(f"for j in range({self.size(population)}):"):
            code.line(f"{target} = {value}")

    def update_shared(self, code: Code, pop: PopulationPlan) -> None:
        """``update_shared`` of a population's shared variables."""
        state = {var: f"p{pop.index}_{var}[j]" for var in pop.plugin.spec.shared_state}
        for var in state:
            self.arg(f"p{pop.index}_{var}", StateRef(NeuronKey(pop.name, var)))
        with code.block(f"for j in range({self.size(pop.index)}):"):
            code.line(f"{_unpack(list(state.values()))} = {self._call(pop, 'update_shared', {'dt': 'dt'}, state)}")

    def reduce(self, code: Code, pop: PopulationPlan, var: str) -> None:
        """Reduce the batch's changes of a shared variable (fold in sample order, or order
        statistic) and apply them, or add them to the deferred total."""
        i, reduction = pop.index, pop.reductions[var]
        prefix = f"p{i}_{var}"
        with code.block(f"for j in numba.prange({self.size(i)}):"):
            if fold_mode(reduction) == "quantile":
                select = self.kernel(f"{prefix}_select", reduction, "select")
                quantile = literal(reduction.spec.cls.quantile)
                code.line(
                    f"values = np.sort(p{i}_d_{var}[:, j])",
                    f"lo = int(np.floor({quantile} * (batch - 1)))",
                    f"hi = int(np.ceil({quantile} * (batch - 1)))",
                    f"value = {select}(values[lo], values[hi])",
                )
            else:
                combine = self.kernel(f"{prefix}_combine", reduction, "combine")
                code.line(f"acc = REAL({literal(reduction.spec.cls.identity)})")
                with code.block("for c in range(batch):"):
                    code.line(f"acc = {combine}(acc, p{i}_d_{var}[c, j])")
                if finishes(reduction):
                    code.line(f"value = {self.kernel(f'{prefix}_finish', reduction, 'finish')}(acc, REAL(batch))")
                else:
                    code.line("value = acc")
            total = f"p{i}_total_{var}" if self.deferred else prefix
            code.line(f"{total}[j] = {total}[j] + value")

    # -- helpers (also used by learning_codegen) ------------------------------------------------------

    def arg(self, name: str, ref: RunValue) -> str:
        """``name``, an argument of the generated functions that takes the value of ``ref``."""
        if all(a.name != name for a in self.args):
            self.args.append(Arg(name, ref))
        return name

    def output(self, pop: PopulationPlan) -> str:
        return self.arg(f"p{pop.index}_out", StateRef(OutputKey(pop.name)))

    def trace(self, pop: PopulationPlan, name: str) -> str:
        return self.arg(f"p{pop.index}_trace_{name}", StateRef(TraceKey(pop.name, name)))

    def record(self, monitor: int) -> str:
        return self.arg(f"m{monitor}", Record(monitor))

    def connectivity(self, proj: ProjectionPlan, name: str) -> str:
        return self.arg(f"k{proj.index}_{name}", Connectivity(proj.index, name))

    def reward_expr(self) -> str:
        reward = self.arg("reward", Reward())
        return f"{reward}[t, b]" if self.reward_ndim == 2 else f"{reward}[b]"

    def size(self, population: int) -> str:
        return f"{self.output(self.plan.populations[population])}.shape[1]"

    def kernel(self, name: str, bound: BoundPlugin, kernel: str) -> str:
        return self.function(name, bound.kernels[kernel])

    def function(self, name: str, function: FunctionType) -> str:
        """``name``, a global of the generated module: the Numba dispatcher of the bound kernel
        ``function``."""
        self.kernels[name] = f'sys.modules["{function.__module__}"].{function.__name__}'
        return name

    def builtin(self, name: str) -> str:
        """The global of the built-in kernel ``name`` (``pysnn.builtin_kernels``)."""
        return self.function(f"builtin_{name}", builtin_kernels.bound(name, self.plan.dtype))

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
                array = self.trace(pop, source.name) if source.trace else self._state_array(pop, source.name)
                exprs.append(f"{array}[{index}]" if source.shared else f"{array}[b, {index}]")
        return f"{self.kernel(f'{prefix}_{kernel}', bound, kernel)}({', '.join(exprs)})"

    def _state_array(self, pop: PopulationPlan, var: str) -> str:
        return self.arg(f"p{pop.index}_{var}", StateRef(NeuronKey(pop.name, var)))

    def _state_exprs(self, pop: PopulationPlan) -> dict[str, str]:
        exprs = {}
        for var, decl in pop.plugin.spec.state.items():
            array = self._state_array(pop, var)
            exprs[var] = f"{array}[j]" if decl.shared else f"{array}[b, j]"
        return exprs

    def _state_monitors(self, pop: PopulationPlan, shared: bool):
        found = []
        for m, monitor in enumerate(self.plan.monitors):
            if monitor.population != pop.name or monitor.what in ("spike_counts", "spikes"):
                continue
            is_shared = monitor.what in pop.plugin.spec.state and pop.plugin.spec.state[monitor.what].shared
            if is_shared == shared:
                found.append((m, monitor))
        return found

    def _call(self, pop: PopulationPlan, kernel: str, special: dict[str, str], state: dict[str, str]) -> str:
        return self.call_kernel(f"p{pop.index}", NeuronModelOf(pop.index), pop.plugin, kernel, special, state)


def _unpack(targets: list[str]) -> str:
    return targets[0] if len(targets) == 1 else ", ".join(targets)
