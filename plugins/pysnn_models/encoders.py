"""Encoders: how input populations turn per-sample input values into their output."""

import math

from pysnn import Encoder
from pysnn import kernel_math as km


class Poisson(Encoder):
    """Poisson spike trains: spike with probability ``rate * dt / 1000`` each step (rate in Hz).

    At most one spike per step (a Bernoulli approximation of the Poisson process, as BindsNET's):
    rates of ``1000 / dt`` Hz and above spike at every step."""

    input_range = (0.0, math.inf)
    input_description = "firing rates in Hz"

    @staticmethod
    def encode(x, rng, dt):
        return km.uniform(rng, 0) < x * dt * 0.001


class Bernoulli(Encoder):
    """Spike with probability ``x`` each step."""

    input_range = (0.0, 1.0)
    input_description = "spike probabilities per step"

    @staticmethod
    def encode(x, rng):
        return km.uniform(rng, 0) < x


class Current(Encoder):
    """Analog output: the input value itself (a current), e.g. an image for a converted ANN."""

    output = "analog"
    input_description = "currents"

    @staticmethod
    def encode(x):
        return x


class Spikes(Encoder):
    """Replays given spikes: input is bool (or 0/1), usually a (steps, batch, n) spike train."""

    input_dtype = "bool"
    input_range = (0.0, 1.0)
    input_description = "spikes (bool or 0/1)"

    @staticmethod
    def encode(x):
        return x
