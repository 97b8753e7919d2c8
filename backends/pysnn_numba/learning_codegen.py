"""Generated code of the learning phase of a step (see ``pysnn_numpy.backend`` for semantics).

For each learned projection, after the samples of a step ran, the rule's terms are reduced over
the batch per synapse and applied (or, deferred, summed for the end of the run). Every fold runs
over the samples in batch order, so results do not depend on the thread count and equal the
NumPy reference bit for bit.

Events are folded per *line*: a source row for ``on_pre``, a target column for ``on_post``
(each target first lists the samples in which it spiked); the lines run in parallel, each
contiguous in its buffer: dense projections keep ``pre`` row-major and ``post`` column-major
(2-D: 1-D buffers indexed with offsets keep Numba from vectorising inside parallel loops),
sparse ones keep ``pre`` in CSR and ``post`` in CSC order. Weights are then applied where an
event reached them, so that the cost follows the events; see ``DenseLearning`` and
``SparseLearning`` for how each visits them.

Where the plan checks that state stays finite, each new weight and each new value of the rule's
state sets a flag of its iteration of the parallel loop that writes it, and the iterations' flags
are counted in a reduction: if some is set, the batch stops at this step
(``pysnn_numba.codegen``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from pysnn.learning_terms import TermKey
from pysnn.lowering import Indexing, LearningConstant, RuleOf, StateRef, finishes, fold_mode
from pysnn.plan import BoundPlugin, ProjectionPlan
from pysnn.state_keys import RuleKey, StateKey, WeightsKey
from pysnn_numba.emitter import Code
from pysnn_numba.run_generator import literal

BLOCK = 16
"""Target columns per task of a dense projection's column loop (and side of its copy tiles)."""
DENSE_COLUMNS = 8
"""A dense projection applies whole rows once more than one target in this many spiked."""


@dataclass(frozen=True)
class Loop:
    """A loop over the slots of a line: its header and the statements that start each iteration."""

    header: str
    prelude: tuple[str, ...] = ()

    @contextmanager
    def each(self, code: Code) -> Iterator[None]:
        """Emit the loop and its prelude; lines emitted inside run for each slot."""
        with code.block(self.header):
            code.line(*self.prelude)
            yield

    def emit(self, code: Code, text: str) -> None:
        """``text`` for each slot."""
        with self.each(code):
            code.line(text)


def learning_code(g, proj: ProjectionPlan) -> "LearningCode":
    return DenseLearning(g, proj) if proj.kind == "dense" else SparseLearning(g, proj)


class LearningCode(ABC):
    """Emits the learning code of one learned projection through the code generator ``g``."""

    synapse: str
    """The index of synapse (ip, jq) in a per-synapse array, in every loop that calls a rule kernel."""

    def __init__(self, g, proj: ProjectionPlan) -> None:
        self.g, self.proj, self.k = g, proj, proj.index
        self.rule: BoundPlugin = proj.learning.rule
        self.reduction: BoundPlugin = proj.learning.reduction
        self.mode = fold_mode(self.reduction)
        self.source = g.plan.populations[proj.source]
        self.target = g.plan.populations[proj.target]
        self.src, self.tgt = g.output(self.source), g.output(self.target)
        self.w = g.arg(f"k{self.k}_w", StateRef(WeightsKey(proj.name)))
        self.terms = proj.learning.terms
        self.decay = g.arg(f"l{self.k}_decay", LearningConstant(self.k, "weight_decay"))
        self.wmin = g.arg(f"l{self.k}_wmin", LearningConstant(self.k, "wmin"))
        self.wmax = g.arg(f"l{self.k}_wmax", LearningConstant(self.k, "wmax"))
        self.n_pre, self.n_post = f"{self.src}.shape[1]", f"{self.tgt}.shape[1]"
        self.states = {var: g.arg(f"l{self.k}_{var}", StateRef(RuleKey(proj.name, var))) for var in self.rule.spec.state}
        for name in ("decayed_weight", "clipped_weight"):  # called by ``bounded`` (codegen.BOUNDED)
            g.builtin(name)

    # -- pieces -----------------------------------------------------------------------------------

    @abstractmethod
    def allocate(self, code: Code) -> None:
        """Buffers, before the loop over steps."""

    @abstractmethod
    def step(self, code: Code) -> None:
        """The learning phase of a step, after the samples ran."""

    @abstractmethod
    def finish_deferred(self, code: Code) -> None:
        """After the last step of a deferred run."""

    def weight_checks(self) -> list[StateKey]:
        """The weights' key where a step's loops write them (not a deferred run's: it sums)."""
        return [] if self.g.deferred else [WeightsKey(self.proj.name)]

    def step_checks(self) -> list[StateKey]:
        """The keys of what the loop that runs the rule's kernels writes: its state, weights."""
        return [RuleKey(self.proj.name, var) for var in self.states] + self.weight_checks()

    def store_weight(self, target: str, value: str) -> list[str]:
        """Statements that store the new weight ``value`` at ``target`` and check it."""
        return [f"w_ = {value}", f"{target} = w_", *self.g.check(WeightsKey(self.proj.name), "w_")]

    def state_checks(self, state: dict[str, str]) -> list[str]:
        """Statements that check the rule's state at its expressions ``state``."""
        return [line for var in self.states for line in self.g.check(RuleKey(self.proj.name, var), state[var])]

    def kernel_call(self, kernel: str, exprs: dict[str, str]) -> str:
        """Call of a rule kernel at sample ``b``, synapse (ip, jq), with the special-argument
        expressions it reads."""
        used = set(self.rule.args(kernel))
        special = {a: e for a, e in exprs.items() if a in used}
        if "reward" in used:
            special["reward"] = self.g.reward_expr()
        sides = {"pre": (self.source, "ip"), "post": (self.target, "jq")}
        return self.g.call_kernel(f"l{self.k}", RuleOf(self.k), self.rule, kernel, special, {}, sides, self.index())

    def index(self) -> dict[Indexing, str]:
        """How the rule's values are indexed at synapse (ip, jq): per target ``jq``, per synapse
        ``synapse`` (the name of the synapse in every loop that calls a rule kernel)."""
        return {Indexing.PER_NEURON: "jq", Indexing.PER_SYNAPSE: self.synapse}

    def finish(self, code: Code, loop: Loop, slot: str) -> None:
        """Each slot takes ``finish`` of its fold, where the reduction defines it."""
        if finishes(self.reduction):
            finish = self.g.kernel(f"l{self.k}_finish", self.reduction, "finish")
            loop.emit(code, f"{slot} = {finish}({slot}, REAL({self.g.fold_count()}))")

    def _quantile(self, code: Code, loop: Loop, slot: str, per_sample: list[str]) -> None:
        """Each slot of ``loop`` takes the reduction's quantile of the B values that the
        statements ``per_sample`` put in ``values[b]`` (a buffer, and the positions of the two
        values around the quantile, set up before the loop)."""
        q = literal(self.reduction.spec.cls.quantile)
        code.line("values = np.empty(batch, REAL)", f"lo = int(np.floor({q} * (batch - 1)))", f"hi = int(np.ceil({q} * (batch - 1)))")
        select = self.g.kernel(f"l{self.k}_select", self.reduction, "select")
        with loop.each(code):
            with code.block("for b in range(batch):"):
                code.line(*per_sample)
            code.line("values.sort()", f"{slot} = {select}(values[lo], values[hi])")

    def add_to_total(self, term: str, index: str) -> str:
        """The statement that adds ``<term>_value`` to the deferred total of ``term`` at synapse
        ``index`` (``RunGenerator.add_to_total``)."""
        return self.g.add_to_total(TermKey(self.proj.name, term), self.reduction, index, f"{term}_value")

    def work_total(self, term: str) -> str:
        """The work array of a deferred run's total of ``term`` (``RunGenerator.work_total``)."""
        return self.g.work_total(TermKey(self.proj.name, term))

    def identity(self) -> str:
        return f"REAL({literal(self.reduction.spec.cls.identity)})"

    def new_weight(self, w: str, terms: dict[str, str], repeats: str | None) -> str:
        """The new weight: ``apply``, decay (``repeats`` times; once if None), bounds."""
        special = {"w": w, "dt": "dt", **terms}
        call = self.g.call_kernel(f"l{self.k}", RuleOf(self.k), self.rule, "apply", special, {}, at=self.index())
        if repeats is None:
            return f"bounded_once({call}, {self.decay}, {self.wmin}, {self.wmax})"
        return f"bounded({call}, {self.decay}, {repeats}, {self.wmin}, {self.wmax})"

    def _fold_every_sample(self, code: Code, loop: Loop, slot: str, term: str, event: str) -> None:
        """``quantile`` and ``ordered`` modes: every sample's term in batch order, 0 where the
        sample had no ``event`` (sorted and selected, or folded, then ``finish``)."""
        if self.mode == "quantile":
            self._quantile(code, loop, slot, [f"values[b] = {term} if {event} else REAL(0.0)"])
            return
        combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
        loop.emit(code, f"{slot} = {self.identity()}")
        with code.block("for b in range(batch):"):
            loop.emit(code, f"{slot} = {combine}({slot}, {term} if {event} else REAL(0.0))")
        self.finish(code, loop, slot)

    def fold_line(self, code: Code, line: str, event: str, loop: Loop, slot: str, term: str, hit: str) -> None:
        """Fold the terms of one line (a source row for ``on_pre``, a target column for
        ``on_post``; ``line`` names its buffer ``l{k}_{line}_samples`` and index variable) over
        the samples that had ``event``, in batch order, per the reduction's mode.

        The line first lists those samples with a branch-free scan (mispredicted branches cost
        more than the scan) and sets ``hit`` to whether there was one. ``loop`` runs over the
        line's slots."""
        samples, index = f"l{self.k}_{line}_samples", {"pre": "ip", "post": "jq"}[line]
        code.line("n = 0")
        with code.block("for b in range(batch):"):
            code.line(f"{samples}[{index}, n] = b", f"n += {event}")
        code.line(f"{hit} = n > 0")
        with code.block("if n > 0:"):
            if self.mode in ("quantile", "ordered"):
                self._fold_every_sample(code, loop, slot, term, event)
                return
            combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
            # the listed samples only; the first starts from the identity
            code.line(f"b = {samples}[{index}, 0]")
            loop.emit(code, f"{slot} = {combine}({self.identity()}, {term})")
            with code.block("for e in range(1, n):"):
                code.line(f"b = {samples}[{index}, e]")
                loop.emit(code, f"{slot} = {combine}({slot}, {term})")
            if self.mode == "idempotent":  # silent samples enter once, as a single 0
                with code.block("if n < batch:"):
                    loop.emit(code, f"{slot} = {combine}({slot}, REAL(0.0))")
            self.finish(code, loop, slot)

    def allocate_samples(self, code: Code) -> None:
        """The lists of samples with an event, one row per line, per term folded by events."""
        for line, size in (("pre", self.n_pre), ("post", self.n_post)):
            if line in self.terms:
                code.line(f"l{self.k}_{line}_samples = np.empty(({size}, batch), np.int64)")

    def fold_step(self, code: Code, loop: Loop, slot: str, state: dict[str, str], exprs: dict[str, str]) -> None:
        """``on_step`` of every sample for the slots of ``loop`` (a row), folded in sample order."""
        results = [state[var] for var in self.rule.spec.state] + ["term"]
        call = self.kernel_call("on_step", exprs | state)
        checks = self.state_checks(state)
        if self.mode == "quantile":
            self._quantile(code, loop, slot, [f"{', '.join(results)} = {call}", *checks, "values[b] = term"])
            return
        combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
        loop.emit(code, f"{slot} = {self.identity()}")
        with code.block("for b in range(batch):"), loop.each(code):
            code.line(f"{', '.join(results)} = {call}", *checks, f"{slot} = {combine}({slot}, term)")
        self.finish(code, loop, slot)

    def event_exprs(self, w: str) -> dict[str, str]:
        """Special arguments of the rule's kernels at sample ``b``, synapse (ip, jq)."""
        return {
            "w": w,
            "dt": "dt",
            "s_pre": f"{self.src}[b, ip]",
            "s_post": f"{self.tgt}[b, jq]",
        }


class DenseLearning(LearningCode):
    """A dense projection, in two parallel loops per step.

    1. Over blocks of BLOCK target columns: each target lists the samples in which it spiked
       (a branch-free scan: mispredicted branches cost more than the scan) and folds their
       ``on_post`` terms, in batch order, contiguously into a column-major buffer. A block in
       which more than one target in DENSE_COLUMNS spiked copies those columns into a
       row-major buffer: in BLOCK x BLOCK tiles with constant bounds when all did (unrolled
       and vectorised: half the cost of a strided copy), else column by column.
    2. Over source rows: the row folds its ``on_pre`` terms (contiguous) and applies. When its
       source spiked, or with ``on_step`` or a weight decay, or when more than one target in
       DENSE_COLUMNS spiked, it gathers the other blocks' spiking columns into the row-major
       buffer and runs over the whole row, keeping the weights no event touched with a select
       (vectorised); else it visits the spiking targets' columns only, reading them in place.
    """

    synapse = "ip, jq"

    def allocate(self, code: Code) -> None:
        k, rows = self.k, f"({self.n_pre}, {self.n_post})"
        for term in self.terms:
            shape = f"({self.n_post}, {self.n_pre})" if term == "post" else rows
            code.line(f"l{k}_{term} = np.empty({shape}, REAL)")
            if self.g.deferred and not self.g.hands_back:
                code.line(f"{self.work_total(term)} = np.zeros({rows}, REAL)")
        if "post" in self.terms:
            code.line(
                f"l{k}_post_rows = np.empty({rows}, REAL)",
                f"l{k}_col_hit = np.zeros({self.n_post}, np.uint8)",
                f"l{k}_cols = np.empty({self.n_post}, np.int64)",
                f"l{k}_partial_cols = np.empty({self.n_post}, np.int64)",
                f"l{k}_block_hits = np.zeros(({self.n_post} + {BLOCK - 1}) // {BLOCK}, np.int64)",
            )
        self.allocate_samples(code)
        for var, array in self.states.items():
            code.line(f"l{k}_{var}_3d = {array}.reshape((batch, {self.n_pre}, {self.n_post}))")

    def step(self, code: Code) -> None:
        k = self.k
        exprs = self.event_exprs(f"{self.w}[ip, jq]")
        row = Loop(f"for jq in range({self.n_post}):")
        if "post" in self.terms:
            self._fold_columns(code, self.kernel_call("on_post", exprs))
            # the blocks' lists of spiking targets, compacted in place; those not copied yet apart
            code.line("n_cols = 0", "n_partial = 0")
            with code.block(f"for block in range(l{k}_block_hits.shape[0]):"):
                code.line(f"copied = l{k}_block_hits[block] * {DENSE_COLUMNS} > {BLOCK}")
                with code.block(f"for c in range(block * {BLOCK}, block * {BLOCK} + l{k}_block_hits[block]):"):
                    code.line(f"l{k}_cols[n_cols] = l{k}_cols[c]", "n_cols += 1")
                    with code.block("if not copied:"):
                        code.line(f"l{k}_partial_cols[n_partial] = l{k}_cols[c]", "n_partial += 1")
            code.line(f"dense_columns = n_cols * {DENSE_COLUMNS} > {self.n_post}")
        with self.g.checked_prange(code, f"for ip in numba.prange({self.n_pre}):", self.step_checks()):
            code.line("pre_hit = False")
            if "pre" in self.terms:
                self.fold_line(code, "pre", f"{self.src}[b, ip]", row, f"l{k}_pre[ip, jq]", self.kernel_call("on_pre", exprs), "pre_hit")
            if "step" in self.terms:
                state = {var: f"l{k}_{var}_3d[b, ip, jq]" for var in self.states}
                self.fold_step(code, row, f"l{k}_step[ip, jq]", state, exprs)
            self._apply_row(code)

    def _fold_columns(self, code: Code, term: str) -> None:
        """The column loop: each target folds its ``on_post`` terms (``fold_line``); the
        block's folded columns are then copied into row order."""
        k, slot = self.k, f"l{self.k}_post[jq, ip]"
        with code.block(f"for block in numba.prange(({self.n_post} + {BLOCK - 1}) // {BLOCK}):"):
            code.line(f"j0 = block * {BLOCK}", f"j1 = min(j0 + {BLOCK}, {self.n_post})", "hits = 0")
            with code.block("for jq in range(j0, j1):"):
                column = Loop(f"for ip in range({self.n_pre}):")
                self.fold_line(code, "post", f"{self.tgt}[b, jq]", column, slot, term, f"l{k}_col_hit[jq]")
                with code.block("if n > 0:"):
                    code.line(f"l{k}_cols[j0 + hits] = jq", "hits += 1")
            self._copy_to_rows(code)

    def _copy_to_rows(self, code: Code) -> None:
        """A block with more than one spiking target in DENSE_COLUMNS copies their folded
        columns into ``post_rows`` (the rows gather the others' when they need them)."""
        k, post, rows = self.k, f"l{self.k}_post", f"l{self.k}_post_rows"
        code.line(f"l{k}_block_hits[block] = hits")
        with code.block(f"if hits == {BLOCK}:"):
            with code.block(f"for i0 in range(0, {self.n_pre} - {BLOCK - 1}, {BLOCK}):"):
                with code.block(f"for ii in range({BLOCK}):"), code.block(f"for jj in range({BLOCK}):"):
                    code.line(f"{rows}[i0 + ii, j0 + jj] = {post}[j0 + jj, i0 + ii]")
            with code.block(f"for ip in range({self.n_pre} - {self.n_pre} % {BLOCK}, {self.n_pre}):"):
                with code.block(f"for jj in range({BLOCK}):"):
                    code.line(f"{rows}[ip, j0 + jj] = {post}[j0 + jj, ip]")
        with code.block(f"elif hits * {DENSE_COLUMNS} > {BLOCK}:"):
            with code.block("for c in range(j0, j0 + hits):"):
                code.line(f"jq = l{k}_cols[c]")
                with code.block(f"for ip in range({self.n_pre}):"):
                    code.line(f"{rows}[ip, jq] = {post}[jq, ip]")

    def _values(self, whole_row: bool) -> list[str]:
        k, lines = self.k, []
        if "pre" in self.terms:
            lines.append(f"pre_value = l{k}_pre[ip, jq] if pre_hit else REAL(0.0)" if whole_row else "pre_value = REAL(0.0)")
        if "post" in self.terms:
            lines.append(f"post_value = l{k}_post_rows[ip, jq] if l{k}_col_hit[jq] else REAL(0.0)" if whole_row
                         else f"post_value = l{k}_post[jq, ip]")
        if "step" in self.terms:
            lines.append(f"step_value = l{k}_step[ip, jq]")
        return lines

    def _update(self, touched: str) -> list[str]:
        """Statements that apply (or, deferred, accumulate) the values of synapse (ip, jq);
        a synapse that ``touched`` says no event reached keeps its weight. (Deferred totals
        add 0 there: a total starts at +0 and so is never -0, and x + 0 == x bit for bit.)"""
        if self.g.deferred:
            return [self.add_to_total(t, "ip, jq") for t in self.terms]
        values = {t: f"{t}_value" for t in self.terms}
        if touched == "True":
            return self.store_weight(f"{self.w}[ip, jq]", self.new_weight(f"{self.w}[ip, jq]", values, None))
        new = self.new_weight("w_old", values, None)
        kept = self.store_weight(f"{self.w}[ip, jq]", f"w_new if {touched} else w_old")
        return [f"w_old = {self.w}[ip, jq]", f"w_new = {new}", *kept]

    def _apply_row(self, code: Code) -> None:
        """The whole row (vectorised, untouched weights kept by a select), or only the columns
        of the targets that spiked."""
        whole = ["True" if "step" in self.terms else "", "pre_hit" if "pre" in self.terms else "", f"{self.decay} != 0",
                 "dense_columns" if "post" in self.terms else ""]
        touched = "True"
        with code.block(f"if {' or '.join(c for c in whole if c)}:"):
            if "post" in self.terms:  # the spiking columns of blocks that did not copy themselves
                with code.block("for c in range(n_partial):"):
                    code.line(f"jq = l{self.k}_partial_cols[c]", f"l{self.k}_post_rows[ip, jq] = l{self.k}_post[jq, ip]")
            if "step" not in self.terms and "post" in self.terms:  # "|", not "or": no branch in the loop
                code.line(f"row_touched = pre_hit or {self.decay} != 0")
                touched = f"row_touched | (l{self.k}_col_hit[jq] != 0)"
            with code.block(f"for jq in range({self.n_post}):"):
                code.line(*self._values(True), *self._update(touched))
        if "post" in self.terms:
            with code.block("else:"), code.block("for c in range(n_cols):"):
                code.line(f"jq = l{self.k}_cols[c]", *self._values(False), *self._update("True"))

    def finish_deferred(self, code: Code) -> None:
        """End of a deferred run: every synapse takes ``apply`` with the summed terms."""
        terms = {t: f"{self.work_total(t)}[ip, jq]" for t in self.terms}
        weight = f"{self.w}[ip, jq]"
        rows = f"for ip in numba.prange({self.n_pre}):"
        with self.g.checked_prange(code, rows, [WeightsKey(self.proj.name)], end=True):
            with code.block(f"for jq in range({self.n_post}):"):
                code.line(*self.store_weight(weight, self.new_weight(weight, terms, "steps")))


class SparseLearning(LearningCode):
    """A sparse (CSR) projection, in up to three parallel loops per step; ``pre`` and ``step``
    terms are kept by synapse (CSR order: rows contiguous), ``post`` terms in CSC order
    (columns contiguous; ``csc_pos`` maps a synapse to its position there).

    1. Over target columns: each folds its ``on_post`` terms (``fold_line``).
    2. Over source rows: each folds its ``on_pre`` and ``on_step`` terms, and applies to all
       its synapses when its source spiked (or with ``on_step`` or a weight decay).
    3. Over the target columns that spiked: the synapses of the rows that did not apply in 2,
       so that the cost follows the events.
    """

    synapse = "syn"

    def allocate(self, code: Code) -> None:
        k = self.k
        for term in self.terms:
            code.line(f"l{k}_{term} = np.empty({self.w}.size, REAL)")
            if self.g.deferred and not self.g.hands_back:
                code.line(f"{self.work_total(term)} = np.zeros({self.w}.size, REAL)")
        code.line(f"l{k}_row_applied = np.zeros({self.n_pre}, np.bool_)")
        if "pre" in self.terms:
            code.line(f"l{k}_pre_hit = np.zeros({self.n_pre}, np.bool_)")
        if "post" in self.terms:
            code.line(f"l{k}_post_hit = np.zeros({self.n_post}, np.bool_)")
        self.allocate_samples(code)

    def _row(self) -> Loop:
        indptr, indices = self.g.connectivity(self.proj, "indptr"), self.g.connectivity(self.proj, "indices")
        return Loop(f"for syn in range({indptr}[ip], {indptr}[ip + 1]):", (f"jq = {indices}[syn]",))

    def _column(self) -> Loop:
        col_ptr, col_syn, col_row = (self.g.connectivity(self.proj, name) for name in ("col_ptr", "col_syn", "col_row"))
        return Loop(f"for c in range({col_ptr}[jq], {col_ptr}[jq + 1]):", (f"syn = {col_syn}[c]", f"ip = {col_row}[c]"))

    def step(self, code: Code) -> None:
        k = self.k
        exprs = self.event_exprs(f"{self.w}[syn]")
        if "post" in self.terms:
            with code.block(f"for jq in numba.prange({self.n_post}):"):
                self.fold_line(code, "post", f"{self.tgt}[b, jq]", self._column(), f"l{k}_post[c]", self.kernel_call("on_post", exprs), f"l{k}_post_hit[jq]")
        with self.g.checked_prange(code, f"for ip in numba.prange({self.n_pre}):", self.step_checks()):
            if "pre" in self.terms:
                self.fold_line(code, "pre", f"{self.src}[b, ip]", self._row(), f"l{k}_pre[syn]", self.kernel_call("on_pre", exprs), f"l{k}_pre_hit[ip]")
            if "step" in self.terms:
                state = {var: f"{array}[b, syn]" for var, array in self.states.items()}
                self.fold_step(code, self._row(), f"l{k}_step[syn]", state, exprs)
            whole = ["True" if "step" in self.terms else "", f"l{k}_pre_hit[ip]" if "pre" in self.terms else "", f"{self.decay} != 0"]
            code.line(f"l{k}_row_applied[ip] = {' or '.join(c for c in whole if c)}")
            with code.block(f"if l{k}_row_applied[ip]:"), self._row().each(code):
                values = {
                    "pre": f"pre_value = l{k}_pre[syn] if l{k}_pre_hit[ip] else REAL(0.0)",
                    "post": f"post_value = l{k}_post[{self.g.connectivity(self.proj, 'csc_pos')}[syn]] if l{k}_post_hit[jq] else REAL(0.0)",
                    "step": f"step_value = l{k}_step[syn]",
                }
                code.line(*(values[t] for t in self.terms))
                self._update(code)
        if "post" in self.terms and "step" not in self.terms:  # with on_step every row applied
            column = self._column()
            with self.g.checked_prange(code, f"for jq in numba.prange({self.n_post}):", self.weight_checks()):
                with code.block(f"if l{k}_post_hit[jq]:"), column.each(code), code.block(f"if not l{k}_row_applied[ip]:"):
                    code.line(*(["pre_value = REAL(0.0)"] if "pre" in self.terms else []), f"post_value = l{k}_post[c]")
                    self._update(code)

    def _update(self, code: Code) -> None:
        """Apply the values of synapse ``syn`` (deferred: add them to the run's totals)."""
        if self.g.deferred:
            code.line(*(self.add_to_total(t, "syn") for t in self.terms))
        else:
            weight = f"{self.w}[syn]"
            code.line(*self.store_weight(weight, self.new_weight(weight, {t: f"{t}_value" for t in self.terms}, None)))

    def finish_deferred(self, code: Code) -> None:
        """End of a deferred run: every synapse takes ``apply`` with the summed terms."""
        terms = {t: f"{self.work_total(t)}[syn]" for t in self.terms}
        weight = f"{self.w}[syn]"
        rows = f"for ip in numba.prange({self.n_pre}):"
        with self.g.checked_prange(code, rows, [WeightsKey(self.proj.name)], end=True):
            with self._row().each(code):
                code.line(*self.store_weight(weight, self.new_weight(weight, terms, "steps")))
