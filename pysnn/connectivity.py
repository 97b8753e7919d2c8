"""Connectivity kinds of a projection: which source neuron reaches which target, with what weight.

Weights are shared by the batch (no batch axis). Propagation adds, for each source neuron in
ascending index order, its output times its weights to the targets' input: for spiking sources
only the rows of neurons that spiked (event-driven), for analog sources the non-zero outputs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from pysnn.errors import ConfigError, as_array, checked_array, positive_int


def _frozen(array: np.ndarray) -> np.ndarray:
    """``array`` (new: no caller holds it) read-only, as a view, which cannot be made writeable
    again."""
    array.flags.writeable = False
    return array.view()


def _index_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a new 1-D int64 array of integers (any integer dtype; empty: any dtype)."""
    array = as_array(value, what)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ConfigError(f"{what} must be a 1-D array of integers, got {array.dtype} of shape {array.shape}")
    if array.size and array.max() > np.iinfo(np.int64).max:
        raise ConfigError(f"{what} must be integers below 2**63, got {array.max()}")
    return array.astype(np.int64)


class Connectivity:
    """Base of the connectivity kinds. A connectivity holds validated copies of its arrays and
    hands out read-only views of them (``weights``), so nothing changes it after validation."""

    kind: ClassVar[str] = ""

    @property
    def weights(self) -> np.ndarray:
        """The initial weights (float64, read-only)."""
        return self._weights

    def shape(self) -> tuple[int | None, int | None]:
        """(n_source, n_target) this connectivity requires; None where any size fits."""
        raise NotImplementedError

    def arrays(self, n_source: int, n_target: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        """New arrays for a backend, weights in ``dtype``."""
        raise NotImplementedError


class Dense(Connectivity):
    """All-to-all connectivity with a weight matrix of shape (n_source, n_target)."""

    kind = "dense"

    def __init__(self, weights: Any) -> None:
        self._weights = _frozen(checked_array(weights, "Dense weights", ndim=2))

    def shape(self) -> tuple[int | None, int | None]:
        return self.weights.shape

    def arrays(self, n_source: int, n_target: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        return {"weights": self.weights.astype(dtype)}


class Sparse(Connectivity):
    """Sparse connectivity in CSR form: row ``i`` (a source neuron) lists its targets.

    ``indices[indptr[i]:indptr[i + 1]]`` are the targets of source ``i`` (each at most once per
    row) and ``weights[indptr[i]:indptr[i + 1]]`` their weights. The arrays are copied (indices
    as int64) and exposed read-only.
    """

    kind = "sparse"

    def __init__(self, indptr: Any, indices: Any, weights: Any, n_target: int) -> None:
        weights = checked_array(weights, "Sparse weights", ndim=1)
        n_target = positive_int(n_target, "Sparse n_target")
        indptr, indices = _index_array(indptr, "Sparse indptr"), _index_array(indices, "Sparse indices")
        if indptr.size < 2:
            raise ConfigError(f"Sparse indptr must hold n_source + 1 >= 2 offsets, got {indptr.size}")
        if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != weights.size:
            raise ConfigError(
                "Sparse indptr must start at 0, never decrease and end at len(weights) "
                f"({weights.size}); got start {indptr[0]}, end {indptr[-1]}"
            )
        if indices.shape != weights.shape:
            raise ConfigError(f"Sparse indices must be shaped like weights {weights.shape}, got {indices.shape}")
        if indices.size and (indices.min() < 0 or indices.max() >= n_target):
            raise ConfigError(f"Sparse indices must lie in [0, n_target={n_target})")
        rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        order = np.lexsort((indices, rows))
        twice = (np.diff(rows[order]) == 0) & (np.diff(indices[order]) == 0)
        if twice.any():
            row = rows[order][1:][twice][0]
            raise ConfigError(f"Sparse row {row} lists a target twice; merge duplicate synapses")
        self._indptr, self._indices, self._weights = _frozen(indptr), _frozen(indices), _frozen(weights)
        self._n_target = n_target

    @property
    def indptr(self) -> np.ndarray:
        """Row offsets, (n_source + 1,) int64, read-only."""
        return self._indptr

    @property
    def indices(self) -> np.ndarray:
        """Target of each synapse, (nnz,) int64 in CSR order, read-only."""
        return self._indices

    @property
    def n_target(self) -> int:
        return self._n_target

    @classmethod
    def from_dense(cls, matrix: np.ndarray, mask: np.ndarray | None = None) -> "Sparse":
        """CSR of ``matrix`` (n_source, n_target), keeping ``mask`` (default: the non-zeros)."""
        matrix = checked_array(matrix, "Sparse.from_dense matrix", ndim=2)
        if not matrix.size:
            raise ConfigError(
                f"Sparse.from_dense matrix needs a row per source and a column per target, got shape {matrix.shape}"
            )
        keep = matrix != 0 if mask is None else checked_array(mask, "Sparse.from_dense mask", bool, 2)
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

    def __init__(self, weights: Any = 1.0) -> None:
        weights = checked_array(weights, "OneToOne weights")
        if weights.ndim > 1:
            raise ConfigError(f"OneToOne weights must be a scalar or 1-D, got shape {weights.shape}")
        self._weights = _frozen(weights)

    def shape(self) -> tuple[int | None, int | None]:
        n = self.weights.size if self.weights.ndim == 1 else None
        return n, n

    def arrays(self, n_source: int, n_target: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        if n_source != n_target:
            raise ConfigError(f"OneToOne needs equal source and target sizes, got {n_source} and {n_target}")
        return {"weights": np.broadcast_to(self.weights, (n_target,)).astype(dtype)}

