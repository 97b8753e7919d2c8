"""Leaky integrate-and-fire neuron."""

from pysnn import NeuronModel, param, per_sample
from pysnn import kernel_math as km


class LIF(NeuronModel):
    """Leaky integrate-and-fire neuron with a refractory period (BindsNET's ``LIFNodes``).

    Each step: ``v`` decays towards ``rest`` with time constant ``tc_decay``; the input is added
    where the refractory counter is <= 0; the counter decreases by ``dt``; the neuron spikes where
    ``v >= thresh``, and then ``v = reset`` and the counter is set to ``refrac``.

    Parameters (units and bounds in ``params``): ``thresh`` spike threshold, ``rest`` resting
    potential, ``reset`` potential after a spike, ``refrac`` refractory period, ``tc_decay``
    membrane time constant. State: ``v`` (mV, starts at ``rest``), ``refrac_count`` (ms).
    """

    params = {
        "thresh": param(-52.0, "mV"),
        "rest": param(-65.0, "mV"),
        "reset": param(-65.0, "mV"),
        "refrac": param(5.0, "ms", ge=0),
        "tc_decay": param(100.0, "ms", gt=0),
    }
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
