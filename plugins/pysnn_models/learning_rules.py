"""Learning rules in event form (see ``pysnn.plugin``).

``x_pre`` / ``x_post`` are the spike traces of the source and target populations (declare them
with ``trace=pysnn.Trace(tau)``), already updated with this step's spikes. Terms are reduced over
the batch with the projection's reduction before ``apply``; a sample without the event adds 0.
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
