"""Generated code of the learning phase of a step (see ``pysnn_numpy.backend`` for semantics).

For each learned projection, after the samples of a step ran: the rule's terms are reduced over
the batch per synapse, then applied (or, deferred, summed for the end of the run). Events are
visited per *line*: a source neuron's row for ``on_pre``, a target neuron's column for
``on_post``; lines run in parallel, and within a line the samples are folded in batch order,
which makes the result independent of the thread count and equal to the NumPy reference.

Buffers of projection ``k``: ``l{k}_pre`` (synapse order) and ``l{k}_pre_hit`` (per source),
``l{k}_post`` (dense: column-major, so a column's fold is contiguous; sparse: synapse order) and
``l{k}_post_hit`` (per target), ``l{k}_step`` (synapse order), and the deferred totals
``l{k}_total_<term>`` (synapse order; empty unless deferred).
"""

from __future__ import annotations

from dataclasses import dataclass

from pysnn.plan import BoundPlugin, ProjectionPlan

TERMS = {"on_pre": "pre", "on_post": "post", "on_step": "step"}


def literal(value: float) -> str:
    """``value`` as source text that converts exactly (``REAL(...)`` rounds once, like NumPy)."""
    if value == float("inf"):
        return "np.inf"
    if value == float("-inf"):
        return "-np.inf"
    return repr(float(value))


@dataclass(frozen=True)
class _Line:
    """How to visit the synapses of one line (a source row or a target column)."""

    count: str  # number of lines
    event: str  # does sample b have the line's event
    loop: list[str]  # header lines of the loop over the line's synapses (defining syn, ip, jq, slot)


class LearningCode:
    """Emits the learning code of one learned projection through a code generator ``g``."""

    def __init__(self, g, proj: ProjectionPlan) -> None:
        self.g, self.proj, self.k = g, proj, proj.index
        self.rule: BoundPlugin = proj.learning.rule
        self.reduction: BoundPlugin = proj.learning.reduction
        self.source = g.plan.populations[proj.source]
        self.target = g.plan.populations[proj.target]
        self.src, self.tgt = g.output(self.source), g.output(self.target)
        self.w = g.arg(f"k{self.k}_w", ("state", ("weights", proj.name)))
        self.dense = proj.kind == "dense"
        self.terms = [TERMS[k] for k in TERMS if k in self.rule.kernels]
        if not self.dense:
            self.indptr = g.arg(f"k{self.k}_indptr", ("static", self.k, "indptr"))
            self.indices = g.arg(f"k{self.k}_indices", ("static", self.k, "indices"))
        self.decay = g.arg(f"l{self.k}_decay", ("learning", self.k, "weight_decay"))
        self.wmin = g.arg(f"l{self.k}_wmin", ("learning", self.k, "wmin"))
        self.wmax = g.arg(f"l{self.k}_wmax", ("learning", self.k, "wmax"))

    # -- shapes and names -------------------------------------------------------------------------

    @property
    def n_pre(self) -> str:
        return f"{self.src}.shape[1]"

    @property
    def n_post(self) -> str:
        return f"{self.tgt}.shape[1]"

    def buffer(self, term: str) -> str:
        return f"l{self.k}_{term}"

    def allocate(self, code, d: int) -> None:
        n_syn = f"{self.w}.size"
        for term in self.terms:
            code(d, f"{self.buffer(term)} = np.empty({n_syn}, REAL)")
            code(d, f"l{self.k}_total_{term} = np.zeros({n_syn} if deferred else 0, REAL)")
        for term, n in (("pre", self.n_pre), ("post", self.n_post)):
            if term in self.terms:
                code(d, f"{self.buffer(term)}_hit = np.zeros({n}, np.bool_)")

    def _weight(self) -> str:
        return f"{self.w}[ip, jq]" if self.dense else f"{self.w}[syn]"

    def _kernel_call(self, kernel: str, extra: dict[str, str] | None = None) -> str:
        exprs = {
            "w": self._weight,
            "dt": lambda: "dt",
            "x_pre": lambda: f"{self.g.trace(self.source)}[b, ip]",
            "x_post": lambda: f"{self.g.trace(self.target)}[b, jq]",
            "reward": self.g.reward_expr,
            "s_pre": lambda: f"{self.src}[b, ip]",
            "s_post": lambda: f"{self.tgt}[b, jq]",
        }
        special = {a: exprs[a]() for a in self.rule.args(kernel) if a in exprs} | (extra or {})
        return self.g.call_kernel(f"l{self.k}", ("rule", self.k), self.rule, kernel, special, {})

    def _line(self, term: str) -> _Line:
        if term == "pre":
            if self.dense:
                loop = [f"for jq in range({self.n_post}):", "    syn = row + jq", "    slot = syn"]
            else:
                loop = [f"for syn in range({self.indptr}[ip], {self.indptr}[ip + 1]):", f"    jq = {self.indices}[syn]", "    slot = syn"]
            return _Line(self.n_pre, f"{self.src}[b, ip]", loop)
        if self.dense:
            loop = [f"for ip in range({self.n_pre}):", f"    syn = ip * {self.n_post} + jq", f"    slot = jq * {self.n_pre} + ip"]
        else:
            col_ptr = self.g.arg(f"k{self.k}_col_ptr", ("static", self.k, "col_ptr"))
            col_syn = self.g.arg(f"k{self.k}_col_syn", ("static", self.k, "col_syn"))
            syn_row = self.g.arg(f"k{self.k}_syn_row", ("static", self.k, "syn_row"))
            loop = [f"for c in range({col_ptr}[jq], {col_ptr}[jq + 1]):", f"    syn = {col_syn}[c]", f"    ip = {syn_row}[syn]", "    slot = syn"]
        return _Line(self.n_post, f"{self.tgt}[b, jq]", loop)

    # -- the phase of one step ------------------------------------------------------------------

    def step(self, code, d: int) -> None:
        for kernel, term in TERMS.items():
            if kernel in self.rule.kernels:
                if term == "step":
                    self.fold_dense_step(code, d)
                else:
                    self.fold_events(code, d, kernel, term)
        self.apply(code, d)

    def fold_events(self, code, d: int, kernel: str, term: str) -> None:
        """Reduce the event terms of every line; lines of no event get ``hit`` False."""
        line, buffer = self._line(term), self.buffer(term)
        index = "ip" if term == "pre" else "jq"
        mode = "quantile" if self.reduction.spec.cls.quantile is not None else self.reduction.spec.cls.zero
        code(d, f"for {index} in numba.prange({line.count}):")
        if self.dense and term == "pre":
            code(d + 1, f"row = ip * {self.n_post}")
        code(d + 1, "hit = False")
        code(d + 1, "for b in range(batch):")
        code(d + 2, f"if {line.event}:")
        code(d + 3, "hit = True")
        if mode == "identity" or mode == "idempotent":
            code(d + 3, "break")
        code(d + 1, f"{buffer}_hit[{index}] = hit")
        code(d + 1, "if not hit:")
        code(d + 2, "continue")
        if mode == "quantile":
            self._fold_quantile(code, d + 1, kernel, line, buffer)
            return
        combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
        finish = self.g.kernel(f"l{self.k}_finish", self.reduction, "finish")
        self._loop(code, d + 1, line, [f"{buffer}[slot] = REAL({literal(self.reduction.spec.cls.identity)})"])
        code(d + 1, "events = 0")
        code(d + 1, "for b in range(batch):")
        code(d + 2, f"if {line.event}:")
        code(d + 3, "events += 1")
        self._loop(code, d + 3, line, [f"{buffer}[slot] = {combine}({buffer}[slot], {self._kernel_call(kernel)})"])
        if mode == "ordered":
            code(d + 2, "else:")
            self._loop(code, d + 3, line, [f"{buffer}[slot] = {combine}({buffer}[slot], REAL(0.0))"])
        if mode == "idempotent":
            code(d + 1, "if events < batch:")
            self._loop(code, d + 2, line, [f"{buffer}[slot] = {combine}({buffer}[slot], REAL(0.0))"])
        self._loop(code, d + 1, line, [f"{buffer}[slot] = {finish}({buffer}[slot], REAL(batch))"])

    def _fold_quantile(self, code, d: int, kernel: str, line: _Line, buffer: str) -> None:
        select = self.g.kernel(f"l{self.k}_select", self.reduction, "select")
        quantile = literal(self.reduction.spec.cls.quantile)
        code(d, "values = np.empty(batch, REAL)")
        code(d, f"lo = int(np.floor({quantile} * (batch - 1)))")
        code(d, f"hi = int(np.ceil({quantile} * (batch - 1)))")
        self._loop(code, d, line, [
            "for b in range(batch):",
            f"    values[b] = {self._kernel_call(kernel)} if {line.event} else REAL(0.0)",
            "values.sort()",
            f"{buffer}[slot] = {select}(values[lo], values[hi])",
        ])

    def fold_dense_step(self, code, d: int) -> None:
        """``on_step`` for every synapse and sample, reduced over the batch (row by row)."""
        buffer = self.buffer("step")
        states = list(self.rule.spec.state)
        arrays = {var: self.g.arg(f"l{self.k}_{var}", ("state", ("rule", self.proj.name, var))) for var in states}
        results = [f"{arrays[var]}[b, syn]" for var in states] + ["term"]
        call = self._kernel_call("on_step", {var: f"{arrays[var]}[b, syn]" for var in states})
        line = self._line("pre")
        code(d, f"for ip in numba.prange({self.n_pre}):")
        if self.dense:
            code(d + 1, f"row = ip * {self.n_post}")
        if self.reduction.spec.cls.quantile is not None:
            select = self.g.kernel(f"l{self.k}_select", self.reduction, "select")
            quantile = literal(self.reduction.spec.cls.quantile)
            code(d + 1, "values = np.empty(batch, REAL)")
            code(d + 1, f"lo = int(np.floor({quantile} * (batch - 1)))")
            code(d + 1, f"hi = int(np.ceil({quantile} * (batch - 1)))")
            self._loop(code, d + 1, line, [
                "for b in range(batch):",
                f"    {', '.join(results)} = {call}",
                "    values[b] = term",
                "values.sort()",
                f"{buffer}[slot] = {select}(values[lo], values[hi])",
            ])
            return
        combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
        finish = self.g.kernel(f"l{self.k}_finish", self.reduction, "finish")
        self._loop(code, d + 1, line, [f"{buffer}[slot] = REAL({literal(self.reduction.spec.cls.identity)})"])
        code(d + 1, "for b in range(batch):")
        self._loop(code, d + 2, line, [f"{', '.join(results)} = {call}", f"{buffer}[slot] = {combine}({buffer}[slot], term)"])
        self._loop(code, d + 1, line, [f"{buffer}[slot] = {finish}({buffer}[slot], REAL(batch))"])

    def _term_value(self, term: str) -> tuple[str, str]:
        """(touched condition, value expression) of a term at synapse ``syn`` (row ``ip``)."""
        if term == "step":
            return "True", f"{self.buffer('step')}[syn]"
        if term == "pre":
            return f"{self.buffer('pre')}_hit[ip]", f"{self.buffer('pre')}[syn]"
        slot = f"jq * {self.n_pre} + ip" if self.dense else "syn"
        return f"{self.buffer('post')}_hit[jq]", f"{self.buffer('post')}[{slot}]"

    def apply(self, code, d: int) -> None:
        """Touched synapses take ``apply``, decay and bounds now, or (deferred) add to totals."""
        line = self._line("pre")
        values = {term: self._term_value(term) for term in self.terms}
        touched = " or ".join(cond for cond, _ in values.values()) or "False"
        body = [f"touched = {touched} or {self.decay} != 0"]
        for term, (cond, value) in values.items():
            body.append(f"{term}_value = {value} if {cond} else REAL(0.0)")
        body += [
            "if touched and deferred:",
            *(f"    l{self.k}_total_{term}[syn] += {term}_value" for term in self.terms),
            "elif touched:",
            f"    {self._weight()} = {self._new_weight({t: f'{t}_value' for t in self.terms}, '1')}",
        ]
        code(d, f"for ip in numba.prange({self.n_pre}):")
        if self.dense:
            code(d + 1, f"row = ip * {self.n_post}")
        self._loop(code, d + 1, line, body)

    def _new_weight(self, terms: dict[str, str], repeats: str) -> str:
        call = self.g.call_kernel(f"l{self.k}", ("rule", self.k), self.rule, "apply", {"w": self._weight(), "dt": "dt", **terms}, {})
        return f"bounded({call}, {self.decay}, {repeats}, {self.wmin}, {self.wmax})"

    def finish_deferred(self, code, d: int) -> None:
        """End of a deferred run: every synapse takes ``apply`` with the summed terms."""
        line = self._line("pre")
        terms = {term: f"l{self.k}_total_{term}[syn]" for term in self.terms}
        code(d, f"for ip in numba.prange({self.n_pre}):")
        if self.dense:
            code(d + 1, f"row = ip * {self.n_post}")
        self._loop(code, d + 1, line, [f"{self._weight()} = {self._new_weight(terms, 'steps')}"])

    @staticmethod
    def _loop(code, d: int, line: _Line, body: list[str]) -> None:
        for header in line.loop:
            code(d, header)
        for text in body:
            code(d + 1, text)
