"""Scale-out on Dask (pysnn.distributed): sharded runs gather bit-identical to one process, sweeps
resume without redoing points, a killed worker costs a retry, a plugin's error comes back as itself.

The session's LocalCluster (2 worker processes on 127.0.0.1: the ``client`` fixture of
tests/conftest.py) serves the module. Its workers import this module by name (they start with this
process's sys.path) and share PYSNN_CACHE_DIR with it, so they load the compiled code the reference
runs here wrote to disk.
"""

import csv
import functools
import json
import os
import sys
import traceback

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

pytest.importorskip("distributed")
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use")

import pysnn
import pysnn.plugin
from pysnn import ConfigError, Dense, Network, OneToOne, PluginError
from pysnn.cli import main
from pysnn.distributed import Model, cluster, map_batches, require_dask, run_records, run_sharded, sweep
from pysnn.distributed import points as builtin_points
from pysnn.experiments import conversion
from pysnn.experiments.diehl_cook import Trainer
from test_errors import Fragile


def small_network() -> Network:
    """Poisson inputs -> LIF and adaptive LIF with one spike per step (random draws), recording
    counts, events, a per-sample and a shared state variable."""
    rng = np.random.default_rng(1)
    net = Network()
    net.add_input("x", 6, encoder="poisson")
    net.add_population("y", 5, model="lif")
    net.add_population("z", 4, model="adaptive_lif", one_spike=True)
    net.connect("x", "y", Dense(8.0 * rng.random((6, 5))))
    net.connect("x", "z", Dense(8.0 * rng.random((6, 4))))
    net.monitor("y", "spike_counts", "spike_events")
    net.monitor("y", "v", every=3)
    net.monitor("z", "spike_counts", "spikes")
    net.monitor("z", "theta", every=4)
    return net


NETWORK = small_network()
STEPS = 12


def one_process(backend, rates, ids, **compile_args):
    return NETWORK.compile(backend, **compile_args).run(STEPS, {"x": rates}, sample_ids=ids, learning=False)


def assert_same_records(expected, got):
    assert [key for key, _ in got.items()] == [key for key, _ in expected.items()]
    for key, record in expected.items():
        other = dict(got.items())[key]
        if isinstance(record, pysnn.SpikeEvents):
            assert other.shape == record.shape
            for field in ("step", "sample", "neuron", "sample_ids"):
                np.testing.assert_array_equal(getattr(other, field), getattr(record, field), err_msg=f"{key} {field}")
        else:
            assert other.dtype == record.dtype
            np.testing.assert_array_equal(other, record, err_msg=str(key))
    np.testing.assert_array_equal(got.sample_ids, expected.sample_ids)


@pytest.mark.parametrize("backend", ["numpy", "numba-cpu"])
@settings(max_examples=4)
@given(n=st.integers(1, 11), batch_size=st.integers(1, 12), offset=st.integers(0, 2**40))
def test_a_sharded_run_is_bit_identical_to_one_process(client, n, batch_size, offset, backend):
    rates = np.random.default_rng(n).uniform(0, 400, (n, 6))
    ids = offset + np.arange(n, dtype=np.uint64)
    expected = one_process(backend, rates, ids)
    finished = []
    got = run_sharded(
        NETWORK, {"x": rates}, STEPS, batch_size=batch_size, client=client, backend=backend, sample_ids=ids,
        progress=finished.append,
    )
    assert_same_records(expected, got)
    assert sorted(finished) == sorted(len(ids[s : s + batch_size]) for s in range(0, n, batch_size))


def test_per_step_inputs_weights_and_state_reach_the_workers(client):
    rates = np.random.default_rng(5).uniform(0, 400, (STEPS, 7, 6))
    weights = np.full((6, 5), 3.0)
    sim = NETWORK.compile("numpy", seed=4)
    sim.set_weights("x->y", weights)
    sim.set_state("z", "theta", np.arange(4.0))
    expected = sim.run(STEPS, {"x": rates}, learning=False)
    got = run_sharded(
        NETWORK, {"x": rates}, STEPS, batch_size=3, client=client, backend="numpy", seed=4,
        weights={"x->y": weights}, state={("z", "theta"): np.arange(4.0)},
    )
    assert_same_records(expected, got)
    assert len(got.spike_events("y")) > 0 and got.spikes("z").any()
    np.testing.assert_array_equal(got.state("z", "theta")[0], np.arange(4.0))


def test_diehl_cook_evaluation_on_dask_counts_the_same_spikes(client, tmp_path, monkeypatch, capsys):
    import pysnn.datasets

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (24, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 24).astype(np.uint8)
    trainer = Trainer(n_neurons=8, batch_size=8, time=15, intensity=256.0, backend="numpy")
    trainer.train(images[:16], labels[:16], quiet=True, checkpoint=tmp_path / "dac.npz")
    test, test_labels = images[16:], labels[16:]
    expected = trainer.spike_events(test)[1].counts()  # one process, the evaluation's sample ids
    assert expected.sum() > 0
    np.testing.assert_array_equal(trainer._sharded_counts(test, 3, client, None), expected)
    here = trainer.evaluate(test, test_labels, batch_size=5, quiet=True)
    assert trainer.evaluate(test, test_labels, batch_size=3, quiet=True, client=client).accuracy == here.accuracy
    monkeypatch.setattr(pysnn.datasets, "load_mnist", lambda split, root=None: (test, test_labels))
    argv = ["evaluate", str(tmp_path / "dac.npz"), "--quiet", "--backend", "numpy", "--n-test", "8", "--batch-size", "3"]
    assert main(argv + ["--scheduler", client.scheduler.address]) == 0
    assert main(argv) == 0
    there, here = (line for line in capsys.readouterr().out.splitlines() if line.startswith("test, 8 images"))
    assert there.split(" (")[0] == here.split(" (")[0]


@pytest.fixture(scope="module")
def converted():
    rng = np.random.default_rng(2)
    layers = [(rng.normal(0, 0.5, (6, 5)), rng.normal(0, 0.1, 5)), (rng.normal(0, 0.5, (5, 3)), None)]
    return conversion.convert(layers, rng.normal(0, 1, (50, 6)))


def test_conversion_on_dask_reads_the_same_outputs(client, converted):
    features = np.random.default_rng(3).normal(0, 1, (13, 6))
    here = conversion.simulate(converted, features, steps=(2, 5), batch_size=13, backend="numpy")
    there = conversion.simulate(converted, features, steps=(2, 5), batch_size=4, backend="numpy", client=client)
    assert here.counts.sum() > 0
    np.testing.assert_array_equal(there.counts, here.counts)
    np.testing.assert_array_equal(there.potentials, here.potentials)
    np.testing.assert_array_equal(there.predictions(), here.predictions())


def dies_once(sim, inputs, ids, steps, marker):
    """``run_records``, but the first task to get here kills its worker process."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return run_records(sim, inputs, ids, steps)
    os._exit(1)


def test_a_worker_killed_during_a_task_costs_a_retry_not_the_run(client, tmp_path):
    rates = np.random.default_rng(7).uniform(0, 400, (9, 6))
    expected = one_process("numpy", rates, None)
    model = Model.of(NETWORK, "numpy")
    parts = map_batches(client, model, dies_once, {"x": rates}, np.arange(9), 3, (STEPS, str(tmp_path / "died")))
    assert (tmp_path / "died").exists()
    np.testing.assert_array_equal(np.concatenate([p["y", "spike_counts"] for p in parts]), expected.spike_counts("y"))
    np.testing.assert_array_equal(np.concatenate([p["y", "v"] for p in parts], axis=1), expected.state("y", "v"))
    assert set(client.run(os.getenv, "NUMBA_NUM_THREADS").values()) == {"1"}  # the restarted worker too


KERNEL_CHECK = pysnn.plugin.check_kernel_body


def _kernel_check(on: bool) -> None:
    """On a worker: the kernel language check on, or off as tests/test_errors.py turns it off here."""
    pysnn.plugin.check_kernel_body = KERNEL_CHECK if on else (lambda func, definition, kernel: None)


def test_a_plugin_error_in_a_task_is_the_error_one_process_raises(client, monkeypatch):
    monkeypatch.setattr("pysnn.plugin.check_kernel_body", lambda func, definition, kernel: None)
    net = Network()
    net.add_input("x", 2, encoder="current")
    net.add_population("y", 2, model=Fragile)
    net.connect("x", "y", OneToOne(1.0))
    net.monitor("y", "spike_counts")
    inputs = {"x": np.full((4, 2), 1.0)}
    with pytest.raises(PluginError) as here:
        net.compile("numpy").run(10, inputs)
    client.run(_kernel_check, False)
    try:
        with pytest.raises(PluginError) as there:
            run_sharded(net, inputs, 10, batch_size=2, client=client, backend="numpy")
    finally:
        client.run(_kernel_check, True)
    assert str(there.value) == str(here.value)
    assert "membrane potential left the model's domain" in str(there.value)
    frames = traceback.extract_tb(there.tb)
    assert not any("site-packages/distributed" in frame.filename for frame in frames)
    assert there.value.__cause__ is None and there.value.__suppress_context__


def square(x, y=1, *, calls, fail_at=None, data=None, backend=None):
    """A sweep point that counts its calls (a file each) and fails at x == fail_at (``data`` and
    ``backend``: what ``pysnn sweep`` passes its experiments)."""
    with open(os.path.join(calls, f"{x}-{y}-{os.urandom(4).hex()}"), "w"):
        pass
    if x == fail_at:
        raise ConfigError(f"x={x} fails on purpose")
    return {"square": x * x * y}


def test_an_interrupted_sweep_resumes_without_redoing_finished_points(client, tmp_path):
    calls = tmp_path / "calls"
    calls.mkdir()
    grid = {"x": list(range(6)), "y": [1, 2]}
    out = tmp_path / "sweep.csv"
    with pytest.raises(ConfigError, match="x=4 fails on purpose"):
        sweep(grid, functools.partial(square, calls=str(calls), fail_at=4), client, out)
    journal = [json.loads(line) for line in open(f"{out}.jsonl")]
    finished = {(entry["point"]["x"], entry["point"]["y"]) for entry in journal}
    assert all(x != 4 for x, _ in finished)
    records = sweep(grid, functools.partial(square, calls=str(calls)), client, out)
    assert records == [{"x": x, "y": y, "square": x * x * y} for x in range(6) for y in (1, 2)]
    counts = {}
    for name in os.listdir(calls):
        x, y, _ = name.split("-")
        counts[int(x), int(y)] = counts.get((int(x), int(y)), 0) + 1
    assert set(counts) == {(x, y) for x in range(6) for y in (1, 2)}
    assert all(counts[point] == 1 for point in finished)
    with out.open() as f:
        assert [{k: int(v) for k, v in row.items()} for row in csv.DictReader(f)] == records
    assert sweep([{"x": 3}], functools.partial(square, calls=str(calls)), None)[0] == {"x": 3, "square": 9}


def test_convert_on_a_dask_cluster_gives_the_accuracy_of_one_process(tmp_path, monkeypatch, capsys):
    import pysnn.datasets

    rng = np.random.default_rng(0)
    data = {
        split: (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8))
        for split, n in (("train", 200), ("test", 30))
    }
    monkeypatch.setattr(pysnn.datasets, "load_mnist", lambda split, root=None: data[split])
    sizes = [(784, 256), (256, 128), (128, 10)]
    conversion.save_layers(
        tmp_path / "mlp-784-256-128-10-seed0-epochs20.npz",
        [(rng.normal(0, 0.05, size), rng.normal(0, 0.05, size[1])) for size in sizes],
    )
    argv = ["convert", "--quiet", "--backend", "numpy", "--n-test", "30", "--batch-size", "8", "--steps", "3,6",
            "--weights", str(tmp_path)]
    assert main(argv + ["--out", str(tmp_path / "here.json")]) == 0
    assert main(argv + ["--dask", "1", "--out", str(tmp_path / "there.json")]) == 0
    here, there = (json.loads((tmp_path / name).read_text()) for name in ("here.json", "there.json"))
    assert [(r["steps"], r["n_images"], r["accuracy"]) for r in there] == [(r["steps"], r["n_images"], r["accuracy"]) for r in here]
    assert "Dask dashboard: http://127.0.0.1:" in capsys.readouterr().err


def test_pysnn_sweep_writes_the_table_of_its_grid(tmp_path, monkeypatch, capsys):
    calls = tmp_path / "calls"
    calls.mkdir()
    monkeypatch.setitem(builtin_points.EXPERIMENTS, "dac", functools.partial(square, calls=str(calls)))
    out = tmp_path / "table.json"
    assert main(["sweep", "dac", "--quiet", "--grid", "x=2,3", "--grid", "y=10", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == [{"x": 2, "y": 10, "square": 40}, {"x": 3, "y": 10, "square": 90}]
    assert "x=3, y=10, square=90" in capsys.readouterr().out
    assert main(["sweep", "dac", "--grid", "z=1"]) == 1
    assert "unknown parameter(s) ['z']" in capsys.readouterr().err


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: run_sharded(NETWORK, {"x": np.ones((3, 6))}, 5, batch_size=0, client=None), "batch_size must be a positive"),
        (lambda: run_sharded(NETWORK, {"x": np.ones(6)}, 5, batch_size=2, client=None), r"inputs\['x'\] must have shape"),
        (
            lambda: run_sharded(NETWORK, {"x": np.ones((3, 6))}, 5, batch_size=2, client=None, sample_ids=[1, 2]),
            "sample_ids must be 3 non-negative integers",
        ),
        (
            lambda: run_sharded(NETWORK, {"x": np.ones((3, 6))}, 5, batch_size=2, client=None, retries=-1),
            "retries must be an integer >= 0",
        ),
        (lambda: sweep({"x": "abc"}, square, None), "a grid maps each parameter to a list"),
        (lambda: sweep({"x": 5}, square, None), "a grid maps each parameter to a list"),
        (lambda: sweep([{"x": object()}], square, None), "must be JSON data"),
        (lambda: sweep(["x=1"], square, None), "a list of dicts of parameters"),
        (lambda: sweep([], square, None), "at least one parameter set"),
        (lambda: cluster(2, "tcp://127.0.0.1:1").__enter__(), "not both"),
    ],
)
def test_bad_arguments_are_config_errors(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_a_scheduler_that_does_not_answer_is_a_config_error():
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "0.2s"}):
        with pytest.raises(ConfigError, match="scheduler='tcp://127.0.0.1:9' did not answer"):
            with cluster(scheduler="tcp://127.0.0.1:9"):
                pass


def test_without_dask_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ConfigError, match=r"pysnn-minibatch\[dask\]"):
        require_dask()


class _DyingWorkers:
    """A stand-in client whose first scatters fail as a dying worker makes them fail: the
    connection closes (OSError), or the scheduler has dropped the worker's address (KeyError)."""

    def __init__(self, *failures: Exception) -> None:
        self.failures, self.calls = list(failures), 0

    def scatter(self, data, broadcast=False, hash=True):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return [f"future of {item}" for item in data]


def test_a_scatter_that_meets_a_dying_worker_is_tried_again(monkeypatch):
    from pysnn.distributed import sharded

    monkeypatch.setattr(sharded.time, "sleep", lambda seconds: None)
    client = _DyingWorkers(OSError("closed"), KeyError("tcp://127.0.0.1:1"))
    assert sharded._scatter(client, ["model"]) == ["future of model"] and client.calls == 3
    client = _DyingWorkers(*[KeyError("tcp://127.0.0.1:1")] * sharded.SCATTER_ATTEMPTS)
    with pytest.raises(KeyError):
        sharded._scatter(client, ["model"])
    assert client.calls == sharded.SCATTER_ATTEMPTS
