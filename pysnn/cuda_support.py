"""numba-cuda for pysnn, in one place: importing it, and whether it can run here.

pysnn uses numba-cuda 0.30 (``pip install "pysnn-minibatch[cuda]"``), the last release of the
package that extends Numba itself, so that the kernel math registered for Numba's CPU target
(``pysnn.kernel_math_jit``) registers for CUDA with the same code. It registers an overload of
``np.row_stack``, which NumPy 2.5 removed, and so fails to import there: ``numba_cuda()`` gives
NumPy that name back (as ``np.vstack``, which it always was) before importing it. Its successor,
numba-cuda-mlir, does not extend Numba, and would need a port of the kernel math.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) kernels run as Python on the CPU;
``cuda.is_available()`` is then True, so it cannot tell whether a GPU is here (``unavailable``).
"""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np

from pysnn.errors import ConfigError

INSTALL_HINT = 'pip install "pysnn-minibatch[cuda]"'
SIMULATOR_ENV = "NUMBA_ENABLE_CUDASIM"


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
    return cuda


def unavailable() -> str | None:
    """Why numba-cuda cannot run kernels here, or None if it can (a GPU, or the simulator)."""
    try:
        cuda = numba_cuda()
    except ImportError as exc:
        return f"numba-cuda is not installed ({exc}); {INSTALL_HINT}"
    if simulated():
        return None
    try:
        cuda.current_context()
    except Exception as exc:  # CudaSupportError, CudaDriverError... with the driver's own words
        words = " ".join(line.strip(" :") for line in str(exc).splitlines() if line.strip(" :")) or type(exc).__name__
        return f"no usable CUDA GPU ({words}); {SIMULATOR_ENV}=1 runs kernels on Numba's CUDA simulator instead"
    return None


def require_gpu(backend: str) -> ModuleType:
    """``numba.cuda`` if ``backend`` can run here, else a ``ConfigError`` naming what is missing."""
    reason = unavailable()
    if reason is not None:
        raise ConfigError(f"backend {backend!r} cannot run on this machine: {reason}; use backend='numba-cpu'")
    return numba_cuda()
