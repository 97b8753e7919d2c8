"""Post-synaptic current models."""

from pysnn import SynapseModel, per_sample
from pysnn import kernel_math as km


class Delta(SynapseModel):
    """Instantaneous synapse: the weighted input of a step is the current of that step."""

    @staticmethod
    def update(i_in):
        return i_in


class Exponential(SynapseModel):
    """Exponentially decaying current: ``i = i * exp(-dt / tau) + i_in``; the current is ``i``.

    Parameters: ``tau`` (ms). State: ``i``.
    """

    params = {"tau": 5.0}
    state = {"i": per_sample(0.0)}

    @staticmethod
    def derived(dt, tau):
        return {"decay": km.exp(-dt / tau)}

    @staticmethod
    def update(i, i_in, decay):
        i = i * decay + i_in
        return i, i
