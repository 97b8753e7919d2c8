"""Every compiled backend (numba-cpu, numba-cuda) reproduces the NumPy reference bit for bit (same
float operations in the same order), for random networks of every standard model, encoder, synapse and connectivity
kind, in float32 and float64, with and without learning, across consecutive runs."""

import numpy as np
from hypothesis import Phase, find, given, settings, target
from hypothesis import strategies as st

from networks import assert_identical, cases, compiled_backends, snapshot


def neuron_spikes(result) -> int:
    return int(sum(a.sum() for (pop, what), a in result.items() if what == "spike_counts" and pop.startswith("pop")))


@given(
    case=cases(),
    dtype=st.sampled_from(["float32", "float64"]),
    batch=st.integers(1, 4),
    learning=st.booleans(),
    backend=compiled_backends(),
)
def test_compiled_backend_equals_numpy(case, dtype, batch, learning, backend):
    samples = list(range(batch))
    snapshots = []
    for engine in ("numpy", backend):
        sim = case.network.compile(backend=engine, dtype=dtype, seed=7)
        first = sim.run(case.steps, case.inputs(samples), learning=learning)
        after_first = snapshot(sim, first)
        second = sim.run(case.steps, case.inputs(samples), sample_ids=np.arange(batch) + 10, learning=learning)
        snapshots.append((after_first, snapshot(sim, second)))
    target(float(neuron_spikes(first)))
    for numpy_snapshot, numba_snapshot in zip(*snapshots):
        assert_identical(numpy_snapshot, numba_snapshot)


def test_strategy_builds_active_networks():
    """Random networks with several spiking populations exist in the strategy's space, so the
    comparisons above are not of silent runs (any one will do: no shrinking)."""

    def active(case):
        if len([p for p in case.network.populations if p.startswith("pop")]) < 2:
            return False
        out = case.network.compile(backend="numpy").run(case.steps, case.inputs([0, 1]))
        spiking = [p for (p, w), a in out.items() if w == "spike_counts" and p.startswith("pop") and a.sum() > 0]
        return len(spiking) >= 2

    case = find(cases(), active, settings=settings(database=None, max_examples=200, phases=[Phase.generate]))
    assert active(case)
