"""Adaptive-threshold LIF neuron of Diehl & Cook (2015)."""

from pysnn import NeuronModel, per_sample, shared
from pysnn import kernel_math as km


class AdaptiveLIF(NeuronModel):
    """LIF neuron whose threshold rises with each spike (BindsNET's ``DiehlAndCookNodes``).

    As ``lif``, but the spike test is ``v >= thresh + theta``. ``theta`` is shared by the batch and
    learned: while learning is on it first decays (``theta *= exp(-dt / tc_theta_decay)``) and,
    after the step, grows by ``theta_plus`` per spike, the spikes of the batch combined with the
    reduction of ``theta`` (default ``sum``). It does not change while learning is off.

    Parameters: ``thresh``, ``rest``, ``reset`` (mV), ``refrac``, ``tc_decay``,
    ``tc_theta_decay`` (ms), ``theta_plus`` (mV).
    State: ``v``, ``refrac_count`` per sample; ``theta`` (mV) shared.
    """

    params = {
        "thresh": -52.0,
        "rest": -65.0,
        "reset": -65.0,
        "refrac": 5.0,
        "tc_decay": 100.0,
        "theta_plus": 0.05,
        "tc_theta_decay": 1e7,
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
