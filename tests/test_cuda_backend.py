"""The numba-cuda backend beyond the shared properties (tests/test_backend_equality.py,
test_batch_independence.py and test_learning.py run it against NumPy on Numba's CUDA simulator):
its code compiles for a real GPU without fused multiply-adds, its kernels' structure, what a
machine without a GPU says, and the simulator's shared arrays."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pysnn import Dense, Learning, Network, Trace, cuda_support
from pysnn.cli import main

ROOT = Path(__file__).parent.parent
cuda = cuda_support.numba_cuda()  # a global, which the simulator swaps for its own in kernels


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-W", "ignore", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=900
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])  # a process each: half the time each
def test_generated_code_compiles_to_ptx_without_fused_multiply_adds(dtype):
    """Every plugin kernel bound for CUDA and the run kernels of networks using every standard
    model, synapse, connectivity and learning path compile for an H200 (numba-cuda, no GPU
    needed) in float32 and float64, and no multiply-add is fused; a launch bound is kept."""
    result = run_python(str(ROOT / "tests/scripts/cuda_ptx.py"), dtype, NUMBA_ENABLE_CUDASIM="0")
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(line.endswith(": ok") for line in lines), [line for line in lines if not line.endswith(": ok")]
    assert f"neuron adex update {dtype}: ok" in lines and f"models run_independent {dtype}: ok" in lines
    assert f"triplet median sparse deferred run_coupled {dtype}: ok" in lines
    other = "float64" if dtype == "float32" else "float32"
    assert not any(other in line for line in lines)
    if dtype == "float32":
        assert "scaling run_independent launch bound 1024: ok" in lines  # a bounded kernel says so


def test_a_machine_without_a_gpu_says_what_is_missing():
    script = (
        "import pysnn, pysnn.cuda_support as s\n"
        "net = pysnn.Network(); net.add_population('y', 2)\n"
        "try:\n"
        "    net.compile(backend='numba-cuda')\n"
        "    print('compiled', s.unavailable())\n"
        "except pysnn.ConfigError as exc:\n"
        "    print(exc)\n"
    )
    result = run_python("-c", script, NUMBA_ENABLE_CUDASIM="0")
    assert result.returncode == 0, result.stderr
    if not result.stdout.startswith("compiled None"):  # this machine has no GPU
        assert "backend 'numba-cuda' cannot run on this machine: no usable CUDA GPU" in result.stdout
        assert "NUMBA_ENABLE_CUDASIM=1" in result.stdout and "backend='numba-cpu'" in result.stdout


def test_backends_command_lists_each_backend_and_whether_it_runs_here(capsys):
    assert main(["backends"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert set(rows) >= {"numpy", "numba-cpu", "numba-cuda"}
    assert rows["numba-cpu"].endswith("usable") and "(default)" in rows["numba-cpu"]
    assert rows["numba-cuda"].endswith("usable")  # on the simulator here


def _stdp_network():
    net = Network()
    net.add_input("x", 4, encoder="spikes", trace=Trace(20.0))
    net.add_population("y", 3, model="adaptive_lif", trace=Trace(20.0))
    net.connect("x", "y", Dense(np.full((4, 3), 20.0)), learning=Learning("postpre", {"nu_pre": 0.1, "nu_post": 0.2}, "median"))
    net.monitor("y", "theta", every=2)
    return net


@pytest.mark.skipif(not cuda_support.simulated(), reason="a race of Numba's CUDA simulator; a GPU block has one shared array")
def test_threads_of_a_block_share_its_shared_array(monkeypatch):
    """The simulator makes a block's shared array when a thread first declares it; a thread that
    lost the GIL between looking it up and storing it made its own copy (``cuda_support`` locks
    the declaration). A slow ``np.empty`` hands the GIL to the other threads just there."""

    @cuda.jit
    def neighbours(out):
        shared = cuda.shared.array(4, np.int64)
        shared[cuda.threadIdx.x] = cuda.threadIdx.x
        cuda.syncthreads()
        out[cuda.threadIdx.x] = shared[(cuda.threadIdx.x + 1) % 4]

    empty = np.empty

    def slow_empty(*args, **kwargs):
        time.sleep(0.01)
        return empty(*args, **kwargs)

    out = np.full(4, -1)
    with monkeypatch.context() as patch:
        patch.setattr(np, "empty", slow_empty)
        neighbours[1, 4](out)
    np.testing.assert_array_equal(out, [1, 2, 3, 0])


def test_kernels_synchronise_samples_only_while_learning():
    """Inference never waits for other samples (block barriers only); learning has grid-wide
    barriers, and the batch's median is a sort per thread."""
    source = _stdp_network().compile(backend="numba-cuda")._engine.source(frozenset({"x"}))
    independent, coupled = source.split("def run_coupled(")
    assert "grid.sync()" not in independent and "cuda.syncthreads()" in independent
    assert coupled.count("grid.sync()") >= 4 and "sort_row(" in coupled
    bound = "" if cuda_support.simulated() else ", launch_bounds=1024"  # the simulator takes no bounds
    assert f"@cuda.jit(cache=True{bound})" in source and "radd(" in source


def test_learning_with_more_samples_than_blocks_equals_numpy():
    """The coupled kernel runs the batch on fewer blocks than samples (one block on the
    simulator), its frozen shared monitor is copied for every record of an inference run."""
    rng = np.random.default_rng(1)
    trains = rng.random((9, 5, 4)) < 0.5
    results = {}
    for backend in ("numpy", "numba-cuda"):
        sim = _stdp_network().compile(backend=backend)
        learned = sim.run(inputs={"x": trains})
        frozen = sim.run(inputs={"x": trains}, learning=False)
        results[backend] = (learned.state("y", "theta"), frozen.state("y", "theta"), sim.weights("x->y"))
    for numpy_array, cuda_array in zip(*results.values()):
        assert numpy_array.tobytes() == cuda_array.tobytes()
    assert not np.array_equal(results["numpy"][2], np.full((4, 3), 20.0))  # it learned
    assert (results["numpy"][1] == results["numpy"][1][0]).all()  # frozen theta, every record



def _run_sequence(sim) -> list[np.ndarray]:
    """Records and weights of runs of ``_stdp_network`` (with spikes, ``v`` and spike counts
    monitored) that use every kind of device array: learning, inference, deferred learning (its
    zeroed totals), then a new batch of another size and length."""
    rng = np.random.default_rng(5)
    out = []
    for batch, steps, kwargs in [(3, 5, {}), (3, 5, {"learning": False}), (3, 5, {"deferred": True}), (2, 7, {})]:
        if batch != 3:
            sim.reset()
        result = sim.run(inputs={"x": rng.random((steps, batch, 4)) < 0.5}, **kwargs)
        out += [result.spikes("y"), result.state("y", "v"), result.state("y", "theta"), result.spike_counts("y")]
        out.append(sim.weights("x->y"))
    return out


def _monitored_stdp_network() -> Network:
    net = _stdp_network()
    net.monitor("y", "spikes", "v", "spike_counts")
    return net


def test_device_arrays_left_uninitialised_are_written_before_they_are_read(monkeypatch):
    """A run neither copies in its per-step records nor clears its work arrays (the run writes
    them in full): with every new device array's bits all set (NaN, True, -1), runs of every
    kind still equal NumPy's, bit for bit."""
    expected = _run_sequence(_monitored_stdp_network().compile(backend="numpy"))
    for backend in ("numba-cuda", "cupy"):
        sim = _monitored_stdp_network().compile(backend=backend)
        engine, empty = sim._engine, sim._engine._empty

        def poisoned(shape, dtype, engine=engine, empty=empty):
            array = empty(shape, dtype)
            ones = np.full(array.nbytes, 0xFF, np.uint8).view(dtype).reshape(shape)
            engine._copy_into(array, ones)  # the backend's own copy: a CuPy array on a GPU too
            return array

        monkeypatch.setattr(engine, "_empty", poisoned)
        for numpy_array, device_array in zip(expected, _run_sequence(sim), strict=True):
            assert numpy_array.tobytes() == device_array.tobytes(), backend
    assert expected[0].any() and expected[3].any()  # the neurons spike


def test_a_run_like_the_last_allocates_no_device_memory(monkeypatch):
    """numba-cuda has no memory pool: the backend keeps its work arrays, and the state arrays
    its working copy replaced, for the next run. From the third run of the same shapes (the
    second still makes the spare per-sample state), a run allocates nothing and copies from the
    host only its inputs, sample ids, spike counts (which add up over a run's pieces) and
    finite-check record; not its per-step records."""
    sim = _monitored_stdp_network().compile(backend="numba-cuda")
    engine = sim._engine
    allocated, copied_in = [], []
    empty, copy_into = engine._empty, engine._copy_into
    monkeypatch.setattr(engine, "_empty", lambda shape, dtype: allocated.append(shape) or empty(shape, dtype))

    def counted_copy(target, source):
        if isinstance(source, np.ndarray):
            copied_in.append((source.shape, source.dtype))
        copy_into(target, source)

    monkeypatch.setattr(engine, "_copy_into", counted_copy)
    trains = np.random.default_rng(6).random((5, 3, 4)) < 0.5
    for learning in (True, True, False):
        sim.run(inputs={"x": trains}, learning=learning)
    allocated.clear(), copied_in.clear()
    for learning in (True, False):
        sim.run(inputs={"x": trains}, learning=learning)
        assert allocated == []
        assert sorted(copied_in, key=str) == sorted(
            [((5, 3, 4), np.dtype(bool)), ((3,), np.dtype(np.uint64)), ((3, 3), np.dtype(np.int32)), ((5,), np.dtype(np.int64))],
            key=str,
        )
        copied_in.clear()


def test_spike_lists_of_sources_smaller_than_larger_than_and_not_a_multiple_of_the_block():
    """The block lists a source's spikes with a scan over its threads (4 on the simulator):
    sources of 1, 6 and 9 neurons leave threads without neurons or with runs of 2 and 3; steps
    without spikes, with all of them and with some, inference and learning, equal NumPy's."""
    rng = np.random.default_rng(3)
    sizes = {"a": 1, "b": 6, "c": 9}
    trains = {name: rng.random((6, 3, n)) < 0.5 for name, n in sizes.items()}
    weights = {name: rng.uniform(0.0, 2.0, (n, 5)) for name, n in sizes.items()}
    for train in trains.values():
        train[1], train[2] = False, True
    results = {}
    for backend in ("numpy", "numba-cuda"):
        net = Network()
        net.add_population("y", 5, model="lif", trace=Trace(20.0))
        for name, n in sizes.items():
            net.add_input(name, n, encoder="spikes", trace=Trace(20.0))
            rule = Learning("postpre", {"nu_pre": 0.1, "nu_post": 0.2}, "sum") if name == "c" else None
            net.connect(name, "y", Dense(weights[name]), learning=rule)
        net.monitor("y", "v")
        sim = net.compile(backend=backend)
        results[backend] = [sim.run(inputs=trains, learning=learning).state("y", "v") for learning in (False, True)]
        results[backend].append(sim.weights("c->y"))
    for numpy_array, cuda_array in zip(*results.values()):
        assert numpy_array.tobytes() == cuda_array.tobytes()
    assert np.ptp(results["numpy"][0]) > 0  # the inputs move the voltages


def test_block_size_is_the_largest_that_keeps_every_sample_resident():
    """Experiment 1's 1000 neurons on a GPU of 132 multiprocessors, each holding 2048 threads,
    or 1024 where the kernel's registers allow no more."""
    from pysnn_cuda.backend import block_size

    def resident(threads: int, per_sm: int = 2048) -> int:
        return 132 * (per_sm // threads)

    assert block_size(resident, 1, 1000) == 1024
    assert block_size(resident, 264, 1000) == 1024
    assert block_size(resident, 265, 1000) == 512
    assert block_size(resident, 1024, 1000) == 256
    assert block_size(resident, 4096, 1000) == 128  # samples take turns
    assert block_size(lambda t: resident(t, 1024), 1, 1000) == 1024
    assert block_size(lambda t: resident(t, 768), 1, 1000) == 512  # 1024-thread blocks do not fit
    assert block_size(resident, 1, 100) == 128  # one thread per neuron already
    assert block_size(resident, 1, 300) == 512
    assert block_size(resident, 1, 1000, sizes=(128,)) == 128


class _Compiled:
    """A stand-in for numba-cuda's compiled kernel: how many blocks of each size fit at once
    (132 multiprocessors; 64 registers per thread when bounded to 1024 threads, else 88)."""

    def __init__(self, bounded: bool) -> None:
        self.per_sm = {1024: 1, 512: 2, 256: 4, 128: 8} if bounded else {1024: 0, 512: 1, 256: 2, 128: 5}

    def max_cooperative_grid_blocks(self, threads: int) -> int:
        return 132 * self.per_sm[threads]


class _Kernel:
    """A stand-in for numba-cuda's kernel dispatcher: records what it was compiled for."""

    def __init__(self, bounded: bool) -> None:
        self.bounded, self.compiled_for = bounded, []

    def typeof_pyval(self, value):
        return type(value).__name__

    def compile(self, types):
        self.compiled_for.append(types)
        return _Compiled(self.bounded)


def test_launch_shape_on_a_gpu_follows_the_kernels_occupancy(monkeypatch):
    """What a run on a GPU launches (the simulator launches a fixed shape): the kernel compiled
    for the run's argument types, then a block per sample (inference) or the blocks that fit at
    once (learning), of the size ``block_size`` chooses from the compiled kernel's occupancy."""
    from pysnn_cuda import backend

    net = Network()
    net.add_input("x", 100, encoder="poisson")
    net.add_population("y", 1000)  # experiment 1's sizes
    net.connect("x", "y", Dense(np.ones((100, 1000))))
    engine = net.compile(backend="numba-cuda")._engine
    monkeypatch.setattr(backend.cuda_support, "simulated", lambda: False)
    kernel = _Kernel(bounded=True)
    assert engine._launch_shape(kernel, [np.zeros(2), 3], 1, coupled=False) == (1, 1024)
    assert kernel.compiled_for == [("ndarray", "int")]
    assert engine._launch_shape(kernel, [], 1, coupled=True) == (132, 1024)  # a cooperative grid
    assert engine._launch_shape(kernel, [], 1024, coupled=False) == (1024, 128)
    assert engine._launch_shape(kernel, [], 4096, coupled=True) == (1056, 128)  # samples take turns
    engine.launch_bound = None
    assert engine._launch_shape(_Kernel(bounded=False), [], 1, coupled=False) == (1, 512)
    assert engine._launch_shape(_Kernel(bounded=False), [], 1024, coupled=True) == (660, 128)
    engine.launch_bound = 256
    assert engine._launch_shape(kernel, [], 1, coupled=False) == (1, 256)  # no block beyond the bound
