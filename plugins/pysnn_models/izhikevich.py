"""Izhikevich (2003) simple spiking neuron."""

from pysnn import NeuronModel, param, per_sample
from pysnn import kernel_math as km


class Izhikevich(NeuronModel):
    """Izhikevich's two-variable neuron (regular spiking by default).

    ``dv/dt = 0.04 v**2 + 5 v + 140 - u + i_in``, ``du/dt = a (b v - u)``; ``v`` is integrated in two
    half steps (as in Izhikevich's reference code), then ``u``; the neuron spikes where
    ``v >= thresh``, and then ``v = c`` and ``u += d``.

    Parameters (units and bounds in ``params``): ``a`` the rate of recovery of ``u``, ``b`` the
    sensitivity of ``u`` to ``v``, ``c`` the potential after a spike, ``d`` the increase of ``u``
    at a spike, ``thresh`` the spike cutoff. State: ``v`` (mV, starts at ``c``), ``u`` (starts at
    ``b * c``).
    """

    params = {"a": param(0.02, gt=0), "b": 0.2, "c": param(-65.0, "mV"), "d": 8.0, "thresh": param(30.0, "mV")}
    state = {"v": per_sample("c"), "u": per_sample("u_init")}

    @staticmethod
    def derived(b, c):
        return {"u_init": b * c}

    @staticmethod
    def update(v, u, i_in, a, b, c, d, thresh, dt):
        v = v + 0.5 * dt * (0.04 * v**2 + 5 * v + 140 - u + i_in)
        v = v + 0.5 * dt * (0.04 * v**2 + 5 * v + 140 - u + i_in)
        u = u + dt * a * (b * v - u)
        spiked = v >= thresh
        v = km.where(spiked, c, v)
        u = km.where(spiked, u + d, u)
        return v, u, spiked
