"""Label assignment and the two readouts of Diehl & Cook (2015)-style unsupervised networks.

Pure NumPy on spike counts: ``counts`` (samples, n_neurons) are each neuron's spikes during each
sample's presentation. A neuron is assigned the class to which it responded most (mean spikes
per presentation of that class); a sample is then classified by

- *all activity*: the class whose assigned neurons have the highest mean spike count;
- *proportion weighting*: the class with the highest sum over all neurons of
  ``count * proportion``, where a neuron's proportions are its per-class rates normalised to sum 1.

Ties go to the lowest class index (``np.argmax``).
"""

from __future__ import annotations

import numpy as np

from pysnn.errors import ConfigError

UNASSIGNED = -1
"""The assignment of a neuron that did not fire for any class: it takes part in no vote."""


def class_rates(counts: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean spike count per presentation of each class, (n_neurons, n_classes) float64; 0 for a
    class without samples."""
    counts, labels = _check_counts(counts, labels, n_classes)
    one_hot = labels[:, None] == np.arange(n_classes)  # (samples, n_classes)
    totals = counts.T @ one_hot
    presentations = np.bincount(labels, minlength=n_classes)
    return totals / np.maximum(presentations, 1)


def assign_labels(counts: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Each neuron's class and its proportions from ``counts`` of samples with ``labels``.

    Returns ``assignments`` (n_neurons,) int64: the class with the highest mean rate (lowest on a
    tie), ``UNASSIGNED`` (-1) for a neuron that never fired; and ``proportions`` (n_neurons,
    n_classes) float64: the rates divided by their sum per neuron (all 0 for a neuron that never
    fired).
    """
    rates = class_rates(counts, labels, n_classes)
    totals = rates.sum(axis=1, keepdims=True)
    fired = totals[:, 0] > 0
    assignments = np.where(fired, rates.argmax(axis=1), UNASSIGNED)
    proportions = np.divide(rates, totals, out=np.zeros_like(rates), where=totals > 0)
    return assignments, proportions


def all_activity(counts: np.ndarray, assignments: np.ndarray, n_classes: int) -> np.ndarray:
    """Predicted class per sample (samples,): the class whose assigned neurons have the highest
    mean spike count. A class with no assigned neuron is never chosen (unless no class has one:
    then 0)."""
    counts = _check_matrix(counts, "counts")
    assignments = np.asarray(assignments)
    if assignments.shape != (counts.shape[1],):
        raise ConfigError(f"assignments must have shape ({counts.shape[1]},) (one per neuron), got {assignments.shape}")
    scores = np.full((len(counts), n_classes), -np.inf)
    for c in range(n_classes):
        members = assignments == c
        if members.any():
            scores[:, c] = counts[:, members].mean(axis=1)
    return scores.argmax(axis=1)


def proportion_weighting(counts: np.ndarray, proportions: np.ndarray) -> np.ndarray:
    """Predicted class per sample (samples,): the class with the highest sum over neurons of
    spike count times the neuron's proportion of that class."""
    counts = _check_matrix(counts, "counts")
    proportions = _check_matrix(proportions, "proportions")
    if proportions.shape[0] != counts.shape[1]:
        raise ConfigError(
            f"proportions must have one row per neuron ({counts.shape[1]}), got shape {proportions.shape}"
        )
    return (counts @ proportions).argmax(axis=1)


def _check_matrix(array: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise ConfigError(
            f"{name} must be a numeric array of shape (samples, n_neurons), got {array.dtype} {array.shape}"
        )
    return array.astype(np.float64)


def _check_counts(counts: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    counts = _check_matrix(counts, "counts")
    labels = np.asarray(labels)
    if labels.shape != (len(counts),) or labels.dtype.kind not in "iu":
        raise ConfigError(
            f"labels must be integers of shape ({len(counts)},) (one per sample), got {labels.dtype} {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ConfigError(
            f"labels must lie in 0 .. {n_classes - 1} (n_classes={n_classes}), got {labels.min()} .. {labels.max()}"
        )
    return counts, labels.astype(np.int64)
