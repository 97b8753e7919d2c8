"""Generated CUDA code of the learning phase of a step (see ``pysnn_numpy.backend`` for semantics).

After the samples of a step ran, each learned projection works in two grid-wide passes:

1. One thread per line (a source row for ``on_pre``, a target column for ``on_post``) lists,
   in batch order, the samples in which the line's neuron spiked.
2. One thread per synapse folds its terms over those samples (every sample for ``on_step`` and
   for reductions that need them all), in batch order, and applies them where an event reached
   it, or adds them to the run's totals when learning is deferred.

So the folds run in the same order as the NumPy reference's, with no atomics, and their cost
follows the events. The helpers that bind the rule's kernels (``kernel_call``, ``new_weight``)
and store and check the weights and the rule's state (``store_weight``, ``state_checks``) are
those of the Numba CPU generator; only the loops differ.
"""

from __future__ import annotations

from pysnn.lowering import finishes
from pysnn.plan import ProjectionPlan
from pysnn.state_keys import WeightsKey
from pysnn_numba.emitter import Code
from pysnn_numba.learning_codegen import LearningCode as CPULearningCode


class LearningCode(CPULearningCode):
    """Emits the learning code of one learned projection through the CUDA generator ``g``."""

    def __init__(self, g, proj: ProjectionPlan) -> None:
        super().__init__(g, proj)
        self.synapse = "ip, jq" if proj.kind == "dense" else "syn"

    def _samples(self, line: str) -> tuple[str, str]:
        """The work arrays of a line kind ("pre", "post"): its samples with an event, and their count."""
        population = self.proj.source if line == "pre" else self.proj.target
        samples = self.g.scratch(f"l{self.k}_{line}_samples", (("neurons", population), "batch"), "int32")
        count = self.g.scratch(f"l{self.k}_{line}_count", (("neurons", population),), "int32")
        return samples, count

    def allocate(self, code: Code) -> None:
        """Declare the work arrays (the backend allocates them; nothing to emit)."""
        for line in ("pre", "post"):
            if line in self.terms:
                self._samples(line)

    def step(self, code: Code) -> None:
        """The two passes, with a grid-wide barrier between them (also between the reductions
        of shared neuron variables and the rule's kernels, which may read them)."""
        lines = [line for line in ("pre", "post") if line in self.terms]
        if lines:
            self._list_events(code, lines)
        code.line("grid.sync()")
        with self.g.checking(code, self.step_checks()), code.block(f"for s in range(rank, {self.w}.size, ranks):"):
            self._locate(code)
            for term in self.terms:
                self._fold(code, term)
            if self.g.deferred:
                code.line(*(self.add_to_total(term, "s") for term in self.terms))
                return
            touched = [f"{t}_hit" for t in ("pre", "post") if t in self.terms] + [f"{self.decay} != 0"]
            if "step" in self.terms:
                touched = ["True"]
            weight = f"{self.w}[{self.synapse}]"
            with code.block(f"if {' or '.join(touched)}:"):
                code.line(*self.store_weight(weight, self.new_weight(weight, {t: f"{t}_value" for t in self.terms}, None)))

    def _list_events(self, code: Code, lines: list[str]) -> None:
        """Pass 1: each line lists its samples with an event."""
        sizes = {"pre": self.n_pre, "post": self.n_post}
        offsets = {"pre": "0", "post": self.n_pre if "pre" in lines else "0"}
        total = " + ".join(sizes[line] for line in lines)
        with code.block(f"for line in range(rank, {total}, ranks):"):
            for n, line in enumerate(lines):
                neuron = f"line - {offsets[line]}"
                with code.block(("if" if n == 0 else "elif") + f" line < {offsets[line]} + {sizes[line]}:"):
                    samples, count = self._samples(line)
                    output = self.src if line == "pre" else self.tgt
                    code.line(f"i = {neuron}", "n = 0")
                    with code.block("for b in range(batch):"), code.block(f"if {output}[b, i]:"):
                        code.line(f"{samples}[i, n] = b", "n += 1")
                    code.line(f"{count}[i] = n")

    def _locate(self, code: Code) -> None:
        """The source ``ip`` and target ``jq`` of synapse ``s`` (and ``syn``, sparse)."""
        if self.proj.kind == "dense":
            code.line(f"ip = s // {self.n_post}", f"jq = s - ip * {self.n_post}")
        else:
            syn_row, indices = self.g.connectivity(self.proj, "syn_row"), self.g.connectivity(self.proj, "indices")
            code.line("syn = s", f"ip = {syn_row}[syn]", f"jq = {indices}[syn]")

    def _fold(self, code: Code, term: str) -> None:
        """``<term>_value``: the term of synapse ``s`` reduced over the batch (0 without an
        event), and ``<term>_hit``: whether an event reached it."""
        exprs = self.event_exprs(f"{self.w}[{self.synapse}]")
        value = f"{term}_value"
        if term == "step":
            self._fold_step(code, exprs)
            return
        kernel = {"pre": "on_pre", "post": "on_post"}[term]
        call = self.kernel_call(kernel, exprs)
        samples, count = self._samples(term)
        neuron, output = ("ip", self.src) if term == "pre" else ("jq", self.tgt)
        event = f"{output}[b, {neuron}]"
        code.line(f"n = {count}[{neuron}]", f"{term}_hit = n > 0", f"{value} = REAL(0.0)")
        with code.block(f"if {term}_hit:"):
            if self.mode == "quantile":
                self.g.quantile(code, f"l{self.k}_select", self.reduction, [f"value_ = {call} if {event} else REAL(0.0)"], value)
                return
            combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
            if self.mode == "ordered":  # every sample, 0 without the event
                code.line(f"{value} = {self.identity()}")
                with code.block("for b in range(batch):"):
                    code.line(f"{value} = {combine}({value}, {call} if {event} else REAL(0.0))")
            else:  # the listed samples only; the first starts from the identity
                code.line(f"b = {samples}[{neuron}, 0]", f"{value} = {combine}({self.identity()}, {call})")
                with code.block("for e in range(1, n):"):
                    code.line(f"b = {samples}[{neuron}, e]", f"{value} = {combine}({value}, {call})")
                if self.mode == "idempotent":  # silent samples enter once, as a single 0
                    with code.block("if n < batch:"):
                        code.line(f"{value} = {combine}({value}, REAL(0.0))")
            self._finish(code, value)

    def _fold_step(self, code: Code, exprs: dict[str, str]) -> None:
        """``step_value``: ``on_step`` of every sample (which updates the rule's state), folded."""
        state = {var: f"{array}[b, s]" for var, array in self.states.items()}
        results = ", ".join([state[var] for var in self.rule.spec.state] + ["term"])
        call = self.kernel_call("on_step", exprs | state)
        checks = self.state_checks(state)
        if self.mode == "quantile":
            per_sample = [f"{results} = {call}", *checks, "value_ = term"]
            self.g.quantile(code, f"l{self.k}_select", self.reduction, per_sample, "step_value")
            return
        combine = self.g.kernel(f"l{self.k}_combine", self.reduction, "combine")
        code.line(f"step_value = {self.identity()}")
        with code.block("for b in range(batch):"):
            code.line(f"{results} = {call}", *checks, f"step_value = {combine}(step_value, term)")
        self._finish(code, "step_value")

    def _finish(self, code: Code, value: str) -> None:
        if finishes(self.reduction):
            finish = self.g.kernel(f"l{self.k}_finish", self.reduction, "finish")
            code.line(f"{value} = {finish}({value}, REAL({self.g.fold_count()}))")

    def finish_deferred(self, code: Code) -> None:
        """End of a deferred run: every synapse takes ``apply`` with the summed terms."""
        with self.g.checking(code, [WeightsKey(self.proj.name)], end=True):
            with code.block(f"for s in range(rank, {self.w}.size, ranks):"):
                self._locate(code)
                weight = f"{self.w}[{self.synapse}]"
                terms = {t: f"{self.work_total(t)}[s]" for t in self.terms}
                code.line(*self.store_weight(weight, self.new_weight(weight, terms, "steps")))
