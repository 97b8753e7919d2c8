"""pysnn: mini-batch, clock-based simulation of spiking neural networks.

Describe a network (``Network``), compile it for a backend (``Network.compile``) and run B samples
in lock-step (``Simulation.run``). Models are plugins (``NeuronModel``, ``SynapseModel``,
``Encoder``, ``Reduction``) registered through entry points; see ``pysnn.plugin``.
"""

__version__ = "0.1.0"

from pysnn.checkpoint import load_checkpoint, save_checkpoint
from pysnn.connectivity import Dense, OneToOne, Sparse
from pysnn.errors import CheckpointError, ConfigError, NumericalError, PluginError, PySNNError
from pysnn.learning import Learning, Trace
from pysnn.network import Network
from pysnn.plugin import Encoder, LearningRule, NeuronModel, Param, Reduction, SynapseModel, param, per_sample, shared
from pysnn.results import RunResult
from pysnn.run_chunks import RunInterrupted
from pysnn.simulation import Simulation
from pysnn.spike_events import SpikeEvents

__all__ = [
    "CheckpointError",
    "ConfigError",
    "Dense",
    "Encoder",
    "Learning",
    "LearningRule",
    "Network",
    "NeuronModel",
    "NumericalError",
    "OneToOne",
    "Param",
    "PluginError",
    "PySNNError",
    "Reduction",
    "RunInterrupted",
    "RunResult",
    "Simulation",
    "Sparse",
    "SpikeEvents",
    "SynapseModel",
    "Trace",
    "__version__",
    "load_checkpoint",
    "param",
    "per_sample",
    "save_checkpoint",
    "shared",
]
