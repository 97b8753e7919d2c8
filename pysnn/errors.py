"""Exceptions raised by pysnn.

Every error names what was wrong (the parameter, the value) and what is expected instead.
"""


class PySNNError(Exception):
    """Base class of every error pysnn raises on purpose."""


class ConfigError(PySNNError, ValueError):
    """A network description, a run argument or an input array is invalid."""


class PluginError(PySNNError):
    """A plugin (model, encoder, reduction or backend) failed to load, is malformed or failed."""
