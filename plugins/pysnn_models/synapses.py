"""Post-synaptic current models."""

from pysnn import SynapseModel, param, per_sample
from pysnn import kernel_math as km


class Delta(SynapseModel):
    """Instantaneous synapse: the weighted input of a step is the current of that step."""

    @staticmethod
    def update(i_in):
        return i_in


class Exponential(SynapseModel):
    """Exponentially decaying current: ``i = i * exp(-dt / tau) + i_in``; the current is ``i``.

    Parameters (unit and bound in ``params``): ``tau`` the time constant of decay. State: ``i``.
    """

    params = {"tau": param(5.0, "ms", gt=0)}
    state = {"i": per_sample(0.0)}

    @staticmethod
    def derived(dt, tau):
        return {"decay": km.exp(-dt / tau)}

    @staticmethod
    def update(i, i_in, decay):
        i = i * decay + i_in
        return i, i


class ExpConductance(SynapseModel):
    """Exponentially decaying conductance with a reversal potential: ``g = g * exp(-dt / tau) +
    i_in``; the current is ``g * (e_rev - v_post)``, with ``v_post`` the target's membrane
    potential at the start of the step (its model needs a state variable ``v``).

    Parameters (units and bounds in ``params``): ``tau`` the time constant of decay, ``e_rev``
    the reversal potential. State: ``g`` (the weights' unit, e.g. nS).
    """

    params = {"tau": param(5.0, "ms", gt=0), "e_rev": param(0.0, "mV")}
    state = {"g": per_sample(0.0)}
    reads_target = ("v",)

    @staticmethod
    def derived(dt, tau):
        return {"decay": km.exp(-dt / tau)}

    @staticmethod
    def update(g, i_in, v_post, decay, e_rev):
        g = g * decay + i_in
        return g, g * (e_rev - v_post)
