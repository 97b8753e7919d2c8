"""The spike_events monitor (pysnn.spike_events): the same spikes as the dense ``spikes`` and
``spike_counts`` monitors on every backend, over runs of many pieces whose buffer holds one piece,
interrupted runs and deferred runs; a long run of a large network never holds its dense record."""

import signal
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pysnn.run_chunks as run_chunks
from pysnn import ConfigError, Dense, Network, SpikeEvents
from pysnn.run_chunks import RunInterrupted
from pysnn.spike_events import dense_events

from networks import COMPILED_BACKENDS

STEPS, BATCH, N_X, N_Y = 25, 3, 6, 8
RATES = np.random.default_rng(2).uniform(0, 400, (BATCH, N_X))


def small_net():
    """Poisson inputs -> LIF; both populations' spikes recorded densely and as events, and ``v``
    every 3 steps (pieces are multiples of 3)."""
    net = Network()
    net.add_input("x", N_X, encoder="poisson")
    net.add_population("y", N_Y, model="lif")
    net.connect("x", "y", Dense(np.random.default_rng(1).uniform(0, 9, (N_X, N_Y))))
    net.monitor("x", "spikes", "spike_events")
    net.monitor("y", "spike_counts", "spikes", "spike_events")
    net.monitor("y", "v", every=3)
    return net


def buffer_of_steps(steps, monkeypatch):
    """The events' buffers (of both populations) hold ``steps`` steps."""
    monkeypatch.setattr(run_chunks, "EVENT_BUFFER_BYTES", steps * BATCH * (N_X + N_Y))


def interval_sums(spikes: np.ndarray, interval: int) -> np.ndarray:
    """Spikes per ``interval`` steps of a dense record, the last interval shorter if need be."""
    padded = np.concatenate([spikes, np.zeros((-len(spikes) % interval, *spikes.shape[1:]), bool)])
    return padded.reshape(-1, interval, *spikes.shape[1:]).sum(axis=1)


def assert_events_match(events: SpikeEvents, spikes: np.ndarray, step0: int = 0):
    """``events`` hold exactly the spikes of the dense record ``spikes``."""
    batch = spikes.shape[1]
    assert events.shape == spikes.shape and events.step0 == step0 and len(events) == spikes.sum() > 0
    assert (events.step.dtype, events.sample.dtype, events.neuron.dtype) == (np.int64, np.int32, np.int32)
    assert np.array_equal(events.to_dense(), spikes)
    assert np.array_equal(events.counts(), spikes.sum(axis=0))
    assert np.array_equal(events.counts(4), interval_sums(spikes, 4))
    assert events.counts().dtype == events.counts(4).dtype == np.int32
    step, neuron = events.raster(batch - 1)
    assert np.array_equal(np.stack([step, neuron]), np.nonzero(spikes[:, batch - 1]))


@pytest.mark.parametrize("backend", ["numpy", *COMPILED_BACKENDS])
def test_events_equal_the_dense_records_over_pieces_that_reuse_one_buffer(backend, monkeypatch):
    buffer_of_steps(7, monkeypatch)  # 6 steps: the most multiple of v's every=3 that fits
    sim = small_net().compile(backend=backend)
    pieces = []
    original = type(sim._engine).run

    def run(self, state, args):
        pieces.append((args.steps, {m.name: b.shape for m, b in args.records.items() if m.what == "spikes"}))
        original(self, state, args)

    monkeypatch.setattr(type(sim._engine), "run", run)
    first = sim.run(STEPS, {"x": RATES})
    assert sum(steps for steps, _ in pieces) == STEPS and len(pieces) >= 5
    assert all(steps <= 6 and steps % 3 == 0 for steps, _ in pieces[:-1])
    assert all(shapes["spike_events"][1:] == (BATCH, shapes["spikes"][2]) for _, shapes in pieces)
    assert all(shapes["spike_events"][0] == steps <= 6 for steps, shapes in pieces)
    for pop in ("x", "y"):
        assert_events_match(first.spike_events(pop), first.spikes(pop))
    assert np.array_equal(first.spike_events("y").counts(), first.spike_counts("y"))
    second = sim.run(10, {"x": RATES})  # steps are the run's, from step0
    assert_events_match(second.spike_events("y"), second.spikes("y"), step0=STEPS)
    assert np.array_equal(second.spike_events("y").sample_ids, np.arange(BATCH))


def test_an_interrupted_run_keeps_the_events_of_its_completed_steps(monkeypatch):
    buffer_of_steps(3, monkeypatch)
    full = small_net().compile(backend="numpy").run(STEPS, {"x": RATES})

    def press_ctrl_c(done, total):
        if done == 12:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(RunInterrupted) as caught:
        small_net().compile(backend="numpy").run(STEPS, {"x": RATES}, progress=press_ctrl_c)
    events = caught.value.result.spike_events("y")
    assert events.steps == 12
    assert_events_match(events, full.spikes("y")[:12])


def test_a_deferred_learning_run_is_one_piece_and_records_it_whole(monkeypatch):
    buffer_of_steps(3, monkeypatch)
    sim = small_net().compile(backend="numpy")
    buffers = []
    original = type(sim._engine).run

    def run(self, state, args):
        buffers.append([b.shape[0] for m, b in args.records.items() if m.events])
        original(self, state, args)

    monkeypatch.setattr(type(sim._engine), "run", run)
    out = sim.run(STEPS, {"x": RATES}, deferred=True)
    assert buffers == [[STEPS, STEPS]]
    assert_events_match(out.spike_events("y"), out.spikes("y"))


def test_a_long_run_of_a_large_network_never_holds_its_dense_record():
    """16 samples of 70 000 neurons for 1000 steps: 1.1 GB as a dense record; seven neurons spike
    at every step (their threshold is below the resting potential)."""
    steps, batch, n = 1000, 16, 70_000
    thresh = np.full(n, -52.0)
    thresh[::10_000] = -66.0
    net = Network()
    net.add_population("y", n, model="lif", params={"thresh": thresh})
    net.monitor("y", "spike_counts", "spike_events")
    sim = net.compile(backend="numba-cpu", batch_size=batch)
    sim.run(1)  # compiles
    tracemalloc.start()
    try:
        out = sim.run(steps)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    events = out.spike_events("y")
    assert steps * batch * n > 2**30
    assert peak < 2 * run_chunks.EVENT_BUFFER_BYTES  # the events' buffer and the state's working copy
    assert len(events) == steps * batch * 7 and np.array_equal(events.counts(), out.spike_counts("y"))
    assert np.array_equal(np.unique(events.neuron), np.arange(0, n, 10_000))


@given(
    st.tuples(st.integers(1, 9), st.integers(1, 4), st.integers(1, 13)),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
    st.integers(1, 10),
)
def test_dense_events_are_the_spikes_in_step_sample_neuron_order(shape, density, seed, interval):
    """Two pieces (steps 0-1, then 2-) joined: the spikes of the whole, in np.nonzero's order."""
    spikes = np.random.default_rng(seed).random(shape) < density
    pieces = [dense_events(spikes[:2], 0), dense_events(spikes[2:], 2)]
    events = SpikeEvents.joined(pieces, shape[0], shape[2], np.arange(shape[1]), 5)
    assert np.array_equal(np.stack([events.step, events.sample, events.neuron]), np.nonzero(spikes))
    assert np.array_equal(events.to_dense(), spikes)
    assert np.array_equal(events.counts(interval), interval_sums(spikes, interval))


def test_mistakes_are_refused():
    net = small_net()
    with pytest.raises(ConfigError, match="'spike_events' of 'y' is monitored already"):
        net.monitor("y", "spike_events")
    analog = Network()
    analog.add_input("c", 2, encoder="current")
    with pytest.raises(ConfigError, match="monitor 'spike_events': input population 'c' emits analog values"):
        analog.monitor("c", "spike_events")
    out = net.compile(backend="numpy").run(4, {"x": RATES})
    events = out.spike_events("y")
    with pytest.raises(ConfigError, match=r"counts interval \(steps per interval\) must be a positive integer, got 0"):
        events.counts(0)
    for bad in (-1, BATCH, 1.0, True):
        with pytest.raises(ConfigError, match=rf"raster sample={bad!r} must be a batch row, an integer from 0 to {BATCH - 1}"):
            events.raster(bad)
    with pytest.raises(ConfigError, match=r"'spike_events' of 'z' was not monitored"):
        out.spike_events("z")
