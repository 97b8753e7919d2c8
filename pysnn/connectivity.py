"""Connectivity kinds of a projection: which source neuron reaches which target, with what weight.

Weights are shared by the batch (no batch axis). Propagation adds, for each source neuron in
ascending index order, its output times its weights to the targets' input: for spiking sources
only the rows of neurons that spiked (event-driven), for analog sources the non-zero outputs.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from pysnn.errors import ConfigError


def _finite_array(value, name: str, ndim: int) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a numeric array, got {type(value).__name__}") from exc
    if array.ndim != ndim:
        raise ConfigError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ConfigError(f"{name} must be finite; element {tuple(int(i) for i in bad)} is {array[tuple(bad)]}")
    return array


class Connectivity:
    """Base of the connectivity kinds."""

    kind: ClassVar[str] = ""

    def shape(self) -> tuple[int | None, int | None]:
        """(n_source, n_target) this connectivity requires; None where any size fits."""
        raise NotImplementedError

    def arrays(self, n_source: int, n_target: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        """The arrays a backend needs, weights in ``dtype``."""
        raise NotImplementedError


class Dense(Connectivity):
    """All-to-all connectivity with a weight matrix of shape (n_source, n_target)."""

    kind = "dense"

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = _finite_array(weights, "Dense weights", 2)

    def shape(self) -> tuple[int | None, int | None]:
        return self.weights.shape

    def arrays(self, n_source: int, n_target: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        return {"weights": self.weights.astype(dtype)}


class Sparse(Connectivity):
    """Sparse connectivity in CSR form: row ``i`` (a source neuron) lists its targets.

    ``indices[indptr[i]:indptr[i + 1]]`` are the targets of source ``i`` (each at most once per
    row) and ``weights[indptr[i]:indptr[i + 1]]`` their weights.
    """

    kind = "sparse"

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, weights: np.ndarray, n_target: int) -> None:
        self.indptr = np.asarray(indptr)
        self.indices = np.asarray(indices)
        self.weights = _finite_array(weights, "Sparse weights", 1)
        self.n_target = _positive_int(n_target, "Sparse n_target")
        if self.indptr.ndim != 1 or self.indptr.size < 2 or not np.issubdtype(self.indptr.dtype, np.integer):
            raise ConfigError(f"Sparse indptr must be a 1-D integer array of n_source + 1 offsets, got {self.indptr!r}")
        if self.indptr[0] != 0 or np.any(np.diff(self.indptr) < 0) or self.indptr[-1] != self.weights.size:
            raise ConfigError(
                "Sparse indptr must start at 0, never decrease and end at len(weights) "
                f"({self.weights.size}); got start {self.indptr[0]}, end {self.indptr[-1]}"
            )
        if self.indices.shape != self.weights.shape or (
            self.indices.size and not np.issubdtype(self.indices.dtype, np.integer)
        ):
            raise ConfigError(
                f"Sparse indices must be integers shaped like weights {self.weights.shape}, got {self.indices.shape}"
            )
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= self.n_target):
            raise ConfigError(f"Sparse indices must lie in [0, n_target={self.n_target})")
        rows = np.repeat(np.arange(self.indptr.size - 1), np.diff(self.indptr))
        order = np.lexsort((self.indices, rows))
        twice = (np.diff(rows[order]) == 0) & (np.diff(self.indices[order]) == 0)
        if twice.any():
            row = rows[order][1:][twice][0]
            raise ConfigError(f"Sparse row {row} lists a target twice; merge duplicate synapses")

    @classmethod
    def from_dense(cls, matrix: np.ndarray, mask: np.ndarray | None = None) -> "Sparse":
        """CSR of ``matrix`` (n_source, n_target), keeping ``mask`` (default: the non-zeros)."""
        matrix = _finite_array(matrix, "matrix", 2)
        keep = matrix != 0 if mask is None else np.asarray(mask, dtype=bool)
        if keep.shape != matrix.shape:
            raise ConfigError(f"mask shape {keep.shape} differs from matrix shape {matrix.shape}")
        rows, cols = np.nonzero(keep)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=matrix.shape[0]))])
        return cls(indptr, cols, matrix[rows, cols], matrix.shape[1])

    def shape(self) -> tuple[int | None, int | None]:
        return self.indptr.size - 1, self.n_target

    def arrays(self, n_source: int, n_target: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        """CSR arrays and weights, plus, for learning at target spikes, the column (CSC) view:
        ``col_syn[col_ptr[j]:col_ptr[j + 1]]`` are the synapses into target ``j`` in ascending
        source order, ``col_row`` their sources, ``csc_pos[s]`` the position of synapse ``s`` in
        that order, and ``syn_row[s]`` the source of synapse ``s``."""
        syn_row = np.repeat(np.arange(n_source, dtype=np.int64), np.diff(self.indptr))
        col_syn = np.lexsort((syn_row, self.indices)).astype(np.int64)
        col_ptr = np.concatenate([[0], np.cumsum(np.bincount(self.indices, minlength=n_target))]).astype(np.int64)
        csc_pos = np.empty_like(col_syn)
        csc_pos[col_syn] = np.arange(col_syn.size)
        return {
            "indptr": self.indptr.astype(np.int64),
            "indices": self.indices.astype(np.int64),
            "weights": self.weights.astype(dtype),
            "syn_row": syn_row,
            "col_ptr": col_ptr,
            "col_syn": col_syn,
            "col_row": syn_row[col_syn],
            "csc_pos": csc_pos,
        }


class OneToOne(Connectivity):
    """Source neuron ``i`` reaches target neuron ``i`` only; ``weights`` is a scalar or (n,)."""

    kind = "one_to_one"

    def __init__(self, weights: float | np.ndarray = 1.0) -> None:
        self.weights = _finite_array(weights, "OneToOne weights", np.ndim(weights))
        if self.weights.ndim > 1:
            raise ConfigError(f"OneToOne weights must be a scalar or 1-D, got shape {self.weights.shape}")

    def shape(self) -> tuple[int | None, int | None]:
        n = self.weights.size if self.weights.ndim == 1 else None
        return n, n

    def arrays(self, n_source: int, n_target: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        if n_source != n_target:
            raise ConfigError(f"OneToOne needs equal source and target sizes, got {n_source} and {n_target}")
        return {"weights": np.broadcast_to(self.weights, (n_target,)).astype(dtype)}


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
