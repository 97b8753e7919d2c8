"""Adaptive-threshold LIF neuron of Diehl & Cook (2015)."""

from pysnn import NeuronModel, param, per_sample, shared
from pysnn import kernel_math as km
from pysnn_models.lif import LIF


class AdaptiveLIF(NeuronModel):
    """LIF neuron whose threshold rises with each spike (BindsNET's ``DiehlAndCookNodes``).

    As ``lif``, but the spike test is ``v >= thresh + theta``. ``theta`` is shared by the batch and
    learned: while learning is on it first decays (``theta *= exp(-dt / tc_theta_decay)``) and,
    after the step, grows by ``theta_plus`` per spike, the spikes of the batch combined with the
    reduction of ``theta`` (default ``sum``). It does not change while learning is off.

    Parameters (units and bounds in ``params``): those of ``lif``; ``theta_plus`` the threshold
    increase per spike, ``tc_theta_decay`` its time constant of decay.
    State: ``v``, ``refrac_count`` per sample; ``theta`` (mV) shared.
    """

    params = {
        **LIF.params,
        "theta_plus": param(0.05, "mV"),
        "tc_theta_decay": param(1e7, "ms", gt=0),
    }
    state = {"v": per_sample("rest"), "refrac_count": per_sample(0.0), "theta": shared(0.0, "sum")}

    @staticmethod
    def derived(dt, tc_decay, tc_theta_decay):
        return {"decay": km.exp(-dt / tc_decay), "theta_decay": km.exp(-dt / tc_theta_decay)}

    @staticmethod
    def update_shared(theta, theta_decay):
        return theta * theta_decay

    @staticmethod
    def update(v, refrac_count, theta, i_in, decay, rest, reset, thresh, refrac, theta_plus, dt):
        v = decay * (v - rest) + rest
        v = km.where(refrac_count <= 0, v + i_in, v)
        refrac_count = refrac_count - dt
        spiked = v >= thresh + theta
        refrac_count = km.where(spiked, refrac, refrac_count)
        v = km.where(spiked, reset, v)
        return v, refrac_count, km.where(spiked, theta_plus, 0.0), spiked
