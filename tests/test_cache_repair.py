"""The on-disk cache repairs itself: a damaged file is dropped and rebuilt with one warning, an
unwritable cache folder falls back to a temporary one, and processes that share a cache (at the
same time, or after one was killed) get correct results.

Each scenario runs in new processes, as a user's next run would, with its own PYSNN_CACHE_DIR.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numba
import pytest

import pysnn
from pysnn.kernel_source import CacheWarning
from pysnn.numba_cache import repair_damaged

CHILD = r"""
import json, sys, warnings
import numpy as np
from pysnn import Dense, Network
from pysnn.kernel_source import CacheWarning

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    net = Network()
    net.add_input("x", 3, encoder="poisson")
    net.add_population("y", 2, model="lif")
    net.connect("x", "y", Dense(np.full((3, 2), 9.0)))
    net.monitor("y", "v")
    net.monitor("y", "spike_counts")
    result = net.compile(backend=sys.argv[1], seed=3).run(30, {"x": np.full((1, 3), 400.0)})
print(json.dumps({
    "v": result.state("y", "v").tobytes().hex(),
    "spike_counts": result.spike_counts("y").tolist(),
    "warnings": [str(w.message) for w in caught if issubclass(w.category, CacheWarning)],
}))
"""


def start(cache: Path, backend: str = "numba-cpu") -> subprocess.Popen:
    """A new process that compiles and runs the network of ``CHILD`` on ``backend``, caching in
    ``cache``, and writes bytecode as Python does by default (so that a test sees generated
    modules' .pyc files, if any)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, backend],
        env=env | {"PYSNN_CACHE_DIR": str(cache)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> dict:
    """The report of a process from ``start``: its results and the CacheWarnings it gave."""
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out)


def results(report: dict) -> tuple:
    return report["v"], report["spike_counts"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, dict]:
    """A cache filled by two numba-cpu processes at the same time, and their report. Both compile
    the same new network into one empty cache and must get, without warnings, the results of the
    reference backend (NumPy, run alongside)."""
    cache = tmp_path_factory.mktemp("pristine")
    procs = [start(cache), start(cache), start(cache, "numpy")]
    first, second, reference = [finish(proc) for proc in procs]
    assert sum(reference["spike_counts"][0]) > 0  # the network is active
    for report in (first, second, reference):
        assert results(report) == results(reference) and report["warnings"] == []
    return cache, reference


def test_processes_filling_one_cache_at_once_agree(pristine):
    cache, _ = pristine  # the checks are the fixture's
    assert list((cache / pysnn.__version__ / "numba" / "__pycache__").glob("*.nbc"))


def test_generated_modules_leave_no_bytecode_files(pristine):
    # a truncated .pyc would break every later import of its module: none is written
    cache, _ = pristine
    assert list(cache.rglob("*.py"))
    assert not list(cache.rglob("*.pyc"))


def damaged_files(version: Path, kinds: tuple[str, ...]) -> list[Path]:
    """One file of each kind in a filled cache's ``version`` folder; kernel files of different
    kernels, so that each damage is found on its own."""
    kernels = [path.stem for path in sorted((version / "kernels").glob("*.py"))]
    [run] = [path.stem for path in (version / "numba").glob("pysnn_run_*.py")]
    assert len(kernels) >= 3
    where = {
        "kernel index": f"kernels/__pycache__/{kernels[0]}.*.nbi",
        "kernel data": f"kernels/__pycache__/{kernels[1]}.*.nbc",
        "kernel source": f"kernels/{kernels[2]}.py",
        "run loop index": f"numba/__pycache__/{run}.*.nbi",
        "run loop data": f"numba/__pycache__/{run}.*.nbc",
        "run loop source": f"numba/{run}.py",
    }
    return [path for kind in kinds for path in version.glob(where[kind])]


DAMAGE = {  # how a file is damaged -> the kinds damaged together, in one process
    "truncated": ("kernel index", "kernel data", "kernel source", "run loop index", "run loop source"),
    "garbage": ("kernel index", "kernel data", "kernel source", "run loop data", "run loop source"),
}
"""The run loop's index and data are damaged in different runs: a damaged index hides its data."""


def damage_file(path: Path, damage: str) -> bytes:
    data = path.read_bytes()
    damaged = data[: len(data) // 2] if damage == "truncated" else b"not a cache file\n" * 8
    path.write_bytes(damaged)
    return damaged


@pytest.mark.parametrize("damage", DAMAGE)
def test_each_damaged_file_is_rebuilt_with_one_warning(pristine, tmp_path, damage):
    cache, reference = pristine
    copy = shutil.copytree(cache, tmp_path / "cache")
    paths = damaged_files(copy / pysnn.__version__, DAMAGE[damage])
    assert len(paths) == len(DAMAGE[damage])
    damaged = {path: damage_file(path, damage) for path in paths}

    report = finish(start(copy))
    assert results(report) == results(reference)
    assert len(report["warnings"]) == len(damaged)
    for path, data in damaged.items():
        if path.suffix == ".py":
            assert report["warnings"].count(f"pysnn replaced the damaged generated source {path}") == 1
        else:
            source = path.parent.parent / f"{path.name.split('.')[0]}.py"
            [warning] = [w for w in report["warnings"] if w.startswith("pysnn dropped") and f"from {source})" in w]
            assert str(path.parent) in warning and warning.endswith("compiling it again")
        assert path.read_bytes() != data  # rebuilt on disk, for the next process


def test_an_unwritable_cache_folder_falls_back_to_a_temporary_one(pristine, tmp_path):
    # a path under a regular file cannot be created, also by root (for whom chmod 0o555 does not stop writes)
    _, reference = pristine
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    report = finish(start(blocker / "cache"))
    assert results(report) == results(reference)
    [warning] = report["warnings"]
    assert "PYSNN_CACHE_DIR" in warning and str(blocker / "cache") in warning


def test_a_process_killed_while_compiling_leaves_a_usable_cache(pristine, tmp_path):
    _, reference = pristine
    proc = start(tmp_path)
    run_modules = tmp_path / pysnn.__version__ / "numba"
    deadline = time.monotonic() + 60
    while not list(run_modules.glob("*.py")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the process ended before it could be killed while compiling its run loop"
    proc.send_signal(signal.SIGKILL)  # its kernels are cached, its run loop is being compiled
    proc.communicate()
    report = finish(start(tmp_path))
    assert results(report) == results(reference) and report["warnings"] == []


def test_an_entry_whose_index_cannot_be_rewritten_is_compiled_without_the_cache(tmp_path):
    source = tmp_path / "cached_function.py"
    source.write_text("def increment(x):\n    return x + 1\n")
    module = importlib.util.module_from_spec(importlib.util.spec_from_file_location("cached_function", source))
    module.__loader__.exec_module(module)
    repair_damaged(numba.njit(cache=True)(module.increment)).compile("int64(int64)")
    [index] = (tmp_path / "__pycache__").glob("*.nbi")
    index.unlink()
    index.mkdir()  # can be neither read nor replaced
    dispatcher = repair_damaged(numba.njit(cache=True)(module.increment))
    with pytest.warns(CacheWarning, match="pysnn dropped a damaged compiled-code cache entry of increment"):
        dispatcher.compile("int64(int64)")
    assert dispatcher(41) == 42


CUDA_CHILD = r"""
import json, os, warnings
import numba
import numpy as np
from pysnn import Dense, Network, cuda_support
from pysnn.kernel_source import CacheWarning
from pysnn_cuda.backend import NumbaCUDABackend

cuda_support.unavailable = lambda *hint: None  # no GPU here: the backend generates, nothing runs
net = Network()
net.add_input("x", 3, encoder="poisson")
net.add_population("y", 2)
net.connect("x", "y", Dense(np.ones((3, 2))))
module, _ = NumbaCUDABackend(net.compile(backend="numpy").plan).compiled(frozenset(), 0, False)
kernel = module.run_independent
kernel.targetctx.codegen().magic_tuple = lambda: ("nvptx64-nvidia-cuda", (9, 0), "")  # a GPU's answer
index = kernel._cache._cache_file._index_path
os.makedirs(os.path.dirname(index), exist_ok=True)
signature = (numba.float32[::1],)
report = {"cache": type(kernel._cache).__name__}
for cache in (cuda_support.kernel_cache_type()(kernel.py_func), kernel._cache):  # numba-cuda's, pysnn's
    with open(index, "wb") as f:
        f.write(b"truncated")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            report[type(cache).__name__] = repr(cache.load_overload(signature, kernel.targetctx))
        except Exception as exc:
            report[type(cache).__name__] = type(exc).__name__
    report["warnings"] = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
report["reloaded"] = repr(kernel._cache.load_overload(signature, kernel.targetctx))  # the index, rewritten
print(json.dumps(report))
"""


def test_a_damaged_cuda_kernel_cache_entry_is_dropped_with_one_warning(tmp_path):
    """numba-cuda's cache of a generated run kernel (only used on a GPU, so checked here on its
    loading alone, with a compute capability stood in): a damaged index raises in numba-cuda's
    own cache, and pysnn's drops it with one warning and rewrites it."""
    env = os.environ | {"PYSNN_CACHE_DIR": str(tmp_path), "NUMBA_ENABLE_CUDASIM": "0"}
    done = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", CUDA_CHILD], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["cache"] == "RepairingCUDACache"
    assert report["CUDACache"] == "UnpicklingError" and report["RepairingCUDACache"] == "None"
    assert len(report["warnings"]) == 1 and "dropped a damaged compiled-code cache entry of run_independent" in report["warnings"][0]
    assert report["reloaded"] == "None"
