"""The keys of the simulation state: one small type per kind of array.

A backend holds the state as arrays under these keys (``pysnn.backend.Backend``). Each key names
its owner (a population or a projection) and the variable as ``Simulation.state`` names it; keys
of different kinds never compare equal, whatever their names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StateKey:
    """An array of the simulation state: ``owner``'s ``variable``."""

    owner: str
    variable: str


@dataclass(frozen=True)
class NeuronKey(StateKey):
    """A neuron model's state variable: per sample (batch, n), or shared (n,)."""


@dataclass(frozen=True)
class OutputKey(StateKey):
    """A population's output of the last step, (batch, n): bool for spiking populations, the
    dtype for analog inputs."""

    variable: str = "output"


@dataclass(frozen=True)
class TraceKey(StateKey):
    """A population's spike trace (by name), (batch, n); only the traces that are read."""


@dataclass(frozen=True)
class SynapseKey(StateKey):
    """A projection's synapse-model state variable, (batch, n_target)."""


@dataclass(frozen=True)
class WeightsKey(StateKey):
    """A projection's weights: dense (n_source, n_target), sparse (nnz,), one-to-one (n,)."""

    variable: str = "weights"


@dataclass(frozen=True)
class RuleKey(StateKey):
    """A learning rule's state variable per sample and synapse, (batch, n_synapses), synapses in
    row-major (dense) or CSR (sparse) order."""
