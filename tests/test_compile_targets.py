"""Compiled code beyond the Numba CPU backend's own tests: every plugin kernel, bound for the CPU
and for CUDA, runs as a CUDA device function (Numba's CUDA simulator), and compiled run loops are
cached on disk across processes. Both need fresh processes, so they run scripts (tests/scripts,
benchmarks)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pysnn

ROOT = Path(__file__).parent.parent


def run_script(path, *args, **env):
    result = subprocess.run(
        [sys.executable, str(ROOT / path), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_every_plugin_kernel_runs_as_a_cuda_device_function(target):
    lines = run_script("tests/scripts/cuda_kernels.py", "float32", target, NUMBA_ENABLE_CUDASIM="1").splitlines()
    assert len(lines) >= 20 and all(line.endswith(": ok") for line in lines), lines
    assert "neuron lif update: ok" in lines and "neuron qif update: ok" in lines
    assert "learning_rule postpre apply: ok" in lines and "learning_rule mstdp_et on_step: ok" in lines


def test_compiled_run_loop_is_cached_across_processes(tmp_path):
    cold = json.loads(run_script("benchmarks/time_to_first_step.py", PYSNN_CACHE_DIR=str(tmp_path)))
    warm = json.loads(run_script("benchmarks/time_to_first_step.py", PYSNN_CACHE_DIR=str(tmp_path)))
    assert cold["cache_misses"] == 1 and cold["cache_hits"] == 0
    assert warm["cache_hits"] == 1 and warm["cache_misses"] == 0
    folder = tmp_path / pysnn.__version__ / "numba"
    generated = list(folder.glob("pysnn_run_*.py"))
    assert len(generated) == 1 and "def run_independent(" in generated[0].read_text()
    assert list((folder / "__pycache__").glob("*.nbi"))
