"""numba-cuda and CuPy for pysnn, in one place: importing them, and whether they can run here.

pysnn uses numba-cuda 0.30 (``pip install "pysnn-minibatch[cuda]"``), the last release of the
package that extends Numba itself, so that the kernel math registered for Numba's CPU target
(``pysnn.kernel_math_jit``) registers for CUDA with the same code. It registers an overload of
``np.row_stack``, which NumPy 2.5 removed, and so fails to import there: ``numba_cuda()`` gives
NumPy that name back (as ``np.vstack``, which it always was) before importing it. Its successor,
numba-cuda-mlir, does not extend Numba, and would need a port of the kernel math.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) kernels run as Python on the CPU;
``cuda.is_available()`` is then True, so it cannot tell whether a GPU is here (``unavailable``).
Its threads of a block can each get their own copy of a shared array, which ``numba_cuda()``
prevents (``_declare_shared_arrays_under_a_lock``).

The cupy backend launches numba-cuda's kernels on CuPy's memory (``pip install
"pysnn-minibatch[cupy]"``). The simulator's kernels take host arrays, so under it ``cupy_module()``
is ``HostCuPy``, NumPy standing in for the part of CuPy's API that the backend uses.
"""

from __future__ import annotations

import os
import sys
import threading
from types import ModuleType
from typing import Any

import numpy as np

from pysnn.errors import ConfigError

INSTALL_HINT = 'pip install "pysnn-minibatch[cuda]"'
CUPY_INSTALL_HINT = 'pip install "pysnn-minibatch[cupy]"'
SIMULATOR_ENV = "NUMBA_ENABLE_CUDASIM"
SIMULATOR_SWITCH_INTERVAL = 1e-4
"""Seconds for ``sys.setswitchinterval`` while kernels run on the simulator (the tests, a
benchmark's smoke run): it runs each thread of a block as a Python thread, and polls them from
the launching thread in a loop until all of them wait at a barrier, so at Python's default
(5 ms) each barrier waits for the GIL to be handed over a few times. At 0.1 ms simulated runs
are several times faster (three tests of the simulator: 44 s -> 5 s)."""


def simulated() -> bool:
    """True if Numba's CUDA simulator replaces the GPU (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get(SIMULATOR_ENV, "0") not in ("", "0")


def numba_cuda() -> ModuleType:
    """``numba.cuda``, imported (raises ``ImportError`` if numba-cuda is missing)."""
    if not hasattr(np, "row_stack"):  # NumPy >= 2.5 removed it; numba-cuda 0.30 overloads it
        np.row_stack = np.vstack
    from numba import cuda

    if not cuda.__file__ or "numba_cuda" not in cuda.__file__:
        raise ImportError(f"numba-cuda is not installed (numba's own numba.cuda is deprecated): {INSTALL_HINT}")
    if simulated():
        _declare_shared_arrays_under_a_lock()
    return cuda


def _declare_shared_arrays_under_a_lock() -> None:
    """Make the simulator's ``cuda.shared.array`` give every thread of a block the same array.

    The simulator makes a block's shared array when the first of its threads declares it: it
    looks the array up by the declaring line, and makes and stores it if absent, with no lock.
    Two threads that switch between the lookup and the store each make their own array, and
    then never see what the other writes (a block scan read uninitialised values in a test).
    This declares them under a lock, with the simulator's key (file and line of the declaration)
    and dtype conversion; dynamic shared memory (shape 0), one buffer made in advance, is left
    to the simulator."""
    from numba.cuda.simulator import kernelapi

    declare = kernelapi.FakeCUDAShared.array
    if getattr(declare, "locked", False):
        return
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:  # dynamic shared memory, or the simulator's error
            return declare(self, shape, dtype, alignment)
        caller = sys._getframe(1)
        line = (caller.f_code.co_filename, caller.f_lineno)
        with lock:
            if line not in self._allocations:
                if isinstance(dtype, kernelapi.types.Type):
                    dtype = kernelapi.numpy_support.as_dtype(dtype)
                self._allocations[line] = np.empty(shape, dtype)
            return self._allocations[line]

    array.locked = True
    kernelapi.FakeCUDAShared.array = array


def kernel_cache_type() -> type | None:
    """numba-cuda's on-disk cache of a kernel (``CUDACache``), or None under the simulator,
    which compiles and caches nothing."""
    if simulated():
        return None
    numba_cuda()
    from numba.cuda.dispatcher import CUDACache

    return CUDACache


def unavailable(hint: str = INSTALL_HINT) -> str | None:
    """Why numba-cuda cannot run kernels here, or None if it can (a GPU, or the simulator);
    ``hint`` says how to install it."""
    try:
        cuda = numba_cuda()
    except ImportError as exc:
        return f"numba-cuda is not installed ({exc}); {hint}"
    if simulated():
        return None
    try:
        cuda.current_context()
    except Exception as exc:  # CudaSupportError, CudaDriverError... with the driver's own words
        words = " ".join(line.strip(" :") for line in str(exc).splitlines() if line.strip(" :")) or type(exc).__name__
        return f"no usable CUDA GPU ({words}); {SIMULATOR_ENV}=1 runs kernels on Numba's CUDA simulator instead"
    return None


def cupy_unavailable() -> str | None:
    """Why the cupy backend cannot run here, or None if it can: it needs CuPy (its memory) and
    numba-cuda (its kernels) on a GPU, or numba-cuda's simulator (CuPy then stands in as ``HostCuPy``)."""
    if not simulated():
        try:
            import cupy  # noqa: F401
        except ImportError as exc:
            return f"cupy is not installed ({exc}); {CUPY_INSTALL_HINT}"
    return unavailable(CUPY_INSTALL_HINT)


def cupy_module() -> Any:
    """CuPy, or ``HostCuPy`` under the simulator."""
    if simulated():
        return HostCuPy
    import cupy

    return cupy


class SimulatedDeviceArray(np.ndarray):
    """An array "in device memory" under the simulator: NumPy's, of its own type, so that the
    cupy backend tells it from a host array as it tells a CuPy array from a NumPy one."""

    def set(self, value: np.ndarray) -> None:
        """Copy the host array ``value`` (of this shape and dtype) in, as ``cupy.ndarray.set``."""
        if value.shape != self.shape or value.dtype != self.dtype:
            raise ValueError(f"set: shape and dtype {value.shape}, {value.dtype} differ from {self.shape}, {self.dtype}")
        np.copyto(self, value)


class HostCuPy:
    """The part of CuPy's API that the cupy backend uses, on NumPy: device arrays are
    ``SimulatedDeviceArray``s, made and copied as CuPy makes and copies its arrays."""

    ndarray = SimulatedDeviceArray

    @staticmethod
    def asarray(value) -> SimulatedDeviceArray:
        """``value`` itself if it is a device array, else a copy of it on the device."""
        return value if isinstance(value, SimulatedDeviceArray) else np.array(value).view(SimulatedDeviceArray)

    @staticmethod
    def array(value, order: str = "K") -> SimulatedDeviceArray:
        """A copy of ``value`` on the device."""
        return np.array(value, order=order).view(SimulatedDeviceArray)

    @staticmethod
    def empty(shape, dtype) -> SimulatedDeviceArray:
        return np.empty(shape, dtype).view(SimulatedDeviceArray)

    @staticmethod
    def copyto(target: SimulatedDeviceArray, source: SimulatedDeviceArray) -> None:
        """Copy one device array into another (of its shape and dtype)."""
        np.copyto(target, source, casting="no")

    @staticmethod
    def from_dlpack(value) -> SimulatedDeviceArray:
        """The DLPack array ``value`` as a device array, sharing its memory."""
        return np.from_dlpack(value).view(SimulatedDeviceArray)

    @staticmethod
    def asnumpy(array, out: np.ndarray | None = None) -> np.ndarray:
        """A host copy of a device array (into ``out`` if given)."""
        if out is None:
            return np.array(array)
        np.copyto(out, array)
        return out


def require_gpu(backend: str, reason: str | None) -> ModuleType:
    """``numba.cuda`` if ``backend`` can run here (``reason``, its ``unavailable()``, is None),
    else a ``ConfigError`` naming what is missing."""
    if reason is not None:
        raise ConfigError(f"backend {backend!r} cannot run on this machine: {reason}; use backend='numba-cpu'")
    return numba_cuda()
