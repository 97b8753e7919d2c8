"""The cupy backend beyond the shared properties (tests/networks.py's COMPILED_BACKENDS holds it,
so the Hypothesis tests against NumPy draw it): arrays on the device go in and come out without a
copy to the host, are checked by the host's rules, and a machine that cannot run it says why.

Here Numba's CUDA simulator runs the kernels and ``cuda_support.HostCuPy`` stands in for CuPy; the
last tests need a real GPU with CuPy (benchmarks/gpu_checks.sh runs them there) and skip elsewhere."""

import os
import subprocess
import sys

import numpy as np
import pytest

from pysnn import ConfigError, Dense, Network, cuda_support
from pysnn.cli import main
from pysnn_cupy.backend import CuPyBackend

SIMULATED = cuda_support.simulated()
xp = cuda_support.cupy_module() if cuda_support.cupy_unavailable() is None else None
"""The array module of the backend here: ``HostCuPy`` on the simulator, CuPy on a GPU."""


def network() -> Network:
    """Analog input x (5) -> LIF y (4): every input value reaches the spikes and ``v``."""
    net = Network()
    net.add_input("x", 5, encoder="current")
    net.add_population("y", 4, model="lif")
    net.connect("x", "y", Dense(np.random.default_rng(0).uniform(0.0, 3.0, (5, 4))))
    net.monitor("y", "spike_counts", "v")
    return net


DATA = np.random.default_rng(1).uniform(0.0, 1.0, (6, 3, 5)).astype(np.float32)
"""Per-step currents: 6 steps of 3 samples."""


class DLPackOnly:
    """An array seen only through DLPack (as JAX's, say): it has no ``__array__`` and no ``dtype``."""

    def __init__(self, array) -> None:
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


class CUDAInterfaceOnly:
    """An array seen only through ``__cuda_array_interface__`` (as Numba's or PyTorch's)."""

    def __init__(self, array) -> None:
        self.__cuda_array_interface__ = array.__cuda_array_interface__
        self._owner = array


def results(sim, inputs) -> list[np.ndarray]:
    out = sim.run(inputs=inputs)
    return [out.spike_counts("y"), out.state("y", "v"), sim.state("y", "v"), sim.state("y", "output")]


def assert_same_bits(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    for x, y in zip(a, b, strict=True):
        assert type(x) is type(y) is np.ndarray and x.dtype == y.dtype and x.tobytes() == y.tobytes()


needs_backend = pytest.mark.skipif(xp is None, reason=f"the cupy backend cannot run: {cuda_support.cupy_unavailable()}")
"""On the simulator (CI) the backend always runs; without numba-cuda it cannot."""


@needs_backend
def test_device_inputs_reach_the_kernels_without_a_host_copy(monkeypatch):
    """The kernel reads the caller's device array itself, which never goes to the host; records
    come back as NumPy arrays."""
    arguments, to_host = [], []
    argument, host_copy = CuPyBackend._argument, CuPyBackend._to_host

    def spy_argument(self, *args):
        arguments.append(argument(self, *args))
        return arguments[-1]

    def spy_to_host(self, array, out=None):
        to_host.append(array)
        return host_copy(self, array, out)

    monkeypatch.setattr(CuPyBackend, "_argument", spy_argument)
    monkeypatch.setattr(CuPyBackend, "_to_host", spy_to_host)
    device = xp.asarray(DATA)
    got = results(network().compile(backend="cupy"), {"x": device})
    assert_same_bits(got, results(network().compile(backend="numpy"), {"x": DATA}))
    assert any(isinstance(a, xp.ndarray) and _shares_memory(a, device) for a in arguments)
    assert to_host and not any(_shares_memory(array, device) for array in to_host)


def _shares_memory(a, b) -> bool:
    return bool(np.shares_memory(a, b)) if SIMULATED else a.data.ptr <= b.data.ptr < a.data.ptr + a.nbytes


@needs_backend
@pytest.mark.parametrize("wrap", [lambda a: a, DLPackOnly], ids=["device array", "DLPack"])
def test_device_and_dlpack_inputs_give_numpys_bits(wrap):
    """float64 values cast to float32 on the device, as NumPy casts them on the host."""
    data = DATA.astype(np.float64) + 1e-9
    expected = results(network().compile(backend="numpy"), {"x": data})
    assert_same_bits(results(network().compile(backend="cupy"), {"x": wrap(xp.asarray(data))}), expected)


BAD_INPUTS = {
    "nan": DATA.copy() * np.where(np.arange(5) == 3, np.nan, 1.0).astype(np.float32),
    "complex": DATA.astype(np.complex64),
    "shape": DATA[..., :4].copy(),
    "float32 overflow": DATA.astype(np.float64) * np.where(np.arange(5) == 1, 1e39, 1.0),
}


@needs_backend
@pytest.mark.parametrize("bad", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_device_inputs_are_refused_with_the_hosts_message(bad):
    sim = network().compile(backend="cupy")
    messages = []
    for value in (BAD_INPUTS[bad], xp.asarray(BAD_INPUTS[bad])):
        with pytest.raises(ConfigError) as error:
            sim.run(inputs={"x": value})
        messages.append(str(error.value))
    assert messages[0] == messages[1] and messages[0].startswith("inputs['x']")
    assert sim.step == 0 and sim.batch_size is None


@needs_backend
def test_state_and_weights_move_on_the_device():
    sim = network().compile(backend="cupy", batch_size=3)
    v = np.random.default_rng(2).uniform(-70.0, -60.0, (3, 4))
    sim.set_state("y", "v", xp.asarray(v))
    sim.set_weights("x->y", DLPackOnly(xp.asarray(np.full((5, 4), 0.5))))
    sim.set_state("y", "refrac_count", xp.asarray(np.float64(2.0)))  # broadcast on the device
    assert sim.state("y", "v").tobytes() == v.astype(np.float32).tobytes()
    assert (sim.weights("x->y") == np.float32(0.5)).all() and (sim.state("y", "refrac_count") == 2).all()
    device = sim.state("y", "v", device=True)
    assert isinstance(device, xp.ndarray) and xp.asnumpy(device).tobytes() == sim.state("y", "v").tobytes()
    device[...] = 0.0  # a copy: the simulation keeps its own
    assert sim.state("y", "v").tobytes() == v.astype(np.float32).tobytes()
    assert isinstance(sim.weights("x->y", device=True), xp.ndarray)
    for value in (np.full(4, np.inf), xp.asarray(np.full(4, np.inf))):
        with pytest.raises(ConfigError, match=r"set_state value of y.v must be finite; element \(0,\) is inf"):
            sim.set_state("y", "v", value)
    assert sim.state("y", "v").tobytes() == v.astype(np.float32).tobytes()


def test_device_state_needs_the_cupy_backend():
    sim = network().compile(backend="numba-cpu", batch_size=2)
    with pytest.raises(ConfigError, match=r"device=True: backend 'numba-cpu' holds no state in device arrays; compile\(backend='cupy'\)"):
        sim.state("y", "v", device=True)
    with pytest.raises(ConfigError, match="device must be True or False, got 'yes'"):
        sim.weights("x->y", device="yes")


def test_a_machine_without_cupy_or_a_gpu_says_what_is_missing():
    script = (
        "import pysnn\n"
        "from pysnn_cupy import CuPyBackend\n"
        "print(CuPyBackend.unavailable())\n"
        "net = pysnn.Network(); net.add_population('y', 2)\n"
        "try:\n"
        "    net.compile(backend='cupy')\n"
        "except pysnn.ConfigError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], env={**os.environ, "NUMBA_ENABLE_CUDASIM": "0"},
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    reason, *error = result.stdout.splitlines()
    if reason != "None":  # no CuPy or no GPU here
        assert reason.startswith(("cupy is not installed", "no usable CUDA GPU", "numba-cuda is not installed"))
        assert 'pip install "pysnn-minibatch[cupy]"' in reason or "NUMBA_ENABLE_CUDASIM=1" in reason
        assert error == [f"backend 'cupy' cannot run on this machine: {reason}; use backend='numba-cpu'"]


def test_backends_command_lists_cupy(capsys):
    assert main(["backends"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.split()[0] == "cupy")
    reason = cuda_support.cupy_unavailable()
    assert row.endswith("usable" if reason is None else f"not usable: {reason}")


# -- on a real GPU with CuPy only (NUMBA_ENABLE_CUDASIM=0: benchmarks/gpu_checks.sh) ------------------

needs_gpu = pytest.mark.skipif(
    SIMULATED or xp is None,
    reason="needs a GPU with CuPy and NUMBA_ENABLE_CUDASIM=0 (benchmarks/gpu_checks.sh)"
    + ("" if SIMULATED else f": {cuda_support.cupy_unavailable()}"),
)


@needs_gpu
def test_cuda_array_interface_inputs_on_a_cupy_stream_give_numpys_bits():
    """An array known only by ``__cuda_array_interface__``, on a non-blocking CuPy stream that
    the kernels follow; PyTorch's and JAX's GPU arrays where they are installed."""
    expected = results(network().compile(backend="numpy"), {"x": DATA})
    sim = network().compile(backend="cupy")
    with xp.cuda.Stream(non_blocking=True):
        assert_same_bits(results(sim, {"x": CUDAInterfaceOnly(xp.asarray(DATA))}), expected)
    for module, to_gpu in (("torch", lambda torch: torch.asarray(DATA, device="cuda")), ("jax", lambda jax: jax.device_put(DATA))):
        try:
            framework = __import__(module)
        except ImportError:
            continue
        assert_same_bits(results(network().compile(backend="cupy"), {"x": to_gpu(framework)}), expected)
