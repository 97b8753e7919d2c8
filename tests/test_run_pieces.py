"""Runs in pieces (pysnn.run_chunks): the same bits as one piece, progress reports, Ctrl-C stops a
run at a step boundary keeping the completed steps, an error in a later piece changes nothing."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pysnn.run_chunks as run_chunks
from pysnn import ConfigError, Dense, Learning, Network, Trace
from pysnn.run_chunks import RunInterrupted

from networks import COMPILED_BACKENDS, assert_unchanged, full_state, snapshot

STEPS, BATCH = 41, 3


def learning_network():
    net = Network()
    net.add_input("x", 6, encoder="spikes", trace=Trace(20.0, additive=True))
    net.add_population("y", 5, model="adaptive_lif", trace=Trace(20.0, additive=True))
    net.connect("x", "y", Dense(np.full((6, 5), 9.0)), learning=Learning("mstdp", {"nu": 0.2}, wmin=0.0, wmax=20.0))
    net.monitor("y", "spike_counts", "spikes")
    net.monitor("y", "v", every=2)
    net.monitor("y", "theta", every=3)
    return net


def run_kwargs():
    rng = np.random.default_rng(4)
    return {"inputs": {"x": rng.random((STEPS, BATCH, 6)) < 0.4}, "reward": rng.uniform(-1, 1, (STEPS, BATCH))}


def many_pieces(monkeypatch):
    """Pieces of 6 steps (the monitors' period), whatever their speed."""
    monkeypatch.setattr(run_chunks, "FIRST_PIECE_STEPS", 1)
    monkeypatch.setattr(run_chunks, "PIECE_SECONDS", 0.0)


@pytest.mark.parametrize("backend", ["numpy", *COMPILED_BACKENDS])
def test_a_run_in_pieces_equals_one_piece(backend, monkeypatch):
    whole = learning_network().compile(backend=backend)
    expected = snapshot(whole, whole.run(**run_kwargs()))
    many_pieces(monkeypatch)
    calls = []
    sim = learning_network().compile(backend=backend)
    original = type(sim._engine).run
    monkeypatch.setattr(type(sim._engine), "run", lambda self, state, args: (calls.append(args.steps), original(self, state, args)))
    got = snapshot(sim, sim.run(**run_kwargs()))
    assert calls == [6] * 6 + [5] and sim.step == STEPS
    assert expected.keys() == got.keys()
    for key, (array, _) in expected.items():
        assert array.tobytes() == got[key][0].tobytes(), key


def test_progress_is_reported_after_each_piece(monkeypatch):
    many_pieces(monkeypatch)
    seen = []
    learning_network().compile(backend="numpy").run(**run_kwargs(), progress=lambda done, total: seen.append((done, total)))
    assert seen == [(6 * k, STEPS) for k in range(1, 7)] + [(STEPS, STEPS)]
    with pytest.raises(ConfigError, match="progress must be True, False, None or a function"):
        learning_network().compile(backend="numpy").run(**run_kwargs(), progress="yes")


def test_a_progress_bar_on_request(capsys):
    out = learning_network().compile(backend="numpy").run(**run_kwargs(), progress=True)
    assert out.steps == STEPS and capsys.readouterr().out == ""  # the bar is quiet when not on a terminal


def test_ctrl_c_stops_at_a_piece_boundary_and_keeps_the_completed_steps(monkeypatch):
    many_pieces(monkeypatch)
    reference = learning_network().compile(backend="numpy")
    full = reference.run(**run_kwargs())

    def press_ctrl_c(done, total):
        if done == 12:
            signal.raise_signal(signal.SIGINT)

    sim = learning_network().compile(backend="numpy")
    with pytest.raises(KeyboardInterrupt) as caught:
        sim.run(**run_kwargs(), progress=press_ctrl_c)
    interrupted = caught.value
    assert isinstance(interrupted, RunInterrupted) and interrupted.requested == STEPS
    assert interrupted.result.steps == sim.step == 12 and "after 12 of 41 steps" in str(interrupted)
    assert np.array_equal(interrupted.result.spikes("y"), full.spikes("y")[:12])
    assert np.array_equal(interrupted.result.state("y", "v"), full.state("y", "v")[:6])
    assert np.array_equal(interrupted.result.state("y", "theta"), full.state("y", "theta")[:4])
    assert np.array_equal(interrupted.result.spike_counts("y"), full.spikes("y")[:12].sum(axis=0))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_an_error_in_a_later_piece_changes_nothing(monkeypatch):
    many_pieces(monkeypatch)
    sim = learning_network().compile(backend="numpy")
    sim.run(**run_kwargs())
    before = full_state(sim)
    original, calls = type(sim._engine).run, []

    def fail_third(self, state, args):
        calls.append(args.step0)
        if len(calls) == 3:
            raise RuntimeError("a kernel failed")
        original(self, state, args)

    monkeypatch.setattr(type(sim._engine), "run", fail_third)
    with pytest.raises(RuntimeError, match="a kernel failed"):
        sim.run(**run_kwargs())
    assert calls == [STEPS, STEPS + 6, STEPS + 12]
    assert_unchanged(before, sim)


def test_a_deferred_learning_run_is_one_piece(monkeypatch):
    many_pieces(monkeypatch)
    sim = learning_network().compile(backend="numpy")
    original, calls = type(sim._engine).run, []
    monkeypatch.setattr(type(sim._engine), "run", lambda self, state, args: (calls.append(args.steps), original(self, state, args)))
    sim.run(**run_kwargs(), deferred=True)
    assert calls == [STEPS]


def test_ctrl_c_stops_a_long_compiled_run_promptly(tmp_path):
    """A run of two million steps (tens of seconds) gets SIGINT after its first piece: it stops
    within a few pieces, keeps its steps, and the simulation runs on."""
    script = textwrap.dedent(
        """
        import os, signal, threading, time
        import numpy as np
        from pysnn import Dense, Network
        from pysnn.run_chunks import RunInterrupted
        net = Network()
        net.add_input("x", 100, encoder="poisson")
        net.add_population("y", 1000, model="lif")
        net.connect("x", "y", Dense(np.full((100, 1000), 0.2)))
        net.monitor("y", "spike_counts")
        sim = net.compile(backend="numba-cpu")
        rates = {"x": np.full((16, 100), 50.0)}
        sim.run(10, rates)
        sent = []
        def press(done, total):
            if not sent:
                sent.append(time.perf_counter())
                threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            sim.run(2_000_000, rates, progress=press)
        except RunInterrupted as exc:
            print(exc.result.steps, sim.step - 10, time.perf_counter() - sent[0] - 0.5)
        print(sim.run(5, rates).steps)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, "PYSNN_CACHE_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    done, counted, latency = first.split()
    assert int(done) == int(counted) and 0 < int(done) < 2_000_000
    assert float(latency) < 5.0 and second == "5"
