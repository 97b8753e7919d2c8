"""pysnn: mini-batch, clock-based simulation of spiking neural networks.

Describe a network (``Network``), compile it for a backend (``Network.compile``) and run B samples
in lock-step (``Simulation.run``). Models are plugins (``NeuronModel``, ``SynapseModel``,
``Encoder``, ``Reduction``) registered through entry points; see ``pysnn.plugin``.
"""

__version__ = "0.1.0"

from pysnn.errors import ConfigError, PluginError, PySNNError
from pysnn.plugin import Encoder, NeuronModel, Reduction, SynapseModel, per_sample, shared

__all__ = [
    "ConfigError",
    "Encoder",
    "NeuronModel",
    "PluginError",
    "PySNNError",
    "Reduction",
    "SynapseModel",
    "__version__",
    "per_sample",
    "shared",
]
