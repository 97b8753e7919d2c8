"""The batch-reduced changes of a deferred learning run, handed back instead of applied.

A deferred learning run (``Simulation.run(deferred=True)``) keeps shared state fixed, reduces
each step's per-sample changes over the batch and, at its end, applies their sum over the steps.
``Simulation.run_terms`` runs the same steps but hands those reduced changes back as
``LearningTerms``; ``Simulation.apply_terms`` applies them, or the terms of the parts of one batch
run elsewhere (other processes, Dask workers), combined into the whole batch's (``combine``). How
a reduction combines is its ``split`` (``pysnn.plugin.Reduction``):

- "add" (sum, mean): a part sums its reduced changes over the steps (``totals``), each finished
  with the whole batch's sample count (``count``); the batch's total is the parts' sum. Equal to
  the one run's within round-off: the same terms are added in another order.
- "combine" (max, min): a part keeps each step's reduced changes (``per_step``, one row per
  step); the batch's step is the parts' rows merged by ``combine``, and the steps are summed in
  order as the one run sums them: bit-identical.

Reductions that cannot be split (median, any plugin without ``split``) are refused by
``split_layout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from pysnn.errors import ConfigError, shown
from pysnn.plan import BoundPlugin, Plan
from pysnn.state_keys import NeuronKey


@dataclass(frozen=True)
class TermKey:
    """A learned projection's reduced rule term: "pre", "post" or "step" (``LearningPlan.terms``)."""

    projection: str
    term: str


TermsKey = Union[NeuronKey, TermKey]
"""What a term is the change of: a shared neuron variable, or a learned projection's rule term."""


@dataclass(frozen=True)
class Slot:
    """One reduced quantity of a plan's learning: its reduction and shape (a shared variable's
    (n,), a rule term's that of the projection's weights)."""

    reduction: BoundPlugin
    shape: tuple[int, ...]

    @property
    def per_step(self) -> bool:
        return kept_per_step(self.reduction)


def kept_per_step(reduction: BoundPlugin) -> bool:
    """True if a part of a batch keeps each step's values reduced by ``reduction`` (split
    "combine"), not their sum."""
    return reduction.spec.cls.split == "combine"


def layout(plan: Plan) -> dict[TermsKey, Slot]:
    """Every reduced quantity of ``plan``'s learning, in the order a step reduces them."""
    slots: dict[TermsKey, Slot] = {}
    for pop in plan.populations:
        for var, reduction in pop.reductions.items():
            slots[NeuronKey(pop.name, var)] = Slot(reduction, (pop.n,))
    for proj in plan.projections:
        if proj.learning is not None:
            for term in proj.learning.terms:
                slots[TermKey(proj.name, term)] = Slot(proj.learning.reduction, proj.arrays["weights"].shape)
    return slots


def split_layout(plan: Plan) -> dict[TermsKey, Slot]:
    """``layout(plan)``, after checking that every reduction in it can be split over parts of a
    batch (``ConfigError`` names the first that cannot)."""
    slots = layout(plan)
    if not slots:
        raise ConfigError(
            "this network learns nothing (no learned projection or reduced shared variable): it has no learning terms"
        )
    for key, slot in slots.items():
        if slot.reduction.spec.cls.split is None:
            where = (
                f"shared variable {key.variable!r} of population {key.owner!r}"
                if isinstance(key, NeuronKey)
                else f"projection {key.projection!r}"
            )
            raise ConfigError(
                f"the {slot.reduction.spec.label} of {where} cannot be split over parts of a "
                "batch (its result does not follow from the parts' results); use sum, mean, max or min, or learn "
                "in one process with run(deferred=True)"
            )
    return slots


@dataclass(frozen=True)
class PackedRows:
    """Per-step rows without their zeros, as a part ships them (``LearningTerms.packed``): the
    positions in the flattened (steps, *shape) array of its non-zero values, and those values.
    Mostly zeros (a step's events reach few synapses), they pack to a few percent of their size.
    A zero's sign is dropped, which the combined result does not see: the steps' sum starts at
    +0 and adding +0 or -0 to it gives the same bits."""

    shape: tuple[int, ...]
    index: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, rows: np.ndarray) -> PackedRows:
        index = np.flatnonzero(rows)
        return cls(rows.shape, index.astype(np.int32 if rows.size < 2**31 else np.int64), rows.reshape(-1)[index])


@dataclass
class LearningTerms:
    """The reduced changes of one deferred learning run (``Simulation.run_terms``), not applied.

    ``count`` is the number of samples of the whole batch they belong to (``finish`` divides by
    it: a mean over the whole batch), ``sample_ids`` the samples of this part of it. ``totals``
    holds, per reduced quantity that adds up (split "add"), the sum over the run's steps;
    ``per_step`` the others' (split "combine") values of each step, (steps, *shape), or
    ``PackedRows`` of them (``packed``). Arrays have the shape of their variable (a shared neuron
    variable's (n,), a rule term's that of its weights) and the simulation's dtype. Plain data:
    it pickles, e.g. from a Dask worker.
    """

    steps: int
    count: int
    sample_ids: np.ndarray
    totals: dict[TermsKey, np.ndarray]
    per_step: dict[TermsKey, np.ndarray | PackedRows]

    @classmethod
    def zeros(cls, plan: Plan, steps: int, count: int, sample_ids: np.ndarray, split: bool = True) -> LearningTerms:
        """Zeroed terms of a run of ``plan``; ``split=False``: every quantity as a total (a
        deferred run that applies its own terms), else as ``split_layout`` says."""
        slots = split_layout(plan) if split else layout(plan)
        totals, per_step = {}, {}
        for key, slot in slots.items():
            if split and slot.per_step:
                per_step[key] = np.zeros((steps, *slot.shape), plan.dtype)
            else:
                totals[key] = np.zeros(slot.shape, plan.dtype)
        return cls(steps, count, sample_ids, totals, per_step)

    def packed(self) -> LearningTerms:
        """These terms with the per-step rows packed (``PackedRows``), to ship them."""
        per_step = {key: rows if isinstance(rows, PackedRows) else PackedRows.of(rows) for key, rows in self.per_step.items()}
        return LearningTerms(self.steps, self.count, self.sample_ids, self.totals, per_step)

    def buffer(self, key: TermsKey) -> np.ndarray | PackedRows:
        """The array that a run fills for ``key``."""
        return self.totals[key] if key in self.totals else self.per_step[key]

    def take(self, key: TermsKey, t: int, value: np.ndarray) -> None:
        """Step ``t``'s reduced change of ``key`` (flat or of its shape): added to its total (in
        the dtype, as the run's own sum), or kept as that step's row."""
        if key in self.totals:
            total = self.totals[key]
            total[...] = (total + value.reshape(total.shape)).astype(total.dtype)
        else:
            rows = self.per_step[key]
            rows[t] = value.reshape(rows.shape[1:])


def combine(plan: Plan, parts: Sequence[LearningTerms]) -> tuple[dict[TermsKey, np.ndarray], int]:
    """The whole batch's summed changes from the terms of its ``parts`` (in sample order), and
    the number of steps: "add" quantities are the parts' totals added in order, "combine" ones
    each step's rows merged by the reduction's ``combine`` then summed over the steps in order.
    ``ConfigError`` if the parts are not of one run of ``plan``'s network over one batch."""
    if isinstance(parts, LearningTerms):
        parts = [parts]
    if not parts or not all(isinstance(part, LearningTerms) for part in parts):
        raise ConfigError(f"apply_terms needs LearningTerms (from run_terms) or a list of them, got {shown(parts)}")
    slots = split_layout(plan)
    first = parts[0]
    for n, part in enumerate(parts):
        _check_part(plan, slots, part, n, first)
    ids = np.concatenate([part.sample_ids for part in parts])
    if ids.size != first.count or np.unique(ids).size != ids.size:
        raise ConfigError(
            f"apply_terms: the parts hold {ids.size} samples ({np.unique(ids).size} distinct ids), but their terms were "
            f"reduced for a batch of count={first.count}: pass every part of the batch once"
        )
    dtype = plan.dtype
    summed = {}
    for key, slot in slots.items():
        if not slot.per_step:
            total = first.totals[key].copy()
            for part in parts[1:]:
                total = (total + part.totals[key]).astype(dtype)
            summed[key] = total
            continue
        packs = [rows if isinstance(rows, PackedRows) else PackedRows.of(rows) for rows in (p.per_step[key] for p in parts)]
        summed[key] = _merged_steps(slot.reduction.kernels["combine"], packs, slot.shape, first.steps, dtype)
    return summed, first.steps


def _merged_steps(merge, packs: list[PackedRows], shape: tuple[int, ...], steps: int, dtype: np.dtype) -> np.ndarray:
    """The sum over the steps, in step order, of the parts' rows merged by ``merge``, from their
    non-zero values only: where some part holds none, its 0 is merged once (``combine`` is
    idempotent), and a position no part holds adds 0 (which changes no sum: it starts at +0)."""
    index = np.concatenate([pack.index.astype(np.int64) for pack in packs])
    values = np.concatenate([pack.values for pack in packs])
    order = np.argsort(index, kind="stable")  # each position's values together, in part order
    index, values = index[order], values[order]
    starts = np.flatnonzero(np.diff(index, prepend=-1))
    sizes = np.diff(starts, append=index.size)
    merged = values[starts]
    for k in range(1, int(sizes.max(initial=1))):
        more = sizes > k
        merged[more] = np.asarray(merge(merged[more], values[starts[more] + k]), dtype)
    partial = sizes < len(packs)
    merged[partial] = np.asarray(merge(merged[partial], dtype.type(0)), dtype)
    size = int(np.prod(shape))
    step, where = np.divmod(index[starts], size)
    bounds = np.searchsorted(step, np.arange(steps + 1))
    total = np.zeros(size, dtype)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo < hi:
            total[where[lo:hi]] = (total[where[lo:hi]] + merged[lo:hi]).astype(dtype)
    return total.reshape(shape)


def _check_part(plan: Plan, slots: dict[TermsKey, Slot], part: LearningTerms, n: int, first: LearningTerms) -> None:
    if part.steps != first.steps or part.count != first.count:
        raise ConfigError(
            f"apply_terms: part {n} ran {part.steps} steps for a batch of {part.count}, part 0 {first.steps} steps for "
            f"{first.count}: the parts of one batch run the same steps with the same count"
        )
    expected_totals = {key for key, slot in slots.items() if not slot.per_step}
    if set(part.totals) != expected_totals or set(part.per_step) != set(slots) - expected_totals:
        raise ConfigError(f"apply_terms: part {n} holds the terms of another network than this simulation's")
    for key, slot in slots.items():
        array = part.buffer(key)
        shape = (part.steps, *slot.shape) if slot.per_step else slot.shape
        if isinstance(array, PackedRows) and slot.per_step:
            size = int(np.prod(shape))
            valid = (
                tuple(array.shape) == shape and array.values.dtype == plan.dtype and array.index.dtype.kind == "i"
                and array.index.shape == array.values.shape == (array.index.size,)
                and (array.index.size == 0 or 0 <= array.index.min() <= array.index.max() < size)
            )
            if not valid:
                raise ConfigError(
                    f"apply_terms: part {n}'s packed terms of {key} do not fit a {plan.dtype.name} array of shape {shape}"
                )
        elif not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != plan.dtype:
            raise ConfigError(
                f"apply_terms: part {n}'s terms of {key} are {shown(array)}, not a {plan.dtype.name} array of shape {shape}"
            )
