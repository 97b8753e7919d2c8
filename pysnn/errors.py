"""Exceptions raised by pysnn, and the checks of argument values that the whole API shares.

Every error names what was wrong (the parameter, the value) and what is expected instead. Values
are checked as the simulation will use them: after the cast to its dtype (float32 holds 1e39 as
inf and 1e-50 as 0), so a value that passes is a value the simulation can hold.
"""

from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np


class PySNNError(Exception):
    """Base class of every error pysnn raises on purpose."""


class ConfigError(PySNNError, ValueError):
    """A network description, a run argument or an input array is invalid."""


class CheckpointError(ConfigError):
    """A checkpoint file cannot be read, or does not fit the simulation it is loaded into
    (``pysnn.checkpoint``); the simulation is unchanged."""


class PluginError(PySNNError):
    """A plugin (model, encoder, reduction or backend) failed to load, is malformed or failed."""


class NumericalError(PySNNError, ArithmeticError):
    """A state variable became NaN or infinite during a run (``compile(check_finite=True)``, the
    default). The run was discarded, so the simulation is as it was before it.

    ``owner`` and ``variable`` name the state as ``Simulation.state`` does (``"weights"`` for a
    projection's weights), ``step`` is the simulation's step counter of the first step at whose
    end it held a non-finite value, ``sample_id`` the id of a sample where it did (None for shared
    state: weights, shared neuron variables), ``index`` the element's index in that sample's
    (or the shared) array.
    """

    def __init__(
        self, message: str, owner: str, variable: str, step: int, sample_id: int | None, index: tuple[int, ...]
    ) -> None:
        super().__init__(message)
        self.owner, self.variable, self.step, self.sample_id, self.index = owner, variable, step, sample_id, index

    def __reduce__(self):
        """Pickle with every field (e.g. from a worker process), not only the message."""
        return type(self), (str(self), self.owner, self.variable, self.step, self.sample_id, self.index)


_HINTS = {
    "c": "; complex values are refused (pass .real if the imaginary part is meant to be dropped)",
    "O": " (it holds objects: None, strings among numbers, integers beyond 64 bits?)",
}


def shown(value: Any) -> str:
    """``value`` for a message: its repr on one line, at most 80 characters (an array of more than
    10 elements: its shape and dtype)."""
    if isinstance(value, np.ndarray) and value.size > 10:
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else f"{text[:77]}..."


def as_array(value: Any, what: str, convert: Callable[[Any], Any] = np.asarray) -> np.ndarray:
    """``value`` as a NumPy array of bool, integers or floats (``value`` itself if it is one);
    ``convert`` makes the array (``Backend.asarray``: a device array for a value on the device)."""
    try:
        array = convert(value)
    except (TypeError, ValueError) as exc:  # a ragged sequence, or an object NumPy refuses
        raise ConfigError(
            f"{what} must be a numeric array (bool, int or float), got {shown(value)}, which is not an "
            "array (are its rows of different lengths?)"
        ) from exc
    if array.dtype.kind not in "biuf":
        got = f"dtype {array.dtype}" if isinstance(value, np.ndarray) or array is value else f"{shown(value)}, of dtype {array.dtype}"
        raise ConfigError(
            f"{what} must be a numeric array (bool, int or float), got {got}{_HINTS.get(array.dtype.kind, '')}"
        )
    return array


def checked_array(
    value: Any, what: str, dtype: Any = np.float64, ndim: int | None = None, convert: Callable[[Any], Any] = np.asarray
) -> np.ndarray:
    """``value`` (``ndim`` dimensions, if given) as a new array of ``dtype``, where every element
    must be a valid value: 0 or 1 for bool, finite after the cast for floats (``convert``: see
    ``as_array``)."""
    array = as_array(value, what, convert)
    dtype = np.dtype(dtype)
    if ndim is not None and array.ndim != ndim:
        raise ConfigError(f"{what} must have {ndim} dimension(s), got shape {array.shape}")
    cast, bad = cast_values(array, dtype)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        element = array[index].item()
        expected = "0 or 1" if dtype == bool else "finite"
        got = f"; element {index} is {element!r}" if array.ndim else f", got {element!r}"
        if dtype != bool and math.isfinite(element):
            expected += f" in {dtype.name}"
            got += narrowing(dtype, cast[index].item())
        raise ConfigError(f"{what} must be {expected}{got}")
    return cast.copy() if cast is array else cast


def cast_values(
    array: np.ndarray, dtype: np.dtype, low: float = -math.inf, high: float = math.inf
) -> tuple[np.ndarray, np.ndarray]:
    """``array`` (numbers) cast to ``dtype`` (itself if it has that dtype), and where its elements
    are invalid there: for bool, where they are not 0 or 1; for floats, where they are not finite
    after the cast or lie outside [low, high]."""
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array.astype(dtype, copy=False)
        if dtype == bool:
            return cast, (array != 0) & (array != 1)
        return cast, ~(np.isfinite(cast) & (cast >= low) & (cast <= high))


def real_number(
    value: Any, what: str, expected: str, dtype: Any = np.float64, valid: Callable[[float], bool] = math.isfinite
) -> float:
    """``value``, a real number (not a bool), as ``dtype`` holds it; it must be finite there and
    ``valid``. ``expected`` says what is valid, for the message."""
    dtype = np.dtype(dtype)
    cast = _in_dtype(value, dtype)
    if cast is not None and math.isfinite(cast) and valid(cast):
        return cast
    wide = _in_dtype(value, np.dtype(np.float64))
    narrowed = cast is not None and wide is not None and math.isfinite(wide) and valid(wide)
    raise ConfigError(f"{what} must be {expected}, got {shown(value)}{narrowing(dtype, cast) if narrowed else ''}")


def flag(value: Any, what: str) -> bool:
    """``value``, True or False (Python or NumPy), as a ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{what} must be True or False, got {shown(value)}")
    return bool(value)


def positive_int(value: Any, what: str) -> int:
    """``value``, a positive integer (Python or NumPy, not a bool), as an ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {shown(value)}")
    return int(value)


@contextmanager
def allocating(what: str) -> Iterator[None]:
    """Around allocations only: NumPy's refusal of an array too large (MemoryError, or ValueError
    and OverflowError for sizes beyond its index range) becomes a ``ConfigError`` naming ``what``."""
    try:
        yield
    except PySNNError:
        raise
    except (MemoryError, OverflowError, ValueError) as exc:
        raise ConfigError(f"{what} too large to allocate ({type(exc).__name__}: {exc})") from exc


def _in_dtype(value: Any, dtype: np.dtype) -> float | None:
    """A real number ``value`` as ``dtype`` holds it (overflow: inf); None for anything else."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    try:
        with np.errstate(over="ignore"):
            return float(dtype.type(value))
    except OverflowError:  # a Python int beyond every float
        return math.inf if value > 0 else -math.inf


def narrowing(dtype: np.dtype, cast: float) -> str:
    """The note for a value that is valid as given but not as ``dtype`` holds it (``cast``)."""
    return (
        f", which {dtype.name} holds as {cast!r}; use a value that {dtype.name} represents, or "
        "compile(dtype='float64')"
    )
