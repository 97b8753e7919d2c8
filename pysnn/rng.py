"""Counter-based random numbers.

A draw is a pure function of (seed, stream, sample id, step, element, draw index): no generator
state is carried between steps, so every backend, batch size and thread count sees the same
numbers, and a sample's numbers depend on its id (its index in the data set), not on its slot in
the batch.

The construction is SplitMix64 used as a hash: keys are combined with the golden-ratio increment
and finalised with the SplitMix64 mixer (Stafford's variant 13), whose outputs pass BigCrush for
sequential inputs.

- ``stream_key(seed, stream)``: one key per random stream (one per population), once per run.
- ``step_key(stream_key, sample_id, step)``: one key per sample and step.
- ``element_key(step_key, index)``: the key handed to a kernel as its ``rng`` argument.
- ``spike_choice(stream_key, sample_id, step, n, count)``: which of the ``count`` neurons that
  spiked keeps its spike in a population of ``n`` with at most one spike per step.
- ``kernel_math.uniform(rng, i)``: the i-th uniform draw (0 <= i < 256) of that element, from the
  counter ``rng + i * GOLDEN``. Neighbouring elements' keys are 2**DRAW_BITS counters apart, so
  any other ``i`` would draw a neighbour's number: it gives NaN instead.

All functions work element-wise on ``uint64`` NumPy arrays and compile under Numba for scalars.
"""

import hashlib

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
DRAW_BITS = np.uint64(8)
"""Each element owns 2**8 consecutive counters: ``uniform(rng, i)`` accepts 0 <= i < 256
(``kernel_math.DRAWS``; a constant index outside is rejected at load, another draws NaN)."""


def mix(z):
    """SplitMix64 finaliser: a bijective avalanche of a ``uint64``."""
    z = (z ^ (z >> _S30)) * _MUL1
    z = (z ^ (z >> _S27)) * _MUL2
    return z ^ (z >> _S31)


def step_key(stream, sample_id, step):
    """Key of one sample at one time step of one stream."""
    return mix(mix(stream + sample_id * GOLDEN) + step * GOLDEN)


def element_key(key, index):
    """Key of element ``index`` (a neuron) given its step key; the ``rng`` kernel argument."""
    return key + ((index << DRAW_BITS) * GOLDEN)


def spike_choice(stream, sample_id, step, n, count):
    """An index in [0, ``count``) (0 < count < 2**32), uniform up to a bias below count / 2**32:
    the high 32 bits of the hashed key of element ``n`` (one past the population's neurons, whose
    keys its kernels use), times ``count``, shifted down 32 bits (integer arithmetic: the same
    on every backend). All arguments ``uint64``."""
    return ((mix(element_key(step_key(stream, sample_id, step), n)) >> _S32) * count) >> _S32


def stream_key(seed: int, stream: str) -> np.uint64:
    """Key of a named random stream (e.g. a population) for a simulation seed."""
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed={seed!r} must be an integer in [0, 2**64)")
    digest = hashlib.blake2b(stream.encode(), digest_size=8).digest()
    with np.errstate(over="ignore"):
        return mix(np.asarray([seed], np.uint64) ^ mix(np.frombuffer(digest, np.uint64).copy()))[0]
