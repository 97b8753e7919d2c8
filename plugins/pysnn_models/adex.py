"""Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005)."""

from pysnn import NeuronModel, param, per_sample
from pysnn import kernel_math as km


class AdEx(NeuronModel):
    """Adaptive exponential integrate-and-fire neuron (AdEx; Brette & Gerstner 2005).

    ``c_m dv/dt = -g_leak (v - e_leak) + g_leak delta_t exp((v - v_t) / delta_t) - w + i_in`` and
    ``tau_w dw/dt = a (v - e_leak) - w``, one forward-Euler step of both from their values at the
    start of the step; the neuron spikes where ``v >= v_peak``, and then ``v = v_reset`` and
    ``w += b``. Units: pF, nS, mV, ms, pA (``i_in`` in pA), so that the conductance synapse
    ``exp_conductance`` (nS) gives a conductance-based AdEx. Defaults: the paper's regular-spiking
    cortical pyramidal cell.

    Parameters (units and bounds in ``params``): ``c_m`` capacitance, ``g_leak`` leak
    conductance, ``e_leak`` leak reversal, ``v_t`` threshold and ``delta_t`` slope factor of the
    exponential, ``tau_w`` adaptation time constant, ``a`` subthreshold and ``b`` spike-triggered
    adaptation, ``v_reset`` reset and ``v_peak`` spike-detection potentials.
    State: ``v`` (mV, starts at ``e_leak``), ``w`` (pA).
    """

    params = {
        "c_m": param(281.0, "pF", gt=0),
        "g_leak": param(30.0, "nS", gt=0),
        "e_leak": param(-70.6, "mV"),
        "v_t": param(-50.4, "mV"),
        "delta_t": param(2.0, "mV", gt=0),
        "tau_w": param(144.0, "ms", gt=0),
        "a": param(4.0, "nS"),
        "b": param(80.5, "pA"),
        "v_reset": param(-70.6, "mV"),
        "v_peak": param(20.0, "mV"),
    }
    state = {"v": per_sample("e_leak"), "w": per_sample(0.0)}

    @staticmethod
    def update(v, w, i_in, c_m, g_leak, e_leak, v_t, delta_t, tau_w, a, b, v_reset, v_peak, dt):
        spike_current = g_leak * delta_t * km.exp((v - v_t) / delta_t)
        dv = (i_in - g_leak * (v - e_leak) + spike_current - w) / c_m
        dw = (a * (v - e_leak) - w) / tau_w
        v = v + dt * dv
        w = w + dt * dw
        spiked = v >= v_peak
        v = km.where(spiked, v_reset, v)
        w = km.where(spiked, w + b, w)
        return v, w, spiked
