"""pysnn's Numba CPU backend (entry point ``numba-cpu``)."""

from pysnn_numba.backend import NumbaCPUBackend

__all__ = ["NumbaCPUBackend"]
