"""pysnn's NumPy reference backend (entry point ``numpy``)."""

from pysnn_numpy.backend import NumpyBackend

__all__ = ["NumpyBackend"]
