"""Integrate-and-fire neuron with subtractive reset, for ANN-to-SNN conversion."""

from pysnn import NeuronModel, param, per_sample
from pysnn import kernel_math as km


class IFSubtractive(NeuronModel):
    """Non-leaky integrate-and-fire neuron that subtracts the threshold when it spikes.

    BindsNET's ``SubtractiveResetIFNodes``: the input is added where the refractory counter is
    <= 0; the counter decreases by ``dt`` down to 0; the neuron spikes where ``v >= thresh`` and
    then ``v -= thresh`` and the counter is set to ``refrac``. Keeping the residue above threshold
    makes the firing rate proportional to the input, as a ReLU unit's output.

    Parameters (units and bounds in ``params``): ``thresh`` spike threshold and reset step,
    ``refrac`` refractory period. State: ``v`` (starts at 0), ``refrac_count`` (ms).
    """

    params = {"thresh": param(1.0, gt=0), "refrac": param(0.0, "ms", ge=0)}
    state = {"v": per_sample(0.0), "refrac_count": per_sample(0.0)}

    @staticmethod
    def update(v, refrac_count, i_in, thresh, refrac, dt):
        v = km.where(refrac_count <= 0, v + i_in, v)
        refrac_count = km.where(refrac_count > 0, refrac_count - dt, 0.0)
        spiked = v >= thresh
        refrac_count = km.where(spiked, refrac, refrac_count)
        v = km.where(spiked, v - thresh, v)
        return v, refrac_count, spiked
