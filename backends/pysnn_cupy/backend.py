"""The cupy backend: the numba-cuda backend's generated kernels, launched on memory that CuPy
owns, so that inputs and state can stay on the GPU as CuPy arrays (or any array that shares its
GPU memory through ``__cuda_array_interface__`` or DLPack: PyTorch, JAX, Numba)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pysnn import cuda_support
from pysnn.plan import Plan
from pysnn.state_keys import StateKey
from pysnn_cuda.backend import NumbaCUDABackend

DLPACK_CPU = 1
DLPACK_CUDA = (2, 13)
"""DLPack's device types of GPU memory: CUDA, CUDA managed."""


class CuPyBackend(NumbaCUDABackend):
    """GPU backend on CuPy's memory: the numba-cuda backend's kernels, bits and runs.

    State, work arrays, the plan's constants and the monitors' device buffers are CuPy arrays,
    allocated from CuPy's memory pool (no ``cudaMalloc`` per run); kernels run on CuPy's current
    stream, so they follow the work queued there. An input, ``set_state`` or ``set_weights``
    value on the GPU is used there without a copy to the host (``asarray``), and
    ``Simulation.state(..., device=True)`` gives a CuPy copy of the state (``device_read``).
    Records come back as NumPy arrays, copied once per piece of a run, as on numba-cuda.

    Under Numba's CUDA simulator (CI), ``cuda_support.HostCuPy`` stands in for CuPy: NumPy
    arrays of their own type play the device arrays.
    """

    name = "cupy"

    @classmethod
    def unavailable(cls) -> str | None:
        return cuda_support.cupy_unavailable()

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self._xp = cuda_support.cupy_module()
        self._devices = (DLPACK_CPU,) if cuda_support.simulated() else DLPACK_CUDA
        """The DLPack device types of this backend's memory (the host's under the simulator)."""

    def asarray(self, value: Any) -> Any:
        """``value`` itself if it is a CuPy array, a CuPy view of it if it is another array on
        the GPU (``__cuda_array_interface__``, or DLPack), else a NumPy array."""
        xp = self._xp
        if isinstance(value, (xp.ndarray, np.ndarray)):
            return value
        try:
            if hasattr(value, "__cuda_array_interface__"):
                return xp.asarray(value)
            device = getattr(value, "__dlpack_device__", None)
            if hasattr(value, "__dlpack__") and device is not None and device()[0] in self._devices:
                return xp.from_dlpack(value)
        except Exception as exc:  # e.g. BufferError, or PyTorch's refusal for a tensor that requires grad
            raise TypeError(f"its GPU memory cannot be shared ({type(exc).__name__}: {exc})") from exc
        return np.asarray(value)

    def device_read(self, key: StateKey) -> Any:
        return self._state[key].copy()

    def write(self, key: StateKey, value: Any) -> None:
        self._state[key] = self._xp.array(value, order="C")

    # -- where device memory comes from (see NumbaCUDABackend)

    def _to_device(self, value):
        host = isinstance(value, np.ndarray) and not self._on_device(value)
        return self._xp.asarray(np.ascontiguousarray(value)) if host else value

    def _to_host(self, array, out: np.ndarray | None = None) -> np.ndarray:
        return self._xp.asnumpy(array, out=out)

    def _copy_into(self, target, source) -> None:
        if self._on_device(source):
            self._xp.copyto(target, source)
        else:
            target.set(source)

    def _empty(self, shape: tuple[int, ...], dtype: np.dtype):
        return self._xp.empty(shape, dtype)

    def _zero(self, array) -> None:
        array.fill(0)

    def _on_device(self, array) -> bool:
        return isinstance(array, self._xp.ndarray)

    def _stream(self):
        """CuPy's current stream (numba-cuda's handle of it); the default stream under the simulator."""
        if cuda_support.simulated():
            return 0
        pointer = self._xp.cuda.get_current_stream().ptr
        return self._cuda.external_stream(pointer) if pointer else 0
