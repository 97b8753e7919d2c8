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
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod

from pysnn.plan import BoundPlugin, ProjectionPlan
from pysnn.plugin import Reduction

BLOCK = 16
"""Target columns per task of a dense projection's column loop (and side of its copy tiles)."""
DENSE_COLUMNS = 8
"""A dense projection applies whole rows once more than one target in this many spiked."""


def literal(value: float) -> str:
    """``value`` as source text that converts exactly (``REAL(...)`` rounds once, like NumPy)."""
    if value == float("inf"):
        return "np.inf"
    if value == float("-inf"):
        return "-np.inf"
    return repr(float(value))


def _each_slot(code, depth: int, loop: tuple[str, list[str]], text: str) -> None:
    """``text`` inside ``loop`` = (header, statements that start each iteration)."""
    header, prelude = loop
    code(depth, header)
    for statement in [*prelude, text]:
        code(depth + 1, statement)


def learning_code(g, proj: ProjectionPlan) -> "LearningCode":
    return DenseLearning(g, proj) if proj.kind == "dense" else SparseLearning(g, proj)


class LearningCode(ABC):
    """Emits the learning code of one learned projection through the code generator ``g``."""

    def __init__(self, g, proj: ProjectionPlan) -> None:
        self.g, self.proj, self.k = g, proj, proj.index
        self.rule: BoundPlugin = proj.learning.rule
        self.reduction: BoundPlugin = proj.learning.reduction
        self.cls = self.reduction.spec.cls
        self.mode = "quantile" if self.cls.quantile is not None else self.cls.zero
        self.source = g.plan.populations[proj.source]
        self.target = g.plan.populations[proj.target]
        self.src, self.tgt = g.output(self.source), g.output(self.target)
        self.w = g.arg(f"k{self.k}_w", ("state", ("weights", proj.name)))
        self.terms = proj.learning.terms
        self.decay = g.arg(f"l{self.k}_decay", ("learning", self.k, "weight_decay"))
        self.wmin = g.arg(f"l{self.k}_wmin", ("learning", self.k, "wmin"))
        self.wmax = g.arg(f"l{self.k}_wmax", ("learning", self.k, "wmax"))
        self.n_pre, self.n_post = f"{self.src}.shape[1]", f"{self.tgt}.shape[1]"
        self.states = {var: g.arg(f"l{self.k}_{var}", ("state", ("rule", proj.name, var))) for var in self.rule.spec.state}

    # -- pieces -----------------------------------------------------------------------------------

    @abstractmethod
    def allocate(self, code, d: int) -> None:
        """Buffers, before the loop over steps."""

    @abstractmethod
    def step(self, code, d: int) -> None:
        """The learning phase of a step, after the samples ran."""

    @abstractmethod
    def finish_deferred(self, code, d: int) -> None:
        """After the last step of a deferred run."""

    def kernel_call(self, kernel: str, exprs: dict[str, str]) -> str:
        """Call of a rule kernel with the special-argument expressions it reads."""
        used = set(self.rule.args(kernel))
        if "x_pre" in used:
            self.g.trace(self.source)
        if "x_post" in used:
            self.g.trace(self.target)
        special = {a: e for a, e in exprs.items() if a in used}
        if "reward" in used:
            special["reward"] = self.g.reward_expr()
        return self.g.call_kernel(f"l{self.k}", ("rule", self.k), self.rule, kernel, special, {})

    def finish(self) -> str | None:
        """The ``finish`` kernel, or None where the reduction keeps the default (``acc``)."""
        default = inspect.getattr_static(self.cls, "finish") is inspect.getattr_static(Reduction, "finish")
        return None if default else self.g.kernel(f"l{self.k}_finish", self.reduction, "finish")

    def _quantile(self, code, d: int, loop: tuple[str, list[str]], slot: str, per_sample: list[str]) -> None:
        """Each slot of ``loop`` takes the reduction's quantile of the B values that the
        statements ``per_sample`` put in ``values[b]`` (a buffer, and the positions of the two
        values around the quantile, set up before the loop)."""
        q = literal(self.cls.quantile)
        code(d, "values = np.empty(batch, REAL)")
        code(d, f"lo = int(np.floor({q} * (batch - 1)))")
        code(d, f"hi = int(np.ceil({q} * (batch - 1)))")
        select = self.g.kernel(f"l{self.k}_select", self.reduction, "select")
        header, prelude = loop
        code(d, header)
        for statement in prelude:
            code(d + 1, statement)
        code(d + 1, "for b in range(batch):")
        for statement in per_sample:
            code(d + 2, statement)
        code(d + 1, "values.sort()")
        code(d + 1, f"{slot} = {select}(values[lo], values[hi])")

    def identity(self) -> str:
        return f"REAL({literal(self.cls.identity)})"

    def new_weight(self, w: str, terms: dict[str, str], repeats: str | None) -> str:
        """The new weight: ``apply``, decay (``repeats`` times; once if None), bounds."""
        call = self.g.call_kernel(f"l{self.k}", ("rule", self.k), self.rule, "apply", {"w": w, "dt": "dt", **terms}, {})
        if repeats is None:
            return f"bounded_once({call}, {self.decay}, {self.wmin}, {self.wmax})"
        return f"bounded({call}, {self.decay}, {repeats}, {self.wmin}, {self.wmax})"

    def _fold_every_sample(self, code, d: int, loop: tuple[str, list[str]], slot: str, term: str, event: str) -> None:
        """``quantile`` and ``ordered`` modes: every sample's term in batch order, 0 where the
        sample had no ``event`` (sorted and selected, or folded, then ``finish``)."""
        if self.mode == "quantile":
            self._quantile(code, d, loop, slot, [f"values[b] = {term} if {event} else REAL(0.0)"])
            return
        combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
        _each_slot(code, d, loop, f"{slot} = {self.identity()}")
        code(d, "for b in range(batch):")
        _each_slot(code, d + 1, loop, f"{slot} = {combine}({slot}, {term} if {event} else REAL(0.0))")
        finish = self.finish()
        if finish is not None:
            _each_slot(code, d, loop, f"{slot} = {finish}({slot}, REAL(batch))")

    def fold_line(self, code, d: int, line: str, event: str, loop: tuple[str, list[str]], slot: str, term: str, hit: str) -> None:
        """Fold the terms of one line (a source row for ``on_pre``, a target column for
        ``on_post``; ``line`` names its buffer ``l{k}_{line}_samples`` and index variable) over
        the samples that had ``event``, in batch order, per the reduction's mode.

        The line first lists those samples with a branch-free scan (mispredicted branches cost
        more than the scan) and sets ``hit`` to whether there was one. ``loop`` is (header,
        statements) of the loop over the line's slots."""
        samples, index = f"l{self.k}_{line}_samples", {"pre": "ip", "post": "jq"}[line]

        def each_slot(depth: int, text: str) -> None:
            _each_slot(code, depth, loop, text)

        code(d, "n = 0")
        code(d, "for b in range(batch):")
        code(d + 1, f"{samples}[{index}, n] = b")
        code(d + 1, f"n += {event}")
        code(d, f"{hit} = n > 0")
        code(d, "if n > 0:")
        d += 1
        if self.mode in ("quantile", "ordered"):
            self._fold_every_sample(code, d, loop, slot, term, event)
            return
        combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
        # the listed samples only; the first starts from the identity
        code(d, f"b = {samples}[{index}, 0]")
        each_slot(d, f"{slot} = {combine}({self.identity()}, {term})")
        code(d, "for e in range(1, n):")
        code(d + 1, f"b = {samples}[{index}, e]")
        each_slot(d + 1, f"{slot} = {combine}({slot}, {term})")
        if self.mode == "idempotent":  # silent samples enter once, as a single 0
            code(d, "if n < batch:")
            each_slot(d + 1, f"{slot} = {combine}({slot}, REAL(0.0))")
        finish = self.finish()
        if finish is not None:
            each_slot(d, f"{slot} = {finish}({slot}, REAL(batch))")

    def allocate_samples(self, code, d: int) -> None:
        """The lists of samples with an event, one row per line, per term folded by events."""
        for line, size in (("pre", self.n_pre), ("post", self.n_post)):
            if line in self.terms:
                code(d, f"l{self.k}_{line}_samples = np.empty(({size}, batch), np.int64)")

    def fold_step(self, code, d: int, loop: tuple[str, list[str]], slot: str, state: dict[str, str], exprs: dict[str, str]) -> None:
        """``on_step`` of every sample for the slots of ``loop`` (a row), folded in sample order."""
        results = [state[var] for var in self.rule.spec.state] + ["term"]
        call = self.kernel_call("on_step", exprs | state)
        header, prelude = loop
        if self.mode == "quantile":
            self._quantile(code, d, loop, slot, [f"{', '.join(results)} = {call}", "values[b] = term"])
            return
        combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
        code(d, header)
        for statement in [*prelude, f"{slot} = {self.identity()}"]:
            code(d + 1, statement)
        code(d, "for b in range(batch):")
        code(d + 1, header)
        for statement in [*prelude, f"{', '.join(results)} = {call}", f"{slot} = {combine}({slot}, term)"]:
            code(d + 2, statement)
        finish = self.finish()
        if finish is not None:
            code(d, header)
            for statement in [*prelude, f"{slot} = {finish}({slot}, REAL(batch))"]:
                code(d + 1, statement)

    def event_exprs(self, w: str) -> dict[str, str]:
        """Special arguments of the rule's kernels at sample ``b``, synapse (ip, jq)."""
        return {
            "w": w,
            "dt": "dt",
            "x_pre": f"p{self.source.index}_trace[b, ip]",
            "x_post": f"p{self.target.index}_trace[b, jq]",
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

    def allocate(self, code, d: int) -> None:
        k, rows = self.k, f"({self.n_pre}, {self.n_post})"
        for term in self.terms:
            shape = f"({self.n_post}, {self.n_pre})" if term == "post" else rows
            code(d, f"l{k}_{term} = np.empty({shape}, REAL)")
            code(d, f"l{k}_total_{term} = np.zeros(({self.n_pre} if deferred else 0, {self.n_post}), REAL)")
        if "post" in self.terms:
            code(d, f"l{k}_post_rows = np.empty({rows}, REAL)")
            code(d, f"l{k}_col_hit = np.zeros({self.n_post}, np.uint8)")
            code(d, f"l{k}_cols = np.empty({self.n_post}, np.int64)")
            code(d, f"l{k}_partial_cols = np.empty({self.n_post}, np.int64)")
            code(d, f"l{k}_block_hits = np.zeros(({self.n_post} + {BLOCK - 1}) // {BLOCK}, np.int64)")
        self.allocate_samples(code, d)
        for var, array in self.states.items():
            code(d, f"l{k}_{var}_3d = {array}.reshape((batch, {self.n_pre}, {self.n_post}))")

    def step(self, code, d: int) -> None:
        k = self.k
        exprs = self.event_exprs(f"{self.w}[ip, jq]")
        if "post" in self.terms:
            self._fold_columns(code, d, self.kernel_call("on_post", exprs))
            # the blocks' lists of spiking targets, compacted in place; those not copied yet apart
            code(d, "n_cols = 0")
            code(d, "n_partial = 0")
            code(d, f"for block in range(l{k}_block_hits.shape[0]):")
            code(d + 1, f"copied = l{k}_block_hits[block] * {DENSE_COLUMNS} > {BLOCK}")
            code(d + 1, f"for c in range(block * {BLOCK}, block * {BLOCK} + l{k}_block_hits[block]):")
            code(d + 2, f"l{k}_cols[n_cols] = l{k}_cols[c]")
            code(d + 2, "n_cols += 1")
            code(d + 2, "if not copied:")
            code(d + 3, f"l{k}_partial_cols[n_partial] = l{k}_cols[c]")
            code(d + 3, "n_partial += 1")
            code(d, f"dense_columns = n_cols * {DENSE_COLUMNS} > {self.n_post}")
        code(d, f"for ip in numba.prange({self.n_pre}):")
        d += 1
        code(d, "pre_hit = False")
        if "pre" in self.terms:
            loop = (f"for jq in range({self.n_post}):", [])
            self.fold_line(code, d, "pre", f"{self.src}[b, ip]", loop, f"l{k}_pre[ip, jq]", self.kernel_call("on_pre", exprs), "pre_hit")
        if "step" in self.terms:
            state = {var: f"l{k}_{var}_3d[b, ip, jq]" for var in self.states}
            self.fold_step(code, d, (f"for jq in range({self.n_post}):", []), f"l{k}_step[ip, jq]", state, exprs)
        code(d, "if deferred:")
        self._apply_row(code, d + 1, deferred=True)
        code(d, "else:")
        self._apply_row(code, d + 1, deferred=False)

    def _fold_columns(self, code, d: int, term: str) -> None:
        """The column loop: each target folds its ``on_post`` terms (``fold_line``); the
        block's folded columns are then copied into row order."""
        k, slot = self.k, f"l{self.k}_post[jq, ip]"
        rows = f"for ip in range({self.n_pre}):"
        code(d, f"for block in numba.prange(({self.n_post} + {BLOCK - 1}) // {BLOCK}):")
        code(d + 1, f"j0 = block * {BLOCK}")
        code(d + 1, f"j1 = min(j0 + {BLOCK}, {self.n_post})")
        code(d + 1, "hits = 0")
        code(d + 1, "for jq in range(j0, j1):")
        d += 2
        self.fold_line(code, d, "post", f"{self.tgt}[b, jq]", (rows, []), slot, term, f"l{k}_col_hit[jq]")
        code(d, "if n > 0:")
        code(d + 1, f"l{k}_cols[j0 + hits] = jq")
        code(d + 1, "hits += 1")
        self._copy_to_rows(code, d - 1)

    def _copy_to_rows(self, code, d: int) -> None:
        """A block with more than one spiking target in DENSE_COLUMNS copies their folded
        columns into ``post_rows`` (the rows gather the others' when they need them)."""
        k, post, rows = self.k, f"l{self.k}_post", f"l{self.k}_post_rows"
        code(d, f"l{k}_block_hits[block] = hits")
        code(d, f"if hits == {BLOCK}:")
        code(d + 1, f"for i0 in range(0, {self.n_pre} - {BLOCK - 1}, {BLOCK}):")
        code(d + 2, f"for ii in range({BLOCK}):")
        code(d + 3, f"for jj in range({BLOCK}):")
        code(d + 4, f"{rows}[i0 + ii, j0 + jj] = {post}[j0 + jj, i0 + ii]")
        code(d + 1, f"for ip in range({self.n_pre} - {self.n_pre} % {BLOCK}, {self.n_pre}):")
        code(d + 2, f"for jj in range({BLOCK}):")
        code(d + 3, f"{rows}[ip, j0 + jj] = {post}[j0 + jj, ip]")
        code(d, f"elif hits * {DENSE_COLUMNS} > {BLOCK}:")
        code(d + 1, "for c in range(j0, j0 + hits):")
        code(d + 2, f"jq = l{k}_cols[c]")
        code(d + 2, f"for ip in range({self.n_pre}):")
        code(d + 3, f"{rows}[ip, jq] = {post}[jq, ip]")

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

    def _update(self, deferred: bool, touched: str) -> list[str]:
        """Statements that apply (or, deferred, accumulate) the values of synapse (ip, jq);
        a synapse that ``touched`` says no event reached keeps its weight. (Deferred totals
        add 0 there: a total starts at +0 and so is never -0, and x + 0 == x bit for bit.)"""
        if deferred:
            return [f"l{self.k}_total_{t}[ip, jq] += {t}_value" for t in self.terms]
        values = {t: f"{t}_value" for t in self.terms}
        if touched == "True":
            return [f"{self.w}[ip, jq] = {self.new_weight(f'{self.w}[ip, jq]', values, None)}"]
        new = self.new_weight("w_old", values, None)
        return [f"w_old = {self.w}[ip, jq]", f"w_new = {new}", f"{self.w}[ip, jq] = w_new if {touched} else w_old"]

    def _apply_row(self, code, d: int, deferred: bool) -> None:
        """The whole row (vectorised, untouched weights kept by a select), or only the columns
        of the targets that spiked."""
        whole = ["True" if "step" in self.terms else "", "pre_hit" if "pre" in self.terms else "", f"{self.decay} != 0",
                 "dense_columns" if "post" in self.terms else ""]
        touched = "True"
        code(d, f"if {' or '.join(c for c in whole if c)}:")
        if "post" in self.terms:  # the spiking columns of blocks that did not copy themselves
            code(d + 1, "for c in range(n_partial):")
            code(d + 2, f"jq = l{self.k}_partial_cols[c]")
            code(d + 2, f"l{self.k}_post_rows[ip, jq] = l{self.k}_post[jq, ip]")
        if "step" not in self.terms and "post" in self.terms:  # "|", not "or": no branch in the loop
            code(d + 1, f"row_touched = pre_hit or {self.decay} != 0")
            touched = f"row_touched | (l{self.k}_col_hit[jq] != 0)"
        code(d + 1, f"for jq in range({self.n_post}):")
        for text in self._values(True) + self._update(deferred, touched):
            code(d + 2, text)
        if "post" in self.terms:
            code(d, "else:")
            code(d + 1, "for c in range(n_cols):")
            code(d + 2, f"jq = l{self.k}_cols[c]")
            for text in self._values(False) + self._update(deferred, "True"):
                code(d + 2, text)

    def finish_deferred(self, code, d: int) -> None:
        """End of a deferred run: every synapse takes ``apply`` with the summed terms."""
        terms = {t: f"l{self.k}_total_{t}[ip, jq]" for t in self.terms}
        code(d, f"for ip in numba.prange({self.n_pre}):")
        code(d + 1, f"for jq in range({self.n_post}):")
        code(d + 2, f"{self.w}[ip, jq] = {self.new_weight(f'{self.w}[ip, jq]', terms, 'steps')}")


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

    def allocate(self, code, d: int) -> None:
        k = self.k
        for term in self.terms:
            code(d, f"l{k}_{term} = np.empty({self.w}.size, REAL)")
            code(d, f"l{k}_total_{term} = np.zeros({self.w}.size if deferred else 0, REAL)")
        code(d, f"l{k}_row_applied = np.zeros({self.n_pre}, np.bool_)")
        if "pre" in self.terms:
            code(d, f"l{k}_pre_hit = np.zeros({self.n_pre}, np.bool_)")
        if "post" in self.terms:
            code(d, f"l{k}_post_hit = np.zeros({self.n_post}, np.bool_)")
        self.allocate_samples(code, d)

    def _row(self) -> tuple[str, list[str]]:
        indptr = self.g.arg(f"k{self.k}_indptr", ("static", self.k, "indptr"))
        indices = self.g.arg(f"k{self.k}_indices", ("static", self.k, "indices"))
        return f"for syn in range({indptr}[ip], {indptr}[ip + 1]):", [f"jq = {indices}[syn]"]

    def _column(self) -> tuple[str, list[str]]:
        col_ptr = self.g.arg(f"k{self.k}_col_ptr", ("static", self.k, "col_ptr"))
        col_syn = self.g.arg(f"k{self.k}_col_syn", ("static", self.k, "col_syn"))
        col_row = self.g.arg(f"k{self.k}_col_row", ("static", self.k, "col_row"))
        return f"for c in range({col_ptr}[jq], {col_ptr}[jq + 1]):", [f"syn = {col_syn}[c]", f"ip = {col_row}[c]"]

    def step(self, code, d: int) -> None:
        k = self.k
        exprs = self.event_exprs(f"{self.w}[syn]")
        if "post" in self.terms:
            code(d, f"for jq in numba.prange({self.n_post}):")
            self.fold_line(code, d + 1, "post", f"{self.tgt}[b, jq]", self._column(), f"l{k}_post[c]", self.kernel_call("on_post", exprs), f"l{k}_post_hit[jq]")
        code(d, f"for ip in numba.prange({self.n_pre}):")
        if "pre" in self.terms:
            self.fold_line(code, d + 1, "pre", f"{self.src}[b, ip]", self._row(), f"l{k}_pre[syn]", self.kernel_call("on_pre", exprs), f"l{k}_pre_hit[ip]")
        if "step" in self.terms:
            state = {var: f"{array}[b, syn]" for var, array in self.states.items()}
            self.fold_step(code, d + 1, self._row(), f"l{k}_step[syn]", state, exprs)
        whole = ["True" if "step" in self.terms else "", f"l{k}_pre_hit[ip]" if "pre" in self.terms else "", f"{self.decay} != 0"]
        code(d + 1, f"l{k}_row_applied[ip] = {' or '.join(c for c in whole if c)}")
        code(d + 1, f"if l{k}_row_applied[ip]:")
        header, prelude = self._row()
        code(d + 2, header)
        values = {
            "pre": f"pre_value = l{k}_pre[syn] if l{k}_pre_hit[ip] else REAL(0.0)",
            "post": f"post_value = l{k}_post[{self.g.arg(f'k{k}_csc_pos', ('static', k, 'csc_pos'))}[syn]] if l{k}_post_hit[jq] else REAL(0.0)",
            "step": f"step_value = l{k}_step[syn]",
        }
        for text in [*prelude, *(values[t] for t in self.terms)]:
            code(d + 3, text)
        self._update(code, d + 3)
        if "post" in self.terms and "step" not in self.terms:  # with on_step every row applied
            header, prelude = self._column()
            code(d, f"for jq in numba.prange({self.n_post}):")
            code(d + 1, f"if l{k}_post_hit[jq]:")
            code(d + 2, header)
            for text in prelude:
                code(d + 3, text)
            code(d + 3, f"if not l{k}_row_applied[ip]:")
            for text in (["pre_value = REAL(0.0)"] if "pre" in self.terms else []) + [f"post_value = l{k}_post[c]"]:
                code(d + 4, text)
            self._update(code, d + 4)

    def _update(self, code, d: int) -> None:
        """Apply the values of synapse ``syn`` (deferred: add them to the run's totals)."""
        code(d, "if deferred:")
        for t in self.terms:
            code(d + 1, f"l{self.k}_total_{t}[syn] += {t}_value")
        code(d, "else:")
        code(d + 1, f"{self.w}[syn] = {self.new_weight(f'{self.w}[syn]', {t: f'{t}_value' for t in self.terms}, None)}")

    def finish_deferred(self, code, d: int) -> None:
        """End of a deferred run: every synapse takes ``apply`` with the summed terms."""
        terms = {t: f"l{self.k}_total_{t}[syn]" for t in self.terms}
        header, prelude = self._row()
        code(d, f"for ip in numba.prange({self.n_pre}):")
        code(d + 1, header)
        for text in [*prelude, f"{self.w}[syn] = {self.new_weight(f'{self.w}[syn]', terms, 'steps')}"]:
            code(d + 2, text)
