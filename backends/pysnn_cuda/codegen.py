"""Generates the numba-cuda source of a network's whole multi-step run from its ``Plan``.

The generated module holds one or two kernels, each running every step of a run on the device:

``run_independent`` (shared state frozen: inference, or nothing learned)
    one thread block per sample (blocks take samples in a grid-stride loop); the block's
    threads share the sample's neurons, with block barriers between the phases of a step
    (propagation, updates, spike lists). No grid-wide synchronisation: samples never meet.
``run_coupled`` (learning)
    a cooperative kernel: each step, the blocks run the samples' steps as above, then, after a
    grid-wide barrier, the whole grid reduces the batch's changes of shared state per neuron and
    per synapse (``pysnn_cuda.learning_codegen``) and applies them, or sums them for the end of a
    deferred run.

Per sample and step both perform the float operations of the NumPy reference backend in the same
order (see ``pysnn_numpy.backend``): each target sums its inputs in ascending source order in one
thread (no atomics), kernels are bound for the CUDA target, and every sum or product the
generated code itself computes is an explicitly rounded operation (``pysnn.kernel_rounding``),
so that NVVM fuses nothing into multiply-adds. Work arrays (accumulators, spike lists, the
learning phase's buffers) are arguments too (``Scratch``): the backend allocates them per run.

Where the plan checks that state stays finite, a block learns from its barrier at the end of a
sample's step (``cuda.syncthreads_or``) whether a thread wrote a non-finite value, and stops
the sample there; threads of the learning phase that find one record the step in the run's
``NonFinite`` record themselves (an atomic maximum, executed only then), and the grid reads it
after the step's last barrier and stops the batch.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from dataclasses import dataclass
from typing import Union

from pysnn.learning_terms import TermsKey
from pysnn.lowering import StateRef, before_update, fold_mode, step_start
from pysnn.plan import Plan, PopulationPlan, ProjectionPlan
from pysnn.state_keys import NeuronKey, WeightsKey
from pysnn_numba.emitter import Code
from pysnn_numba.run_generator import Generated, RunGenerator, literal, unpack

BLOCK_LIMIT = 1024
"""Threads per block at most (CUDA's limit)."""

Dim = Union[str, tuple[str, int]]
"""A size of a work array: "batch", "threads" (of the whole grid), ("neurons", population),
("synapses", projection)."""


@dataclass(frozen=True)
class Scratch:
    """A work array of the run, allocated by the backend: its dimensions and dtype ("real" for
    the simulation dtype), zeroed or not."""

    dims: tuple[Dim, ...]
    dtype: str
    zeroed: bool = False


SORT = '''

@cuda.jit(device=True)
def sort_row(values, row, n):
    """Sort values[row, :n] in place, ascending, NaN last (as NumPy's sort; insertion sort)."""
    for i in range(1, n):
        x = values[row, i]
        k = i - 1
        while k >= 0 and (values[row, k] > x or (values[row, k] != values[row, k] and x == x)):
            values[row, k + 1] = values[row, k]
            k -= 1
        values[row, k + 1] = x
'''

LIST = '''

@cuda.jit(device=True)
def block_scan(scan, value, thread, width):
    """The sum of ``value`` over the block's threads up to and including this one, for the
    first ``width`` threads (the others' sums are partial), in log2(width) rounds through
    ``scan`` (shared memory; Hillis and Steele). Every thread of the block calls it, and reads
    only its own entry of ``scan`` afterwards."""
    scan[thread] = value
    cuda.syncthreads()
    offset = 1
    while offset < width:
        earlier = scan[thread - offset] if thread >= offset else 0
        cuda.syncthreads()
        scan[thread] += earlier
        cuda.syncthreads()
        offset *= 2
    return scan[thread]
'''


def generate(
    plan: Plan,
    timed_inputs: frozenset[str],
    reward_ndim: int,
    deferred: bool = False,
    hands_back: bool = False,
    launch_bound: int | None = None,
) -> Generated:
    """The run module of ``plan``; inputs named in ``timed_inputs`` are given per step, the
    reward (if a rule reads it) has ``reward_ndim`` dimensions. ``deferred``: the module is for
    deferred learning runs (or the others) and holds the code of that kind of run only;
    ``hands_back``: for deferred runs that hand their reduced changes back (``RunArgs.terms``).
    ``launch_bound``: the most threads per block the kernels are compiled for (CUDA launch
    bounds, which cap the registers of a thread: 64 for 1024); None: no bound."""
    return _Generator(plan, timed_inputs, reward_ndim, deferred, hands_back, launch_bound).module()


class _Generator(RunGenerator):
    target = "cuda"
    name = "pysnn_cuda"
    imports = (
        "import math",
        "import sys",
        "",
        "import numpy as np",
        "from numba import cuda",
        "",
        "from pysnn import kernel_math as km",
        "from pysnn.kernel_rounding import add as radd, mul as rmul",
        "from pysnn.rng import element_key, spike_choice, step_key",
    )
    kernel_wrap = "cuda.jit(device=True)"
    device_decorator = "@cuda.jit(device=True)"
    flat_terms = True

    def __init__(
        self, plan: Plan, timed_inputs: frozenset[str], reward_ndim: int, deferred: bool, hands_back: bool, launch_bound: int | None
    ) -> None:
        super().__init__(plan, timed_inputs, reward_ndim, deferred, hands_back)
        self.launch_bound = launch_bound
        self.listed = sorted(
            {p.source for p in step_start(plan) if p.kind == "dense" and plan.populations[p.source].spiking}
        )
        """Spiking sources of dense delay-1 projections: each sample keeps the list of their neurons
        that spiked in its last step, so that each target sums only those rows (a zero-delay
        projection reads its source's outputs of the step)."""
        from pysnn_cuda.learning_codegen import LearningCode

        self.learning = [LearningCode(self, p) for p in plan.projections if p.learning is not None]

    def add(self, a: str, b: str) -> str:
        return f"radd({a}, {b})"

    def record_stop(self, row: str, step: str) -> str:
        """An atomic maximum: the threads that find non-finite state in a step record the same
        step in the same entry (which starts at -1)."""
        return f"cuda.atomic.max({self.stops()}, {row}, {step})"

    def scratch(self, name: str, dims: tuple[Dim, ...], dtype: str = "real", zeroed: bool = False) -> str:
        """``name``, a work array argument (see ``Scratch``)."""
        return self.arg(name, Scratch(dims, dtype, zeroed))

    def accumulator(self, proj: ProjectionPlan) -> str:
        array = self.held(proj) or self.scratch(f"k{proj.index}_acc", ("batch", ("neurons", proj.target)))
        return f"{array}[b, j]"

    def run_decorator(self) -> str:
        bound = "" if self.launch_bound is None else f", launch_bounds={self.launch_bound}"
        return f"@cuda.jit(cache=True{bound})"

    def helpers(self) -> list[str]:
        sort = any(fold_mode(r) == "quantile" for r in self._reductions())
        return [SORT] * sort + [LIST] * bool(self.listed)

    def _reductions(self):
        for pop in self.plan.populations:
            yield from pop.reductions.values()
        for learning in self.learning:
            yield learning.reduction

    # -- the two run kernels ------------------------------------------------------------------------

    def independent(self) -> Code:
        """The body of ``run_independent``: each block runs its samples' steps."""
        code = Code(depth=1)
        self._kernel_start(code)
        with code.block("for b in range(cuda.blockIdx.x, batch, cuda.gridDim.x):"):
            if self.listed:
                self._list_all(code)
                code.line("cuda.syncthreads()")
            with code.block("for t in range(steps):"):
                self.sample_step(code, coupled=False)
        for pop in self.plan.populations:  # frozen shared variables: every record is the same
            for m, monitor in self.state_monitors(pop, shared=True):
                with code.block(f"for j in range(thread, {self.size(pop.index)}, threads):"):
                    with code.block(f"for r in range({self.record(m)}.shape[0]):"):
                        code.line(f"{self.record(m)}[r, j] = {self.state_array(pop, monitor.what)}[j]")
        return code

    def coupled(self) -> Code:
        """The body of ``run_coupled``: per step the samples, a grid-wide barrier, then the
        reductions of shared state over the grid."""
        code = Code(depth=1)
        self._kernel_start(code)
        for pop in self.plan.populations:
            for var in pop.reductions:
                self.shared_change(pop, var)
        for learning in self.learning:
            learning.allocate(code)
        code.line("grid = cuda.cg.this_grid()")
        if self.listed:
            with code.block("for b in range(cuda.blockIdx.x, batch, cuda.gridDim.x):"):
                self._list_all(code)
            code.line("grid.sync()")
        shared_updates = [pop for pop in self.plan.populations if "update_shared" in pop.plugin.kernels]
        with self.learning_steps(code):
            if not self.deferred and shared_updates:
                for pop in shared_updates:
                    self.update_shared(code, pop)
                code.line("grid.sync()")
            with code.block("for b in range(cuda.blockIdx.x, batch, cuda.gridDim.x):"):
                self.sample_step(code, coupled=True)
            code.line("grid.sync()")
            self.learning_phase(code)
            code.line("grid.sync()")
        if self.deferred and not self.hands_back:
            with self.unless_stopped(code):
                for pop in (p for p in self.plan.populations if p in shared_updates or p.reductions):
                    keys = [NeuronKey(pop.name, var) for var in pop.reductions]
                    with self.checking(code, keys, end=True), self.each_neuron(code, pop):
                        if pop in shared_updates:
                            with code.block("for _ in range(steps):"):
                                self._update_shared_element(code, pop)
                        for var, key in zip(pop.reductions, keys):
                            array, total = self.state_array(pop, var), self.work_total(key)
                            code.line(f"{array}[j] = {self.add(f'{array}[j]', f'{total}[j]')}", *self.check(key, f"{array}[j]"))
                for learning in self.learning:
                    learning.finish_deferred(code)
        return code

    def each_neuron(self, code: Code, pop: PopulationPlan) -> AbstractContextManager[None]:
        """Over the grid: neuron ``j`` in the thread of rank ``j`` modulo the grid's size."""
        return code.block(f"for j in range(rank, {self.size(pop.index)}, ranks):")

    def _kernel_start(self, code: Code) -> None:
        """The launch's sizes and this thread's place in them; the spike lists' scan buffer."""
        code.line(
            "batch = sample_ids.shape[0]",
            "thread = cuda.threadIdx.x",
            "threads = cuda.blockDim.x",
            "rank = cuda.grid(1)",
            "ranks = cuda.gridsize(1)",
        )
        if self.listed:
            code.line(f"scan_ = cuda.shared.array({BLOCK_LIMIT}, np.int32)")

    def sample_step(self, code: Code, coupled: bool) -> None:
        """One step of sample ``b`` by its block: the propagation of delay-1 projections, the
        populations in order (each after its zero-delay projections' propagation, which reads
        what other threads wrote: a barrier before it), the spike lists; block barriers between
        them. A target's propagation and update run in the same thread."""
        code.line("sid = sample_ids[b]", "step = np.uint64(step0 + t)")
        for proj in step_start(self.plan):
            self.propagate(code, proj, coupled)
        code.line("cuda.syncthreads()")
        for pop in self.plan.populations:
            if zero_delay := before_update(self.plan, pop):
                code.line("cuda.syncthreads()")
                for proj in zero_delay:
                    self.propagate(code, proj, coupled)
            special = self.element_specials(code, pop)
            neurons = f"for j in range(thread, {self.size(pop.index)}, threads):"
            with self.element_loop(code, pop, neurons):
                self.update_element(code, pop, special, coupled)
                if not pop.one_spike:
                    self._record_state(code, pop)
            if pop.one_spike:  # the block's first thread keeps one spike; then every neuron's outputs
                code.line("cuda.syncthreads()")
                with code.block("if thread == 0:"):
                    self.keep_one_spike(code, pop)
                code.line("cuda.syncthreads()")
                with code.block(neurons):
                    self.element_outputs(code, pop)
                    self._record_state(code, pop)
        if self.listed:
            code.line("cuda.syncthreads()")
            self._list_all(code)
        stopped = self.sample_stopped()
        if stopped is None:
            code.line("cuda.syncthreads()")
            return
        # the block's barrier, which also says whether one of its threads wrote non-finite state:
        # then the sample stops here (a learning run: the batch, after this step)
        with code.block(f"if cuda.syncthreads_or(int({stopped})):"):
            with code.block("if thread == 0:"):
                code.line(self.record_stop("b", "t"), *([self.record_stop("batch", "t")] if coupled else []))
            if not coupled:
                code.line("break")

    def _record_state(self, code: Code, pop: PopulationPlan) -> None:
        """Neuron ``j``'s per-sample state and traces into their monitors, at their steps."""
        for m, monitor in self.state_monitors(pop, shared=False):
            with code.block(f"if (t + 1) % {monitor.every} == 0:"):
                array = self.monitored_array(pop, monitor.what)
                code.line(f"{self.record(m)}[(t + 1) // {monitor.every} - 1, b, j] = {array}[b, j]")

    # -- pieces of a step ---------------------------------------------------------------------------

    def _list_all(self, code: Code) -> None:
        """The block lists, in ascending order, the neurons of each listed population that
        spiked in sample ``b``'s last step. Each thread counts the spikes among its own run of
        consecutive neurons, a scan of the counts over the threads that hold neurons
        (``block_scan``) gives it where its run's spikes go in the list, and it writes them
        there. Every thread of the block calls it; the list is read after the next barrier."""
        for i in self.listed:
            output, n = self.output(self.plan.populations[i]), self.size(i)
            spikes = self.scratch(f"p{i}_spk", ("batch", ("neurons", i)), "int32")
            count = self.scratch(f"p{i}_nspk", ("batch",), "int32")
            # this thread's run, computed again each time: held across the kernel instead, the
            # runs took ptxas 35 more registers (88 -> 123, benchmarks/gpu_registers.py)
            code.line(
                f"run_ = ({n} + threads - 1) // threads",
                f"holders_ = ({n} + run_ - 1) // run_",
                f"first_ = min({n}, thread * run_)",
                f"end_ = min({n}, first_ + run_)",
                "at_ = 0",
            )
            with code.block("for i in range(first_, end_):"):
                code.line(f"at_ += 1 if {output}[b, i] else 0")
            code.line("listed_ = block_scan(scan_, at_, thread, holders_)", "at_ = listed_ - at_")
            with code.block("for i in range(first_, end_):"):
                with code.block(f"if {output}[b, i]:"):
                    code.line(f"{spikes}[b, at_] = i", "at_ += 1")
            with code.block("if thread == holders_ - 1:"):
                code.line(f"{count}[b] = listed_")

    def propagate(self, code: Code, proj: ProjectionPlan, coupled: bool) -> None:
        """Each target ``j`` of the block's sample sums, in one thread, the output of its sources
        (of the previous step, or of this one for delay 0) times the weights, in ascending
        source order (the spike list of a listed source; the target's column of a sparse
        projection); ``propagation``: once per run where it is constant."""
        source = self.plan.populations[proj.source]
        src, acc = self.output(source), self.accumulator(proj)
        w = self.arg(f"k{proj.index}_w", StateRef(WeightsKey(proj.name)))
        targets = f"for j in range(thread, {self.size(proj.target)}, threads):"
        with self.propagation(code, proj, coupled), code.block(targets):
            code.line("acc = REAL(0.0)")
            if proj.kind == "one_to_one":
                self._add(code, source, f"{src}[b, j]", f"{w}[j]")
            elif proj.kind == "dense" and source.index in self.listed and proj.delay == 1:
                spikes, count = f"p{source.index}_spk", f"p{source.index}_nspk"
                with code.block(f"for s_ in range({count}[b]):"):
                    code.line(f"acc = {self.add('acc', f'{w}[{spikes}[b, s_], j]')}")
            elif proj.kind == "dense":
                with code.block(f"for i in range({src}.shape[1]):"):
                    self._add(code, source, f"{src}[b, i]", f"{w}[i, j]")
            else:
                col_ptr, col_syn, col_row = (self.connectivity(proj, n) for n in ("col_ptr", "col_syn", "col_row"))
                with code.block(f"for c in range({col_ptr}[j], {col_ptr}[j + 1]):"):
                    self._add(code, source, f"{src}[b, {col_row}[c]]", f"{w}[{col_syn}[c]]")
            code.line(f"{acc} = acc")

    def _add(self, code: Code, source: PopulationPlan, x: str, w: str) -> None:
        """``acc`` plus the weight ``w`` where the source output ``x`` is a spike, else plus
        ``x`` times ``w`` where ``x`` is not 0."""
        code.line(f"x = {x}")
        if source.spiking:
            with code.block("if x:"):
                code.line(f"acc = {self.add('acc', w)}")
        else:
            with code.block("if x != 0:"):
                code.line(f"acc = {self.add('acc', f'rmul(x, {w})')}")

    def update_shared(self, code: Code, pop: PopulationPlan) -> None:
        """``update_shared`` of a population's shared variables, over the grid."""
        with self.each_neuron(code, pop):
            self._update_shared_element(code, pop)

    def _update_shared_element(self, code: Code, pop: PopulationPlan) -> None:
        state = {var: f"{self.state_array(pop, var)}[j]" for var in pop.plugin.spec.shared_state}
        call = self.call_neuron_kernel(pop, "update_shared", {"dt": "dt"}, state)
        code.line(f"{unpack(list(state.values()))} = {call}")

    def shared_change(self, pop: PopulationPlan, var: str) -> str:
        """The per-sample changes of a shared variable, (batch, n)."""
        return self.scratch(f"p{pop.index}_d_{var}", ("batch", ("neurons", pop.index)))

    def work_total(self, key: TermsKey) -> str:
        """A zeroed work array of the run (``Scratch``), one value per neuron or synapse."""
        if isinstance(key, NeuronKey):
            dim = ("neurons", self.plan.population(key.owner).index)
        else:
            dim = ("synapses", self.plan.projection(key.projection).index)
        return self.scratch(self.total_name(key), (dim,), zeroed=True)

    def reduce(self, code: Code, pop: PopulationPlan, var: str) -> None:
        """Reduce the batch's changes of a shared variable per neuron over the grid (fold in
        sample order, or order statistic) and apply them, or add them to the deferred total."""
        i, reduction = pop.index, pop.reductions[var]
        prefix, changes = f"p{i}_{var}", self.shared_change(pop, var)
        checked = [] if self.deferred else [NeuronKey(pop.name, var)]  # deferred: the state changes at the end
        with self.checking(code, checked), self.each_neuron(code, pop):
            if fold_mode(reduction) == "quantile":
                self.quantile(code, f"{prefix}_select", reduction, [f"value_ = {changes}[b, j]"], "value")
            else:
                self.fold_batch(code, prefix, reduction, f"{changes}[b, j]")
            if self.deferred:
                code.line(self.add_to_total(NeuronKey(pop.name, var), reduction, "j", "value"))
            else:
                array = self.state_array(pop, var)
                code.line(f"{array}[j] = {self.add(f'{array}[j]', 'value')}")
            for key in checked:
                code.line(*self.check(key, f"{self.state_array(pop, var)}[j]"))

    def quantile(self, code: Code, name: str, reduction, per_sample: list[str], result: str) -> None:
        """``result`` takes ``reduction``'s quantile of the batch's values, which the statements
        ``per_sample`` give as ``value_`` for sample ``b`` (sorted in this thread's row of a work
        array)."""
        values = self.scratch("sort_values", ("threads", "batch"))
        q = literal(reduction.spec.cls.quantile)
        select = self.kernel(name, reduction, "select")
        with code.block("for b in range(batch):"):
            code.line(*per_sample, f"{values}[rank, b] = value_")
        code.line(
            f"sort_row({values}, rank, batch)",
            f"lo = int(math.floor({q} * (batch - 1)))",
            f"hi = int(math.ceil({q} * (batch - 1)))",
            f"{result} = {select}({values}[rank, lo], {values}[rank, hi])",
        )

