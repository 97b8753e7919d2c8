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

from contextlib import AbstractContextManager, contextmanager
from typing import Iterable, Iterator

from pysnn.lowering import StateRef, before_update, fold_mode, step_start
from pysnn.plan import Plan, PopulationPlan, ProjectionPlan
from pysnn.state_keys import NeuronKey, StateKey, WeightsKey
from pysnn_numba.emitter import Code
from pysnn_numba.learning_codegen import learning_code
from pysnn_numba.propagation import cached_add_rows_in_pairs
from pysnn_numba.run_generator import Generated, RunGenerator, literal, unpack





def generate(
    plan: Plan,
    timed_inputs: frozenset[str],
    reward_ndim: int,
    parallel: bool = True,
    deferred: bool = False,
    hands_back: bool = False,
) -> Generated:
    """The run module of ``plan``; inputs named in ``timed_inputs`` are given per step, the
    reward (if a rule reads it) has ``reward_ndim`` dimensions. ``parallel=False``: the same
    loops compiled without Numba's parallel machinery (``prange`` runs as ``range``), for runs
    that would use one thread anyway; they compile several times faster (see
    ``pysnn_numba.backend.NumbaCPUBackend.parallel``). ``deferred``: the module is for deferred
    learning runs (or the others) and holds the code of that kind of run only, which halves the
    learning code Numba compiles; ``hands_back``: for deferred runs that hand their reduced
    changes back (``RunArgs.terms``)."""
    return _Generator(plan, timed_inputs, reward_ndim, parallel, deferred, hands_back).module()



class _Generator(RunGenerator):
    name = "pysnn_numba"
    imports = (
        "import sys",
        "",
        "import numba",
        "import numpy as np",
        "",
        "from pysnn import kernel_math as km",
        "from pysnn.kernel_check import jitted",
        "from pysnn.kernel_math_jit import element_key, spike_choice, step_key",
    )
    kernel_wrap = "jitted"
    device_decorator = '@numba.njit(cache=True, error_model="numpy", no_cpython_wrapper=True, no_cfunc_wrapper=True)'
    def __init__(
        self, plan: Plan, timed_inputs: frozenset[str], reward_ndim: int, parallel: bool, deferred: bool, hands_back: bool
    ) -> None:
        super().__init__(plan, timed_inputs, reward_ndim, deferred, hands_back)
        self.parallel = parallel
        self.listed = sorted(
            {p.source for p in plan.projections if p.kind != "one_to_one" and plan.populations[p.source].spiking}
        )
        """Spiking populations that dense or sparse projections read: each sample keeps the list of
        their neurons that spiked in the last step, so that propagation visits only those."""
        self.learning = [learning_code(self, p) for p in plan.projections if p.learning is not None]

    def run_decorator(self) -> str:
        parallel = "parallel=True, " if self.parallel else ""
        return f"@numba.njit({parallel}cache=True, error_model='numpy', no_cfunc_wrapper=True)"  # called from Python only

    # -- the two run loops ------------------------------------------------------------------------

    def independent(self) -> Code:
        """The body of ``run_independent``."""
        code = Code(depth=1)
        code.line("batch = sample_ids.shape[0]")
        with code.block("for b in numba.prange(batch):"):
            code.line("sid = sample_ids[b]")
            for proj in self.plan.projections:
                held = self.held(proj)
                code.line(f"k{proj.index}_acc = " + (f"{held}[b]" if held else f"np.empty({self.size(proj.target)}, REAL)"))
            for i in self.listed:
                code.line(f"p{i}_spk = np.empty({self.size(i)}, np.int64)")
                self.list_spikes(code, self.plan.populations[i])
            with code.block("for t in range(steps):"):
                self.sample_step(code, coupled=False)
                if stopped := self.sample_stopped():  # the sample's run stops at this step
                    with code.block(f"if {stopped}:"):
                        code.line(self.record_stop("b", "t"), "break")
        for pop in self.plan.populations:
            for m, monitor in self.state_monitors(pop, shared=True):
                with code.block(f"for r in range({self.record(m)}.shape[0]):"):
                    self.copy(code, f"m{m}[r, j]", f"p{pop.index}_{monitor.what}[j]", pop.index)
        return code

    def coupled(self) -> Code:
        """The body of ``run_coupled``."""
        code = Code(depth=1)
        code.line("batch = sample_ids.shape[0]")
        for proj in self.plan.projections:
            held = self.held(proj)
            code.line(f"k{proj.index}_acc_all = " + (held or f"np.empty((batch, {self.size(proj.target)}), REAL)"))
        for pop in self.plan.populations:
            for var in pop.reductions:
                code.line(f"p{pop.index}_d_{var} = np.empty((batch, {self.size(pop.index)}), REAL)")
                if self.deferred and not self.hands_back:
                    code.line(f"{self.work_total(NeuronKey(pop.name, var))} = np.zeros({self.size(pop.index)}, REAL)")
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
        with self.learning_steps(code):
            if not self.deferred:
                for pop in shared_updates:
                    self.update_shared(code, pop)
            stopped = self.sample_stopped()
            with code.block("for b in numba.prange(batch):"):
                code.line("sid = sample_ids[b]")
                for proj in self.plan.projections:
                    code.line(f"k{proj.index}_acc = k{proj.index}_acc_all[b]")
                for i in self.listed:
                    code.line(f"p{i}_spk = p{i}_spk_all[b]", f"p{i}_nspk = p{i}_nspk_all[b]")
                self.sample_step(code, coupled=True)
                code.line(*(f"p{i}_nspk_all[b] = p{i}_nspk" for i in self.listed))
                if stopped:
                    with code.block(f"if {stopped}:"):
                        code.line(self.record_stop("b", "t"))
            if stopped:  # the batch stops with its samples (a scan: a reduction compiles slowly)
                with code.block("for b in range(batch):"), code.block(f"if {self.stops()}[b] == t:"):
                    code.line(self.record_stop("batch", "t"))
            self.learning_phase(code)
        if self.deferred and not self.hands_back:
            with self.unless_stopped(code):
                for pop in self.plan.populations:
                    if pop in shared_updates:
                        with code.block("for _ in range(steps):"):
                            self.update_shared(code, pop)
                    for var in pop.reductions:
                        key, array = NeuronKey(pop.name, var), f"p{pop.index}_{var}"
                        with self.checking(code, [key], end=True), self.each_neuron(code, pop):
                            code.line(f"{array}[j] = {array}[j] + {self.work_total(key)}[j]", *self.check(key, f"{array}[j]"))
                for learning in self.learning:
                    learning.finish_deferred(code)
        return code

    def sample_step(self, code: Code, coupled: bool) -> None:
        """One step of sample ``b``: the propagation of delay-1 projections, then the populations
        in order, each just after its zero-delay projections' propagation (their sources have
        updated, and listed their spikes, before)."""
        code.line("step = np.uint64(step0 + t)")
        for proj in step_start(self.plan):
            self.propagate(code, proj, coupled)
        for pop in self.plan.populations:
            for proj in before_update(self.plan, pop):
                self.propagate(code, proj, coupled)
            self.population(code, pop, coupled)

    # -- pieces of a step ---------------------------------------------------------------------------

    def accumulator(self, proj: ProjectionPlan) -> str:
        return f"k{proj.index}_acc[j]"

    def list_spikes(self, code: Code, pop: PopulationPlan) -> None:
        """List, branch-free and in ascending order, the neurons of ``pop`` that spiked in
        sample ``b``'s last step (before the first step, and after each update of ``pop``)."""
        output, i = self.output(pop), pop.index
        code.line(f"p{i}_nspk = 0")
        with code.block(f"for j in range({output}.shape[1]):"):
            code.line(f"p{i}_spk[p{i}_nspk] = j", f"p{i}_nspk += {output}[b, j]")

    def propagate(self, code: Code, proj: ProjectionPlan, coupled: bool) -> None:
        """Sum the source's output (of the previous step, or of this one for delay 0) times the
        weights into a zeroed accumulator: the rows of the listed sources that spiked, else of
        every source with a non-zero output, in ascending source order (``propagation``: once
        per run where it is constant)."""
        source = self.plan.populations[proj.source]
        src, acc = self.output(source), f"k{proj.index}_acc"
        index = "j" if proj.kind == "one_to_one" else "i"
        with self.propagation(code, proj, coupled):
            if source.index in self.listed and proj.kind == "dense":
                w = self.arg(f"k{proj.index}_w", StateRef(WeightsKey(proj.name)))
                self.kernels["add_rows_in_pairs"] = cached_add_rows_in_pairs()
                code.line(f"add_rows_in_pairs({acc}, {w}, p{source.index}_spk, p{source.index}_nspk, REAL(0.0))")
                return
            code.line(f"{acc}[:] = 0")
            if source.index in self.listed:
                with code.block(f"for s_ in range(p{source.index}_nspk):"):
                    code.line(f"{index} = p{source.index}_spk[s_]")
                    self._add_row(code, proj, "")
            else:
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
        i = pop.index
        special = self.element_specials(code, pop)
        with self.element_loop(code, pop, f"for j in range({self.size(i)}):"):
            self.update_element(code, pop, special, coupled)
        if pop.one_spike:
            self.keep_one_spike(code, pop)
            with self.each_neuron(code, pop):
                self.element_outputs(code, pop)
        if i in self.listed:  # a loop of its own, so that the update loop above stays vectorisable
            self.list_spikes(code, pop)
        for m, monitor in self.state_monitors(pop, shared=False):
            with code.block(f"if (t + 1) % {monitor.every} == 0:"):
                code.line(f"r = (t + 1) // {monitor.every} - 1")
                self.copy(code, f"{self.record(m)}[r, b, j]", f"{self.monitored_array(pop, monitor.what)}[b, j]", i)

    def each_neuron(self, code: Code, pop: PopulationPlan) -> AbstractContextManager[None]:
        return code.block(f"for j in range({self.size(pop.index)}):")

    @contextmanager
    def counting(self, code: Code, header: str, checked: bool, end: bool = False) -> Iterator[None]:
        """The parallel loop ``header`` (``numba.prange``) of the learning phase, whose body sets
        the flag ``nonfinite_`` (when it is ``checked``): each iteration's flag is added to a
        count (Numba reduces with ``+=``, not with ``|=``), and if it is not 0 after the loop,
        the batch stops (``checking``)."""
        if not checked:
            with code.block(header):
                yield
            return
        code.line("nonfinite_count = 0")
        with code.block(header):
            yield
            code.line("nonfinite_count += nonfinite_")
        with code.block("if nonfinite_count > 0:"):
            code.line(self.record_stop(*self.batch_row(end)))

    @contextmanager
    def checked_prange(self, code: Code, header: str, keys: Iterable[StateKey], end: bool = False) -> Iterator[None]:
        """The parallel loop ``header``, whose body writes shared state or a learning rule's
        state (``keys``) and emits ``check`` after each write: ``checking`` in each iteration,
        ``counting`` over them."""
        checked = any(key in self.checks for key in keys)
        with self.counting(code, header, checked, end):
            code.line(*(["nonfinite_ = False"] if checked else []))
            yield

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
            code.line(f"{unpack(list(state.values()))} = {self.call_neuron_kernel(pop, 'update_shared', {'dt': 'dt'}, state)}")

    def reduce(self, code: Code, pop: PopulationPlan, var: str) -> None:
        """Reduce the batch's changes of a shared variable (fold in sample order, or order
        statistic) and apply them, or add them to the deferred total."""
        i, reduction = pop.index, pop.reductions[var]
        prefix = f"p{i}_{var}"
        checked = [] if self.deferred else [NeuronKey(pop.name, var)]  # deferred: the state changes at the end
        with self.checked_prange(code, f"for j in numba.prange({self.size(i)}):", checked):
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
                self.fold_batch(code, prefix, reduction, f"p{i}_d_{var}[b, j]")
            if self.deferred:
                code.line(self.add_to_total(NeuronKey(pop.name, var), reduction, "j", "value"))
            else:
                code.line(f"{prefix}[j] = {prefix}[j] + value")
            for key in checked:
                code.line(*self.check(key, f"{prefix}[j]"))
