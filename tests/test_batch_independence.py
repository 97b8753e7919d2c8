"""Batch == sequential: a sample's spikes, records and final state are bit-identical whether it
runs alone or at any position of a batch of any size, duplicated or shuffled, on each backend."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from networks import assert_identical, cases, compiled_backends, snapshot

SAMPLES = 6


@given(
    case=cases(samples=SAMPLES),
    backend=compiled_backends(numpy=True),
    dtype=st.sampled_from(["float32", "float64"]),
    batch=st.lists(st.integers(0, SAMPLES - 1), min_size=1, max_size=6),
)
def test_sample_result_does_not_depend_on_its_batch(case, backend, dtype, batch):
    sim = case.network.compile(backend=backend, dtype=dtype, seed=3)
    together = snapshot(sim, sim.run(case.steps, case.inputs(batch), sample_ids=batch, learning=False))
    for position, sample in enumerate(batch):
        sim.reset()
        alone = snapshot(sim, sim.run(case.steps, case.inputs([sample]), sample_ids=[sample], learning=False))
        assert_identical(together, alone, rows=[position])


@given(case=cases(samples=SAMPLES), backend=compiled_backends(numpy=True))
def test_random_numbers_follow_sample_ids_not_batch_slots(case, backend):
    """Two slots holding the same sample (same input and id) agree, whatever their positions."""
    sim = case.network.compile(backend=backend)
    inputs = case.inputs([0, 0, 0])
    arrays = snapshot(sim, sim.run(case.steps, inputs, sample_ids=[5, 6, 5], learning=False))
    for key, (array, axis) in arrays.items():
        if axis is not None:
            assert np.take(array, 0, axis=axis).tobytes() == np.take(array, 2, axis=axis).tobytes(), key
