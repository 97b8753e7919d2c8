"""The COBA benchmark network (benchmarks/coba.py) built from standard plugins reproduces Brian2's
simulation of the same instance spike for spike, on numba-cpu in float64."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from coba import POPULATIONS, coba_network  # noqa: E402

BRIAN2_SPIKES_PER_100_STEPS = [478, 201, 771, 675, 637, 554, 598, 593, 625, 647]
"""Spikes of all 4000 neurons in each 100 steps (10 ms) of instance 0, simulated by Brian2 2.9.0
(benchmarks/coba_brian2.py, C++ standalone and runtime modes agree)."""


def test_coba_reproduces_brian2_spike_for_spike():
    net = coba_network(seed=0)
    for pop in POPULATIONS:
        net.monitor(pop, "spikes")
    out = net.compile(backend="numba-cpu", dtype="float64", batch_size=1).run(1000)
    spikes = sum(out.spikes(pop)[:, 0].sum(axis=1) for pop in POPULATIONS)
    per_100 = spikes.reshape(10, 100).sum(axis=1)
    np.testing.assert_array_equal(per_100, BRIAN2_SPIKES_PER_100_STEPS)
