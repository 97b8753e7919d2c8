"""pysnn's cupy backend (entry point ``cupy``); needs ``pysnn-minibatch[cupy]``."""

from pysnn_cupy.backend import CuPyBackend

__all__ = ["CuPyBackend"]
