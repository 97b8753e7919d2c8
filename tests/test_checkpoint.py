"""Checkpoints: training interrupted and resumed from a checkpoint ends bit-identical to an
uninterrupted run (on one backend and across backends); every bad file raises a
``CheckpointError`` that names it and changes nothing; the structure hash ignores values and
tells structures apart."""

import json
import zipfile

import numpy as np
import pytest

from pysnn import CheckpointError, ConfigError, Dense, Learning, Network, Sparse, Trace, load_checkpoint, save_checkpoint
from pysnn.checkpoint import read_progress
from pysnn_models.adaptive_lif import AdaptiveLIF

from networks import assert_unchanged, full_state

N_IN, N_OUT, STEPS, BATCH, PRESENTATIONS = 24, 10, 50, 4, 3
TOTAL = 12.0
"""Each target's summed input weights after a presentation (``normalize_weights``)."""
RATES = np.random.default_rng(1).uniform(0, 150, (PRESENTATIONS, BATCH, N_IN))
"""Poisson rates (Hz) of each presentation's batch."""
IDS = np.arange(PRESENTATIONS * BATCH).reshape(PRESENTATIONS, BATCH)
"""Each presentation's samples' ids in the data set (they key the samples' random numbers)."""


def build(
    n_out=N_OUT, model="adaptive_lif", connectivity="dense", weight_seed=0, dt=1.0, one_spike=False,
    rule="postpre", reduction="sum", synapse="exponential", additive=False, delay=1,
) -> Network:
    """Poisson inputs -> ``n_out`` neurons learning with PostPre, with lateral inhibition through
    an exponential synapse (per-sample synapse state); its spike counts monitored. The options
    change its structure, except ``weight_seed`` and ``dt`` (values; but ``weight_seed`` also
    chooses which synapses a sparse connectivity has)."""
    rng = np.random.default_rng(weight_seed)
    net = Network(dt=dt)
    net.add_input("x", N_IN, encoder="poisson", trace=Trace(20.0, additive))
    params = {"theta_plus": 0.5, "tc_theta_decay": 500.0} if model in ("adaptive_lif", AdaptiveLIF) else None
    net.add_population("y", n_out, model=model, params=params, trace=Trace(20.0), one_spike=one_spike)
    w = rng.uniform(0, 1.0, (N_IN, n_out))
    conn = Dense(w) if connectivity == "dense" else Sparse.from_dense(w, w > 0.1)
    learning = Learning(rule, {"nu_pre": 1e-3, "nu_post": 1e-2}, reduction, wmin=0.0, wmax=1.0)
    net.connect("x", "y", conn, learning=learning, delay=delay)
    inhibition = Dense(-1.0 * (1 - np.eye(n_out)))
    net.connect("y", "y", inhibition, synapse=synapse, params={"tau": 5.0} if synapse != "delta" else None)
    net.monitor("y", "spike_counts")
    return net


def present(sim, p, start=0, stop=STEPS) -> np.ndarray:
    """Steps ``start`` to ``stop`` of presentation ``p``: a new batch at its start, the weights
    normalised at its end; the spike counts of ``y``."""
    if start == 0:
        sim.reset()
    counts = sim.run(stop - start, inputs={"x": RATES[p]}, sample_ids=IDS[p]).spike_counts("y")
    if stop == STEPS:
        sim.normalize_weights("x->y", TOTAL)
    return counts


@pytest.mark.parametrize(
    "saved_on, loaded_on, split",
    [("numpy", "numpy", 0), ("numpy", "numpy", 30), ("numba-cpu", "numba-cpu", 30), ("numpy", "numba-cpu", 30)],
)
def test_resumed_training_is_bit_identical(tmp_path, saved_on, loaded_on, split):
    """Three presentations in one go, or interrupted after step ``split`` of the third (0: between
    presentations), saved, and resumed in a new simulation of a newly built network: the same
    weights, theta, every state array, step counter and spike counts, bit for bit."""
    reference = build().compile(backend=saved_on)
    expected = [present(reference, p) for p in range(PRESENTATIONS)]

    sim = build().compile(backend=saved_on)
    counts = [present(sim, p) for p in range(PRESENTATIONS - 1)]
    partial = present(sim, PRESENTATIONS - 1, 0, split) if split else np.zeros_like(counts[0])
    progress = {"presentation": PRESENTATIONS - 1, "step": split, "counts": np.stack(counts), "partial": partial}
    save_checkpoint(tmp_path / "run.npz", sim, progress)
    del sim

    resumed = build().compile(backend=loaded_on)
    restored = load_checkpoint(tmp_path / "run.npz", resumed)
    assert restored["presentation"] == PRESENTATIONS - 1 and restored["step"] == split
    assert resumed.step == (split or STEPS) and resumed.batch_size == BATCH  # split 0: the end of the second
    last = present(resumed, restored["presentation"], restored["step"]) + restored["partial"]

    np.testing.assert_array_equal(restored["counts"], expected[:-1])
    np.testing.assert_array_equal(last, expected[-1])
    assert np.array_equal(resumed.weights("x->y"), reference.weights("x->y"))
    assert np.array_equal(resumed.state("y", "theta"), reference.state("y", "theta"))
    assert_unchanged(full_state(reference), resumed)  # every state array, the step and the batch size
    untrained = build().compile(backend="numpy")
    present(untrained, PRESENTATIONS - 1)
    assert not np.array_equal(untrained.weights("x->y"), resumed.weights("x->y"))  # the checkpoint carried state
    assert resumed.state("y", "theta").max() > 0 and expected[-1].sum() > 0


@pytest.fixture
def checkpoint(tmp_path):
    """A checkpoint of a simulation stopped in its second presentation (numpy, float32)."""
    sim = build().compile(backend="numpy")
    present(sim, 0)
    present(sim, 1, 0, 20)
    path = tmp_path / "good.npz"
    save_checkpoint(path, sim, {"epoch": 1})
    return path


def _rewrite(source, target, change) -> None:
    """Write to ``target`` the entries of checkpoint ``source`` after ``change(arrays, meta)``."""
    with np.load(source) as loaded:
        arrays = dict(loaded)
    meta = json.loads(arrays["meta"].tobytes())
    change(arrays, meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(target, **arrays)


def _entry(meta, variable) -> str:
    return next(e["array"] for e in meta["state"] if e["variable"] == variable)


def _flip(data: bytes) -> bytes:
    """``data`` with a few bytes in its middle changed."""
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 8]) + data[middle + 8 :]


def _npy(path) -> None:
    with open(path, "wb") as file:
        np.save(file, np.zeros(3))


def _foreign_zip(path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a checkpoint")


BAD_FILES = {
    "truncated to half": (lambda good, bad: bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2]), "not a readable .npz"),
    "truncated by 20 bytes": (lambda good, bad: bad.write_bytes(good.read_bytes()[:-20]), "not a readable .npz"),
    "empty": (lambda good, bad: bad.write_bytes(b""), "not a pysnn checkpoint: it is empty"),
    "garbage": (lambda good, bad: bad.write_bytes(np.random.default_rng(2).bytes(5000)), "it is not a .npz .zip. file"),
    "bytes changed inside": (lambda good, bad: bad.write_bytes(_flip(good.read_bytes())), "damaged or not a pysnn checkpoint: its entry"),
    "a .npy file": (lambda good, bad: _npy(bad), r"it holds one array \(.npy\)"),
    "a foreign zip": (lambda good, bad: _foreign_zip(bad), "not a pysnn checkpoint: it has no 'meta' entry"),
    "a foreign npz": (lambda good, bad: np.savez(bad, weights=np.ones(3)), "its entries: weights"),
    "an array missing": (
        lambda good, bad: _rewrite(good, bad, lambda a, m: a.pop(_entry(m, "theta"))),
        r"incomplete: the array of y.theta \('state_\d+'\) is missing",
    ),
    "format version 2": (
        lambda good, bad: _rewrite(good, bad, lambda a, m: m.update(version=2)),
        "format version 2 .written by a newer pysnn.*reads version 1",
    ),
    "malformed metadata": (lambda good, bad: _rewrite(good, bad, lambda a, m: m.update(step="ten")), "'step' is 'ten'"),
    "a pickled object array": (
        lambda good, bad: _rewrite(good, bad, lambda a, m: a.update({_entry(m, "theta"): np.array([{}], dtype=object)})),
        "Object arrays cannot be loaded when allow_pickle=False",
    ),
    "an array of another shape": (
        lambda good, bad: _rewrite(good, bad, lambda a, m: a.update({_entry(m, "weights"): np.ones((3, 3), np.float32)})),
        r"x->y.weights has shape \(3, 3\) and dtype float32; this simulation's has shape \(24, 10\)",
    ),
    "a NaN": (
        lambda good, bad: _rewrite(good, bad, lambda a, m: a[_entry(m, "theta")].__setitem__(4, np.nan)),
        r"y.theta holds nan at \(4,\)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_a_clear_error_and_changes_nothing(tmp_path, checkpoint, case):
    make, message = BAD_FILES[case]
    bad = tmp_path / "bad.npz"
    make(checkpoint, bad)
    sim = build().compile(backend="numpy")
    present(sim, 2)
    before = full_state(sim)
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(bad, sim)
    assert str(error.value).startswith(f"checkpoint {bad} ")
    assert_unchanged(before, sim)
    if case not in ("a NaN", "an array of another shape"):  # the file itself is bad: read_progress refuses it too
        with pytest.raises(CheckpointError, match=message):
            read_progress(bad)
    assert load_checkpoint(checkpoint, sim) == {"epoch": 1} and sim.step == 20  # the good one loads into it


MISMATCHES = {
    "more neurons": (
        lambda: build(n_out=11).compile(backend="numpy"),
        r"different network \(structure hash \w+ != \w+\): population 'y': n 10 saved, 11 here",
    ),
    "another model": (
        lambda: build(model="lif").compile(backend="numpy"),
        "population 'y': model 'pysnn_models.adaptive_lif.AdaptiveLIF' saved, 'pysnn_models.lif.LIF' here",
    ),
    "sparse connectivity": (
        lambda: build(connectivity="sparse").compile(backend="numpy"),
        "projection 'x->y': connectivity 'dense' saved, 'sparse' here",
    ),
    "float64": (
        lambda: build().compile(backend="numpy", dtype="float64"),
        r"saved from a float32 simulation, this one is float64; compile\(dtype='float32'\)",
    ),
    "another seed": (
        lambda: build().compile(backend="numpy", seed=1),
        r"saved with seed 0, this simulation has seed 1; compile\(seed=0\)",
    ),
}


@pytest.mark.parametrize("case", sorted(MISMATCHES))
def test_a_checkpoint_of_another_simulation_is_refused(checkpoint, case):
    make, message = MISMATCHES[case]
    sim = make()
    before = full_state(sim)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(checkpoint, sim)
    assert_unchanged(before, sim)


def test_trained_weights_load_into_a_network_built_with_other_values(tmp_path):
    """Only the structure must match: a checkpoint of a simulation without a batch yet (shared
    state only) replaces the weights and theta of one that ran, and drops its batch."""
    source = build(weight_seed=3, dt=0.5).compile(backend="numpy")
    source.set_state("y", "theta", np.linspace(0, 1, N_OUT))
    save_checkpoint(tmp_path / "w.npz", source)
    sim = build().compile(backend="numpy")
    present(sim, 0)
    assert load_checkpoint(tmp_path / "w.npz", sim) == {}
    assert sim.batch_size is None and sim.step == 0
    assert np.array_equal(sim.weights("x->y"), source.weights("x->y"))
    assert np.array_equal(sim.state("y", "theta"), np.linspace(0, 1, N_OUT).astype(np.float32))


def test_progress_round_trips_with_its_types(tmp_path):
    sim = build().compile(backend="numpy")
    progress = {"epoch": 3, "rate": 0.125, "tag": "run-1", "done": False, "index": np.int64(7), "table": np.arange(6.0).reshape(2, 3)}
    save_checkpoint(tmp_path / "p.npz", sim, progress)
    restored = load_checkpoint(tmp_path / "p.npz", sim)
    assert restored.keys() == progress.keys() and read_progress(tmp_path / "p.npz").keys() == progress.keys()
    for name, value in {"epoch": 3, "rate": 0.125, "tag": "run-1", "done": False, "index": 7}.items():
        assert restored[name] == value and type(restored[name]) is type(value)  # NumPy scalars as Python's
    assert restored["table"].dtype == np.float64 and np.array_equal(restored["table"], progress["table"])


@pytest.mark.parametrize(
    "path, progress, message",
    [
        ("ok.npz", {"labels": np.array([None])}, r"progress\['labels'\] must be an int, float, str or a NumPy array"),
        ("ok.npz", {"labels": [1, 2]}, r"progress\['labels'\] must be"),
        ("ok.npz", {1: 2}, "progress keys must be strings, got 1"),
        ("ok.npz", [("epoch", 1)], "progress must be a dict"),
        (b"ok.npz", None, "path must be a file name"),
    ],
)
def test_invalid_save_arguments_write_nothing(tmp_path, path, progress, message):
    """Refused before anything is written: an existing checkpoint stays as it was, and no partial
    file is left."""
    sim = build().compile(backend="numpy")
    save_checkpoint(tmp_path / "ok.npz", sim, {"epoch": 0})
    content = (tmp_path / "ok.npz").read_bytes()
    with pytest.raises(ConfigError, match=message):
        save_checkpoint(tmp_path / path if isinstance(path, str) else path, sim, progress)
    assert [p.name for p in tmp_path.iterdir()] == ["ok.npz"] and (tmp_path / "ok.npz").read_bytes() == content
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.npz", sim)


def test_structure_hash_ignores_values_and_monitors_and_tells_structures_apart():
    same = build(weight_seed=1, dt=0.5)
    same.monitor("y", "v", every=5)
    assert build().structure_hash() == same.structure_hash() == build(model=AdaptiveLIF).structure_hash()
    variants = [
        build(n_out=11),
        build(model="lif"),
        build(connectivity="sparse"),
        build(connectivity="sparse", weight_seed=1),  # other synapses exist
        build(rule="hebbian"),
        build(reduction="max"),
        build(synapse="delta"),
        build(one_spike=True),
        build(additive=True),
        build(delay=0),
    ]
    hashes = {net.structure_hash() for net in [build(), *variants]}
    assert len(hashes) == len(variants) + 1
    assert all(len(h) == 16 and int(h, 16) >= 0 for h in hashes)
