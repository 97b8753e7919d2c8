"""Learning rules in event form (see ``pysnn.plugin``).

``<name>_pre`` / ``<name>_post`` read the source's / target's trace or state variable ``name``
after this step's update: ``x_pre`` is the source's trace ``x`` (``trace=pysnn.Trace(tau)``),
``v_post`` the target's membrane potential. Terms are reduced over the batch with the
projection's reduction before ``apply``; a sample without the event adds 0.
"""

from pysnn import LearningRule, param, per_sample
from pysnn import kernel_math as km


class PairTerms(LearningRule):
    """The pair terms of trace-based STDP: at a source spike, the target's trace; at a target
    spike, the source's trace. Subclasses say how they change the weight (``apply``)."""

    params = {"nu_pre": 1e-4, "nu_post": 1e-2}

    @staticmethod
    def on_pre(x_post):
        return x_post

    @staticmethod
    def on_post(x_pre):
        return x_pre


class PostPre(PairTerms):
    """Pair-based STDP (BindsNET's ``PostPre``).

    ``w -= nu_pre * reduce(s_pre * x_post)``, then ``w += nu_post * reduce(x_pre * s_post)``:
    depression when the source spikes, by the target's trace; potentiation when the target
    spikes, by the source's trace.
    """

    @staticmethod
    def apply(w, pre, post, nu_pre, nu_post):
        return (w - nu_pre * pre) + nu_post * post


class WeightDependentPostPre(PairTerms):
    """PostPre with soft bounds (BindsNET's ``WeightDependentPostPre``): depression scales with
    ``w - wmin`` and potentiation with ``wmax - w``, both from the weight before the update."""

    params = {"nu_pre": 1e-4, "nu_post": 1e-2, "wmin": 0.0, "wmax": 1.0}

    @staticmethod
    def apply(w, pre, post, nu_pre, nu_post, wmin, wmax):
        return w + (nu_post * post * (wmax - w) - nu_pre * pre * (w - wmin))


class Hebbian(PairTerms):
    """Hebbian potentiation at both spikes: ``w += nu_pre * reduce(s_pre * x_post)``, then
    ``w += nu_post * reduce(x_pre * s_post)`` (BindsNET's ``Hebbian``)."""

    @staticmethod
    def apply(w, pre, post, nu_pre, nu_post):
        return (w + nu_pre * pre) + nu_post * post


class MSTDP(LearningRule):
    """Reward-modulated STDP (Florian 2007, MSTDP): each sample's pair terms are scaled by its
    reward, ``term = reward * (a_plus * x_pre * s_post + a_minus * s_pre * x_post)``, and
    ``w += nu * reduce(term)``. Use additive traces (``Trace(tau, additive=True)``) for the
    published rule; the reward is ``Simulation.run(reward=...)``."""

    params = {"nu": 1.0, "a_plus": 1.0, "a_minus": -1.0}

    @staticmethod
    def on_pre(x_post, reward, a_minus):
        return reward * a_minus * x_post

    @staticmethod
    def on_post(x_pre, reward, a_plus):
        return reward * a_plus * x_pre

    @staticmethod
    def apply(w, pre, post, nu):
        return w + nu * (pre + post)


class MSTDPET(LearningRule):
    """Reward-modulated STDP with eligibility traces (Florian 2007, MSTDP-ET).

    Per sample and synapse, the pair term ``zeta = a_plus * x_pre * s_post + a_minus * s_pre *
    x_post`` feeds an eligibility trace ``e = e * exp(-dt / tc_e_trace) + zeta / tc_e_trace``, and
    ``w += nu * dt * reduce(reward * e)`` every step: a dense per-step rule (cost: batch x
    synapses per step).
    """

    params = {"nu": 1.0, "a_plus": 1.0, "a_minus": -1.0, "tc_e_trace": param(25.0, "ms", gt=0)}
    state = {"e": per_sample(0.0)}

    @staticmethod
    def derived(dt, tc_e_trace):
        return {"e_decay": km.exp(-dt / tc_e_trace)}

    @staticmethod
    def on_step(e, s_pre, s_post, x_pre, x_post, reward, e_decay, a_plus, a_minus, tc_e_trace):
        zeta = km.where(s_post, a_plus * x_pre, 0.0) + km.where(s_pre, a_minus * x_post, 0.0)
        e = e * e_decay + zeta / tc_e_trace
        return e, reward * e

    @staticmethod
    def apply(w, step, nu, dt):
        return w + nu * dt * step


class Triplet(LearningRule):
    """Triplet STDP (Pfister & Gerstner 2006), all-to-all interactions.

    Reads two traces on each side, both additive (``Trace(tau, additive=True)``): ``x`` (the
    source's r1 with tau_plus, the target's o1 with tau_minus) and ``slow`` (the source's r2 with
    tau_x, the target's o2 with tau_y). At a source spike the synapse is depressed by
    ``o1 * (a2_minus + a3_minus * r2)``, at a target spike potentiated by
    ``r1 * (a2_plus + a3_plus * o2)``, with r2 and o2 taken just before that spike (the traces
    already count it: hence ``- 1``). Defaults: the paper's all-to-all fit to visual cortex data,
    with tau_plus 16.8, tau_minus 33.7, tau_x 101 and tau_y 125 ms as the traces' time constants.
    """

    params = {"a2_plus": 5e-10, "a3_plus": 6.2e-3, "a2_minus": 7e-3, "a3_minus": 2.3e-4}

    @staticmethod
    def on_pre(x_post, slow_pre, a2_minus, a3_minus):
        return x_post * (a2_minus + a3_minus * (slow_pre - 1.0))

    @staticmethod
    def on_post(x_pre, slow_post, a2_plus, a3_plus):
        return x_pre * (a2_plus + a3_plus * (slow_post - 1.0))

    @staticmethod
    def apply(w, pre, post):
        return (w - pre) + post


class VoltageGated(LearningRule):
    """Spike-driven plasticity gated by the target's membrane potential (the deterministic core of
    Fusi et al. 2000 and Brader et al. 2007): at each source spike the synapse is potentiated by
    ``a_plus`` where the target's ``v`` (after this step's update) is above ``theta_v``, else
    depressed by ``a_minus``. Reads ``v_post``: the target's model needs a state variable ``v``.
    """

    params = {"a_plus": param(0.1, ge=0), "a_minus": param(0.1, ge=0), "theta_v": param(-55.0, "mV")}

    @staticmethod
    def on_pre(v_post, a_plus, a_minus, theta_v):
        return km.where(v_post > theta_v, a_plus, -a_minus)

    @staticmethod
    def apply(w, pre):
        return w + pre
