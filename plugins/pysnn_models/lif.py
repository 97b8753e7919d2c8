"""Leaky integrate-and-fire neuron."""

from pysnn import NeuronModel, per_sample
from pysnn import kernel_math as km


class LIF(NeuronModel):
    """Leaky integrate-and-fire neuron with a refractory period (BindsNET's ``LIFNodes``).

    Each step: ``v`` decays towards ``rest`` with time constant ``tc_decay``; the input is added
    where the refractory counter is <= 0; the counter decreases by ``dt``; the neuron spikes where
    ``v >= thresh``, and then ``v = reset`` and the counter is set to ``refrac``.

    Parameters: ``thresh``, ``rest``, ``reset`` (mV), ``refrac``, ``tc_decay`` (ms).
    State: ``v`` (mV, starts at ``rest``), ``refrac_count`` (ms).
    """

    params = {"thresh": -52.0, "rest": -65.0, "reset": -65.0, "refrac": 5.0, "tc_decay": 100.0}
    state = {"v": per_sample("rest"), "refrac_count": per_sample(0.0)}

    @staticmethod
    def derived(dt, tc_decay):
        return {"decay": km.exp(-dt / tc_decay)}

    @staticmethod
    def update(v, refrac_count, i_in, decay, rest, reset, thresh, refrac, dt):
        v = decay * (v - rest) + rest
        v = km.where(refrac_count <= 0, v + i_in, v)
        refrac_count = refrac_count - dt
        spiked = v >= thresh
        refrac_count = km.where(spiked, refrac, refrac_count)
        v = km.where(spiked, reset, v)
        return v, refrac_count, spiked
