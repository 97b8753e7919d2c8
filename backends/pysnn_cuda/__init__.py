"""pysnn's numba-cuda backend (entry point ``numba-cuda``); needs ``pysnn-minibatch[cuda]``."""

from pysnn_cuda.backend import NumbaCUDABackend

__all__ = ["NumbaCUDABackend"]
