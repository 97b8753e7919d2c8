"""The built-in per-element steps of the simulation, written once as kernels for every backend.

Spike traces and the weight decay and bounds that follow a learning rule's ``apply`` are scalar
kernels like a plugin's: ``bound`` binds them to the simulation dtype with
``kernel_source.bind_kernel`` (literals take the dtype), the NumPy backend runs them on arrays
and the Numba backend registers them in its generated module's kernel table. Which one runs and
how often (a trace's kind, the repetitions of a deferred run's decay) is the backend's control
flow; the arithmetic is here only.
"""

from __future__ import annotations

from types import FunctionType

import numpy as np

from pysnn import kernel_math as km
from pysnn.kernel_source import bind_kernel


def trace(x, spiked, decay):
    """A trace after its neuron's step: decayed, and 1 where the neuron spiked."""
    x = x * decay
    return km.where(spiked, 1.0, x)


def additive_trace(x, spiked, decay):
    """An additive trace after its neuron's step: decayed, plus 1 where the neuron spiked."""
    x = x * decay
    return km.where(spiked, x + 1.0, x)


def decayed_weight(w, weight_decay):
    """A learned weight after one step of weight decay (``Learning.weight_decay``)."""
    return w * (1.0 - weight_decay)


def clipped_weight(w, wmin, wmax):
    """A learned weight limited to [wmin, wmax]."""
    return km.clip(w, wmin, wmax)


KERNELS = {f.__name__: f for f in (trace, additive_trace, decayed_weight, clipped_weight)}


def bound(name: str, dtype: np.dtype, target: str = "cpu") -> FunctionType:
    """The built-in kernel ``name`` bound to ``dtype`` for ``target`` (memoised by ``bind_kernel``)."""
    return bind_kernel(KERNELS[name], dtype, target)


def trace_kernel(additive: bool) -> str:
    """The name of the kernel of a trace (``Trace.additive``)."""
    return "additive_trace" if additive else "trace"
