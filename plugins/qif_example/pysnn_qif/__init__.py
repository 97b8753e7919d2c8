"""Quadratic integrate-and-fire neuron: an example of a pysnn plugin shipped as its own package."""

from pysnn import NeuronModel, per_sample
from pysnn import kernel_math as km


class QIF(NeuronModel):
    """Quadratic integrate-and-fire neuron (Latham et al. 2000; Ermentrout & Kopell's theta neuron).

    ``tau dv/dt = a (v - rest) (v - crit) + r i_in``, integrated with forward Euler. Below ``crit``
    the potential relaxes to ``rest``; above it, it runs away; the neuron spikes where
    ``v >= peak`` and then ``v = reset``.

    Parameters: ``tau`` (ms), ``rest``, ``crit``, ``peak``, ``reset`` (mV), ``a`` (1/mV),
    ``r`` (input resistance). State: ``v`` (mV, starts at ``rest``).
    """

    params = {"tau": 10.0, "rest": -65.0, "crit": -50.0, "peak": 30.0, "reset": -70.0, "a": 0.05, "r": 1.0}
    state = {"v": per_sample("rest")}

    @staticmethod
    def update(v, i_in, dt, tau, rest, crit, peak, reset, a, r):
        v = v + dt / tau * (a * (v - rest) * (v - crit) + r * i_in)
        spiked = v >= peak
        v = km.where(spiked, reset, v)
        return v, spiked
