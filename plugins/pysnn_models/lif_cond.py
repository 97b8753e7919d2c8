"""Conductance-based leaky integrate-and-fire neuron (the COBA benchmark's neuron)."""

from pysnn import NeuronModel, param, per_sample
from pysnn import kernel_math as km


class LIFCond(NeuronModel):
    """LIF neuron driven by excitatory and inhibitory conductances (Vogels & Abbott 2005; the
    neuron of Brette et al. 2007, benchmark 1).

    ``dv/dt = (e_leak - v + ge (e_exc - v) + gi (e_inh - v)) / tau_m``, ``dge/dt = -ge / tau_exc``,
    ``dgi/dt = -gi / tau_inh``, conductances in units of the leak conductance. Each step: the
    weighted spikes arriving at the ports ``exc`` and ``inh`` are added to ``ge`` and ``gi``; one
    forward-Euler step of all three variables from their values after that (``v`` stays clamped
    while refractory; the conductances keep decaying); the neuron spikes where ``v > v_thresh``,
    and then ``v = v_reset`` for ``refrac`` ms. The refractory period is counted in whole steps
    and includes the step of the spike (as in Brian2: with dt = 0.1 ms and 5 ms, ``v`` is held
    for the 49 steps after it); ``refrac_count`` is the time left at the end of a step, and the
    period ends when less than half a step is left, so float round-off cannot add a step.
    Defaults are the COBA benchmark's constants; with them this model reproduces Brian2's COBA
    spike for spike (benchmarks/coba.py).

    Parameters (units and bounds in ``params``): ``tau_m`` membrane, ``tau_exc`` / ``tau_inh``
    conductance time constants, ``e_leak`` leak, ``e_exc`` / ``e_inh`` reversal potentials,
    ``v_thresh`` threshold, ``v_reset`` reset potential, ``refrac`` refractory period.
    State: ``v`` (mV, starts at ``e_leak``), ``ge``, ``gi``, ``refrac_count`` (ms).
    Ports: ``exc``, ``inh``.
    """

    ports = ("exc", "inh")
    params = {
        "tau_m": param(20.0, "ms", gt=0),
        "tau_exc": param(5.0, "ms", gt=0),
        "tau_inh": param(10.0, "ms", gt=0),
        "e_leak": param(-60.0, "mV"),
        "v_thresh": param(-50.0, "mV"),
        "v_reset": param(-60.0, "mV"),
        "e_exc": param(0.0, "mV"),
        "e_inh": param(-80.0, "mV"),
        "refrac": param(5.0, "ms", ge=0),
    }
    state = {"v": per_sample("e_leak"), "ge": per_sample(0.0), "gi": per_sample(0.0), "refrac_count": per_sample(0.0)}

    @staticmethod
    def update(v, ge, gi, refrac_count, exc, inh, tau_m, tau_exc, tau_inh, e_leak, v_thresh, v_reset, e_exc, e_inh, refrac, dt):
        ge = ge + exc
        gi = gi + inh
        dv = (e_leak - v + ge * (e_exc - v) + gi * (e_inh - v)) / tau_m
        refrac_count = refrac_count - dt
        v = km.where(refrac_count < 0.5 * dt, v + dt * dv, v)
        ge = ge - dt * ge / tau_exc
        gi = gi - dt * gi / tau_inh
        spiked = v > v_thresh
        refrac_count = km.where(spiked, refrac, refrac_count)
        v = km.where(spiked, v_reset, v)
        return v, ge, gi, refrac_count, spiked
