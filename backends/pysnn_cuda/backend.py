"""The numba-cuda backend: each run is one launch of a generated kernel that runs every step on
the GPU (or on Numba's CUDA simulator)."""

from __future__ import annotations

import os
import sys
import warnings
from types import FunctionType, ModuleType
from typing import Callable, Mapping, Sequence

import numpy as np

from pysnn import cuda_support
from pysnn.backend import Backend, RunArgs
from pysnn.compile_notice import compile_notice
from pysnn.errors import PluginError
from pysnn.kernel_check import check_kernel
from pysnn.kernel_source import bind_kernel, import_generated
from pysnn.lowering import (
    PLAN_VALUES,
    HeldAccumulator,
    NonFinite,
    Record,
    StateRef,
    TermsBuffer,
    held_shape,
    plan_value,
    report_nonfinite,
    resolve,
    written_by_run,
)
from pysnn.numba_cache import repair_damaged_in
from pysnn.plan import Plan
from pysnn.plugin import Kernel
from pysnn.state_keys import StateKey
from pysnn_cuda.codegen import Scratch, generate
from pysnn_numba.backend import SHOW_CODE_ENV
from pysnn_numba.run_generator import Arg

BLOCK_SIZES = (1024, 512, 256, 128)
"""Threads per block on a GPU, the most first (``block_size`` chooses): a sample's neurons are
shared out among them."""
MAX_BLOCKS = 65535
"""Blocks of an inference run at most (samples beyond take turns)."""
SIMULATED_THREADS, SIMULATED_BLOCKS = 4, 2
"""Threads per block and blocks of an inference run under the simulator, where each thread is a
Python thread (two blocks: samples take turns on them, as on a GPU with more samples than blocks)."""


class NumbaCUDABackend(Backend):
    """GPU backend: generated numba-cuda kernels, bit-identical to the NumPy reference.

    A run without learning is one launch of ``run_independent`` (one block per sample, all steps
    inside); a learning run is one cooperative launch of ``run_coupled`` (grid-wide barriers
    around the batch's reductions). The state lives in device memory; a run works on a device
    copy of the state it may write (one without learning reads the shared state as it is),
    which replaces it only if the run succeeds. Per run, only the inputs and the monitors'
    records cross between host and device. Kernels are compiled once per network structure and
    kind of run, and cached on disk by numba-cuda (per GPU architecture).

    numba-cuda has no memory pool, so the backend keeps its device arrays: a run's work arrays
    (inputs, records, buffers) and the state arrays that its working copy replaced serve the
    next run where their shapes fit. A run like the last allocates no device memory; the device
    holds about twice the state and the last run's work arrays.
    """

    name = "numba-cuda"
    block_sizes = BLOCK_SIZES
    """The sizes of block ``block_size`` chooses from (a benchmark may narrow them)."""
    launch_bound: int | None = 1024
    """The most threads per block the run kernels are compiled for, and launched with. 1024
    caps a thread's registers at 64: without a bound, experiment 1's inference kernel takes 88
    (ptxas for an H200), which rules blocks of 1024 threads out and halves the blocks of any
    size held at once, for a few dozen bytes of spilled values (``benchmarks/gpu_registers.py``).
    None: no bound, the registers the compiler chooses. A benchmark may set it; the simulator,
    which has no registers, ignores it."""

    @classmethod
    def unavailable(cls) -> str | None:
        return cuda_support.unavailable()

    def __init__(self, plan: Plan) -> None:
        self._cuda = cuda_support.require_gpu(self.name, self.unavailable())
        if not cuda_support.simulated():
            from pysnn import kernel_math_jit

            kernel_math_jit.register_cuda()
        super().__init__(plan)
        self._compiled: dict[tuple[frozenset[str], int, bool, bool, int | None], tuple[ModuleType, list[Arg]]] = {}
        self._constants: dict[Arg, object] = {}
        """Device copies of the plan's arrays (parameters, connectivity), made once."""
        self._kept: dict[Arg | tuple[Arg, int], object] = {}
        """The last run's work array of each kernel argument (``_work``); of each size of grid,
        for those sized by the grid's threads (a learning and an inference run alternate)."""
        self._spare: Mapping[StateKey, object] = {}
        """State arrays that ``advance`` dropped, for the next working copy to copy into: the
        last dropped of each key that the state does not hold (an inference run keeps the shared
        state as it is, and a spare of it for the next learning run)."""

    # -- the state, in device memory ------------------------------------------------------------------

    def read(self, key: StateKey) -> np.ndarray:
        return self._to_host(self._state[key])

    def write(self, key: StateKey, value: np.ndarray) -> None:
        self._state[key] = self._to_device(value)

    def working_copy(self, added: Mapping[StateKey, np.ndarray], learning: bool) -> dict[StateKey, object]:
        sources = {**self._state, **{key: np.ascontiguousarray(array) for key, array in added.items()}}
        return {
            key: self._copy(array, self._spare.get(key)) if written_by_run(self.plan, key, learning) else array
            for key, array in sources.items()
        }

    def dropped(self, state: Mapping[StateKey, object]) -> None:
        def spare(arrays: Mapping[StateKey, object]) -> dict[StateKey, object]:
            return {key: array for key, array in arrays.items() if array is not self._state.get(key)}

        self._spare = spare(self._spare) | spare(state)

    # -- where device memory comes from: numba-cuda's device arrays here (the cupy backend
    # overrides these to keep every array in CuPy's memory pool), and the stream of launches

    def _to_device(self, value):
        """A host array as a new (C-contiguous) device array; anything else (a scalar) as it is."""
        return self._cuda.to_device(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else value

    def _to_host(self, array, out: np.ndarray | None = None) -> np.ndarray:
        """A device array copied to the host (into ``out`` if given)."""
        if out is not None and out.size == 0:  # numba-cuda would compare strides, arbitrary for empty arrays
            return out
        return array.copy_to_host(out)

    def _copy_into(self, target, source) -> None:
        """Copy ``source`` (a device array, or a C-contiguous host array) into the device array
        ``target`` of its shape and dtype."""
        target.copy_to_device(source)

    def _empty(self, shape: tuple[int, ...], dtype: np.dtype):
        """A new, uninitialised device array."""
        return self._cuda.device_array(shape, dtype)

    def _zero(self, array) -> None:
        """Set every byte of a device array to 0."""
        self._cuda.cudadrv.driver.device_memset(array, 0, array.nbytes)

    def _on_device(self, array: np.ndarray) -> bool:
        """Whether a NumPy-typed array is in device memory (never here; see the cupy backend)."""
        return False

    def _stream(self):
        """The stream kernels are launched on: 0, the default stream."""
        return 0

    @classmethod
    def check_kernel(cls, kernel: Kernel, bound: FunctionType, dtype: np.dtype, label: str) -> None:
        """Type the kernel with Numba (the same typing as numba-cuda's, see
        ``pysnn.kernel_check``) and bind its CUDA form (rounded arithmetic)."""
        check_kernel(kernel, bound, dtype, label)
        bind_kernel(kernel.function, dtype, "cuda")

    def source(
        self, timed_inputs: frozenset[str] = frozenset(), reward_ndim: int = 0, deferred: bool = False, hands_back: bool = False
    ) -> str:
        """The source of the run module for inputs given per step in ``timed_inputs`` (names)
        and a reward of ``reward_ndim`` dimensions (0: none or unused), for ``deferred``
        learning runs (``hands_back``: that hand their reduced changes back,
        ``Simulation.run_terms``) or the others."""
        return generate(self.plan, timed_inputs, reward_ndim, deferred, hands_back, self._launch_bound()).source

    def compiled(
        self, timed_inputs: frozenset[str], reward_ndim: int, deferred: bool, hands_back: bool = False
    ) -> tuple[ModuleType, list[Arg]]:
        """The generated module (memoised; see ``source``)."""
        key = (timed_inputs, reward_ndim, deferred, hands_back, self._launch_bound())
        if key not in self._compiled:
            generated = generate(self.plan, *key)
            module = import_generated(generated.source, "pysnn_cuda_run", "cuda")
            if (cache_type := cuda_support.kernel_cache_type()) is not None:
                repair_damaged_in(module, cache_type)
            if os.environ.get(SHOW_CODE_ENV, "") not in ("", "0"):
                print(f"pysnn: generated run module {module.__file__}", file=sys.stderr)
            self._compiled[key] = (module, generated.args)
        return self._compiled[key]

    def _launch_bound(self) -> int | None:
        """``launch_bound`` on a GPU; none on the simulator (its ``cuda.jit`` has no such option)."""
        return None if cuda_support.simulated() else self.launch_bound

    def run(self, state: dict[StateKey, np.ndarray], args: RunArgs) -> None:
        cuda = self._cuda
        timed = frozenset(name for name, data in args.inputs.items() if data.ndim == 3)
        coupled = args.learning and self.plan.learns
        reward_ndim = 0 if args.reward is None else args.reward.ndim
        module, specs = self.compiled(timed, reward_ndim, coupled and args.deferred, coupled and args.terms is not None)
        kernel = module.run_coupled if coupled else module.run_independent
        nonfinite = None
        try:
            with warnings.catch_warnings():
                # the simulator runs on NumPy scalars, whose wrapping integer arithmetic (the
                # counter-based RNG) and IEEE results (inf, NaN) warn; compiled code is silent
                warnings.filterwarnings("ignore", "(overflow|divide by zero|invalid value) encountered", RuntimeWarning)
                kind = "learning" if coupled else "inference"
                notice = f"the {kind} run kernel of this network for numba-cuda, {self.plan.dtype.name}"
                # the work arrays sized by the grid's threads: sized for one thread to type the
                # kernel with (the launch's shape depends on the compiled kernel), then for the launch
                batch = args.sample_ids.size
                device = [self._argument(spec, state, args, 1) for spec in specs]
                with compile_notice(notice):
                    blocks, threads = self._launch_shape(kernel, device, batch, coupled)
                device = [
                    self._scratch(s, batch, blocks * threads) if isinstance(s.ref, Scratch) and "threads" in s.ref.dims else d
                    for s, d in zip(specs, device)
                ]
                kernel[blocks, threads, self._stream()](*device)
                cuda.synchronize()
                for spec, array in zip(specs, device):
                    if isinstance(spec.ref, Record):
                        self._to_host(array, args.records[self.plan.monitors[spec.ref.monitor]])
                    elif isinstance(spec.ref, TermsBuffer):
                        self._to_host(array, resolve(spec.ref, self.plan, state, args))
                    elif isinstance(spec.ref, NonFinite):
                        nonfinite = self._to_host(array)
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__ or exc
            raise PluginError(
                f"a kernel raised {type(cause).__name__}: {cause} in compiled code; the run was discarded"
            ) from exc
        if nonfinite is not None:
            report_nonfinite(self.plan, nonfinite, lambda key: self._to_host(state[key]), args)

    def _launch_shape(self, kernel, device: list, batch: int, coupled: bool) -> tuple[int, int]:
        """Blocks and threads per block of a launch of ``kernel`` (compiled here, or loaded
        from the cache) with the arguments ``device`` for ``batch`` samples: a learning run is
        cooperative, with as many blocks as the GPU holds at once; an inference run has a block
        per sample, up to ``MAX_BLOCKS``; ``block_size`` chooses their size. On the simulator, a
        few threads and blocks, each a Python thread (its grid barrier holds for one block only)."""
        if cuda_support.simulated():
            return (1 if coupled else min(batch, SIMULATED_BLOCKS)), SIMULATED_THREADS
        resident = kernel.compile(tuple(kernel.typeof_pyval(a) for a in device)).max_cooperative_grid_blocks
        neurons = max(pop.n for pop in self.plan.populations)
        sizes = [t for t in self.block_sizes if self.launch_bound is None or t <= self.launch_bound]
        threads = block_size(resident, batch, neurons, sizes)
        return (resident(threads) if coupled else min(batch, MAX_BLOCKS)), threads

    def _argument(self, spec: Arg, state: dict[StateKey, object], args: RunArgs, grid_threads: int):
        """The value of a kernel argument for this run: the device state as it is, a work
        array, a constant of the plan (copied to the device once), a per-step record (which the
        run writes in full: not copied in), or another run argument (copied in)."""
        ref = spec.ref
        if isinstance(ref, Scratch):
            return self._scratch(spec, args.sample_ids.size, grid_threads)
        if isinstance(ref, HeldAccumulator):  # a device array for all the run's pieces
            if ref not in args.held:
                args.held[ref] = self._work(spec, held_shape(ref, self.plan, args), self.plan.dtype)
            return args.held[ref]
        if isinstance(ref, StateRef):
            return state[ref.key]
        if isinstance(ref, PLAN_VALUES):
            if spec not in self._constants:
                self._constants[spec] = self._to_device(plan_value(ref, self.plan))
            return self._constants[spec]
        value = resolve(ref, self.plan, state, args)
        if isinstance(ref, Record) and not self.plan.monitors[ref.monitor].accumulates:
            return self._work(spec, value.shape, value.dtype)
        if not isinstance(value, np.ndarray) or self._on_device(value):
            return value
        array = self._work(spec, value.shape, value.dtype)
        self._copy_into(array, np.ascontiguousarray(value))
        return array

    def _scratch(self, spec: Arg, batch: int, grid_threads: int):
        """The device work array of the ``Scratch`` argument ``spec``, sized for this run."""
        ref = spec.ref
        sizes = {"batch": batch, "threads": grid_threads}
        shape = tuple(sizes[d] if isinstance(d, str) else self._size(d) for d in ref.dims)
        key = (spec, grid_threads) if "threads" in ref.dims else spec
        array = self._work(key, shape, self.plan.dtype if ref.dtype == "real" else np.dtype(ref.dtype))
        if ref.zeroed:
            self._zero(array)
        return array

    def _work(self, key: Arg | tuple[Arg, int], shape: tuple[int, ...], dtype: np.dtype):
        """An uninitialised device array for the argument ``key`` of this run: the last run's,
        if it has this shape and dtype (runs end synchronised: no launch still uses it)."""
        array = self._kept.get(key)
        if not _fits(array, shape, dtype):
            array = self._kept[key] = self._empty(shape, dtype)
        return array

    def _copy(self, array, into=None):
        """A device copy of ``array`` (on the device or the host): in ``into`` if it fits."""
        copy = into if _fits(into, array.shape, array.dtype) else self._empty(array.shape, array.dtype)
        self._copy_into(copy, array)
        return copy

    def _size(self, dim: tuple[str, int]) -> int:
        kind, index = dim
        if kind == "neurons":
            return self.plan.populations[index].n
        return self.plan.projections[index].arrays["weights"].size


def _fits(array, shape: tuple[int, ...], dtype: np.dtype) -> bool:
    """Whether ``array`` (or None) is an array of ``shape`` and ``dtype``."""
    return array is not None and tuple(array.shape) == tuple(shape) and array.dtype == dtype


def block_size(resident: Callable[[int], int], batch: int, neurons: int, sizes: Sequence[int] = BLOCK_SIZES) -> int:
    """Threads per block for ``batch`` samples whose largest population has ``neurons``: the
    largest of ``sizes`` with which the GPU holds every sample's block at once (``resident(t)``:
    how many blocks of ``t`` threads it holds, 0 where the kernel's registers do not fit), and no
    larger than the population needs; else the smallest. A sample's step is a chain of latencies
    (memory, barriers) in its block: more threads share its neurons out, and cover the latencies
    of more of them, as long as no sample has to wait for a block."""
    fitting = [t for t in sizes if (t // 2 < neurons or t == min(sizes)) and batch <= resident(t)]
    return max(fitting, default=min(sizes))
