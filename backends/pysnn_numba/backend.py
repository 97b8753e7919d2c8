"""The Numba CPU backend: each run is one call of a compiled multi-step loop, parallel where
threads pay."""

from __future__ import annotations

import os
import sys
from types import FunctionType, ModuleType

import numba
import numpy as np

from pysnn.backend import Backend, RunArgs
from pysnn.compile_notice import compile_notice
from pysnn.errors import PluginError
from pysnn.kernel_check import check_kernel
from pysnn.kernel_source import import_generated
from pysnn.lowering import PLAN_VALUES, NonFinite, plan_value, report_nonfinite, resolve
from pysnn.numba_cache import repair_damaged_in
from pysnn.plan import Plan
from pysnn.plugin import Kernel
from pysnn.state_keys import StateKey
from pysnn_numba.codegen import generate
from pysnn_numba.run_generator import Arg

SHOW_CODE_ENV = "PYSNN_SHOW_CODE"
"""Set to 1: print the path of each generated run module to stderr when a backend builds it."""

SERIAL_LEARNING_WORK = 2**18
"""A run that learns with batch size x learned synapses below this runs the serial form of its
loop (one thread): its steps are too short for their parallel loops to pay for the threads'
synchronisation (measured on 2 cores with 100 inputs: 1000 targets, batch 1, 20.7 ms on 1 thread
against 23.4 ms on 2, and batch 4, 54 against 49 ms; 100 targets, batch 16, 17 against 26 ms)."""


class NumbaCPUBackend(Backend):
    """Default backend: generated Numba code, parallel over the batch, no Python per step.

    Threads: Numba's (``NUMBA_NUM_THREADS`` or ``numba.set_num_threads``), except that a run of
    one sample, or one that learns little per step (``SERIAL_LEARNING_WORK``), runs the serial
    form of its loop, which compiles several times faster (``parallel``). Compiled code is
    cached on disk (see ``pysnn.kernel_source.cache_dir``), once per network structure, form
    and kind of learning run (deferred or not); ``source`` shows it, and ``PYSNN_SHOW_CODE=1`` prints where each module is written.
    """

    name = "numba-cpu"

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self._compiled: dict[tuple[frozenset[str], int, bool, bool, bool], tuple[ModuleType, list[Arg]]] = {}
        self._plan_values: dict[tuple, list] = {}
        """Per ``compiled`` key: the value of each argument that is the same in every run
        (``lowering.PLAN_VALUES``), else None."""
        self._learned_synapses = sum(p.arrays["weights"].size for p in plan.projections if p.learning is not None)

    @classmethod
    def check_kernel(cls, kernel: Kernel, bound: FunctionType, dtype: np.dtype, label: str) -> None:
        """Compile ``bound`` with Numba and check its result types (``pysnn.kernel_check``)."""
        check_kernel(kernel, bound, dtype, label)

    def run(self, state: dict[StateKey, np.ndarray], args: RunArgs) -> None:
        timed = frozenset(name for name, data in args.inputs.items() if data.ndim == 3)
        coupled = args.learning and self.plan.learns
        parallel = self.parallel(coupled, args.sample_ids.size)
        reward_ndim = 0 if args.reward is None else args.reward.ndim
        hands_back = coupled and args.terms is not None
        key = (timed, reward_ndim, parallel, coupled and args.deferred, hands_back)
        module, arg_specs = self.compiled(*key)
        function = module.run_coupled if coupled else module.run_independent
        values = [
            resolve(spec.ref, self.plan, state, args) if fixed is None else fixed
            for spec, fixed in zip(arg_specs, self._plan_values[key])
        ]
        try:
            if not function.overloads:  # first run: compile, or load from Numba's cache
                loop = "learning" if coupled else "inference"
                form = "parallel" if parallel else "serial"
                with compile_notice(f"the {form} {loop} run loop of this network for numba-cpu, {self.plan.dtype.name}"):
                    function.compile(tuple(numba.typeof(value) for value in values))
            function(*values)
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__ or exc
            raise PluginError(
                f"a kernel raised {type(cause).__name__}: {cause} in compiled code; the run was discarded"
            ) from exc
        for spec, value in zip(arg_specs, values):
            if isinstance(spec.ref, NonFinite):
                report_nonfinite(self.plan, value, state.__getitem__, args)

    def parallel(self, coupled: bool, batch: int) -> bool:
        """Whether a run of ``batch`` samples (``coupled``: learning) takes the parallel form of
        its loop. The serial form (no ``prange``) computes the same and compiles several times
        faster (no parallel regions for Numba to outline): it runs a batch of one sample, which
        has nothing to share out, and learning with too little work per step for threads to pay
        (``SERIAL_LEARNING_WORK``)."""
        if coupled:
            return batch * self._learned_synapses >= SERIAL_LEARNING_WORK
        return batch > 1

    def source(
        self,
        timed_inputs: frozenset[str] = frozenset(),
        reward_ndim: int = 0,
        parallel: bool = True,
        deferred: bool = False,
        hands_back: bool = False,
    ) -> str:
        """The source of the run module for inputs given per step in ``timed_inputs`` (names)
        and a reward of ``reward_ndim`` dimensions (0: none or unused), in its ``parallel`` or
        serial form, for ``deferred`` learning runs (``hands_back``: that hand their reduced
        changes back, ``Simulation.run_terms``) or the others."""
        return generate(self.plan, timed_inputs, reward_ndim, parallel, deferred, hands_back).source

    def compiled(
        self,
        timed_inputs: frozenset[str],
        reward_ndim: int = 0,
        parallel: bool = True,
        deferred: bool = False,
        hands_back: bool = False,
    ) -> tuple[ModuleType, list[Arg]]:
        """The generated module of ``source`` (memoised)."""
        key = (timed_inputs, reward_ndim, parallel, deferred, hands_back)
        if key not in self._compiled:
            generated = generate(self.plan, timed_inputs, reward_ndim, parallel, deferred, hands_back)
            module = import_generated(generated.source, "pysnn_run", "numba")
            repair_damaged_in(module)
            if os.environ.get(SHOW_CODE_ENV, "") not in ("", "0"):
                print(f"pysnn: generated run module {module.__file__}", file=sys.stderr)
            self._compiled[key] = (module, generated.args)
            self._plan_values[key] = [plan_value(a.ref, self.plan) if isinstance(a.ref, PLAN_VALUES) else None for a in generated.args]
        return self._compiled[key]
